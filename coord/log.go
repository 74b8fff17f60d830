package coord

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs through one process-wide logger, which by default prints to
// stderr. This package routes it to a slog logger that discards unless
// SetLogger gives one: a library must not print.
var logger atomic.Pointer[slog.Logger]

func init() {
	logger.Store(slog.New(slog.DiscardHandler))
	redis.SetLogger(redisLog{})
}

// SetLogger receives go-redis's internal messages (at debug level).
func SetLogger(l *slog.Logger) {
	if l != nil {
		logger.Store(l)
	}
}

type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	logger.Load().DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
