package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/plugins"
)

// tspQueue starts a private task-spooler queue of slots slots and returns
// a function that runs tsp on it; the queue's server is killed when the
// test ends.
func tspQueue(t *testing.T, slots string) (sock string, tsp func(args ...string) string) {
	if _, err := exec.LookPath("tsp"); err != nil {
		t.Fatalf("tsp (task-spooler) is not installed: run make deps")
	}
	dir := t.TempDir()
	sock = filepath.Join(dir, "ts.sock")
	tsp = func(args ...string) string {
		cmd := exec.Command("tsp", args...)
		// The server starts with the first command and keeps its output
		// files in its TMPDIR.
		cmd.Env = append(os.Environ(), "TS_SOCKET="+sock, "TMPDIR="+dir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "tsp %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	tsp("-S", slots)
	t.Cleanup(func() { tsp("-K") })
	return sock, tsp
}

func tspState(t *testing.T, sock, id string) string {
	cmd := exec.Command("tsp", "-s", id)
	cmd.Env = append(os.Environ(), "TS_SOCKET="+sock)
	out, _ := cmd.CombinedOutput()
	return strings.TrimSpace(string(out))
}

// The tsp adaptor plugin runs a pilot as a task-spooler job; cancel kills
// the job.
func TestTSPPluginRunsAPilot(t *testing.T) {
	_, err := plugins.Load(context.Background(), testenv.Plugin(t, "plugins/examples/tsp"))
	require.NoError(t, err)
	sock, _ := tspQueue(t, "2")
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "tsp://localhost?socket=" + sock, NumberOfProcesses: 2,
		WorkingDirectory: t.TempDir(), Walltime: 10})
	job := jobID(t, p)
	assert.Equal(t, "running", tspState(t, sock, job))
	for _, out := range runUnits(t, p, 4, "BIGJOB_PILOT_ID") {
		assert.Equal(t, p.ID(), strings.Fields(out)[1])
	}
	require.NoError(t, p.Cancel(ctxT(t)))
	assert.Equal(t, "finished", tspState(t, sock, job))
	noProcessWith(t, p.ID())
}

// A pilot behind another job stays queued; cancel removes it from the
// queue.
func TestTSPPluginCancelsAQueuedPilot(t *testing.T) {
	_, err := plugins.Load(context.Background(), testenv.Plugin(t, "plugins/examples/tsp"))
	require.NoError(t, err)
	sock, tsp := tspQueue(t, "1")
	blocker := tsp("sleep", "300")
	defer tsp("-k", blocker)
	s := newService(t)
	p, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "tsp://localhost?socket=" + sock, NumberOfProcesses: 1,
		WorkingDirectory: t.TempDir(), Walltime: 10})
	require.NoError(t, err)
	job := jobID(t, p)
	require.Never(t, func() bool { return tspState(t, sock, job) != "queued" }, 500*time.Millisecond, 100*time.Millisecond)
	require.NoError(t, p.Cancel(ctxT(t)))
	assert.Contains(t, tspState(t, sock, job), "cannot be stated", "the job left the queue")
}
