package sge

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/adaptors/batch/batchtest"
	"github.com/bigjob-go/bigjob/runner"
)

func TestScriptGolden(t *testing.T) {
	way := batchtest.Full()
	way.SPMDVariation = "12way"
	way.Slots = 30
	digit := batchtest.Minimal()
	digit.Name = "7-day run"
	cases := map[string]batch.Job{
		"minimal": batchtest.Minimal(),
		"full":    batchtest.Full(),
		"awkward": batchtest.Awkward(),
		"wayness": way,
		"digit":   digit,
	}
	batchtest.GoldenScripts(t, New(), cases)
}

func TestScriptParallelEnvironment(t *testing.T) {
	for _, c := range []struct {
		spmd  string
		slots int
		want  string // "" : no -pe line
	}{
		{"", 8, ""},
		{"single", 8, ""},
		{"Single", 8, ""},
		{"mpi", 8, "#$ -pe mpi 8\n"},
		{"orte", 1, "#$ -pe orte 1\n"},
		{"12way", 12, "#$ -pe 12way 12\n"},
		{"12way", 13, "#$ -pe 12way 24\n"},
		{"4WAY", 1, "#$ -pe 4WAY 4\n"},
	} {
		j := batchtest.Minimal()
		j.SPMDVariation, j.Slots = c.spmd, c.slots
		s, err := New().Script(j)
		require.NoError(t, err)
		if c.want == "" {
			assert.NotContains(t, s, "-pe", c.spmd)
		} else {
			assert.Contains(t, s, c.want, c.spmd)
		}
	}
}

func TestScriptMapping(t *testing.T) {
	j := batchtest.Full()
	j.Walltime = 26*time.Hour + 59*time.Second
	s, err := New().Script(j)
	require.NoError(t, err)
	for _, want := range []string{
		"#$ -S /bin/bash\n", "#$ -l h_rt=26:00:59\n", "#$ -q normal\n", "#$ -P TG-MCB090174\n",
		"#$ -wd /home/alice/pilots\n", "#$ -pe mpi 10\n",
	} {
		assert.Contains(t, s, want)
	}
	s, err = New().Script(batchtest.Minimal())
	require.NoError(t, err)
	for _, absent := range []string{"h_rt", "-q ", "-P ", "-pe"} {
		assert.NotContains(t, s, absent)
	}
}

func TestScriptRefusesWhatADirectiveCannotCarry(t *testing.T) {
	batchtest.RefusesValues(t, New(), map[string]batchtest.Refusal{
		"newline in queue":         {Edit: func(j *batch.Job) { j.Queue = "all.q\n#$ -l exclusive" }, Key: "queue"},
		"quote in project":         {Edit: func(j *batch.Job) { j.Project = `my"proj` }, Key: "project"},
		"single quote in dir":      {Edit: func(j *batch.Job) { j.Dir = "/home/it's" }, Key: "working_directory"},
		"colon in log path":        {Edit: func(j *batch.Job) { j.Stdout = "/home/a:b/out" }, Key: "working_directory"},
		"dollar in log path":       {Edit: func(j *batch.Job) { j.Stderr = "/home/$JOB_ID/err" }, Key: "working_directory"},
		"blank in pe":              {Edit: func(j *batch.Job) { j.SPMDVariation = "my pe" }, Key: "spmd_variation"},
		"pe smuggling a directive": {Edit: func(j *batch.Job) { j.SPMDVariation = "mpi 4\n#$ -q x" }, Key: "spmd_variation"},
	})
}

func TestState(t *testing.T) {
	ended := func(k adaptors.EndKind, reason string) adaptors.Status {
		return adaptors.Status{State: adaptors.JobEnded, End: k, Reason: reason}
	}
	for _, c := range []struct {
		file, id string
		want     adaptors.Status
	}{
		{"queue", "12", adaptors.Status{State: adaptors.JobRunning, Reason: "r"}},
		{"queue", "10", adaptors.Status{State: adaptors.JobQueued, Reason: "hqw"}},
		{"queue", "11", adaptors.Status{State: adaptors.JobQueued, Reason: "qw"}},
		{"queue", "17", ended(adaptors.EndFailed, "Eqw: 11/24/2026 21:50:54 [0:315]: error: can't chdir to /nonexistent/dir: No such file or directory")},
		{"early", "14", adaptors.Status{State: adaptors.JobRunning, Reason: "t"}},
		{"early", "15", adaptors.Status{State: adaptors.JobQueued, Reason: "qw"}},
		{"deleting", "12", adaptors.Status{State: adaptors.JobRunning, Reason: "dr"}},
		{"gone-completed", "14", ended(adaptors.EndCompleted, "exit_status 0")},
		{"gone-failed", "13", ended(adaptors.EndFailed, "exit_status 4")},
		{"gone-walltime", "15", ended(adaptors.EndWalltime, "failed 37  : qmaster enforced h_rt, h_cpu, or h_vmem limit")},
		{"gone-canceled", "12", ended(adaptors.EndCanceled, "failed 100 : assumedly after job, exit_status 137")},
		{"gone-eqw-deleted", "17", ended(adaptors.EndFailed, "failed 28  : changing into working directory, exit_status 0")},
		{"gone-not-accounted", "12", ended(adaptors.EndUnknown, "")},
	} {
		t.Run(c.file+"/"+c.id, func(t *testing.T) {
			st, err := batchtest.Load(t, filepath.Join("testdata/state", c.file+".txt")).State(New(), c.id)
			require.NoError(t, err)
			assert.Equal(t, c.want, st)
		})
	}
}

func TestStateCommands(t *testing.T) {
	f := batchtest.Load(t, "testdata/state/queue.txt")
	_, err := f.State(New(), "12")
	require.NoError(t, err)
	assert.Equal(t, []string{"qstat -xml"}, f.Calls(), "a listed job costs one qstat")

	f = batchtest.Load(t, "testdata/state/gone-completed.txt")
	_, err = f.State(New(), "14")
	require.NoError(t, err)
	assert.Equal(t, []string{"qstat -xml", "qacct -j 14"}, f.Calls())
}

func TestStateErrors(t *testing.T) {
	_, err := batchtest.Load(t, "testdata/state/qmaster-down.txt").State(New(), "12")
	batchtest.Fails[*runner.CommandError](t, err, "query sge job 12", "Connection refused")

	for file, quoted := range map[string]string{
		"garbage":       "job-ID  prior",
		"garbage-html":  "maintenance",
		"qacct-garbage": "jobnumber    12",
		"unknown-state": "<state>zz</state>",
	} {
		t.Run(file, func(t *testing.T) {
			_, err := batchtest.Load(t, filepath.Join("testdata/state", file+".txt")).State(New(), "12")
			oe := batchtest.Fails[*batch.OutputError](t, err, quoted)
			assert.Equal(t, "sge", oe.System)
		})
	}
}

func TestSubmit(t *testing.T) {
	const path = "/home/alice/pilots/.bigjob/bj-0a1b2c3d.job"
	for file, want := range map[string]string{"ok": "16", "array": "42"} {
		id, err := batchtest.Load(t, filepath.Join("testdata/submit", file+".txt")).Submit(New(), path)
		require.NoError(t, err, file)
		assert.Equal(t, want, id, file)
	}
	for file, says := range map[string]string{
		"bad-queue": `job requests unknown queue "nosuch"`,
		"bad-pe":    `parallel environment "nosuchpe" does not exist`,
	} {
		t.Run(file, func(t *testing.T) {
			_, err := batchtest.Load(t, filepath.Join("testdata/submit", file+".txt")).Submit(New(), path)
			batchtest.Fails[*runner.CommandError](t, err, "submit sge job", says)
		})
	}
	_, err := batchtest.Load(t, "testdata/submit/garbage.txt").Submit(New(), path)
	batchtest.Fails[*batch.OutputError](t, err, "Your job 16")
}

func TestCancel(t *testing.T) {
	for _, file := range []string{"running", "unknown"} {
		f := batchtest.Load(t, filepath.Join("testdata/cancel", file+".txt"))
		assert.NoError(t, f.Cancel(New(), "12"), file)
	}
	err := batchtest.Load(t, "testdata/cancel/qmaster-down.txt").Cancel(New(), "12")
	ce := batchtest.Fails[*runner.CommandError](t, err, "cancel sge job 12")
	assert.Equal(t, "qdel 12", ce.Line)
}
