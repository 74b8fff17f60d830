package coord

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// PutPlugin stores a plugin bundle (manifest and module bytes) under the
// sha256 of its manifest, for the service's agents. A bundle already there
// only has its TTL renewed: it is content-addressed, so it is the same.
func (s *Store) PutPlugin(ctx context.Context, k Keys, digest string, manifest, module []byte) error {
	key := k.Plugin(digest)
	if s.ttl > 0 {
		renewed, err := s.rdb.Expire(ctx, key, s.ttl).Result()
		if err != nil {
			return fmt.Errorf("store plugin %.12s: %w", digest, err)
		}
		if renewed {
			return nil
		}
	} else if n, err := s.rdb.Exists(ctx, key).Result(); err != nil {
		return fmt.Errorf("store plugin %.12s: %w", digest, err)
	} else if n == 1 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "manifest", manifest, "module", module)
		if s.ttl > 0 {
			p.Expire(ctx, key, s.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store plugin %.12s: %w", digest, err)
	}
	return nil
}

// Plugin reads the bundle PutPlugin stored. The caller checks it against
// the digest: the store is not trusted to return what was put.
func (s *Store) Plugin(ctx context.Context, k Keys, digest string) (manifest, module []byte, err error) {
	v, err := s.rdb.HMGet(ctx, k.Plugin(digest), "manifest", "module").Result()
	if err != nil {
		return nil, nil, fmt.Errorf("read plugin %.12s: %w", digest, err)
	}
	m, ok1 := v[0].(string)
	b, ok2 := v[1].(string)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("read plugin %.12s: %w", digest, ErrNotFound)
	}
	return []byte(m), []byte(b), nil
}
