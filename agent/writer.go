package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// writer records unit state changes with group commit: while one batch is
// being written, new changes collect, and the next write takes them all. At
// low load every change is written at once; at high load batches grow and
// the per-unit cost falls. Changes are written in the order they were added.
// A failed write is retried with the same batch until it succeeds or the
// writer is stopped.
type writer struct {
	store *coord.Store
	keys  coord.Keys
	log   *slog.Logger

	mu      sync.Mutex
	pending []coord.Update
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newWriter(store *coord.Store, keys coord.Keys, log *slog.Logger) *writer {
	return &writer{store: store, keys: keys, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues changes.
func (w *writer) add(us ...coord.Update) {
	w.mu.Lock()
	w.pending = append(w.pending, us...)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *writer) take() []coord.Update {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.pending
	w.pending = nil
	return b
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
		err := w.store.Update(ctx, w.keys, batch)
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
		err := w.store.Update(ctx, w.keys, batch)
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
