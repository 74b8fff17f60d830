// Package builtin registers every adaptor this module provides: fork://,
// ssh://, the batch systems (slurm://, pbs://, torque://, pbspro://,
// sge://, condor://, each also as +ssh), and the schemes of the original
// BigJob that are not supported (they fail with an error that says what to
// use instead). The core imports it for its side effect.
package builtin

import (
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/adaptors/batch/condor"
	"github.com/bigjob-go/bigjob/adaptors/batch/pbs"
	"github.com/bigjob-go/bigjob/adaptors/batch/sge"
	"github.com/bigjob-go/bigjob/adaptors/batch/slurm"
	_ "github.com/bigjob-go/bigjob/adaptors/fork"
	_ "github.com/bigjob-go/bigjob/adaptors/ssh"
	_ "github.com/bigjob-go/bigjob/adaptors/unsupported"
)

func init() {
	batch.Register("slurm", slurm.New())
	batch.Register("pbs", pbs.New(pbs.Torque))
	batch.Register("torque", pbs.New(pbs.Torque))
	batch.Register("pbspro", pbs.New(pbs.PBSPro))
	batch.Register("sge", sge.New())
	batch.Register("condor", condor.New())
}
