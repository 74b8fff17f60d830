package coord

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ServiceConfig are the settings of a service that the scripts apply; they
// live in the service record, so every process and agent of the service
// shares them.
type ServiceConfig struct {
	// MaxAttempts is how often a service unit may be started: a unit whose
	// pilot is lost while it runs goes back to the service queue until it
	// was started this often, then fails. At least 1.
	MaxAttempts int
	// FinishedTTL is how long the record of a finished unit (and of a
	// finished pilot, and the keys of a canceled service) is kept. 0: the
	// store's TTL for every record.
	FinishedTTL time.Duration
}

// CreateService writes the service record with its settings. It is harmless
// to call again (the creation time is kept).
func (s *Store) CreateService(ctx context.Context, k Keys, c ServiceConfig) error {
	if c.MaxAttempts < 1 {
		return fmt.Errorf("create service: max_attempts is %d; give at least 1", c.MaxAttempts)
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSetNX(ctx, k.Info(), "created", Timestamp(time.Now()))
	pipe.HSet(ctx, k.Info(), "max_attempts", c.MaxAttempts)
	if c.FinishedTTL > 0 {
		pipe.HSet(ctx, k.Info(), "finished_ttl", int64(c.FinishedTTL/time.Second))
	}
	if s.ttl > 0 {
		pipe.Expire(ctx, k.Info(), s.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("create service: %w", err)
	}
	return nil
}

// ServiceExists reports whether the service has a record (a service created
// by an older version, or pruned, has none).
func (s *Store) ServiceExists(ctx context.Context, k Keys) (bool, error) {
	n, err := s.rdb.Exists(ctx, k.Info(), k.Pilots()).Result()
	return n > 0, err
}

// OpenUnits is the number of the service's units that are not final.
func (s *Store) OpenUnits(ctx context.Context, k Keys) (int64, error) {
	return s.rdb.SCard(ctx, k.Open()).Result()
}

// UnitCounts is the number of the service's units in each state, kept by
// the scripts as units change state (states with none may be missing).
func (s *Store) UnitCounts(ctx context.Context, k Keys) (map[string]int64, error) {
	m, err := s.rdb.HGetAll(ctx, k.Counts()).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(m))
	for st, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unit counts: state %s: %w", st, err)
		}
		if n != 0 {
			out[st] = n
		}
	}
	return out, nil
}

// OpenUnitIDs returns up to limit of the service's units that are not final.
func (s *Store) OpenUnitIDs(ctx context.Context, k Keys, limit int64) ([]string, error) {
	ids, _, err := s.rdb.SScan(ctx, k.Open(), 0, "", limit).Result()
	return ids, err
}

// DefaultMaxAttempts is max_attempts of a service record that has none (the
// scripts' prelude applies the same).
const DefaultMaxAttempts = 3

// MaxAttempts is the service's max_attempts (DefaultMaxAttempts when not set).
func (s *Store) MaxAttempts(ctx context.Context, k Keys) (int, error) {
	v, err := s.rdb.HGet(ctx, k.Info(), "max_attempts").Result()
	if err == redis.Nil {
		return DefaultMaxAttempts, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// QueueLength is the number of entries waiting in the service queue
// (pilotID "") or in a pilot's own queue.
func (s *Store) QueueLength(ctx context.Context, k Keys, pilotID string) (int64, error) {
	q := k.Queue()
	if pilotID != "" {
		q = k.PilotQueue(pilotID)
	}
	return s.rdb.XLen(ctx, q).Result()
}
