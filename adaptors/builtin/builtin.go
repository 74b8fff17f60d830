// Package builtin registers every adaptor this module provides: fork://,
// ssh://, the batch systems (slurm://, pbs://, torque://, pbspro://,
// sge://, condor://, each also as +ssh, and the original's pbs-ssh://,
// sge-ssh:// and xt5torque://), and the schemes of the original
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

	// names of the original BigJob
	batch.RegisterSSH("pbs-ssh", pbs.New(pbs.Torque))
	batch.RegisterSSH("sge-ssh", sge.New())
	batch.Register("xt5torque", pbs.New(pbs.Torque)) // Cray XT5: give mpi_launcher "aprun"
}
