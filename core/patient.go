package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/ctxsleep"
)

// patient runs f, and runs it again while it fails because the store is
// unreachable for the moment (a restarted Redis, a network blip), with
// backoff; once the store has been unreachable for Options.StoreGrace it
// returns an error wrapping ErrStoreUnreachable. Any other error, and the
// end of ctx, return at once. Waits use it so that they survive a store
// restart and still never hang on a store that is gone.
//
// How long the store has been down is kept per domain, not per call, so
// that waits made of many short calls (Python waits in 200 ms slices) end
// too: a call whose ctx ends while the store is down reports
// ErrStoreUnreachable once the outage outlasted the grace period.
func (d *domain) patient(ctx context.Context, f func() error) error {
	backoff := 50 * time.Millisecond
	for {
		err := f()
		switch {
		case err == nil:
			d.health.up()
			return nil
		case coord.IsTransient(err):
			d.health.down()
		case ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
			d.probe() // ctx ended first: find out whether the store answers at all
		}
		if gone := d.unreachable(err); gone != nil {
			return gone
		}
		if !coord.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		d.log.Warn("the coordination store is unreachable; retrying", "err", err, "in", backoff)
		ctxsleep.Sleep(ctx, backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// unreachable returns an error wrapping ErrStoreUnreachable (with the last
// error seen, last) once the domain's store has been unreachable for
// Options.StoreGrace, else nil.
func (d *domain) unreachable(last error) error {
	down := d.health.since()
	if down.IsZero() || time.Since(down) < d.opts.StoreGrace {
		return nil
	}
	return fmt.Errorf("%w: %s could not be reached for %s (last error: %v)", ErrStoreUnreachable,
		d.addr.Redacted(), time.Since(down).Round(time.Second), last)
}

// probe pings the store in the background (one probe at a time) and
// records whether it answered.
func (d *domain) probe() {
	if !d.health.startProbe() {
		return
	}
	go func() {
		defer d.health.endProbe()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := d.store.Client().Ping(ctx).Err(); err != nil {
			d.health.down()
		} else {
			d.health.up()
		}
	}()
}
