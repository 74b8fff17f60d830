package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// writer records unit state changes in batches, in the order they were
// added. A change marked urgent (nothing else is coming soon: the agent is
// idle, or someone waits for a cancel) is written at once, with whatever is
// pending; otherwise the writer lingers up to lingerTime (or until
// lingerCount changes are pending) so that one write carries many units.
// While one batch is being written, the next collects (group commit). A
// failed write is retried with the same batch until it succeeds or the writer
// is stopped.
type writer struct {
	store *coord.Store
	keys  coord.Keys
	pilot string // the units' owner: updates of units it no longer owns are dropped
	log   *slog.Logger

	mu      sync.Mutex
	pending []coord.Update
	urgent  bool
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newWriter(store *coord.Store, keys coord.Keys, pilot string, log *slog.Logger) *writer {
	return &writer{store: store, keys: keys, pilot: pilot, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

const (
	lingerTime  = 3 * time.Millisecond
	lingerCount = 512
)

// add queues changes.
func (w *writer) add(urgent bool, us ...coord.Update) {
	w.mu.Lock()
	w.pending = append(w.pending, us...)
	w.urgent = w.urgent || urgent
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *writer) take() []coord.Update {
	w.mu.Lock()
	b := w.pending
	w.pending, w.urgent = nil, false
	w.mu.Unlock()
	return coalesce(b)
}

// coalesce merges the updates of one unit in a batch into its last one: the
// record is written once and every state still produces its event, in order.
func coalesce(b []coord.Update) []coord.Update {
	last := make(map[string]int, len(b))
	merged := false
	for i, u := range b {
		if j, ok := last[u.UnitID]; ok {
			prev := b[j]
			u.Passed = append(append(append([]string(nil), prev.Passed...), prev.State), u.Passed...)
			u.Fields = append(append([]string(nil), prev.Fields...), u.Fields...)
			b[i], b[j].UnitID, merged = u, "", true
		}
		last[u.UnitID] = i
	}
	if !merged {
		return b
	}
	out := b[:0]
	for _, u := range b {
		if u.UnitID != "" {
			out = append(out, u)
		}
	}
	return out
}

// ready reports whether the pending changes should be written now.
func (w *writer) ready() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.urgent || len(w.pending) >= lingerCount
}

// linger waits until the pending changes are ready or lingerTime passed. It
// returns false if the writer is stopped meanwhile.
func (w *writer) linger() bool {
	t := time.NewTimer(lingerTime)
	defer t.Stop()
	for !w.ready() {
		select {
		case <-w.kick:
		case <-t.C:
			return true
		case <-w.stop:
			return false
		}
	}
	return true
}

// run writes batches until close is called.
func (w *writer) run() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
		if !w.linger() {
			return
		}
		for batch := w.take(); len(batch) > 0; batch = w.take() {
			if !w.write(batch) {
				w.mu.Lock()
				w.pending = append(batch, w.pending...)
				w.mu.Unlock()
				return
			}
		}
	}
}

// write retries a batch until it is written (true) or the writer stops.
func (w *writer) write(batch []coord.Update) bool {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.store.Update(ctx, w.keys, w.pilot, batch)
		cancel()
		if err == nil {
			return true
		}
		w.log.Warn("recording unit states failed; retrying", "units", len(batch), "err", err, "in", backoff)
		select {
		case <-w.stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// close stops the background loop (after its current write) and writes what
// is left, trying until ctx ends.
func (w *writer) close(ctx context.Context) error {
	close(w.stop)
	<-w.done
	batch := w.take()
	for len(batch) > 0 {
		err := w.store.Update(ctx, w.keys, w.pilot, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
