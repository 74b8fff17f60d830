package pbs

import (
	"context"
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
	long := batchtest.Minimal()
	long.Name = "bj-0a1b2c3d-with-a-long-suffix"
	cases := map[string]batch.Job{
		"minimal":  batchtest.Minimal(),
		"full":     batchtest.Full(),
		"awkward":  batchtest.Awkward(),
		"longname": long,
	}
	for _, f := range []Flavor{Torque, PBSPro} {
		for name, j := range cases {
			file := map[Flavor]string{Torque: "torque", PBSPro: "pbspro"}[f] + "-" + name + ".golden"
			t.Run(file, func(t *testing.T) {
				s, err := New(f).Script(j)
				require.NoError(t, err)
				batchtest.Golden(t, file, s)
			})
		}
	}
}

func TestScriptNodes(t *testing.T) {
	for _, c := range []struct {
		slots, ppn     int
		torque, pbspro string
	}{
		{1, 0, "nodes=1:ppn=1", "select=1:ncpus=1:mpiprocs=1"},
		{8, 0, "nodes=1:ppn=8", "select=1:ncpus=8:mpiprocs=8"},
		{8, 4, "nodes=2:ppn=4", "select=2:ncpus=4:mpiprocs=4"},
		{10, 4, "nodes=3:ppn=4", "select=3:ncpus=4:mpiprocs=4"},
		{2, 16, "nodes=1:ppn=16", "select=1:ncpus=16:mpiprocs=16"},
	} {
		j := batchtest.Minimal()
		j.Slots, j.ProcessesPerNode = c.slots, c.ppn
		s, err := New(Torque).Script(j)
		require.NoError(t, err)
		assert.Contains(t, s, "#PBS -l "+c.torque+"\n", "%d/%d", c.slots, c.ppn)
		s, err = New(PBSPro).Script(j)
		require.NoError(t, err)
		assert.Contains(t, s, "#PBS -l "+c.pbspro+"\n", "%d/%d", c.slots, c.ppn)
	}
}

func TestScriptHasNoDirectoryOption(t *testing.T) {
	for _, f := range []Flavor{Torque, PBSPro} {
		s, err := New(f).Script(batchtest.Full())
		require.NoError(t, err)
		assert.NotContains(t, s, "#PBS -d")
		assert.Contains(t, s, "\ncd /home/alice/pilots || exit 1\n")
		assert.Contains(t, s, "#PBS -l walltime=01:30:30\n")
		assert.Contains(t, s, "#PBS -q normal\n")
		assert.Contains(t, s, "#PBS -A TG-MCB090174\n")
	}
}

func TestScriptRefusesWhatADirectiveCannotCarry(t *testing.T) {
	batchtest.RefusesValues(t, New(Torque), map[string]batchtest.Refusal{
		"newline in queue":      {Edit: func(j *batch.Job) { j.Queue = "batch\n#PBS -l nodes=100" }, Key: "queue"},
		"quote in project":      {Edit: func(j *batch.Job) { j.Project = `a"b` }, Key: "project"},
		"hash in project":       {Edit: func(j *batch.Job) { j.Project = "a#b" }, Key: "project"},
		"colon in log path":     {Edit: func(j *batch.Job) { j.Stdout = "/home/a:b/out" }, Key: "working_directory"},
		"single quote in log":   {Edit: func(j *batch.Job) { j.Stderr = "/home/it's/err" }, Key: "working_directory"},
		"backslash in log path": {Edit: func(j *batch.Job) { j.Stderr = `/home/a\b/err` }, Key: "working_directory"},
	})
}

func ended(k adaptors.EndKind, reason string) adaptors.Status {
	return adaptors.Status{State: adaptors.JobEnded, End: k, Reason: reason}
}

func TestStateTorque(t *testing.T) {
	const id = "4807.pbs01.example.org"
	for file, want := range map[string]adaptors.Status{
		"queued":          {State: adaptors.JobQueued, Reason: "Q"},
		"held":            {State: adaptors.JobQueued, Reason: "H"},
		"running":         {State: adaptors.JobRunning, Reason: "R"},
		"exiting":         {State: adaptors.JobRunning, Reason: "E"},
		"completed":       ended(adaptors.EndCompleted, "C, exit_status 0"),
		"failed":          ended(adaptors.EndFailed, "C, exit_status 1"),
		"walltime":        ended(adaptors.EndWalltime, "C, exit_status -11"),
		"walltime-signal": ended(adaptors.EndWalltime, "C, exit_status 271 (signal 15)"),
		"deleted-running": ended(adaptors.EndCanceled, "C, exit_status 271 (signal 15)"),
		"killed-9":        ended(adaptors.EndCanceled, "C, exit_status 265 (signal 9)"),
		"deleted-queued":  ended(adaptors.EndCanceled, "C"),
		"unknown":         ended(adaptors.EndUnknown, ""),
	} {
		t.Run(file, func(t *testing.T) {
			f := batchtest.Load(t, filepath.Join("testdata/torque", file+".txt"))
			st, err := f.State(New(Torque), id)
			require.NoError(t, err)
			assert.Equal(t, want, st)
			assert.Equal(t, []string{"qstat -f " + id}, f.Calls(), "Torque keeps no history to ask")
		})
	}
}

func TestStatePBSPro(t *testing.T) {
	const id = "1021.pbs-server"
	for file, want := range map[string]adaptors.Status{
		"queued":           {State: adaptors.JobQueued, Reason: "Q: Not Running: Insufficient amount of resource: ncpus (R: 12 A: 8 T: 8)"},
		"held":             {State: adaptors.JobQueued, Reason: "H: Job held by alice on Tue Nov 24 09:20:11 2026"},
		"running":          {State: adaptors.JobRunning, Reason: "R"},
		"suspended":        {State: adaptors.JobRunning, Reason: "S"},
		"completed":        ended(adaptors.EndCompleted, "F, Exit_status 0"),
		"failed":           ended(adaptors.EndFailed, "F, Exit_status 2"),
		"walltime":         ended(adaptors.EndWalltime, "F, Exit_status -29"),
		"walltime-comment": ended(adaptors.EndWalltime, "F, Exit_status 271"),
		"deleted-running":  ended(adaptors.EndCanceled, "F, Exit_status 271 (signal 15)"),
		"deleted-queued":   ended(adaptors.EndCanceled, "F"),
		"unknown":          ended(adaptors.EndUnknown, ""),
	} {
		t.Run(file, func(t *testing.T) {
			st, err := batchtest.Load(t, filepath.Join("testdata/pbspro", file+".txt")).State(New(PBSPro), id)
			require.NoError(t, err)
			assert.Equal(t, want, st)
		})
	}
	f := batchtest.Load(t, "testdata/pbspro/completed.txt")
	_, err := f.State(New(PBSPro), id)
	require.NoError(t, err)
	assert.Equal(t, []string{"qstat -f " + id, "qstat -x -f " + id}, f.Calls())
}

func TestStateContinuationLines(t *testing.T) {
	f := batchtest.Load(t, "testdata/torque/completed.txt")
	out, err := f.Exec(context.Background(), "qstat -f 4807.pbs01.example.org")
	require.NoError(t, err)
	attrs, ok := parseFull(string(out))
	require.True(t, ok)
	assert.Equal(t, "login1.example.org:/home/alice/pilots/stdout-bj-0a1b2c3d-agent.txt", attrs["Output_Path"])
	assert.Equal(t, "PBS_O_QUEUE=batch,PBS_O_HOME=/home/alice,PBS_O_LOGNAME=alice,PBS_O_PATH=/usr/local/bin:/usr/bin:/bin,"+
		"PBS_O_SHELL=/bin/bash,PBS_O_LANG=en_US.UTF-8,PBS_O_WORKDIR=/home/alice/pilots,PBS_O_HOST=login1.example.org,"+
		"PBS_O_SERVER=pbs01.example.org", attrs["Variable_List"])
	assert.Equal(t, "0", attrs["exit_status"])
	assert.Equal(t, "login1.example.org", attrs["submit_host"])
}

// The wrappers of slurm-wlm-torque over the SLURM on this machine kind
// (captured): tab-indented attributes, no exit status.
func TestStateWrapper(t *testing.T) {
	for _, c := range []struct {
		file, id string
		want     adaptors.Status
	}{
		{"running", "11", adaptors.Status{State: adaptors.JobRunning, Reason: "R"}},
		{"held", "12", adaptors.Status{State: adaptors.JobQueued, Reason: "Q"}},
		{"completed", "10", ended(adaptors.EndUnknown, "C")},
		{"timeout", "8", ended(adaptors.EndUnknown, "C")},
		{"deleted-queued", "12", ended(adaptors.EndCanceled, "C")},
		{"unknown", "99999", ended(adaptors.EndUnknown, "")},
	} {
		t.Run(c.file, func(t *testing.T) {
			st, err := batchtest.Load(t, filepath.Join("testdata/wrapper", c.file+".txt")).State(New(Torque), c.id)
			require.NoError(t, err)
			assert.Equal(t, c.want, st)
		})
	}
}

func TestStateErrors(t *testing.T) {
	_, err := batchtest.Load(t, "testdata/pbspro/server-down.txt").State(New(PBSPro), "1021.pbs-server")
	batchtest.Fails[*runner.CommandError](t, err, "query pbs job 1021.pbs-server", "cannot connect to server pbs-server")

	for file, quoted := range map[string]string{"garbage": "Job ID", "bad-state": "job_state = Z"} {
		t.Run(file, func(t *testing.T) {
			f := batchtest.Load(t, filepath.Join("testdata/torque", file+".txt"))
			_, err := f.State(New(Torque), "4807.pbs01.example.org")
			oe := batchtest.Fails[*batch.OutputError](t, err)
			assert.Equal(t, "pbs", oe.System)
			assert.Contains(t, oe.Line, "qstat -f 4807.pbs01.example.org")
			if file == "garbage" {
				assert.Contains(t, err.Error(), quoted)
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	const path = "/home/alice/pilots/.bigjob/bj-0a1b2c3d.job"
	for file, want := range map[string]string{
		"torque/qsub-ok": "4807.pbs01.example.org", "pbspro/qsub-ok": "1021.pbs-server", "wrapper/qsub-ok": "11",
	} {
		f := batchtest.Load(t, "testdata/"+file+".txt")
		id, err := f.Submit(New(Torque), path)
		require.NoError(t, err, file)
		assert.Equal(t, want, id, file)
		assert.Equal(t, []string{"qsub " + path}, f.Calls())
	}
	for file, says := range map[string]string{
		"torque/qsub-bad-queue":  "Unknown queue",
		"pbspro/qsub-bad-select": "exceeds queue and/or server resource limits",
		"wrapper/qsub-bad-queue": "invalid partition specified: nosuch",
	} {
		t.Run(file, func(t *testing.T) {
			_, err := batchtest.Load(t, "testdata/"+file+".txt").Submit(New(PBSPro), path)
			batchtest.Fails[*runner.CommandError](t, err, "submit pbs job", says)
		})
	}
	_, err := batchtest.Load(t, "testdata/torque/qsub-garbage.txt").Submit(New(Torque), path)
	batchtest.Fails[*batch.OutputError](t, err, "will be charged")
}

func TestCancel(t *testing.T) {
	for file, c := range map[string]struct {
		flavor Flavor
		id     string
	}{
		"torque/qdel-running":   {Torque, "4807.pbs01.example.org"},
		"torque/qdel-unknown":   {Torque, "4807.pbs01.example.org"},
		"torque/qdel-completed": {Torque, "4807.pbs01.example.org"},
		"pbspro/qdel-finished":  {PBSPro, "1021.pbs-server"},
		"pbspro/qdel-unknown":   {PBSPro, "1021.pbs-server"},
		"wrapper/qdel-held":     {Torque, "12"},
		"wrapper/qdel-done":     {Torque, "10"},
	} {
		t.Run(file, func(t *testing.T) {
			f := batchtest.Load(t, "testdata/"+file+".txt")
			assert.NoError(t, f.Cancel(New(c.flavor), c.id))
		})
	}
	err := batchtest.Load(t, "testdata/pbspro/qdel-denied.txt").Cancel(New(PBSPro), "1021.pbs-server")
	batchtest.Fails[*runner.CommandError](t, err, "cancel pbs job 1021.pbs-server", "Unauthorized Request")
}
