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

// tspQueue is a private task-spooler queue: its own socket and TMPDIR.
type tspQueue struct {
	t         *testing.T
	dir, sock string
}

// newTSPQueue starts a queue of slots slots; its server is killed when the
// test ends.
func newTSPQueue(t *testing.T, slots string) *tspQueue {
	if _, err := exec.LookPath("tsp"); err != nil {
		t.Fatalf("tsp (task-spooler) is not installed: run make deps")
	}
	dir := t.TempDir()
	q := &tspQueue{t: t, dir: dir, sock: filepath.Join(dir, "ts.sock")}
	q.must("-S", slots)
	t.Cleanup(func() { q.must("-K") })
	return q
}

// run runs tsp on the queue and returns its trimmed output. The server
// starts with the first command and keeps its output files in its TMPDIR.
func (q *tspQueue) run(args ...string) (string, error) {
	cmd := exec.Command("tsp", args...)
	cmd.Env = append(os.Environ(), "TS_SOCKET="+q.sock, "TMPDIR="+q.dir)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// must runs tsp and fails the test if it fails.
func (q *tspQueue) must(args ...string) string {
	out, err := q.run(args...)
	require.NoError(q.t, err, "tsp %v: %s", args, out)
	return out
}

// state is what tsp -s says of a job, its error message included.
func (q *tspQueue) state(id string) string {
	out, _ := q.run("-s", id)
	return out
}

// The tsp adaptor plugin runs a pilot as a task-spooler job; cancel kills
// the job.
func TestTSPPluginRunsAPilot(t *testing.T) {
	_, err := plugins.Load(context.Background(), testenv.Plugin(t, "plugins/examples/tsp"))
	require.NoError(t, err)
	q := newTSPQueue(t, "2")
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "tsp://localhost?socket=" + q.sock, NumberOfProcesses: 2,
		WorkingDirectory: t.TempDir(), Walltime: 10})
	job := jobID(t, p)
	assert.Equal(t, "running", q.state(job))
	for _, out := range runUnits(t, p, 4, "BIGJOB_PILOT_ID") {
		assert.Equal(t, p.ID(), strings.Fields(out)[1])
	}
	require.NoError(t, p.Cancel(ctxT(t)))
	assert.Equal(t, "finished", q.state(job))
	noProcessWith(t, p.ID())
}

// A pilot behind another job stays queued; cancel removes it from the
// queue.
func TestTSPPluginCancelsAQueuedPilot(t *testing.T) {
	_, err := plugins.Load(context.Background(), testenv.Plugin(t, "plugins/examples/tsp"))
	require.NoError(t, err)
	q := newTSPQueue(t, "1")
	blocker := q.must("sleep", "300")
	defer q.must("-k", blocker)
	s := newService(t)
	p, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "tsp://localhost?socket=" + q.sock, NumberOfProcesses: 1,
		WorkingDirectory: t.TempDir(), Walltime: 10})
	require.NoError(t, err)
	job := jobID(t, p)
	require.Never(t, func() bool { return q.state(job) != "queued" }, 500*time.Millisecond, 100*time.Millisecond)
	require.NoError(t, p.Cancel(ctxT(t)))
	assert.Contains(t, q.state(job), "cannot be stated", "the job left the queue")
}
