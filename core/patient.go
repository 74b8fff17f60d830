package core

import (
	"context"
	"fmt"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/ctxsleep"
)

// patient runs f, and runs it again while it fails because the store is
// unreachable for the moment (a restarted Redis, a network blip), with
// backoff, for up to Options.StoreGrace after the first such failure; then
// it returns an error wrapping ErrStoreUnreachable. Any other error, and
// the end of ctx, return at once. Waits use it so that they survive a store
// restart and still never hang on a store that is gone.
func (d *domain) patient(ctx context.Context, f func() error) error {
	var since time.Time
	backoff := 50 * time.Millisecond
	for {
		err := f()
		if !coord.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		if since.IsZero() {
			since = time.Now()
		}
		if down := time.Since(since); down >= d.opts.StoreGrace {
			return fmt.Errorf("%w: %s could not be reached for %s (last error: %v)", ErrStoreUnreachable, d.addr.Redacted(), down.Round(time.Second), err)
		}
		d.log.Warn("the coordination store is unreachable; retrying", "err", err, "in", backoff)
		ctxsleep.Sleep(ctx, backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}
