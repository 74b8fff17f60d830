package coord

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// HoldLease takes or renews the lease at key for holder for ttl, and
// reports whether holder has it. A lease nobody renews expires, so a holder
// that dies is replaced after ttl. Two holders may briefly both believe they
// hold it (a renewal racing the expiry); leases here only choose who does
// work that is safe to do twice.
func (s *Store) HoldLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, key, holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", key, err)
	}
	if ok {
		return true, nil
	}
	cur, err := s.rdb.Get(ctx, key).Result()
	if err == redis.Nil || (err == nil && cur != holder) {
		return false, nil // just expired, or held by another: try next time
	}
	if err != nil {
		return false, fmt.Errorf("read lease %s: %w", key, err)
	}
	if err := s.rdb.PExpire(ctx, key, ttl).Err(); err != nil {
		return false, fmt.Errorf("renew lease %s: %w", key, err)
	}
	return true, nil
}
