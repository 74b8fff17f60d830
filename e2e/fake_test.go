package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
)

// No HTCondor, Torque or PBS Pro package exists for this machine kind, and
// slurm-wlm-torque's qstat never prints garbage: these tests put commands
// on PATH that answer with the recorded transcripts of
// adaptors/batch/*/testdata and log how they were called. (Not parallel:
// they change PATH.)

// fakeCommands writes each script of cmds as an executable named by its key
// in a directory put first on PATH. Every call is appended to the file
// "calls" in the returned directory, as "name args...". A script may call
// reply FILE to print the output of the last command of a transcript.
func fakeCommands(t *testing.T, cmds map[string]string) (dir string) {
	dir = t.TempDir()
	for name, body := range cmds {
		script := "#!/bin/sh\n" +
			"echo \"${0##*/} $*\" >> " + filepath.Join(dir, "calls") + "\n" +
			"reply() { awk '/^-- \\$ /{b=\"\"; next} NR>1{b=b $0 \"\\n\"} END{printf \"%s\", b}' \"$1\"; }\n" +
			"state=" + filepath.Join(dir, "state") + "\n" +
			body + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func calls(t *testing.T, dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return string(b)
}

func transcript(t *testing.T, rel string) string {
	p, err := filepath.Abs(filepath.Join("..", "adaptors", "batch", rel))
	require.NoError(t, err)
	require.FileExists(t, p)
	return p
}

// bigjobFiles lists what the adaptor left in the working directory's
// .bigjob folder.
func bigjobFiles(t *testing.T, wd string) []string {
	entries, _ := os.ReadDir(filepath.Join(wd, ".bigjob"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCondorPilotQueuedThenCanceled(t *testing.T) {
	td := "condor/testdata/"
	fake := fakeCommands(t, map[string]string{
		"condor_submit":  "reply " + transcript(t, td+"submit/terse.txt") + "; echo idle > $state",
		"condor_q":       `[ "$(cat $state)" = idle ] && reply ` + transcript(t, td+"state/idle.txt") + "; exit 0",
		"condor_history": `[ "$(cat $state)" = removed ] && reply ` + transcript(t, td+"state/history-removed.txt") + "; exit 0",
		"condor_rm":      "reply " + transcript(t, td+"cancel/marked.txt") + "; echo removed > $state",
	})
	s := newService(t)
	wd := t.TempDir()
	p, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "condor://localhost", NumberOfProcesses: 4, WorkingDirectory: wd,
		Walltime: 30, Extra: map[string]any{"candidate_hosts": []any{"node7"}}}) // given loosely: typed at the door
	require.NoError(t, err)
	require.Equal(t, "42.0", jobID(t, p))
	script, err := os.ReadFile(filepath.Join(wd, ".bigjob", p.ID()+".job"))
	require.NoError(t, err)
	require.Contains(t, calls(t, fake), "condor_submit -terse "+filepath.Join(wd, ".bigjob", p.ID()+".job"))
	for _, want := range []string{"request_cpus = 4", "node7", p.ID() + ".coord"} {
		require.Contains(t, string(script), want)
	}
	st, err := p.State(ctxT(t))
	require.NoError(t, err)
	require.False(t, st.Final(), "a job condor_q calls idle is not over: %s", st)

	require.NoError(t, p.Cancel(ctxT(t)))
	require.Contains(t, calls(t, fake), "condor_rm 42.0")
	require.Contains(t, calls(t, fake), "condor_history 42.0", "cancel waits until the job has left the queue")
	st, err = p.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st)
	require.NotContains(t, bigjobFiles(t, wd), p.ID()+".coord", "the coordination file the agent never read is removed")
}

func TestPBSUnparsableQstatRemovesTheJob(t *testing.T) {
	td := "pbs/testdata/torque/"
	fake := fakeCommands(t, map[string]string{
		"qsub":  "reply " + transcript(t, td+"qsub-ok.txt"),
		"qstat": "reply " + transcript(t, td+"garbage.txt"),
		"qdel":  "exit 0",
	})
	s := newService(t)
	wd := t.TempDir()
	_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "pbs://localhost", NumberOfProcesses: 1, WorkingDirectory: wd})
	require.ErrorIs(t, err, core.ErrAdaptor)
	for _, want := range []string{"pbs://localhost", "4807.pbs01.example.org", "removed again", "qstat -f", "Time Use S Queue"} {
		require.ErrorContains(t, err, want)
	}
	require.Contains(t, calls(t, fake), "qdel 4807.pbs01.example.org")
	require.Empty(t, bigjobFiles(t, wd), "neither job script nor coordination file is left")
	require.Empty(t, s.Pilots())
}
