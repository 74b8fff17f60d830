package slurm

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/adaptors/batch/batchtest"
	"github.com/bigjob-go/bigjob/runner"
)

func TestScriptGolden(t *testing.T) {
	quoted := batchtest.Minimal()
	quoted.Dir = `/home/alice/it's "100%"`
	quoted.Stdout = quoted.Dir + "/stdout.txt"
	quoted.Stderr = quoted.Dir + "/stderr.txt"
	cases := map[string]batch.Job{
		"minimal": batchtest.Minimal(),
		"full":    batchtest.Full(),
		"awkward": batchtest.Awkward(),
		"quotes":  quoted,
	}
	batchtest.GoldenScripts(t, New(), cases)
}

func TestScriptMapping(t *testing.T) {
	s, err := New().Script(batchtest.Full())
	require.NoError(t, err)
	for _, want := range []string{
		"#SBATCH --ntasks=10\n", "#SBATCH --ntasks-per-node=4\n",
		"#SBATCH --time=91\n", // 90m30s rounded up
		"#SBATCH --partition=normal\n", "#SBATCH --account=TG-MCB090174\n",
		"#SBATCH --chdir=/home/alice/pilots\n",
		"exec /home/alice/bin/pilot-agent -walltime-margin 2m0s -coordination-file /home/alice/pilots/.bigjob/bj-0a1b2c3d.coord\n",
	} {
		assert.Contains(t, s, want)
	}
	s, err = New().Script(batchtest.Minimal())
	require.NoError(t, err)
	assert.NotContains(t, s, "--time")
	assert.NotContains(t, s, "--ntasks-per-node")
	assert.NotContains(t, s, "--partition")
	assert.NotContains(t, s, "--account")
}

func TestScriptRefusesWhatADirectiveCannotCarry(t *testing.T) {
	batchtest.RefusesValues(t, New(), map[string]batchtest.Refusal{
		"newline in queue":       {Edit: func(j *batch.Job) { j.Queue = "debug\n#SBATCH --exclusive" }, Key: "queue"},
		"tab in project":         {Edit: func(j *batch.Job) { j.Project = "a\tb" }, Key: "project"},
		"backslash in log path":  {Edit: func(j *batch.Job) { j.Stdout = `/home/a\b/out` }, Key: "working_directory"},
		"newline in working dir": {Edit: func(j *batch.Job) { j.Dir = "/tmp/a\nb" }, Key: "working_directory"},
	})
}

func TestState(t *testing.T) {
	ended := func(k adaptors.EndKind, reason string) adaptors.Status {
		return adaptors.Status{State: adaptors.JobEnded, End: k, Reason: reason}
	}
	for file, want := range map[string]adaptors.Status{
		"pending":              {State: adaptors.JobQueued, Reason: "PENDING: Priority"},
		"held":                 {State: adaptors.JobQueued, Reason: "PENDING: JobHeldUser"},
		"running":              {State: adaptors.JobRunning, Reason: "RUNNING"},
		"completed":            ended(adaptors.EndCompleted, "COMPLETED"),
		"failed":               ended(adaptors.EndFailed, "FAILED: NonZeroExitCode"),
		"timeout":              ended(adaptors.EndWalltime, "TIMEOUT: TimeLimit"),
		"canceled":             ended(adaptors.EndCanceled, "CANCELLED"),
		"canceled-pending":     ended(adaptors.EndCanceled, "CANCELLED: JobHeldUser"),
		"unknown-noaccounting": ended(adaptors.EndUnknown, ""),
		"sacct-completed":      ended(adaptors.EndCompleted, "COMPLETED"),
		"sacct-failed":         ended(adaptors.EndFailed, "FAILED (exit code 7:0)"),
		"sacct-canceled":       ended(adaptors.EndCanceled, "CANCELLED by 0"),
		"sacct-timeout":        ended(adaptors.EndWalltime, "TIMEOUT"),
		"sacct-unknown":        ended(adaptors.EndUnknown, ""),
	} {
		t.Run(file, func(t *testing.T) {
			st, err := batchtest.Load(t, filepath.Join("testdata/state", file+".txt")).State(New(), "12")
			require.NoError(t, err)
			assert.Equal(t, want, st)
		})
	}
}

func TestStateAsksSacctOnlyForForgottenJobs(t *testing.T) {
	f := batchtest.Load(t, "testdata/state/running.txt")
	_, err := f.State(New(), "12")
	require.NoError(t, err)
	assert.Equal(t, []string{"squeue -h -t all -j 12 -o '%T|%r'"}, f.Calls())

	f = batchtest.Load(t, "testdata/state/unknown-noaccounting.txt")
	_, err = f.State(New(), "12")
	require.NoError(t, err)
	assert.Equal(t, []string{"squeue -h -t all -j 12 -o '%T|%r'", "sacct -X -n -P -j 12 -o State,ExitCode"}, f.Calls())
}

func TestStateErrors(t *testing.T) {
	t.Run("controller down", func(t *testing.T) {
		_, err := batchtest.Load(t, "testdata/state/controller-down.txt").State(New(), "12")
		batchtest.Fails[*runner.CommandError](t, err, "query slurm job 12", "Unable to contact slurm controller")
	})
	for file, quoted := range map[string][]string{
		"garbage":       {"slurm", "squeue -h -t all -j 12", "maintenance until 14:00"},
		"sacct-garbage": {"slurm"},
	} {
		t.Run(file, func(t *testing.T) {
			_, err := batchtest.Load(t, filepath.Join("testdata/state", file+".txt")).State(New(), "12")
			oe := batchtest.Fails[*batch.OutputError](t, err, quoted...)
			assert.Equal(t, "slurm", oe.System)
		})
	}
}

func TestSubmit(t *testing.T) {
	const path = "/home/alice/pilots/.bigjob/bj-0a1b2c3d.job"
	for file, want := range map[string]string{"ok": "10", "cluster": "12"} {
		f := batchtest.Load(t, filepath.Join("testdata/submit", file+".txt"))
		id, err := f.Submit(New(), path)
		require.NoError(t, err, file)
		assert.Equal(t, want, id, file)
		assert.Equal(t, []string{"sbatch --parsable " + path}, f.Calls())
	}

	_, err := batchtest.Load(t, "testdata/submit/bad-partition.txt").Submit(New(), path)
	batchtest.Fails[*runner.CommandError](t, err, "submit slurm job", "sbatch: error: invalid partition specified: nosuch")

	_, err = batchtest.Load(t, "testdata/submit/garbage.txt").Submit(New(), path)
	batchtest.Fails[*batch.OutputError](t, err, "submission is disabled for maintenance")
}

func TestSubmitQuotesThePath(t *testing.T) {
	var got string
	run := func(_ context.Context, line string) ([]byte, error) { got = line; return []byte("7\n"), nil }
	_, err := New().Submit(context.Background(), run, batch.Job{}, "/home/a b/job")
	require.NoError(t, err)
	assert.Equal(t, "sbatch --parsable '/home/a b/job'", got)
}

func TestCancel(t *testing.T) {
	for _, file := range []string{"running", "unknown", "unknown-old", "silent-ended"} {
		t.Run(file, func(t *testing.T) {
			f := batchtest.Load(t, filepath.Join("testdata/cancel", file+".txt"))
			assert.NoError(t, f.Cancel(New(), "12"))
		})
	}
	err := batchtest.Load(t, "testdata/cancel/denied.txt").Cancel(New(), "12")
	batchtest.Fails[*runner.CommandError](t, err, "cancel slurm job 12", "Access/permission denied")
}

func TestCanceledContext(t *testing.T) {
	f := batchtest.Load(t, "testdata/state/running.txt")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().State(ctx, f.Exec, "12")
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}
