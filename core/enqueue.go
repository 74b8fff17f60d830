package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// Write-behind submission. Enqueue checks a unit at once (its description,
// and its size against the pilot's when the pilot is known) and returns its
// Unit without a round trip to the store; a flusher per queue writes what
// accumulates in batches, one batch in flight at a time (group commit).
// Anything that reads or changes a unit, and every wait and cancel, first
// waits for the unit's write, so callers see the same states as with Submit.
// A unit the store refuses (larger than every live pilot) is refused alone:
// each operation on it returns the refusal, with its id, and the units
// around it are queued as if it had never been submitted. A queue that can
// take no more units (its pilot ended, the service was canceled) refuses
// every later Enqueue at the call. Flush returns the first refusal or write
// error since it last did.

// flushTimeout bounds one batch write of the flusher.
const flushTimeout = 30 * time.Second

// During a burst (the previous write ended less than burstWindow ago), the
// flusher lets a small batch grow for up to lingerTime before writing it:
// fewer, larger script calls. A unit enqueued after a quiet spell is written
// at once.
const (
	burstWindow = 2 * time.Millisecond
	lingerTime  = time.Millisecond
)

// outbox buffers the units enqueued for one queue (a pilot's, or the
// service queue) of a domain.
type outbox struct {
	d      *domain
	q      queue
	target string // q.target()
	name   string // q.pilotName()

	mu       sync.Mutex
	pending  []coord.NewUnit
	next     uint64 // sequence number of the next enqueued unit
	done     uint64 // units 1..done are written or failed
	failed   map[uint64]error
	running  bool          // a flusher goroutine is active
	lastDone time.Time     // when the last batch write ended
	err      error         // the first failure Flush has not reported
	dead     error         // the queue takes no more units: why
	progress chan struct{} // closed and replaced whenever done advances
}

func newOutbox(d *domain, q queue) *outbox {
	return &outbox{d: d, q: q, target: q.target(), name: q.pilotName(), failed: map[uint64]error{}, progress: make(chan struct{})}
}

// outboxFor returns the domain's outbox for queue q.
func (d *domain) outboxFor(q queue) *outbox {
	target := q.target()
	d.outboxMu.Lock()
	defer d.outboxMu.Unlock()
	if d.outboxes == nil {
		d.outboxes = map[string]*outbox{}
	}
	o := d.outboxes[target]
	if o == nil {
		o = newOutbox(d, q)
		d.outboxes[target] = o
	}
	return o
}

// enqueue adds one unit and returns it.
func (o *outbox) enqueue(ud UnitDescription) (*Unit, error) {
	if err := ud.Validate(); err != nil {
		return nil, err
	}
	if len(ud.InputData) > 0 { // a round trip, only for units that name data
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		err := o.d.checkInputData(ctx, ud, nil)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	nu, err := o.d.newUnit(ud)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead != nil {
		return nil, o.dead
	}
	o.pending = append(o.pending, nu)
	o.next++
	u := &Unit{d: o.d, id: nu.ID, pilotName: o.name, box: o, seq: o.next}
	if !o.running {
		o.running = true
		go o.flush()
	}
	return u, nil
}

// flush writes batches until nothing is pending.
func (o *outbox) flush() {
	lingered := false
	for {
		o.mu.Lock()
		if len(o.pending) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		if !lingered && len(o.pending) < submitBatch && time.Since(o.lastDone) < burstWindow {
			o.mu.Unlock()
			time.Sleep(lingerTime)
			lingered = true
			continue
		}
		lingered = false
		n := min(len(o.pending), submitBatch)
		batch := o.pending[:n:n]
		o.pending = o.pending[n:]
		first := o.done + 1
		o.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		refused, handled, err := o.d.store.Submit(ctx, o.d.keys, o.target, batch)
		cancel()

		o.mu.Lock()
		for _, r := range refused {
			o.fail(first+uint64(r.Index), submitError(r.Err, o.q))
		}
		if err != nil {
			err = submitError(err, o.q)
			for i := handled; i < n; i++ {
				o.fail(first+uint64(i), err)
			}
			if queueEnded(err) {
				o.dead = err
			}
		}
		o.done += uint64(n)
		o.lastDone = time.Now()
		close(o.progress)
		o.progress = make(chan struct{})
		o.mu.Unlock()
	}
}

// fail records that unit seq was not written, and why.
func (o *outbox) fail(seq uint64, err error) {
	o.failed[seq] = err
	if o.err == nil {
		o.err = err
	}
}

// queueEnded reports whether a write error means that the queue takes no
// more units.
func queueEnded(err error) bool {
	var ended *coord.PilotEndedError
	return errors.As(err, &ended) || errors.Is(err, coord.ErrServiceCanceled) || errors.Is(err, coord.ErrNotFound)
}

// wait blocks until unit seq is written and returns (and takes) its error.
func (o *outbox) wait(ctx context.Context, seq uint64) error {
	if err := o.reach(ctx, seq); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.failed[seq]
	delete(o.failed, seq)
	return err
}

// reach blocks until units 1..seq are written or failed; it takes no
// error. It returns only ctx's error.
func (o *outbox) reach(ctx context.Context, seq uint64) error {
	for {
		o.mu.Lock()
		if o.done >= seq {
			o.mu.Unlock()
			return nil
		}
		ch := o.progress
		o.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// drain waits until everything enqueued so far is written and returns (and
// clears) the first refusal or write error since the last report.
func (o *outbox) drain(ctx context.Context) error {
	if err := o.settle(ctx); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.err
	o.err = nil
	return err
}

// flushAll drains every outbox of the domain.
func (d *domain) flushAll(ctx context.Context) error {
	var first error
	for _, o := range d.boxes() {
		if err := o.drain(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// settle waits until every unit enqueued here so far is written or failed,
// leaving write errors to be reported where they belong (the unit, Flush).
// It returns only ctx's error.
func (o *outbox) settle(ctx context.Context) error {
	o.mu.Lock()
	seq := o.next
	o.mu.Unlock()
	return o.reach(ctx, seq)
}

// settleAll waits until every unit this process enqueued so far, on any
// queue of the domain, is written or failed, leaving write errors to be
// reported where they belong (the unit, Flush). It returns only ctx's error.
func (d *domain) settleAll(ctx context.Context) error {
	for _, o := range d.boxes() {
		if err := o.settle(ctx); err != nil {
			return err
		}
	}
	return nil
}

// boxes is a snapshot of the domain's outboxes.
func (d *domain) boxes() []*outbox {
	d.outboxMu.Lock()
	defer d.outboxMu.Unlock()
	out := make([]*outbox, 0, len(d.outboxes))
	for _, o := range d.outboxes {
		out = append(out, o)
	}
	return out
}

// Enqueue queues a unit on this pilot with write-behind (see the package
// notes in enqueue.go): the description and the unit's size are checked now,
// the write happens in the background in batches.
func (p *Pilot) Enqueue(ud UnitDescription) (*Unit, error) {
	if slots, err := p.cachedSlots(); err == nil && ud.Slots() > slots {
		return nil, submitError(&coord.TooLargeError{Need: ud.Slots(), Have: slots}, queue{p: p})
	}
	p.Name()
	return p.d.outboxFor(queue{p: p}).enqueue(ud)
}

// Enqueue queues a unit on the service-wide queue with write-behind.
func (s *Service) Enqueue(ud UnitDescription) (*Unit, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.d.outboxFor(queue{}).enqueue(ud)
}

// Flush waits until every unit enqueued on this service (on any queue) is
// written, and returns the first write error not reported yet.
func (s *Service) Flush(ctx context.Context) error { return s.d.flushAll(ctx) }

// Flush waits until every unit enqueued on this pilot is written.
func (p *Pilot) Flush(ctx context.Context) error { return p.d.outboxFor(queue{p: p}).drain(ctx) }

// cachedSlots is the pilot's size, read once.
func (p *Pilot) cachedSlots() (int, error) {
	p.slotsOnce.Do(func() {
		if p.desc != nil {
			p.slots = p.desc.NumberOfProcesses
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.slots, p.slotsErr = p.Slots(ctx)
	})
	return p.slots, p.slotsErr
}

// written waits until the unit is in the store (write-behind units) and
// returns, now and on every later call, why it is not, if it was refused.
func (u *Unit) written(ctx context.Context) error {
	u.mu.Lock()
	box, refused := u.box, u.refused
	u.mu.Unlock()
	if box == nil {
		return refused
	}
	err := box.wait(ctx, u.seq)
	if err != nil && ctx.Err() != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.box = nil
	if err != nil {
		u.refused = fmt.Errorf("unit %s was not submitted: %w", u.id, err)
	}
	return u.refused
}
