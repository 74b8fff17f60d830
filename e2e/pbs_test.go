package e2e_test

import (
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestPBSReal runs a pilot through the qsub/qstat/qdel of Debian's
// slurm-wlm-torque (PBS commands over the local SLURM). That package
// conflicts with Grid Engine's client, so it runs in its own step
// (make test-pbs).
func TestPBSRealPilotRunsUnits(t *testing.T) {
	testenv.PBS(t)
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "pbs://localhost", NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Walltime: 10})
	job := jobID(t, p)
	for _, out := range runUnits(t, p, 3, "SLURM_JOB_ID") {
		require.Equal(t, strings.Split(job, ".")[0], strings.Fields(out)[1], "units run inside the pilot's job")
	}
	require.NoError(t, p.Cancel(ctxT(t)))
	st, err := p.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st)
	noProcessWith(t, p.ID())
}
