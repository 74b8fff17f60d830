package core

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// waitIdle is how long the state of a wait outlives a call that its
// context ended (see held).
const waitIdle = 30 * time.Second

// held is the part of an object's wait that outlives one call of it: the
// subscriptions to the event streams it follows (sharing one wake-up
// channel) and the pilots it has the monitor watch. A wait sliced into many
// short calls (Python's, so that Ctrl-C works) thus neither subscribes
// again, nor loses the events between its calls, nor restarts liveness
// tracking on each slice; what it learned stays with the wait that owns the
// held. The state is released when a call ends the wait (it returns other
// than by its context), or waitIdle after a call that its context ended,
// if no call came meanwhile.
//
// A wait's filters see every event of its domains; they note what they
// need in the wait's own state and return false, so that nothing piles up
// between calls, and call poke when the wait should look again.
type held struct {
	mu      sync.Mutex // held by the call in progress; guards the fields below
	wake    chan struct{}
	subs    map[*domain]*subscription
	watched map[string]func() // pilot id -> stop watching it
	gen     int               // calls so far: a stale idle timer must not release
	idle    *time.Timer
	reset   func() // clears the wait's own state when it is released
}

// enter begins a call of the wait; leave must follow.
func (h *held) enter() {
	h.mu.Lock()
	h.gen++
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	if h.wake == nil {
		h.wake = make(chan struct{}, 1)
	}
}

// leave ends a call that returned err. A call that its context ended keeps
// the state for the next one; any other result releases it.
func (h *held) leave(ctx context.Context, err error) {
	defer h.mu.Unlock()
	if ctx.Err() == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		h.release()
		return
	}
	gen := h.gen
	h.idle = time.AfterFunc(waitIdle, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.gen == gen {
			h.release()
		}
	})
}

func (h *held) release() {
	for _, s := range h.subs {
		s.close()
	}
	for _, unwatch := range h.watched {
		unwatch()
	}
	h.subs, h.watched = nil, nil
	if h.reset != nil {
		h.reset()
	}
}

// poke tells the call in progress (or the next one) to look again.
func (h *held) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// subscribe subscribes the wait to d's events through filter, unless it is
// subscribed already. fresh says it was not: the wait must then read the
// state of what it waits for, since earlier events are lost to it.
func (h *held) subscribe(ctx context.Context, d *domain, filter func(coord.Event) bool) (fresh bool, err error) {
	if h.subs[d] != nil {
		return false, nil
	}
	var s *subscription
	err = d.patient(ctx, func() (err error) { s, err = d.watcher.subscribeTo(ctx, filter, h.wake); return err })
	if err != nil {
		return false, err
	}
	if h.subs == nil {
		h.subs = map[*domain]*subscription{}
	}
	h.subs[d] = s
	return true, nil
}

// watch has d's monitor watch the pilot for the wait, once.
func (h *held) watch(d *domain, pilotID string) {
	if pilotID == "" || h.watched[pilotID] != nil {
		return
	}
	if h.watched == nil {
		h.watched = map[string]func(){}
	}
	h.watched[pilotID] = d.monitor.watch(pilotID)
}

// block waits until the wait is poked or its subscriptions have something,
// or ctx ends. It returns the domains whose subscription missed events
// (the wait must read their state again), the events the filters kept, and
// the error that ended a subscription (the store stayed unreachable).
func (h *held) block(ctx context.Context) (gaps []*domain, evs []coord.Event, err error) {
	select {
	case <-h.wake:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	for d, s := range h.subs {
		if err := s.failed(); err != nil {
			return nil, nil, err
		}
		e, gap := s.next()
		evs = append(evs, e...)
		if gap {
			gaps = append(gaps, d)
		}
	}
	return gaps, evs, nil
}

// countWait is the state of a wait for a count of open units to reach zero
// (Service.Wait, Pilot.Wait): the count last read, less the final events
// seen since, so that the count is read again only when it may have
// reached zero (units may have been submitted meanwhile) or events were
// missed; and whether the pilots changed.
type countWait struct {
	held
	mu            sync.Mutex
	left          int // ≤ 0: read the count
	ends, taken   int // final events so far; their number at the last take
	pilotsChanged bool
}

// ended notes a final event of a unit the wait counts.
func (w *countWait) ended() {
	w.mu.Lock()
	w.ends++
	w.left--
	zero := w.left == 0
	w.mu.Unlock()
	if zero {
		w.poke()
	}
}

// changed notes that a pilot changed, or (lost) that the count and the
// pilots must both be read again.
func (w *countWait) changed(lost bool) {
	w.mu.Lock()
	w.pilotsChanged = true
	if lost {
		w.left = 0
	}
	w.mu.Unlock()
	w.poke()
}

// take returns what the wait must read: the count (left ≤ 0) and the
// pilots; a reading that fails must give them back with changed(true).
func (w *countWait) take() (count, pilots bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pilots, w.pilotsChanged = w.pilotsChanged, false
	w.taken = w.ends
	return w.left <= 0, pilots
}

// counted sets the count read since the last take, less the final events
// seen since then: a unit that ended before the read may be struck off
// twice, which only makes the wait read the count again sooner.
func (w *countWait) counted(n int) (again bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.left = n - (w.ends - w.taken)
	return w.left <= 0
}

// begin subscribes the wait to d's events through filter (see held.subscribe)
// and has it read everything again when it was not subscribed; a released
// wait reads everything again too, and so does a call that only looks (its
// context ended before it began: events may not have reached the filter).
func (w *countWait) begin(ctx context.Context, d *domain, filter func(coord.Event) bool, onlyLooks bool) error {
	w.reset = func() { w.changed(true) }
	fresh, err := w.subscribe(ctx, d, filter)
	if fresh || onlyLooks {
		w.changed(true)
	}
	return err
}
