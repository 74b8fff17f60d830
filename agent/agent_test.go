package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/vocab"
	"github.com/stretchr/testify/require"
)

// harness runs an agent in this process (so the race detector sees it)
// against a fresh embedded store.
type harness struct {
	t     *testing.T
	store *coord.Store
	keys  coord.Keys
	key   coord.Key // the service's signing key
	id    string
	dir   string
	done  chan error
}

func newHarness(t *testing.T, slots int, cfg Config) *harness {
	return newHarnessFor(t, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: slots}, cfg)
}

// newHarnessFor runs an agent for a pilot described by pd.
func newHarnessFor(t *testing.T, pd core.PilotDescription, cfg Config) *harness {
	h := prepareHarness(t, pd, cfg.Key)
	h.start(cfg)
	return h
}

// prepareHarness creates the store and the pilot record for pd, signed with
// forger's key if it is not nil; start runs the agent.
func prepareHarness(t *testing.T, pd core.PilotDescription, forger coord.Key) *harness {
	slots := pd.NumberOfProcesses
	s := testenv.Dial(t, testenv.Embedded(t))
	key, err := coord.NewKey()
	require.NoError(t, err)
	h := &harness{t: t, store: s, keys: coord.ServiceKeys("pcs-test"), key: key, id: "bj-test", dir: t.TempDir(), done: make(chan error, 1)}
	desc, _ := json.Marshal(pd)
	sig := key.Sign(coord.SignPilot, h.id, desc)
	if forger != nil {
		sig = forger.Sign(coord.SignPilot, h.id, desc)
	}
	require.NoError(t, s.CreatePilot(context.Background(), h.keys, h.id, coord.PilotName(h.id, "localhost"), slots,
		map[string]string{coord.FieldDescription: string(desc), coord.FieldSig: sig, "hb_interval_ms": "100"}))
	return h
}

// start runs the agent with cfg (its store, keys, pilot, directory and key
// are the harness's) until the test ends.
func (h *harness) start(cfg Config) {
	t := h.t
	cfg.Store, cfg.Keys, cfg.PilotID, cfg.Dir, cfg.Key = h.store, h.keys, h.id, h.dir, h.key
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			t.Error("agent did not stop")
		}
	})
	require.Eventually(t, func() bool { return core.State(h.field(h.id, "state")) != core.Unknown }, 10*time.Second, 10*time.Millisecond)
}

func (h *harness) field(key, f string) string {
	v, _ := h.store.Fields(context.Background(), h.keys.Unit(key), f)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// encode puts ud through the door as the service does (vocab.EncodeUnit).
func (h *harness) encode(ud core.UnitDescription) []byte {
	_, b, err := vocab.EncodeUnit(ud)
	require.NoError(h.t, err)
	return b
}

func (h *harness) submit(id string, ud core.UnitDescription) {
	h.submitRaw(id, ud.Slots(), h.encode(ud))
}

// submitTo queues a unit, signed with the service's key, on the queue of
// pilot (another pilot of the service than the harness's; "": the service
// queue).
func (h *harness) submitTo(pilot, id string, ud core.UnitDescription) {
	b := h.encode(ud)
	refused, _, err := h.store.Submit(context.Background(), h.keys, pilot, []coord.NewUnit{{ID: id, Slots: ud.Slots(), Description: b, Sig: h.key.Sign(coord.SignUnit, id, b)}})
	require.NoError(h.t, err)
	require.Empty(h.t, refused)
}

// submitRaw queues a unit on the pilot's queue, signed with the service's key.
func (h *harness) submitRaw(id string, slots int, desc []byte) {
	h.submitSigned(id, slots, desc, h.key.Sign(coord.SignUnit, id, desc))
}

// submitSigned queues a unit on the pilot's queue with the signature sig.
func (h *harness) submitSigned(id string, slots int, desc []byte, sig string) {
	refused, _, err := h.store.Submit(context.Background(), h.keys, h.id, []coord.NewUnit{{ID: id, Slots: slots, Description: desc, Sig: sig}})
	require.NoError(h.t, err)
	require.Empty(h.t, refused)
}

// submitService queues a unit on the service-wide queue.
func (h *harness) submitService(id string, ud core.UnitDescription) { h.submitTo("", id, ud) }

func (h *harness) waitFinal(id string) string {
	var st string
	require.Eventually(h.t, func() bool {
		st = h.field(id, "state")
		return core.State(st).Final()
	}, 20*time.Second, 10*time.Millisecond, "unit %s stuck in %q", id, st)
	return st
}

func TestWalltimeEndsThePilot(t *testing.T) {
	h := newHarness(t, 1, Config{Walltime: 2 * time.Second, KillGrace: 100 * time.Millisecond})
	h.submit("cu-long", core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"300"}})
	h.submit("cu-queued", core.UnitDescription{Executable: "/bin/true"})
	select {
	case err := <-h.done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not stop at its walltime")
	}
	h.done <- nil // for the cleanup
	require.Equal(t, "Done", h.field(h.id, "state"))
	require.Contains(t, h.field(h.id, "reason"), "walltime")
	require.Equal(t, "Failed", h.field("cu-long", "state"))
	require.Contains(t, h.field("cu-long", "reason"), "walltime")
	require.Equal(t, "Canceled", h.field("cu-queued", "state"))
}

func TestBadUnitsFailAlone(t *testing.T) {
	h := newHarness(t, 1, Config{})
	h.submitRaw("cu-garbage", 1, []byte("{not json"))
	h.submit("cu-badinput", core.UnitDescription{Executable: "/bin/cat", Input: "/nonexistent/input"})
	h.submit("cu-fine", core.UnitDescription{Executable: "/bin/true"})
	require.Equal(t, "Failed", h.waitFinal("cu-garbage"))
	require.Contains(t, h.field("cu-garbage", "reason"), "description cannot be read")
	require.Equal(t, "Failed", h.waitFinal("cu-badinput"))
	require.Contains(t, h.field("cu-badinput", "reason"), "open input")
	require.Equal(t, "Done", h.waitFinal("cu-fine"))
}

func TestStagingAndInput(t *testing.T) {
	h := newHarness(t, 1, Config{})
	src := filepath.Join(t.TempDir(), "test.txt")
	require.NoError(t, os.WriteFile(src, []byte("Hello World!\n"), 0o644))
	h.submit("cu-stage", core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"test.txt", "renamed.txt"},
		FileTransfer: []string{"ssh://" + src + " > SUBJOB_WORK_DIR", "file://localhost" + src + " > renamed.txt"}})
	h.submit("cu-stdin", core.UnitDescription{Executable: "/bin/cat", Input: src})
	require.Equal(t, "Done", h.waitFinal("cu-stage"))
	out, err := os.ReadFile(filepath.Join(h.field("cu-stage", "sandbox"), "stdout"))
	require.NoError(t, err)
	require.Equal(t, "Hello World!\nHello World!\n", string(out))
	require.NotEmpty(t, h.field("cu-stage", "start_staging_time"))
	require.Equal(t, "Done", h.waitFinal("cu-stdin"))
	out, err = os.ReadFile(filepath.Join(h.field("cu-stdin", "sandbox"), "stdout"))
	require.NoError(t, err)
	require.Equal(t, "Hello World!\n", string(out))
}

func TestSlotPool(t *testing.T) {
	p := newSlotPool([]string{"a", "a", "b", "b", "c"})
	require.Equal(t, []string{"a", "a", "b"}, p.take(3))
	require.Nil(t, p.take(3), "only 2 left")
	got := p.take(2)
	require.Equal(t, []string{"b", "c"}, got)
	p.release(got)
	require.Equal(t, 2, p.nfree)
}

func TestUnitsThatCannotFinishInTimeAreNotStarted(t *testing.T) {
	// A "minute" of 200 ms: a pilot with 2 s left cannot fit a 20-"minute" unit.
	h := newHarness(t, 1, Config{Walltime: 700 * time.Millisecond, minute: 200 * time.Millisecond, KillGrace: 100 * time.Millisecond})
	h.submit("cu-toolong", core.UnitDescription{Executable: "/bin/true", WallTimeLimit: 20})
	h.submitService("cu-svc-toolong", core.UnitDescription{Executable: "/bin/true", WallTimeLimit: 20})
	h.submit("cu-fits", core.UnitDescription{Executable: "/bin/true", WallTimeLimit: 1})
	h.submit("cu-overruns", core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"30"}, WallTimeLimit: 2})
	require.Equal(t, "Failed", h.waitFinal("cu-toolong"))
	require.Contains(t, h.field("cu-toolong", "reason"), "wall_time_limit of 20 min is longer than")
	require.Equal(t, "Done", h.waitFinal("cu-fits"))
	require.Equal(t, "Failed", h.waitFinal("cu-overruns"), "killed at its limit")
	require.Contains(t, h.field("cu-overruns", "reason"), "ran longer than its wall_time_limit of 2 min")
	// the service unit went back to the service queue, unclaimed, for pilots with more time
	require.Eventually(t, func() bool {
		return h.field("cu-svc-toolong", "state") == "Unknown" && h.field("cu-svc-toolong", "pilot") == ""
	}, 5*time.Second, 10*time.Millisecond)
}

func TestWalltimeMargin(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, t0.Add(50*time.Second), endTime(t0, time.Minute, 10*time.Second))
	require.Equal(t, t0.Add(time.Hour), endTime(t0, time.Hour, 0), "fork pilots have no margin")
	require.Equal(t, t0.Add(30*time.Second), endTime(t0, time.Minute, time.Hour), "at most half the walltime")
}

func TestSlotsFromTheBatchEnvironment(t *testing.T) {
	nodefile := filepath.Join(t.TempDir(), "nodes")
	require.NoError(t, os.WriteFile(nodefile, []byte("localhost\nlocalhost\nlocalhost\n"), 0o644))
	t.Setenv("PBS_NODEFILE", nodefile)
	h := newHarness(t, 1, Config{})
	require.Equal(t, "3", h.field(h.id, "slots"), "the nodefile, not number_of_processes, sizes the pilot")
}

func TestBadBatchEnvironmentFailsThePilot(t *testing.T) {
	t.Setenv("SLURM_JOB_NODELIST", "node[3-1]")
	h := newHarness(t, 1, Config{})
	require.Equal(t, "Failed", h.field(h.id, "state"))
	require.Contains(t, h.field(h.id, "reason"), "SLURM_JOB_NODELIST")
	require.ErrorContains(t, <-h.done, "descending range")
	h.done <- nil
}

// Bad launch settings are refused at the door (vocab); a description in the
// store that has them anyway (written by another version) fails the pilot
// with the reason.
func TestBadLaunchSettingsFailThePilot(t *testing.T) {
	t.Setenv("SLURM_JOB_ID", "")
	for key, v := range map[string]any{"launch_method": "teleport", "mpi_launcher": "", "remote_shell": 3} {
		t.Run(key, func(t *testing.T) {
			pd := core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1, Extra: map[string]any{key: v}}
			h := newHarnessFor(t, pd, Config{})
			require.Equal(t, "Failed", h.field(h.id, "state"))
			require.Contains(t, h.field(h.id, "reason"), key)
			require.Error(t, <-h.done)
			h.done <- nil
		})
	}
	t.Run("srun outside SLURM", func(t *testing.T) {
		pd := core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1, LaunchMethod: "srun"}
		h := newHarnessFor(t, pd, Config{})
		require.Contains(t, h.field(h.id, "reason"), "needs a SLURM allocation")
		require.Error(t, <-h.done)
		h.done <- nil
	})
}

// A unit whose staging is slow (its file_transfer source, a FIFO, has no
// writer yet) delays no other unit: a unit submitted after it runs and
// ends meanwhile; one canceled while it stages ends Canceled at once and
// never starts; the slow one runs once its source is written.
func TestSlowStagingDelaysNoOtherUnit(t *testing.T) {
	h := newHarness(t, 3, Config{})
	dir := t.TempDir()
	slow, canceled := filepath.Join(dir, "slow"), filepath.Join(dir, "canceled")
	for _, f := range []string{slow, canceled} {
		require.NoError(t, syscall.Mkfifo(f, 0o600))
	}
	state := func(id string) func() bool {
		return func() bool { return h.field(id, "state") == string(core.Staging) }
	}
	h.submit("cu-slow", core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"slow"}, FileTransfer: []string{slow}})
	h.submit("cu-canceled", core.UnitDescription{Executable: "/bin/true", FileTransfer: []string{canceled}})
	require.Eventually(t, state("cu-slow"), 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, state("cu-canceled"), 10*time.Second, 10*time.Millisecond)
	h.submit("cu-quick", core.UnitDescription{Executable: "/bin/true"})
	require.Equal(t, "Done", h.waitFinal("cu-quick"))
	require.Equal(t, string(core.Staging), h.field("cu-slow", "state"), "still staging")

	require.NoError(t, h.store.PushControl(context.Background(), h.keys, h.id, "cancel cu-canceled"))
	require.Equal(t, "Canceled", h.waitFinal("cu-canceled"), "at once, while its staging is stuck")
	feed := func(path, text string) error {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(text)
		f.Close()
		return err
	}
	feed(canceled, "x") // its staging returns (it may have stopped reading: EPIPE); the unit must not start
	h.submit("cu-after", core.UnitDescription{Executable: "/bin/true"})
	require.Equal(t, "Done", h.waitFinal("cu-after"))
	require.Empty(t, h.field("cu-canceled", "pid"), "it never started")
	require.Equal(t, "Canceled", h.field("cu-canceled", "state"))
	require.NoError(t, feed(slow, "staged late\n"))
	require.Equal(t, "Done", h.waitFinal("cu-slow"))
	out, err := os.ReadFile(filepath.Join(h.field("cu-slow", "sandbox"), "stdout"))
	require.NoError(t, err)
	require.Equal(t, "staged late\n", string(out))
}
