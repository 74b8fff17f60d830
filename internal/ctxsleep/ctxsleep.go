// Package ctxsleep sleeps unless a context ends first.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx is done, and reports whether it slept the
// whole time.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
