package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/vocab"
)

// Unit is a compute unit: one task run by a pilot's agent.
type Unit struct {
	d         *domain
	id        string // cu-<uuid>
	pilotName string // the pilot it was submitted to; "" for the service queue

	mu      sync.Mutex
	box     *outbox   // set while an Enqueue'd unit may not be written yet
	seq     uint64    // its place in box
	refused error     // why the store did not take it (it has no record)
	final   State     // the final state once seen: it outlives the pruned record
	waiting *unitWait // Wait's state between calls, once it waited

	closeOnce sync.Once
	release   func() // set when reconnected by URL
}

// OpenUnit reconnects to a unit by its URL:
// redis://[pw@]host:port/bigjob:bj-<uuid>:<host>:jobs:sj-<uuid> for units
// submitted to a pilot, or
// redis://[pw@]host:port/PilotComputeServiceQueue-pcs-<uuid>:jobs:sj-<uuid>
// for units of the service queue. Close it when done.
func OpenUnit(ctx context.Context, unitURL string, o Options) (*Unit, error) {
	addr, name, err := coord.SplitObjectURL("unit", unitURL)
	if err != nil {
		return nil, err
	}
	owner, sj, ok := strings.Cut(name, ":jobs:")
	if !ok || !strings.HasPrefix(sj, "sj-") || len(sj) < 4 {
		return nil, &coord.URLError{What: "unit", URL: addr.Redacted() + "/" + name, Problem: "expected <pilot or queue>:jobs:sj-<uuid> after the host"}
	}
	id := "cu-" + sj[3:]
	var (
		d         *domain
		release   func()
		pilotName string
	)
	if svc, isQueue := strings.CutPrefix(owner, coord.ServiceQueueName("")); isQueue {
		d, release, err = acquireDomain(ctx, addr, svc, reconnectOptions(o))
		if err != nil {
			err = reconnectError("unit "+id, addr, err)
		}
	} else {
		if _, _, err = coord.ParsePilotName(owner); err != nil {
			return nil, &coord.URLError{What: "unit", URL: addr.Redacted() + "/" + name, Problem: err.Error()}
		}
		pilotName = owner
		d, release, err = resolvePilotDomain(ctx, addr, owner, o)
	}
	if err != nil {
		return nil, err
	}
	u := &Unit{d: d, id: id, pilotName: pilotName, release: release}
	if _, err := u.State(ctx); err != nil {
		release()
		return nil, err
	}
	return u, nil
}

// ID is "cu-<uuid>". The unit's sandbox directory is sj-<uuid>.
func (u *Unit) ID() string { return u.id }

// URL is the reconnectable URL of the unit (see OpenUnit).
func (u *Unit) URL() string {
	owner := u.pilotName
	if owner == "" {
		owner = coord.ServiceQueueName(u.d.keys.Service())
	}
	return u.d.base() + "/" + owner + ":jobs:sj-" + strings.TrimPrefix(u.id, "cu-")
}

// Close releases a unit reconnected with OpenUnit; otherwise it does nothing.
func (u *Unit) Close() error {
	u.closeOnce.Do(func() {
		if u.release != nil {
			u.release()
		}
	})
	return nil
}

// State reads the unit's state. A final state seen once is remembered, so
// that it is still known after the record was pruned (Options.FinishedTTL).
func (u *Unit) State(ctx context.Context) (State, error) {
	if st := u.known(); st != "" {
		return st, nil
	}
	if err := u.written(ctx); err != nil {
		return "", err
	}
	f, err := u.d.store.Fields(ctx, u.d.keys.Unit(u.id), coord.FieldState)
	if err != nil {
		return "", u.wrap("read state", err)
	}
	return u.remember(State(f[0])), nil
}

// known is the remembered final state, or "".
func (u *Unit) known() State {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.final
}

// remember keeps st if it is final, and returns it.
func (u *Unit) remember(st State) State {
	if st.Final() {
		u.mu.Lock()
		u.final = st
		u.mu.Unlock()
	}
	return st
}

// Details returns the unit record (state, start_time, end_queue_time,
// end_time, run_host, exit_code, reason, sandbox, ...) together with the
// SAGA-style fields BigJob scripts print (Executable, Arguments,
// NumberOfProcesses, ...).
func (u *Unit) Details(ctx context.Context) (map[string]string, error) {
	if err := u.written(ctx); err != nil {
		return nil, err
	}
	m, err := u.d.store.Record(ctx, u.d.keys.Unit(u.id))
	if err != nil {
		return nil, u.wrap("read details", err)
	}
	m["id"] = u.id
	m["job-id"] = "sj-" + strings.TrimPrefix(u.id, "cu-")
	if ud, err := vocab.DecodeUnit([]byte(m[coord.FieldDescription])); err == nil {
		for k, v := range sagaFields(ud) {
			m[k] = v
		}
	}
	return m, nil
}

// Description returns the unit's description with defaults applied.
func (u *Unit) Description(ctx context.Context) (UnitDescription, error) {
	if err := u.written(ctx); err != nil {
		return UnitDescription{}, err
	}
	f, err := u.d.store.Fields(ctx, u.d.keys.Unit(u.id), coord.FieldDescription)
	if err != nil {
		return UnitDescription{}, u.wrap("read description", err)
	}
	ud, err := vocab.DecodeUnit([]byte(f[0])) // the canonical form
	if err != nil {
		return UnitDescription{}, u.wrap("read description", err)
	}
	return ud, nil
}

// Sandbox is the absolute working directory of the unit on its pilot's host,
// or "" before an agent started it.
func (u *Unit) Sandbox(ctx context.Context) (string, error) {
	if err := u.written(ctx); err != nil {
		return "", err
	}
	f, err := u.d.store.Fields(ctx, u.d.keys.Unit(u.id), "sandbox")
	if err != nil {
		return "", u.wrap("read sandbox", err)
	}
	return f[0], nil
}

// Wait waits until the unit is final and returns its final state. A unit
// of the service queue that no live pilot of its service is left to run
// makes it return ErrNoPilots; a unit whose pilot's agent dies is given
// back to the service queue or failed (the pilot is watched meanwhile). A
// call that ctx ends leaves the wait's state to the next call (see held).
func (u *Unit) Wait(ctx context.Context) (State, error) {
	if st := u.known(); st != "" {
		return st, nil
	}
	u.mu.Lock()
	if u.waiting == nil {
		u.waiting = &unitWait{}
	}
	w := u.waiting
	u.mu.Unlock()
	w.enter()
	st, err := u.wait(ctx, w)
	w.leave(ctx, err)
	return st, err
}

// unitWait is the state of Unit.Wait between calls: whether the unit or a
// pilot changed since the wait last looked.
type unitWait struct {
	held
	mu                         sync.Mutex
	unitChanged, pilotsChanged bool
}

func (w *unitWait) note(unit, pilots bool) {
	w.mu.Lock()
	w.unitChanged = w.unitChanged || unit
	w.pilotsChanged = w.pilotsChanged || pilots
	w.mu.Unlock()
	w.poke()
}

func (w *unitWait) take() (unit, pilots bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	unit, pilots = w.unitChanged, w.pilotsChanged
	w.unitChanged, w.pilotsChanged = false, false
	return unit, pilots
}

func (u *Unit) wait(ctx context.Context, w *unitWait) (State, error) {
	lctx, cancel := lookCtx(ctx)
	defer cancel()
	if err := u.written(lctx); err != nil {
		return "", err
	}
	w.reset = func() { w.note(true, true) }
	fresh, err := w.subscribe(lctx, u.d, func(e coord.Event) bool {
		switch {
		case e.Kind == coord.KindUnit && e.ID == u.id:
			w.note(true, false)
		case e.Kind == coord.KindPilot:
			w.note(false, true)
		}
		return false
	})
	if err != nil {
		return "", u.wrap("wait", err)
	}
	if fresh {
		w.note(true, true)
	}
	rctx := lctx
	var last State
	for {
		unit, pilots := w.take()
		if unit || pilots {
			var f []string
			err := u.d.patient(rctx, func() (err error) {
				f, err = u.d.store.Fields(rctx, u.d.keys.Unit(u.id), coord.FieldState, coord.FieldPilot)
				return err
			})
			if err != nil {
				w.note(unit, pilots)
				return last, u.wrap("wait", err)
			}
			if last = u.remember(State(f[0])); last.Final() {
				return last, nil
			}
			w.watch(u.d, f[1])
			if f[1] == "" && pilots {
				live, err := livePilots(rctx, []*domain{u.d}, &w.held)
				if err != nil {
					w.note(false, true)
					return last, u.wrap("wait", err)
				}
				if live == 0 {
					return last, fmt.Errorf("wait for unit %s: %w", u.id, ErrNoPilots)
				}
			}
		}
		gaps, _, err := w.block(ctx)
		if err != nil {
			return last, err
		}
		if len(gaps) > 0 {
			w.note(true, true)
		}
		rctx = ctx
	}
}

// Cancel cancels the unit. A queued unit is Canceled at once; a unit an
// agent owns is killed with its whole process group, and Cancel returns once
// the agent has recorded it (within Options.StopTimeout). Canceling a final
// unit does nothing.
func (u *Unit) Cancel(ctx context.Context) error {
	if err := u.written(ctx); err != nil {
		return err
	}
	sub, err := u.d.watcher.subscribe(ctx, func(e coord.Event) bool {
		return e.Kind == coord.KindUnit && e.ID == u.id
	})
	if err != nil {
		return u.wrap("cancel", err)
	}
	defer sub.close()
	out, err := u.d.store.CancelUnit(ctx, u.d.keys, u.id, "canceled by the user")
	if err != nil {
		return u.wrap("cancel", err)
	}
	if out.Owner == "" {
		return nil
	}
	unwatch := u.d.monitor.watch(out.Owner)
	defer unwatch()
	wctx, cancel := context.WithTimeout(ctx, u.d.opts.StopTimeout)
	defer cancel()
	for {
		st, err := u.State(wctx)
		if err == nil && st.Final() {
			return nil
		}
		if err == nil {
			_, _, err = sub.wait(wctx)
		}
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				return u.wrap("cancel", fmt.Errorf("the agent of pilot %s did not confirm within %s", out.Owner, u.d.opts.StopTimeout))
			}
			return u.wrap("cancel", err)
		}
	}
}

func (u *Unit) wrap(op string, err error) error {
	if errors.Is(err, coord.ErrNotFound) {
		err = ErrNotFound
	}
	return fmt.Errorf("unit %s: %s: %w", u.id, op, err)
}

// sagaFields renders a description as the CamelCase attributes BigJob's
// unit records held (values as Python would print them).
func sagaFields(ud UnitDescription) map[string]string {
	m := map[string]string{
		"Executable":        ud.Executable,
		"NumberOfProcesses": strconv.Itoa(ud.Slots()),
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("SPMDVariation", ud.SPMDVariation)
	set("WorkingDirectory", ud.WorkingDirectory)
	set("Output", ud.Output)
	set("Error", ud.Error)
	set("Input", ud.Input)
	if ud.Arguments != nil {
		m["Arguments"] = pyList(ud.Arguments)
	}
	if ud.Environment != nil {
		env := make([]string, len(ud.Environment))
		for i, e := range ud.Environment {
			env[i] = e.Name + "=" + e.Value
		}
		m["Environment"] = pyList(env)
	}
	if ud.FileTransfer != nil {
		m["FileTransfer"] = pyList(ud.FileTransfer)
	}
	if ud.InputData != nil {
		m["InputData"] = pyList(ud.InputData)
	}
	return m
}

// pyList prints a list of strings as Python's repr does: ['a', 'b'].
func pyList(l []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		q := byte('\'')
		if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
			q = '"'
		}
		b.WriteByte(q)
		for _, r := range s {
			switch {
			case r == '\\':
				b.WriteString(`\\`)
			case r == rune(q):
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\t':
				b.WriteString(`\t`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte(q)
	}
	b.WriteByte(']')
	return b.String()
}
