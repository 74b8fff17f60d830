package core

import (
	"context"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/ctxsleep"
)

// watcher follows a service's event stream for this process and hands the
// events to subscriptions (waits, callbacks). It runs only while someone is
// subscribed: the first subscription starts it, the last one stops it.
//
// A subscriber must subscribe first and read the current state second; it
// then sees every change after that read (the watcher fixes its stream
// position before subscribe returns, and scripts write state and event
// atomically). When the watcher may have missed events (the stream was
// trimmed past it), every subscription is told so (gap) and must re-read.
type watcher struct {
	d *domain

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	gen    int // generation of the running loop; 0 when none runs
	gens   int // generations started so far
	cancel context.CancelFunc
	closed bool
	paused chan struct{} // set (by tests): the loop reads nothing until it is closed
}

// subscription receives the events that match its filter.
type subscription struct {
	w      *watcher
	filter func(coord.Event) bool // nil: every event
	// C has a value whenever events (or a gap) are waiting for next().
	C chan struct{}

	mu     sync.Mutex
	events []coord.Event
	gap    bool
	err    error // the store stayed unreachable: the wait must end
}

func newWatcher(d *domain) *watcher {
	return &watcher{d: d, subs: map[*subscription]struct{}{}}
}

// subscribe registers a subscription; close it when done.
func (w *watcher) subscribe(ctx context.Context, filter func(coord.Event) bool) (*subscription, error) {
	return w.subscribeTo(ctx, filter, make(chan struct{}, 1))
}

// subscribeTo is subscribe with a wake-up channel of the caller's, which
// several subscriptions may share (it should have a buffer of 1).
func (w *watcher) subscribeTo(ctx context.Context, filter func(coord.Event) bool, c chan struct{}) (*subscription, error) {
	s := &subscription{w: w, filter: filter, C: c}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if w.gen == 0 {
		id, seq, err := w.d.store.LastEvent(ctx, w.d.keys)
		if err != nil {
			return nil, err
		}
		lctx, cancel := context.WithCancel(context.Background())
		w.gens++
		w.gen = w.gens
		w.cancel = cancel
		go w.loop(lctx, w.gen, id, seq)
	}
	w.subs[s] = struct{}{}
	return s, nil
}

// loop reads the event stream until ctx ends. While the store cannot be
// read it retries with backoff (a restarted Redis is picked up where it
// left off); once that lasted Options.StoreGrace, every subscription is
// failed with ErrStoreUnreachable, so that no wait hangs on a store that is
// gone, and the loop keeps trying for later subscribers.
func (w *watcher) loop(ctx context.Context, gen int, lastID string, lastSeq int64) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		w.mu.Lock()
		paused := w.paused
		w.mu.Unlock()
		if paused != nil {
			select {
			case <-paused:
			case <-ctx.Done():
				return
			}
		}
		batches, err := w.d.store.ReadEvents(ctx, w.d.keys, lastID, 1000, 5*time.Second)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.d.health.down()
			if gone := w.d.unreachable(err); gone != nil {
				w.fail(gen, gone)
			}
			w.d.log.Warn("reading the event stream failed; retrying", "err", err, "in", backoff)
			ctxsleep.Sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		w.d.health.up()
		backoff = 50 * time.Millisecond
		for _, b := range batches {
			gap := lastSeq > 0 && b.Seq != lastSeq+1
			lastID, lastSeq = b.StreamID, b.Seq
			w.dispatch(gen, b.Events, gap)
		}
	}
}

func (w *watcher) dispatch(gen int, evs []coord.Event, gap bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen {
		return // a stopped loop: its successor delivers
	}
	for s := range w.subs {
		s.push(evs, gap)
	}
}

// fail ends every current subscription with err.
func (w *watcher) fail(gen int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen {
		return
	}
	for s := range w.subs {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		select {
		case s.C <- struct{}{}:
		default:
		}
	}
}

// failed returns the error that ended the subscription, if any.
func (s *subscription) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *subscription) push(evs []coord.Event, gap bool) {
	s.mu.Lock()
	n := len(s.events)
	for _, e := range evs {
		if s.filter == nil || s.filter(e) {
			s.events = append(s.events, e)
		}
	}
	s.gap = s.gap || gap
	wake := len(s.events) > n || gap
	s.mu.Unlock()
	if wake {
		select {
		case s.C <- struct{}{}:
		default:
		}
	}
}

// next takes the queued events and whether a gap happened since last time.
func (s *subscription) next() ([]coord.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs, gap := s.events, s.gap
	s.events, s.gap = nil, false
	return evs, gap
}

// wait blocks until events arrive or ctx ends, then returns them.
func (s *subscription) wait(ctx context.Context) ([]coord.Event, bool, error) {
	select {
	case <-s.C:
		if err := s.failed(); err != nil {
			return nil, false, err
		}
		evs, gap := s.next()
		return evs, gap, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (s *subscription) close() {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs, s)
	if len(w.subs) == 0 && w.gen != 0 {
		w.cancel()
		w.gen = 0
	}
}

// lookCtx is the context for a wait's first look at the state: ctx itself,
// or, if ctx has ended already (a wait with a zero timeout), a fresh bounded
// one, so that such a wait still reports the current state.
func lookCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// close stops the watcher for good; later subscribes fail with ErrClosed.
func (w *watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.gen != 0 {
		w.cancel()
		w.gen = 0
	}
	for s := range w.subs {
		s.push(nil, true)
	}
}
