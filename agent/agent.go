// Package agent is what runs inside a pilot. It takes units from the pilot's
// own queue and from its service's queue, runs each on the pilot's slots and
// records their states in the coordination store.
//
// Structure: one goroutine (the loop) owns all task and slot state; helpers
// feed it through channels: the puller (blocking queue reads and claims), the
// control reader (cancel and stop commands), the heartbeat, the peer check
// (ends pilots of the service whose agents died), and one reaper per running
// process. State changes go through a group-commit writer. Apart from the
// heartbeat and the peer check, nothing polls: every wait is a blocking Redis
// read or a child's exit.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/ctxsleep"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/vocab"
)

// ErrStoreLost is returned by Run when the agent gave up after losing the
// coordination store for longer than its grace period.
var ErrStoreLost = errors.New("lost the coordination store")

// Config tells the agent which pilot it runs.
type Config struct {
	Store   *coord.Store
	Keys    coord.Keys
	PilotID string
	// Key is the service's signing key. The agent runs only a pilot and
	// units whose descriptions carry its signature; anything else in the
	// store was not written by the service.
	Key coord.Key

	Dir       string        // the pilot's working directory; default the current directory
	Hosts     []string      // one entry per slot; default from the batch environment or the description
	Shell     string        // default /bin/bash
	MPIRun    string        // MPI launcher (split at blanks); default the description's mpi_launcher, else mpirun
	KillGrace time.Duration // SIGTERM to SIGKILL for killed units; default 2 s
	Walltime  time.Duration // default the description's walltime
	// WalltimeMargin: the agent ends the pilot this long before its
	// walltime, so that it records why before a batch system kills it. It
	// is capped at half the walltime. Default 0 (fork and ssh pilots).
	WalltimeMargin time.Duration
	Logger         *slog.Logger // default: discarded
	// Hooks are the sha256 digests of the manifests of the pilot's hook
	// plugins, in order; their bundles are in the coordination store.
	Hooks []string

	minute time.Duration // the unit of wall_time_limit; tests shorten it
	// peerMargin is added to twice the heartbeat timeout before a silent
	// peer is ended; default 1 min, tests shorten it.
	peerMargin time.Duration
}

// stopPlan says how the agent ends and what becomes of the pilot and its
// units. pilotState "" means the pilot record is not written (it ended
// elsewhere, or the store is gone).
type stopPlan struct {
	pilotState    vocab.State
	reason        string
	running       vocab.State // for units that are running
	runningReason string
	queued        vocab.State // for units not started yet (service units go back instead)
	queuedReason  string
	// lost: the pilot ends without the user asking (walltime, a signal from
	// the resource, the store gone). Running service units it kills are not
	// recorded: FinishPilot (or whoever finds the pilot lost) gives them
	// back to the service queue, within the service's max_attempts.
	lost bool
	err  error
}

type agent struct {
	c       Config
	store   *coord.Store
	keys    coord.Keys
	id      string
	log     *slog.Logger
	desc    vocab.PilotDescription
	host    string
	sandbox string
	noExec  bool
	// ownPrefetch: units of the pilot's own queue held beyond the free slots
	// (they are this pilot's anyway); see servicePrefetch for the service
	// queue's.
	ownPrefetch int
	lastFinish  time.Time     // when a unit last ended
	finishGap   time.Duration // the time between units' ends, averaged
	devnull     *os.File      // /dev/null, units' standard input by default
	walltime    time.Duration
	deadline    time.Time // when the agent ends the pilot
	svcPause    time.Duration
	svcResume   <-chan time.Time // service pulls are paused until then
	place       placement
	hb          time.Duration
	grace       time.Duration
	peerTimeout time.Duration // a Running peer silent this long is dead
	env         []string      // base environment of units
	environ     environ       // env, indexed
	launch      launcher
	plugins     *plugins.Host  // nil without hooks
	hooks       *plugins.Hooks // nil without hooks

	pool     *slotPool
	backlog  []*task          // claimed, not started; FIFO
	running  map[string]*task // started, not reaped
	staging  map[string]*task // staging in the background, not started
	tasks    map[string]*task // backlog ∪ staging ∪ running
	w        *writer
	plan     *stopPlan // set when the agent is stopping
	pulling  bool      // a pull is outstanding, for this much:
	asked    coord.Want
	amend    amendment // a wider want for the outstanding pull
	stopping bool

	claims uint64 // claims made so far (the puller's): names each claim
	want   chan coord.Want
	pulled chan []coord.Claimed
	exits  chan exit
	// stageDone hands back units whose staging ended (see stage)
	stageDone chan stagedUnit
	ctl       chan string
	hbStop    chan *stopPlan
}

// Run runs the agent of c.PilotID until the pilot is canceled, reaches its
// walltime, ends elsewhere, or ctx is canceled (a signal), and returns after
// its units' processes are gone. It returns nil if the pilot had ended before
// the agent started.
func Run(ctx context.Context, c Config) error {
	a, err := start(ctx, c)
	if err != nil || a == nil {
		return err
	}
	defer a.closePlugins()
	return a.loop(ctx)
}

func start(ctx context.Context, c Config) (started *agent, err error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Shell == "" {
		c.Shell = "/bin/bash"
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 2 * time.Second
	}
	if c.minute <= 0 {
		c.minute = time.Minute
	}
	if c.peerMargin <= 0 {
		c.peerMargin = time.Minute
	}
	a := &agent{c: c, store: c.Store, keys: c.Keys, id: c.PilotID, log: c.Logger,
		launch:  launcher{Shell: c.Shell},
		running: map[string]*task{}, staging: map[string]*task{}, tasks: map[string]*task{},
		stageDone: make(chan stagedUnit),
		want:      make(chan coord.Want, 1), pulled: make(chan []coord.Claimed, 1),
		exits: make(chan exit), ctl: make(chan string), hbStop: make(chan *stopPlan, 1)}
	defer func() {
		if started == nil {
			a.closePlugins()
		}
	}()

	rec, err := a.store.Record(ctx, a.keys.Pilot(a.id))
	if errors.Is(err, coord.ErrNotFound) {
		return nil, fmt.Errorf("pilot %s has no record in the coordination store (service %s)", a.id, a.keys.Service())
	}
	if err != nil {
		return nil, fmt.Errorf("read pilot record: %w", err)
	}
	if st := vocab.State(rec[coord.FieldState]); st.Final() {
		a.log.Info("pilot ended before its agent started", "state", st)
		return nil, nil
	}
	if !c.Key.Verify(coord.SignPilot, a.id, []byte(rec[coord.FieldDescription]), rec[coord.FieldSig]) {
		err := fmt.Errorf("refused: the description of pilot %s in the coordination store does not carry the service's signature (it was written or changed by someone without the service's key)", a.id)
		a.abort(ctx, err)
		return nil, err
	}
	if a.desc, err = vocab.DecodePilot([]byte(rec[coord.FieldDescription])); err != nil {
		// The door wrote it; one written by another version may not match.
		err = fmt.Errorf("read pilot description: %w", err)
		a.abort(ctx, err)
		return nil, err
	}
	a.hb = millis(rec["hb_interval_ms"], time.Second)
	a.grace = millis(rec["store_grace_ms"], time.Minute)
	// Peers are ended only after any managing process's monitor, which also
	// knows the resource manager's view (a walltime, a qdel), would have.
	a.peerTimeout = 2*millis(rec["hb_timeout_ms"], 10*a.hb) + c.peerMargin
	a.walltime = time.Duration(a.desc.WalltimeMinutes()) * time.Minute
	if c.Walltime > 0 {
		a.walltime = c.Walltime
	}
	a.noExec = a.desc.NoExec
	a.deadline = endTime(time.Now(), a.walltime, c.WalltimeMargin)
	if err := a.configure(); err != nil {
		a.abort(ctx, err)
		return nil, err
	}
	if err := a.loadHooks(ctx); err != nil {
		err = fmt.Errorf("load the pilot's hooks: %w", err)
		a.abort(ctx, err)
		return nil, err
	}

	dir := c.Dir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
	}
	a.sandbox = dir
	if !strings.Contains(dir, a.id) {
		a.sandbox = filepath.Join(dir, a.id)
	}
	if err := os.MkdirAll(a.sandbox, 0o700); err != nil {
		return nil, fmt.Errorf("create pilot sandbox: %w", err)
	}
	hosts, source := c.Hosts, "the agent's configuration"
	if len(hosts) == 0 {
		if hosts, source, err = discoverSlots(os.Getenv, os.ReadFile, a.desc.NumberOfProcesses); err != nil {
			err = fmt.Errorf("find the pilot's slots: %w", err)
			a.abort(ctx, err)
			return nil, err
		}
	}
	a.log.Info("slots", "count", len(hosts), "from", source)
	a.pool = newSlotPool(hosts)
	a.ownPrefetch = max(4*a.pool.total, 32)
	if a.noExec {
		a.ownPrefetch = 1000
	}
	if a.devnull, err = os.Open(os.DevNull); err != nil {
		return nil, err
	}
	a.host, _ = os.Hostname()
	a.env = unitEnv(a.id, a.sandbox)
	a.environ = newEnviron(a.env)
	if err := a.stagePilot(ctx); err != nil {
		a.abort(ctx, err)
		return nil, err
	}

	err = a.store.PilotRunning(ctx, a.keys, a.id, map[string]string{
		"run_host":  a.host,
		"agent_pid": strconv.Itoa(os.Getpid()),
		"sandbox":   a.sandbox,
		"slots":     strconv.Itoa(a.pool.total),
	})
	var ended *coord.PilotEndedError
	if errors.As(err, &ended) || errors.Is(err, coord.ErrNotFound) {
		a.log.Info("pilot ended before its agent started", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record that the pilot runs: %w", err)
	}
	a.log.Info("agent running", "pilot", a.id, "slots", a.pool.total, "sandbox", a.sandbox, "no_exec", a.noExec, "walltime", a.walltime)
	return a, nil
}

// endTime is when an agent started at start ends its pilot: at the
// walltime less the margin, which is at most half the walltime.
func endTime(start time.Time, walltime, margin time.Duration) time.Time {
	return start.Add(walltime - min(margin, walltime/2))
}

// configure reads the launch settings of the pilot description.
func (a *agent) configure() error {
	var err error
	if a.place, err = newPlacement(a.desc); err != nil {
		return err
	}
	a.launch.MPI = a.desc.MPILauncher // checked at the door (vocab)
	if a.c.MPIRun != "" {
		a.launch.MPI = strings.Fields(a.c.MPIRun)
	}
	return nil
}

// stagePilot copies the pilot's file_transfer entries into its sandbox,
// before the pilot runs, so that its units find them there (the sandbox is
// the parent of a unit's default working directory, and units have it as
// $BIGJOB_PILOT_SANDBOX).
func (a *agent) stagePilot(ctx context.Context) error {
	if len(a.desc.FileTransfer) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, dataTimeout)
	defer cancel()
	if err := transfer(ctx, a.desc.FileTransfer, a.sandbox); err != nil {
		return fmt.Errorf("stage the pilot's files into its sandbox %s: %w", a.sandbox, err)
	}
	return nil
}

// abort ends a pilot whose agent cannot start, with the reason.
func (a *agent) abort(ctx context.Context, why error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg := "its agent cannot start: " + why.Error()
	a.store.FinishPilot(ctx, a.keys, a.id, coord.PilotEnd{State: string(vocab.Failed), Reason: msg,
		UnitState: string(vocab.Failed), UnitReason: "pilot " + a.id + " failed: " + msg})
}

// unitEnv is the environment units start from: the agent's own, without the
// coordination URL (it may hold a password), plus the pilot's identity.
func unitEnv(pilotID, sandbox string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "BIGJOB_COORDINATION=") {
			env = append(env, e)
		}
	}
	return append(env, "BIGJOB_PILOT_ID="+pilotID, "BIGJOB_PILOT_SANDBOX="+sandbox)
}

func millis(s string, def time.Duration) time.Duration {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Millisecond
	}
	return def
}

func (a *agent) loop(ctx context.Context) error {
	a.w = newWriter(a.store, a.keys, a.id, a.log)
	go a.w.run()
	bg, stopBg := context.WithCancel(context.Background())
	go a.puller(bg)
	go a.control(bg)
	go a.heartbeat(bg)
	go a.reapPeers(bg)
	wall := time.NewTimer(time.Until(a.deadline))
	defer wall.Stop()

	var plan *stopPlan
	for plan == nil {
		a.schedule()
		a.requestPull()
		select {
		case cl := <-a.pulled:
			a.pulling = false
			a.accept(cl)
		case x := <-a.exits:
			a.finish(x)
		case s := <-a.stageDone:
			a.staged(s)
		case cmd := <-a.ctl:
			plan = a.command(cmd)
		case plan = <-a.hbStop:
		case <-a.svcResume:
			a.svcResume = nil
		case <-wall.C:
			why := fmt.Sprintf("walltime of %s reached", a.walltime)
			plan = &stopPlan{pilotState: vocab.Done, reason: why, lost: true,
				running: vocab.Failed, runningReason: "killed: the pilot's " + why,
				queued: vocab.Canceled, queuedReason: "the pilot's " + why + " before the unit ran"}
		case <-ctx.Done():
			why := "the agent was terminated by a signal"
			plan = &stopPlan{pilotState: vocab.Done, reason: why, lost: true,
				running: vocab.Failed, runningReason: "killed: " + why,
				queued: vocab.Canceled, queuedReason: why + " before the unit ran"}
		}
	}
	a.log.Info("agent stopping", "reason", plan.reason, "running", len(a.running), "queued", len(a.backlog))
	return a.shutdown(plan, stopBg)
}

// command handles a control command: "cancel cu-<uuid>" or "stop <reason>".
func (a *agent) command(cmd string) *stopPlan {
	verb, arg, _ := strings.Cut(cmd, " ")
	switch verb {
	case "cancel":
		a.cancelUnit(arg)
	case "stop":
		if arg == "" {
			arg = "stopped"
		}
		return &stopPlan{pilotState: vocab.Done, reason: arg,
			running: vocab.Canceled, runningReason: "the pilot was canceled",
			queued: vocab.Canceled, queuedReason: "the pilot was canceled"}
	default:
		a.log.Warn("ignoring an unknown control command", "command", cmd)
	}
	return nil
}

// readsOwn and readsService say which queues a want reads.
func readsOwn(w coord.Want) bool     { return w.Own > 0 }
func readsService(w coord.Want) bool { return w.Service > 0 }

// prefetchWindow is how much work the service-queue prefetch covers.
const prefetchWindow = 20 * time.Millisecond

// servicePrefetch is how many service-queue units the agent holds beyond
// its free slots: as many as end within prefetchWindow at the recent rate,
// between one per slot and ownPrefetch. The prefetch hides a claim's round
// trip behind running units; holding more would keep units from other
// pilots that have room (late binding), so units that run long are held
// one round ahead at most.
func (a *agent) servicePrefetch() int {
	if a.noExec {
		return a.ownPrefetch
	}
	n := a.pool.total
	if a.finishGap > 0 {
		n = int(prefetchWindow / a.finishGap)
	}
	return min(max(n, a.pool.total), a.ownPrefetch)
}

// ended notes that a unit ended, for servicePrefetch's rate.
func (a *agent) ended() {
	now := time.Now()
	if !a.lastFinish.IsZero() {
		gap := now.Sub(a.lastFinish)
		if a.finishGap == 0 {
			a.finishGap = gap
		}
		a.finishGap = (7*a.finishGap + gap) / 8
	}
	a.lastFinish = now
}

// amendment carries a wider want from the loop to the puller while a pull
// is outstanding (see requestPull).
type amendment struct {
	mu   sync.Mutex
	want *coord.Want
}

func (m *amendment) set(w coord.Want) {
	m.mu.Lock()
	m.want = &w
	m.mu.Unlock()
}

// take returns the amended want, if any, and clears it.
func (m *amendment) take() (coord.Want, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.want == nil {
		return coord.Want{}, false
	}
	w := *m.want
	m.want = nil
	return w, true
}

// requestPull asks for more units when the backlog has fallen to half of
// what the free slots plus prefetch allow (a low-water mark, so that each
// claim takes many units rather than one per finished unit).
//
// An outstanding pull may be about to block on a queue read that leaves out
// a queue the agent now has room for (the service queue, typically, once
// slots free up). The agent then amends the pull, and nudges its own queue
// so that a read already blocked returns. The amendment is set before the
// nudge is written, and the puller looks for it after every claim or read
// that could have taken the nudge, so no order of the two leaves the puller
// blocked on the narrower read.
func (a *agent) requestPull() {
	if a.stopping {
		return
	}
	svcPrefetch := a.servicePrefetch()
	target := a.pool.nfree + max(a.ownPrefetch, svcPrefetch)
	if len(a.backlog) > 0 && 2*len(a.backlog) > target {
		return
	}
	room := a.pool.nfree - len(a.backlog)
	want := coord.Want{Own: max(room+a.ownPrefetch, 0), Service: max(room+svcPrefetch, 0)}
	if a.svcResume != nil {
		want.Service = 0 // paused after declining service units
	}
	if !readsOwn(want) && !readsService(want) {
		return
	}
	if a.pulling {
		if readsService(want) && !readsService(a.asked) || readsOwn(want) && !readsOwn(a.asked) {
			a.asked = want
			a.amend.set(want)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				a.store.Nudge(ctx, a.keys, a.id)
			}()
		}
		return
	}
	a.amend.take() // one left from the last pull is stale
	a.pulling, a.asked = true, want
	a.want <- want
}

// busy reports whether more unit state changes are on their way.
func (a *agent) busy() bool { return len(a.running) > 0 || len(a.backlog) > 0 || len(a.staging) > 0 }

// accept adds claimed units to the backlog.
func (a *agent) accept(cl []coord.Claimed) {
	for _, c := range cl {
		if a.tasks[c.UnitID] != nil {
			continue // a retried claim returned it again
		}
		t := &task{id: c.UnitID, service: c.Service}
		if !a.c.Key.Verify(coord.SignUnit, c.UnitID, c.Description, c.Sig) {
			a.log.Warn("refused a unit that does not carry the service's signature", "unit", c.UnitID)
			a.w.add(true, t.final(vocab.Failed, "", "refused by pilot "+a.id+": the unit does not carry the service's signature "+
				"(it was written into the coordination store by someone without the service's key, not submitted through the service)"))
			continue
		}
		ud, err := vocab.DecodeUnit(c.Description) // the canonical form: checked, defaults applied
		if err != nil {
			a.w.add(true, t.final(vocab.Failed, "", "the unit's description cannot be read: "+err.Error()))
			continue
		}
		t.ud, t.canonical = ud, c.Description
		if t.ud.Slots() > a.pool.total {
			a.w.add(true, t.final(vocab.Failed, "", fmt.Sprintf("the unit needs %d slots but pilot %s has %d", t.ud.Slots(), a.id, a.pool.total)))
			continue
		}
		a.tasks[t.id] = t
		a.backlog = append(a.backlog, t)
	}
}

// schedule starts backlog units in order while the one at the head fits:
// a unit waiting for more slots is never passed by smaller ones behind it.
// A unit whose wall_time_limit reaches past the pilot's end is not started
// (see decline).
func (a *agent) schedule() {
	var declined []string
	for len(a.backlog) > 0 && !a.stopping {
		t := a.backlog[0]
		if lim := time.Duration(t.ud.WallTimeLimit) * a.c.minute; lim > 0 && time.Now().Add(lim).After(a.deadline) {
			a.backlog = a.backlog[1:]
			delete(a.tasks, t.id)
			if t.service {
				declined = append(declined, t.id)
			} else {
				left := time.Until(a.deadline).Round(time.Second)
				a.w.add(!a.busy(), t.final(vocab.Failed, "", fmt.Sprintf("not started: its wall_time_limit of %d min is longer than the %s pilot %s has left", t.ud.WallTimeLimit, left, a.id)))
			}
			continue
		}
		if t.ud.Slots() > a.pool.nfree {
			break
		}
		a.backlog = a.backlog[1:]
		t.hosts = a.pool.take(t.ud.Slots())
		a.start(t)
	}
	if len(declined) > 0 {
		a.decline(declined)
	}
}

// decline gives service units that cannot finish in the pilot's remaining
// time back to the service queue, for pilots with more time, and pauses
// this pilot's service pulls (5 s, doubling up to a minute while it keeps
// declining) so that it does not take them straight back.
func (a *agent) decline(ids []string) {
	a.svcPause = min(max(2*a.svcPause, 5*time.Second), time.Minute)
	a.svcResume = time.After(a.svcPause)
	a.log.Info("giving back units whose wall_time_limit exceeds the pilot's remaining time", "units", len(ids), "pause", a.svcPause)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.store.Requeue(ctx, a.keys, a.id, ids); err != nil {
			a.log.Warn("give back units", "units", len(ids), "err", err)
		}
	}()
}

func (a *agent) cancelUnit(id string) {
	t := a.tasks[id]
	if t == nil {
		return // not ours, or finished already
	}
	if a.staging[id] != nil { // recorded now; its slots are freed when its staging returns (staged)
		t.mu.Lock()
		t.killState, t.killReason = vocab.Canceled, "canceled by the user"
		t.mu.Unlock()
		t.stopStaging()
		a.w.add(true, t.final(vocab.Canceled, "", "canceled by the user"))
		return
	}
	if t.proc == nil {
		for i, b := range a.backlog {
			if b == t {
				a.backlog = append(a.backlog[:i], a.backlog[i+1:]...)
				break
			}
		}
		delete(a.tasks, id)
		a.w.add(true, t.final(vocab.Canceled, "", "canceled by the user"))
		return
	}
	t.kill(vocab.Canceled, "canceled by the user", a.c.KillGrace)
}

// finish records a reaped unit and frees its slots.
func (a *agent) finish(x exit) {
	t := x.t
	a.ended()
	delete(a.running, t.id)
	delete(a.tasks, t.id)
	a.pool.release(t.hosts)
	t.release()
	if t.machinefile != "" {
		os.Remove(t.machinefile)
	}
	if a.plan != nil && a.plan.lost && t.service && t.killState != "" {
		return // left running in the store: given back for another pilot
	}
	a.w.add(!a.busy() || t.killState != "", x.update)
}

// shutdown ends the agent as plan says. It does not wait for the puller,
// which may sit in a blocking read: units it claims after this point are
// handled by the store (the claim script sees the pilot ended, and
// FinishPilot gives back or ends the units the agent owns).
func (a *agent) shutdown(plan *stopPlan, stopBg context.CancelFunc) error {
	a.stopping, a.plan = true, plan
	stopBg()
	select {
	case cl := <-a.pulled:
		a.accept(cl)
	default:
	}
	for _, t := range a.running {
		t.kill(plan.running, plan.runningReason, a.c.KillGrace)
	}
	for _, t := range a.staging {
		t.stopStaging()
	}
	var requeue []string
	for _, t := range a.backlog {
		if t.service && plan.pilotState != "" {
			requeue = append(requeue, t.id)
		} else {
			a.w.add(true, t.final(plan.queued, "", plan.queuedReason))
		}
	}
	a.backlog = nil
	deadline := time.NewTimer(a.c.KillGrace + 5*time.Second)
	defer deadline.Stop()
	for len(a.running) > 0 || len(a.staging) > 0 {
		select {
		case x := <-a.exits:
			a.finish(x)
		case s := <-a.stageDone:
			t := s.t
			delete(a.staging, t.id)
			delete(a.tasks, t.id)
			a.pool.release(t.hosts)
			t.mu.Lock()
			canceled := t.killState != ""
			t.mu.Unlock()
			if !canceled && !(plan.lost && t.service) { // a lost pilot's service units go back (FinishPilot)
				a.w.add(true, t.final(plan.queued, "", plan.queuedReason))
			}
		case <-deadline.C:
			a.log.Error("units did not exit after SIGKILL, or their staging did not stop", "running", len(a.running), "staging", len(a.staging))
			a.running, a.staging = nil, nil
		}
	}
	budget := 15 * time.Second
	if plan.err != nil {
		budget = time.Second // the store is gone: do not linger
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	if len(requeue) > 0 {
		if err := a.store.Requeue(ctx, a.keys, a.id, requeue); err != nil {
			a.log.Error("give units back to the service queue", "units", len(requeue), "err", err)
		}
	}
	if err := a.w.close(ctx); err != nil {
		a.log.Error("record the last unit states", "err", err)
	}
	a.devnull.Close()
	if plan.pilotState != "" {
		err := a.store.FinishPilot(ctx, a.keys, a.id, coord.PilotEnd{State: string(plan.pilotState), Reason: plan.reason,
			UnitState: string(plan.queued), UnitReason: plan.queuedReason, Lost: plan.lost})
		var ended *coord.PilotEndedError
		if err != nil && !errors.As(err, &ended) {
			a.log.Error("record the end of the pilot", "err", err)
		}
	}
	a.log.Info("agent stopped", "reason", plan.reason)
	return plan.err
}

// puller takes units when the loop asks and hands them over. It claims
// what is queued without blocking; only when both queues are empty does it
// block on them. Claimed units are always delivered, even when the agent is
// stopping, so that none is lost.
func (a *agent) puller(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		var want coord.Want
		select {
		case want = <-a.want:
		case <-ctx.Done():
			return
		}
		var out []coord.Claimed
		for ctx.Err() == nil {
			var err error
			out, err = a.claim(want, nil)
			if err == nil && len(out) == 0 {
				if w, ok := a.amend.take(); ok {
					want = w // claim again, from the queues the loop has room for now
					continue
				}
				var entries []coord.QueueEntry
				entries, err = a.store.ReadQueues(ctx, a.keys, a.id, readsOwn(want), readsService(want), 1, 2*time.Second)
				if w, ok := a.amend.take(); ok {
					want = w
				}
				if err == nil && len(entries) > 0 {
					out, err = a.claim(want, entries)
				}
			}
			if err == nil {
				backoff = 50 * time.Millisecond
				break
			}
			if ctx.Err() != nil {
				break
			}
			a.log.Warn("taking units failed; retrying", "err", err, "in", backoff)
			ctxsleep.Sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
		}
		a.pulled <- out
	}
}

// claim claims entries read already plus what want allows more. A failed
// call is retried with the same token and arguments (for up to the store
// grace period, whatever happens to the agent meanwhile): if the call went
// through and only its reply was lost, the retry returns what it claimed.
func (a *agent) claim(want coord.Want, entries []coord.QueueEntry) ([]coord.Claimed, error) {
	for _, e := range entries {
		if e.Own {
			want.Own--
		} else {
			want.Service--
		}
	}
	a.claims++
	token := strconv.FormatUint(a.claims, 10)
	deadline := time.Now().Add(a.grace)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := a.store.Claim(ctx, a.keys, a.id, token, want, entries)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return out, err
		}
		a.log.Warn("claiming units failed; retrying", "units", len(entries), "err", err)
		time.Sleep(200 * time.Millisecond)
	}
}

// control forwards commands from the pilot's control list.
func (a *agent) control(ctx context.Context) {
	for ctx.Err() == nil {
		cmd, ok, err := a.store.PopControl(ctx, a.keys, a.id, 2*time.Second)
		if err != nil {
			if ctx.Err() == nil {
				ctxsleep.Sleep(ctx, 500*time.Millisecond)
			}
			continue
		}
		if ok {
			select {
			case a.ctl <- cmd:
			case <-ctx.Done():
				return
			}
		}
	}
}

// heartbeat refreshes the pilot record. It stops the agent when the pilot
// was ended by someone else, or when the store stayed unreachable for the
// grace period.
func (a *agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(a.hb)
	defer t.Stop()
	var failingSince time.Time
	beats := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, max(a.hb, time.Second))
		err := a.store.Heartbeat(hctx, a.keys, a.id)
		if err == nil && beats%60 == 0 {
			if name, _ := a.store.Fields(hctx, a.keys.Pilot(a.id), coord.FieldName); len(name) > 0 && name[0] != "" {
				a.store.TouchAlias(hctx, name[0])
			}
		}
		cancel()
		beats++
		var ended *coord.PilotEndedError
		var plan *stopPlan
		switch {
		case err == nil:
			failingSince = time.Time{}
			continue
		case errors.As(err, &ended):
			why := "the pilot was ended elsewhere (" + ended.State + ")"
			plan = &stopPlan{reason: why, running: vocab.Canceled, runningReason: why}
		case errors.Is(err, coord.ErrNotFound):
			why := "the pilot's record disappeared from the coordination store"
			plan = &stopPlan{reason: why, running: vocab.Canceled, runningReason: why}
		case ctx.Err() != nil:
			return
		default:
			if failingSince.IsZero() {
				failingSince = time.Now()
				a.log.Warn("heartbeat failed; the coordination store may be down", "err", err, "grace", a.grace)
			}
			if time.Since(failingSince) < a.grace {
				continue
			}
			why := fmt.Sprintf("the coordination store was unreachable for %s", a.grace)
			plan = &stopPlan{reason: why, running: vocab.Failed, runningReason: why, lost: true, err: ErrStoreLost}
		}
		select {
		case a.hbStop <- plan:
		default:
		}
		return
	}
}
