package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// slurmState is the job's state as scontrol shows it (jobs stay listed for
// MinJobAge after they end).
func slurmState(t *testing.T, id string) string {
	out, err := exec.Command("scontrol", "show", "job", id).CombinedOutput()
	require.NoError(t, err, "scontrol: %s", out)
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "JobState="); ok {
			return v
		}
	}
	t.Fatalf("no JobState in %s", out)
	return ""
}

func TestSLURMPilotRunsUnitsAndMPI(t *testing.T) {
	testenv.SLURM(t)
	testenv.MPI(t)
	t.Parallel()
	s := newService(t)
	dir := t.TempDir()
	p := running(t, s, core.PilotDescription{ServiceURL: "slurm://localhost", NumberOfProcesses: 2, WorkingDirectory: dir, Walltime: 10,
		MPILauncher: strings.Fields(mpiLauncher)})
	job := jobID(t, p)
	require.Equal(t, "RUNNING", slurmState(t, job))
	for _, out := range runUnits(t, p, 4, "SLURM_JOB_ID") {
		require.Equal(t, job, strings.Fields(out)[1], "units run inside the pilot's SLURM job")
	}
	slots, err := p.Slots(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, 2, slots, "slots come from SLURM_JOB_CPUS_PER_NODE")
	runMPIUnit(t, p)

	require.NoError(t, p.Cancel(ctxT(t)))
	st, err := p.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st)
	require.NotEqual(t, "RUNNING", slurmState(t, job))
	noProcessWith(t, p.ID())
}

func TestSLURMUnitsAsJobSteps(t *testing.T) {
	testenv.SLURM(t)
	t.Parallel()
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "slurm://localhost", NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Walltime: 10,
		LaunchMethod: core.LaunchSRun})
	out := runUnits(t, p, 2, "SLURM_STEP_ID")
	for _, o := range out {
		require.Len(t, strings.Fields(o), 2, "srun sets SLURM_STEP_ID: %q", o)
	}
}

// A pilot still queued is removed by scancel: it never runs. (Not parallel:
// it fills the node with a job of its own.)
func TestSLURMCancelReachesScancel(t *testing.T) {
	testenv.SLURM(t)
	out, err := exec.Command("sbatch", "--parsable", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 600").Output()
	require.NoError(t, err)
	blocker := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("scancel", blocker).Run() })
	require.Eventually(t, func() bool { return slurmState(t, blocker) == "RUNNING" }, time.Minute, 100*time.Millisecond)

	s := newService(t)
	p, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "slurm://localhost", NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Walltime: 5})
	require.NoError(t, err)
	job := jobID(t, p)
	require.Equal(t, "PENDING", slurmState(t, job))
	require.NoError(t, p.Cancel(ctxT(t)))
	require.Equal(t, "CANCELLED", slurmState(t, job))
	st, err := p.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st)
}

func TestSLURMWalltimeEndsThePilot(t *testing.T) {
	testenv.SLURM(t)
	t.Parallel()
	s := newService(t)
	dir := t.TempDir()
	p := running(t, s, core.PilotDescription{ServiceURL: "slurm://localhost", NumberOfProcesses: 1, WorkingDirectory: dir, Walltime: 1})
	long, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"300"}})
	require.NoError(t, err)
	tooLong, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true", WallTimeLimit: 5})
	require.NoError(t, err)

	st, err := p.WaitState(ctxT(t)) // a final state
	require.NoError(t, err)
	d, err := p.Details(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st, "reason: %s", d["reason"])
	require.Contains(t, d["reason"], "walltime")

	for u, want := range map[*core.Unit]string{long: "walltime", tooLong: "wall_time_limit of 5 min"} {
		st, err := u.Wait(ctxT(t))
		require.NoError(t, err)
		ud, err := u.Details(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Failed, st)
		require.Contains(t, ud["reason"], want)
	}
	require.Eventually(t, func() bool { return slurmState(t, jobID(t, p)) != "RUNNING" }, time.Minute, 200*time.Millisecond)
	noProcessWith(t, p.ID())
}

func TestSLURMRejectedJobIsAClearError(t *testing.T) {
	testenv.SLURM(t)
	t.Parallel()
	s := newService(t)
	_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "slurm://localhost", NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Queue: "nosuch"})
	require.ErrorIs(t, err, core.ErrAdaptor)
	require.ErrorContains(t, err, "slurm://localhost")
	require.ErrorContains(t, err, "invalid partition", "sbatch's own words")
	for _, p := range s.Pilots() {
		t.Errorf("a pilot was kept: %s", p.Name())
	}
}

// A Pilot-Data kept in a SLURM pilot's sandbox (the "pilot" key): its files
// are in the job's working directory, units of that pilot stage them in and
// their output out, and it takes the pilot's affinity labels.
func TestSLURMPilotDataInThePilotSandbox(t *testing.T) {
	testenv.SLURM(t)
	t.Parallel()
	ctx := ctxT(t)
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "slurm://localhost", NumberOfProcesses: 1, WorkingDirectory: t.TempDir(), Walltime: 10,
		AffinityMachineLabel: "node-a"})
	pds, err := core.NewPilotDataService(ctx, core.Options{CoordinationURL: s.CoordinationURL(), NoEmbedded: true})
	require.NoError(t, err)
	t.Cleanup(pds.Close)
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{Pilot: p.URL()})
	require.NoError(t, err)
	d, err := p.Details(ctx)
	require.NoError(t, err)
	require.Equal(t, "file://"+filepath.Join(d["sandbox"], pd.ID()), pd.Description().ServiceURL)
	require.Equal(t, "node-a", pd.Description().AffinityMachineLabel, "the pilot's labels")

	src := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(src, []byte("kept by the job\n"), 0o644))
	in, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{src}})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(d["sandbox"], pd.ID(), in.ID(), "in.txt"))
	out, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{}})
	require.NoError(t, err)
	u, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"in.txt"},
		InputData: []string{in.URL()}, OutputData: []any{map[string]any{out.URL(): []any{"stdout"}}}})
	require.NoError(t, err)
	st, err := u.Wait(ctx)
	require.NoError(t, err)
	ud, err := u.Details(ctx)
	require.NoError(t, err)
	require.Equal(t, core.Done, st, ud["reason"])
	b, err := os.ReadFile(filepath.Join(d["sandbox"], pd.ID(), out.ID(), "stdout"))
	require.NoError(t, err)
	require.Equal(t, "kept by the job\n", string(b))

	_, err = pds.CreatePilotData(ctx, core.PilotDataDescription{Pilot: p.URL(), ServiceURL: "file:///tmp/x"})
	require.ErrorContains(t, err, `key "pilot": given with service_url; give one`)
	require.NoError(t, p.Cancel(ctx))
	_, err = pds.CreatePilotData(ctx, core.PilotDataDescription{Pilot: p.URL()})
	require.ErrorContains(t, err, "is Done; a Pilot-Data in a pilot's sandbox needs a pilot that runs")
}
