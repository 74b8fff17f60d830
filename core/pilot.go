package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/vocab"
)

// Pilot is a pilot compute job: an agent on a resource that runs units on
// its slots.
type Pilot struct {
	d      *domain
	id     string // bj-<uuid>
	nameMu sync.Mutex
	name   string // bigjob:bj-<uuid>:<host>; loaded when first asked for
	desc   *PilotDescription

	slotsOnce sync.Once // cachedSlots
	slots     int
	slotsErr  error

	waiting countWait // Wait's state between calls

	closeOnce sync.Once
	release   func() // set when reconnected by URL
}

// OpenPilot reconnects to a pilot by its URL,
// redis://[pw@]host:port/bigjob:bj-<uuid>:<host>. Close it when done.
func OpenPilot(ctx context.Context, pilotURL string, o Options) (*Pilot, error) {
	addr, name, err := coord.SplitObjectURL("pilot", pilotURL)
	if err != nil {
		return nil, err
	}
	pid, _, err := coord.ParsePilotName(name)
	if err != nil {
		return nil, &coord.URLError{What: "pilot", URL: addr.Redacted() + "/" + name, Problem: err.Error()}
	}
	d, release, err := resolvePilotDomain(ctx, addr, name, o)
	if err != nil {
		return nil, err
	}
	return &Pilot{d: d, id: pid, name: name, release: release}, nil
}

// ID is "bj-<uuid>".
func (p *Pilot) ID() string { return p.id }

// Name is the relative URL BigJob shows: "bigjob:bj-<uuid>:<host>".
func (p *Pilot) Name() string {
	p.nameMu.Lock()
	defer p.nameMu.Unlock()
	if p.name == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if f, err := p.d.store.Fields(ctx, p.d.keys.Pilot(p.id), coord.FieldName); err == nil {
			p.name = f[0]
		}
		cancel()
	}
	if p.name == "" {
		return p.id
	}
	return p.name
}

// URL is the reconnectable URL redis://[pw@]host:port/bigjob:bj-<uuid>:<host>.
func (p *Pilot) URL() string { return p.d.base() + "/" + p.Name() }

// ServiceID is the id of the service the pilot belongs to.
func (p *Pilot) ServiceID() string { return p.d.keys.Service() }

// ServiceURL is the reconnectable URL of the service the pilot belongs to
// (redis://[pw@]host:port/pcs/pcs-<uuid>, as OpenService takes).
func (p *Pilot) ServiceURL() string { return serviceURLOf(p.d.addr, p.ServiceID()) }

// Close releases a pilot reconnected with OpenPilot; for other pilots it
// does nothing. It does not cancel the pilot.
func (p *Pilot) Close() error {
	p.closeOnce.Do(func() {
		if p.release != nil {
			p.release()
		}
	})
	return nil
}

// State reads the pilot's state.
func (p *Pilot) State(ctx context.Context) (State, error) {
	f, err := p.d.store.Fields(ctx, p.d.keys.Pilot(p.id), coord.FieldState)
	if err != nil {
		return "", p.wrap("read state", err)
	}
	return State(f[0]), nil
}

// Details returns every field of the pilot record (state, start_time,
// end_queue_time, end_time, last_contact, description, ...) plus
// "bigjob_id", the pilot's name, as BigJob's get_details() does, and "native_job_id",
// the id the resource manager gave the pilot's job (a batch job id, a pid).
func (p *Pilot) Details(ctx context.Context) (map[string]string, error) {
	m, err := p.d.store.Record(ctx, p.d.keys.Pilot(p.id))
	if err != nil {
		return nil, p.wrap("read details", err)
	}
	m["bigjob_id"] = p.Name()
	var h adaptors.Handle
	if json.Unmarshal([]byte(m[coord.FieldHandle]), &h) == nil && h.ID != "" {
		m["native_job_id"] = h.ID // the batch job id, or the agent's pid
	}
	return m, nil
}

// Description returns the pilot's description as stored.
func (p *Pilot) Description(ctx context.Context) (PilotDescription, error) {
	if p.desc != nil {
		return *p.desc, nil
	}
	f, err := p.d.store.Fields(ctx, p.d.keys.Pilot(p.id), coord.FieldDescription)
	if err != nil {
		return PilotDescription{}, p.wrap("read description", err)
	}
	pd, err := vocab.DecodePilot([]byte(f[0])) // the canonical form
	if err != nil {
		return PilotDescription{}, p.wrap("read description", err)
	}
	return pd, nil
}

// Slots is the number of slots of the pilot.
func (p *Pilot) Slots(ctx context.Context) (int, error) {
	f, err := p.d.store.Fields(ctx, p.d.keys.Pilot(p.id), coord.FieldSlots)
	if err != nil {
		return 0, p.wrap("read slots", err)
	}
	return strconv.Atoi(f[0])
}

// FreeSlots is the number of slots not taken by running units (BigJob's
// get_free_nodes, counting each unit's real size).
func (p *Pilot) FreeSlots(ctx context.Context) (int, error) {
	total, err := p.Slots(ctx)
	if err != nil {
		return 0, err
	}
	used, err := p.d.store.BusySlots(ctx, p.d.keys, p.id)
	if err != nil {
		return 0, p.wrap("read free slots", err)
	}
	return total - used, nil
}

// Submit queues a unit on this pilot. It is refused if the pilot is final or
// has fewer slots than the unit needs.
func (p *Pilot) Submit(ctx context.Context, ud UnitDescription) (*Unit, error) {
	us, err := p.SubmitBulk(ctx, []UnitDescription{ud})
	if err != nil {
		return nil, err
	}
	return us[0], nil
}

// SubmitBulk queues many units on this pilot in few round trips.
func (p *Pilot) SubmitBulk(ctx context.Context, uds []UnitDescription) ([]*Unit, error) {
	p.Name()
	return submitUnits(ctx, p.d, queue{p: p}, uds)
}

// Units lists the units of this pilot, oldest first: those submitted to it
// and those its agent took from the service queue (a unit given back and
// taken by another pilot is listed there: coord.Store.PilotUnitIDs). A unit
// of the service queue keeps its URL (Unit.URL).
func (p *Pilot) Units(ctx context.Context) ([]*Unit, error) {
	units, err := p.d.store.PilotUnitIDs(ctx, p.d.keys, p.id)
	if err != nil {
		return nil, p.wrap("list units", err)
	}
	out := make([]*Unit, len(units))
	for i, pu := range units {
		out[i] = &Unit{d: p.d, id: pu.ID}
		if !pu.Service {
			out[i].pilotName = p.Name()
		}
	}
	return out, nil
}

// Wait is BigJob's barrier: it returns when every unit submitted to this
// pilot (or taken by it from the service queue) is final, or when the pilot
// itself is. With no units it returns at once. A pilot that failed with
// units it had not finished (its agent died, it could not start) makes Wait
// return ErrNoPilots, naming the pilot and why it failed.
//
// It reads the number of unfinished units once and then counts their final
// events down, reading again only when the count reaches zero (units may
// have been submitted meanwhile) or events were missed. A call that ctx
// ends leaves the wait's state to the next call (see held).
func (p *Pilot) Wait(ctx context.Context) error {
	w := &p.waiting
	w.enter()
	err := p.wait(ctx, w)
	w.leave(ctx, err)
	return err
}

func (p *Pilot) wait(ctx context.Context, w *countWait) error {
	lctx, cancel := lookCtx(ctx)
	defer cancel()
	if err := p.d.outboxFor(queue{p: p}).settle(lctx); err != nil {
		return err
	}
	w.watch(p.d, p.id)
	err := w.begin(lctx, p.d, func(e coord.Event) bool {
		switch {
		case e.Kind == coord.KindPilot && e.ID == p.id:
			w.changed(true)
		case e.Kind == coord.KindUnit && e.Pilot == p.id && State(e.State).Final():
			w.ended()
		}
		return false
	}, ctx.Err() != nil)
	if err != nil {
		return p.wrap("wait", err)
	}
	rctx := lctx
	for {
		if count, _ := w.take(); count {
			done, pending, err := p.finished(rctx)
			if err != nil {
				w.changed(true)
				return err
			}
			if done {
				return nil
			}
			if w.counted(pending) {
				continue
			}
		}
		gaps, _, err := w.block(ctx)
		if err != nil {
			return err
		}
		if len(gaps) > 0 {
			w.changed(true)
		}
		rctx = ctx
	}
}

// finished reports whether the barrier of Wait holds now: every unit of the
// pilot is final, or the pilot is (an error if it failed with units it had
// not finished); else how many units are pending.
func (p *Pilot) finished(ctx context.Context) (done bool, pending int, err error) {
	var pr coord.PilotProgress
	err = p.d.patient(ctx, func() (err error) {
		pr, err = p.d.store.ReadPilotProgress(ctx, p.d.keys, p.id)
		return err
	})
	if err != nil {
		return false, 0, p.wrap("wait", err)
	}
	if st := State(pr.State); st.Final() {
		if st == Failed && pr.EndedUnits > 0 {
			return false, 0, fmt.Errorf("pilot %s failed with %d units it had not finished (they failed with it): %s: %w", p.Name(), pr.EndedUnits, pr.Reason, ErrNoPilots)
		}
		return true, 0, nil
	}
	return pr.Pending == 0, int(pr.Pending), nil
}

// WaitState waits until the pilot is in one of states, or final, and returns
// the state it reached.
func (p *Pilot) WaitState(ctx context.Context, states ...State) (State, error) {
	lctx, cancel := lookCtx(ctx)
	st, err := p.State(lctx)
	cancel()
	if err != nil || st.Final() || slices.Contains(states, st) {
		return st, err
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	unwatch := p.d.monitor.watch(p.id)
	defer unwatch()
	sub, err := p.d.watcher.subscribe(ctx, func(e coord.Event) bool {
		return e.Kind == coord.KindPilot && e.ID == p.id
	})
	if err != nil {
		return "", p.wrap("wait", err)
	}
	defer sub.close()
	for {
		st, err := p.State(ctx)
		if err != nil {
			return "", err
		}
		if st.Final() {
			return st, nil
		}
		for _, want := range states {
			if st == want {
				return st, nil
			}
		}
		if _, _, err := sub.wait(ctx); err != nil {
			return st, err
		}
	}
}

// Cancel stops the pilot: its agent kills every unit it runs (they become
// Canceled), gives unstarted service-queue units back to the service queue,
// and sets the pilot Done. If the agent does not answer within
// Options.StopTimeout, the adaptor kills it. Cancel returns when no process
// of the pilot is left. Canceling a final pilot does nothing.
func (p *Pilot) Cancel(ctx context.Context) error {
	p.d.outboxFor(queue{p: p}).settle(ctx) // units enqueued before the cancel are canceled with it
	st, err := p.State(ctx)
	if err != nil || st.Final() {
		return err
	}
	if st == Running {
		sub, err := p.d.watcher.subscribe(ctx, func(e coord.Event) bool {
			return e.Kind == coord.KindPilot && e.ID == p.id
		})
		if err != nil {
			return p.wrap("cancel", err)
		}
		if err := p.d.store.PushControl(ctx, p.d.keys, p.id, "stop canceled by the user"); err != nil {
			sub.close()
			return p.wrap("cancel", err)
		}
		wctx, cancel := context.WithTimeout(ctx, p.d.opts.StopTimeout)
		for err == nil && !st.Final() {
			if _, _, err = sub.wait(wctx); err == nil {
				st, err = p.State(wctx)
			}
		}
		cancel()
		sub.close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := p.cleanup(ctx); err != nil {
		return err
	}
	err = p.d.store.FinishPilot(ctx, p.d.keys, p.id, coord.PilotEnd{State: string(Done), Reason: "canceled",
		UnitState: string(Canceled), UnitReason: "pilot " + p.Name() + " was canceled"})
	var ended *coord.PilotEndedError
	if err != nil && !errors.As(err, &ended) {
		return p.wrap("cancel", err)
	}
	return nil
}

// cleanup has the adaptor remove the pilot's job and every process of it.
func (p *Pilot) cleanup(ctx context.Context) error {
	f, err := p.d.store.Fields(ctx, p.d.keys.Pilot(p.id), coord.FieldHandle)
	if err != nil || f[0] == "" {
		return nil // never submitted: nothing to remove
	}
	var h adaptors.Handle
	if err := json.Unmarshal([]byte(f[0]), &h); err != nil {
		return p.wrap("cancel: read job handle", err)
	}
	a, err := adaptors.ForHandle(h)
	if err != nil {
		return p.wrap("cancel", err)
	}
	if err := a.Cancel(ctx, h); err != nil {
		return p.wrap("cancel job "+h.ID, err)
	}
	return nil
}

func (p *Pilot) wrap(op string, err error) error {
	if errors.Is(err, coord.ErrNotFound) {
		err = ErrNotFound
	}
	return fmt.Errorf("pilot %s: %s: %w", p.Name(), op, err)
}
