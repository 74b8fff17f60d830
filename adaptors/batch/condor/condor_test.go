package condor

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/adaptors/batch/batchtest"
	"github.com/bigjob-go/bigjob/runner"
)

func TestScriptGolden(t *testing.T) {
	outside := batchtest.Minimal()
	outside.CoordinationFile = "/scratch/alice/bj-0a1b2c3d.coord"
	hosts := batchtest.Minimal()
	hosts.CandidateHosts = []string{"gpu01", `odd"host\name`}
	awkward := batchtest.Awkward()
	awkward.Project = "group_physics.alice" // accounting groups hold no blanks
	cases := map[string]batch.Job{
		"minimal": batchtest.Minimal(),
		"full":    batchtest.Full(),
		"awkward": awkward,
		"outside": outside,
		"hosts":   hosts,
	}
	batchtest.GoldenScripts(t, New(), cases)
}

// submitCommands reads a submit description as condor_submit would: one
// "command = value" a line, '#' lines are comments.
func submitCommands(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.HasPrefix(l, "#") || l == "queue" {
			continue
		}
		k, v, ok := strings.Cut(l, " = ")
		require.True(t, ok, "line %q", l)
		m[k] = v
	}
	return m
}

func TestScriptMapping(t *testing.T) {
	s, err := New().Script(batchtest.Full())
	require.NoError(t, err)
	c := submitCommands(t, s)
	assert.Equal(t, "vanilla", c["universe"])
	assert.Equal(t, "/home/alice/bin/pilot-agent", c["executable"])
	assert.Equal(t, `"-walltime-margin 2m0s -coordination-file bj-0a1b2c3d.coord"`, c["arguments"])
	assert.Equal(t, ".bigjob/bj-0a1b2c3d.coord", c["transfer_input_files"], "relative to initialdir")
	assert.Equal(t, "/home/alice/pilots", c["initialdir"])
	assert.Equal(t, "YES", c["should_transfer_files"])
	assert.Equal(t, "ON_EXIT", c["when_to_transfer_output"])
	assert.Equal(t, "false", c["getenv"])
	assert.Equal(t, "/home/alice/pilots/stdout-bj-0a1b2c3d-agent.txt", c["output"])
	assert.Equal(t, "/home/alice/pilots/stderr-bj-0a1b2c3d-agent.txt", c["error"])
	assert.Equal(t, "/home/alice/pilots/bj-0a1b2c3d.condor.log", c["log"])
	assert.Equal(t, "10", c["request_cpus"])
	assert.Equal(t, `(Machine == "node01.example.org" || Machine == "node02.example.org")`, c["requirements"])
	assert.Equal(t, "TG-MCB090174", c["accounting_group"])
	assert.Equal(t, "5430", c["+BigJobWalltime"])
	assert.Equal(t, "(JobStatus == 2) && (time() - JobCurrentStartDate > BigJobWalltime)", c["periodic_remove"])
	assert.NotContains(t, s, "normal", "HTCondor has no queues")
	assert.True(t, strings.HasSuffix(s, "\nqueue\n"))

	s, err = New().Script(batchtest.Minimal())
	require.NoError(t, err)
	c = submitCommands(t, s)
	for _, absent := range []string{"requirements", "accounting_group", "+BigJobWalltime", "periodic_remove"} {
		assert.NotContains(t, c, absent)
	}
}

func TestArguments(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"3", "simple", "arguments"}, `"3 simple arguments"`},
		{[]string{"one", "two with spaces", "3"}, `"one 'two with spaces' 3"`},
		{[]string{"one", `"two"`, "spacey 'quoted' argument"}, `"one ""two"" 'spacey ''quoted'' argument'"`},
		{[]string{""}, `"''"`},
	} {
		got, err := arguments(c.argv)
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
}

func TestScriptRefusesWhatTheSubmitLanguageCannotCarry(t *testing.T) {
	batchtest.RefusesValues(t, New(), map[string]batchtest.Refusal{
		"newline in host":           {Edit: func(j *batch.Job) { j.CandidateHosts = []string{"a\nqueue 100"} }, Key: "candidate_hosts"},
		"macro in working dir":      {Edit: func(j *batch.Job) { j.Dir = "/home/$(Owner)" }, Key: "working_directory"},
		"trailing backslash in dir": {Edit: func(j *batch.Job) { j.Stdout = `/home/a\` }, Key: "working_directory"},
		"blank in project":          {Edit: func(j *batch.Job) { j.Project = "group one" }, Key: "project"},
		"comma in coordination":     {Edit: func(j *batch.Job) { j.CoordinationFile = "/tmp/a,b/coord" }, Key: "working_directory"},
		"newline in agent":          {Edit: func(j *batch.Job) { j.Agent = "/bin/agent\nqueue" }, Key: "agent_path"},
	})
}

func TestState(t *testing.T) {
	ended := func(k adaptors.EndKind, reason string) adaptors.Status {
		return adaptors.Status{State: adaptors.JobEnded, End: k, Reason: reason}
	}
	const walltimeReason = "removed: The job attribute PeriodicRemove expression '(JobStatus == 2) && (time() - JobCurrentStartDate > BigJobWalltime)' evaluated to TRUE"
	for file, want := range map[string]adaptors.Status{
		"idle":               {State: adaptors.JobQueued, Reason: "idle"},
		"running":            {State: adaptors.JobRunning, Reason: "running"},
		"held":               {State: adaptors.JobQueued, Reason: "held: Error from slot1@node01.example.org: Failed to execute '/var/lib/condor/execute/dir_8812/condor_exec.exe': (errno=8: 'Exec format error')"},
		"transferring":       {State: adaptors.JobRunning, Reason: "transferring output"},
		"suspended":          {State: adaptors.JobRunning, Reason: "suspended"},
		"removing-walltime":  ended(adaptors.EndWalltime, walltimeReason),
		"completed-in-queue": ended(adaptors.EndCompleted, "exit code 0"),
		"history-completed":  ended(adaptors.EndCompleted, "exit code 0"),
		"history-failed":     ended(adaptors.EndFailed, "exit code 3"),
		"history-signal":     ended(adaptors.EndFailed, "completed without an exit code"),
		"history-removed":    ended(adaptors.EndCanceled, "removed: via condor_rm (by user alice)"),
		"history-walltime":   ended(adaptors.EndWalltime, walltimeReason),
		"history-unknown":    ended(adaptors.EndUnknown, ""),
		"history-off":        ended(adaptors.EndUnknown, ""),
	} {
		t.Run(file, func(t *testing.T) {
			st, err := batchtest.Load(t, filepath.Join("testdata/state", file+".txt")).State(New(), "42.0")
			require.NoError(t, err)
			assert.Equal(t, want, st)
		})
	}
}

func TestStateErrors(t *testing.T) {
	_, err := batchtest.Load(t, "testdata/state/schedd-down.txt").State(New(), "42.0")
	batchtest.Fails[*runner.CommandError](t, err, "query condor job 42.0", "Failed to fetch ads")

	for file, quoted := range map[string]string{"garbage": "-- Schedd: login1", "history-garbage": "OWNER"} {
		t.Run(file, func(t *testing.T) {
			_, err := batchtest.Load(t, filepath.Join("testdata/state", file+".txt")).State(New(), "42.0")
			oe := batchtest.Fails[*batch.OutputError](t, err, quoted)
			assert.Equal(t, "condor", oe.System)
		})
	}
}

func TestSubmit(t *testing.T) {
	const path = "/home/alice/pilots/.bigjob/bj-0a1b2c3d.job"
	for _, file := range []string{"terse", "verbose"} {
		f := batchtest.Load(t, filepath.Join("testdata/submit", file+".txt"))
		id, err := f.Submit(New(), path)
		require.NoError(t, err, file)
		assert.Equal(t, "42.0", id, file)
		assert.Equal(t, []string{"condor_submit -terse " + path}, f.Calls())
	}
	_, err := batchtest.Load(t, "testdata/submit/no-executable.txt").Submit(New(), path)
	batchtest.Fails[*runner.CommandError](t, err, "submit condor job", "Executable file /home/alice/bin/pilot-agent does not exist")

	_, err = batchtest.Load(t, "testdata/submit/garbage.txt").Submit(New(), path)
	batchtest.Fails[*batch.OutputError](t, err, "was unused by condor_submit")
}

func TestCancel(t *testing.T) {
	for _, file := range []string{"marked", "unknown"} {
		f := batchtest.Load(t, filepath.Join("testdata/cancel", file+".txt"))
		assert.NoError(t, f.Cancel(New(), "42.0"), file)
	}
	err := batchtest.Load(t, "testdata/cancel/denied.txt").Cancel(New(), "42.0")
	ce := batchtest.Fails[*runner.CommandError](t, err, "cancel condor job 42.0")
	assert.Equal(t, "condor_rm 42.0", ce.Line)
}
