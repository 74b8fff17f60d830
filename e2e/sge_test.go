package e2e_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// sgeListed reports whether qstat still lists the job.
func sgeListed(id string) bool {
	out, _ := exec.Command("qstat", "-u", "*").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == id {
			return true
		}
	}
	return false
}

func TestSGEPilotRunsUnits(t *testing.T) {
	testenv.SGE(t)
	t.Parallel()
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "sge://localhost", NumberOfProcesses: 2, SPMDVariation: "smp",
		WorkingDirectory: t.TempDir(), Walltime: 10})
	job := jobID(t, p)
	require.True(t, sgeListed(job))
	for _, out := range runUnits(t, p, 4, "JOB_ID") {
		require.Equal(t, job, strings.Fields(out)[1], "units run inside the pilot's SGE job")
	}
	slots, err := p.Slots(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, 2, slots, "slots come from the PE_HOSTFILE of -pe smp 2")

	require.NoError(t, p.Cancel(ctxT(t)))
	require.Eventually(t, func() bool { return !sgeListed(job) }, time.Minute, 200*time.Millisecond)
	noProcessWith(t, p.ID())
}

// An administrator's qdel kills the agent at once (SIGKILL). The pilot is
// Done, removed by the resource manager, as qacct tells once it has the
// record; its running unit is Failed with that reason.
func TestSGEQdelByAnotherIsReportedAsRemoved(t *testing.T) {
	testenv.SGE(t)
	t.Parallel()
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "sge://localhost", NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Walltime: 10})
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"300"}})
	require.NoError(t, err)
	waitRunning(t, u)
	out, err := exec.Command("qdel", jobID(t, p)).CombinedOutput()
	require.NoError(t, err, "qdel: %s", out)

	st, err := p.WaitState(ctxT(t))
	require.NoError(t, err)
	d, err := p.Details(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st, "reason: %s", d["reason"])
	require.Contains(t, d["reason"], "removed job "+jobID(t, p))
	ust, err := u.Wait(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Failed, ust)
	noProcessWith(t, p.ID())
}

// The original's sge-ssh:// still reaches Grid Engine through a login node.
func TestSGEThroughSSHWithTheOriginalScheme(t *testing.T) {
	testenv.SGE(t)
	sshd := testenv.StartSSHD(t)
	sshd.Env(t)
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: sshd.URL("sge-ssh"), NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Walltime: 5})
	out := runUnits(t, p, 1, "JOB_ID")
	require.Equal(t, jobID(t, p), strings.Fields(out[0])[1])
	require.NoError(t, p.Cancel(ctxT(t)))
	noProcessWith(t, p.ID())
}
