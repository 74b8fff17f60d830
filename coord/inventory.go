package coord

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// scanKeys calls each with the keys matching the glob pattern match, in
// batches of at most BatchSize keys (a key SCAN returns twice may come
// twice). SCAN walks the whole database: about one round trip per 1,000
// keys the store holds.
func (s *Store) scanKeys(ctx context.Context, match string, each func(keys []string) error) error {
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, match, BatchSize).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", match, err)
		}
		// the embedded server may ignore COUNT: hand its answer on in batches
		for len(keys) > 0 {
			n := min(len(keys), BatchSize)
			if err := each(keys[:n]); err != nil {
				return err
			}
			keys = keys[n:]
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// ServiceSummary is what a listing of a store shows of one service.
type ServiceSummary struct {
	ID        string // pcs-<uuid>
	State     string // "Canceled" once canceled, "" before
	Created   string // epoch seconds (Timestamp), "" if unknown
	Pilots    int64  // pilots created by the service
	OpenUnits int64  // its units that are not final
}

// Services lists the services whose record (P info) the store holds, in no
// particular order, each once. It SCANs for the records and reads them in
// pipelined batches.
func (s *Store) Services(ctx context.Context) ([]ServiceSummary, error) {
	var out []ServiceSummary
	seen := map[string]struct{}{}
	err := s.scanKeys(ctx, Namespace+"{pcs-*}:info", func(keys []string) error {
		pipe := s.rdb.Pipeline()
		type read struct {
			id            string
			info          *redis.SliceCmd
			pilots, units *redis.IntCmd
		}
		var reads []read
		for _, key := range keys {
			id, ok := serviceOfKey(key)
			if _, dup := seen[id]; !ok || dup || key != ServiceKeys(id).Info() {
				continue
			}
			seen[id] = struct{}{}
			k := ServiceKeys(id)
			reads = append(reads, read{id, pipe.HMGet(ctx, k.Info(), FieldState, "created"),
				pipe.SCard(ctx, k.Pilots()), pipe.SCard(ctx, k.Open())})
		}
		if len(reads) == 0 {
			return nil
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return fmt.Errorf("read service records: %w", err)
		}
		for _, r := range reads {
			v := r.info.Val()
			st, _ := v[0].(string)
			created, _ := v[1].(string)
			out = append(out, ServiceSummary{ID: r.id, State: st, Created: created, Pilots: r.pilots.Val(), OpenUnits: r.units.Val()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	return out, nil
}

// serviceOfKey is the service id of a key bigjob:{pcs-<uuid>}:...
func serviceOfKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, Namespace+"{")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "}:")
	return id, ok && strings.HasPrefix(id, "pcs-")
}

// Match is an object a short id names: its service and its id (pcs-, bj- or
// cu-<uuid>); Name is a pilot's public name (bigjob:bj-<uuid>:<host>).
type Match struct {
	Service string
	ID      string
	Name    string
}

// Kinds of object FindByPrefix looks for.
const (
	KindServicePrefix = "pcs-"
	KindPilotPrefix   = "bj-"
	KindUnitPrefix    = "cu-"
)

// FindByPrefix returns the objects of kind (KindServicePrefix,
// KindPilotPrefix or KindUnitPrefix) whose uuid starts with prefix (hex
// digits and dashes only), within service (pcs-<uuid>) or, if service is "",
// the whole store; at most limit of them (a caller that wants to know if a
// prefix is unique asks for 2). It SCANs the store's keys.
func (s *Store) FindByPrefix(ctx context.Context, kind, prefix, service string, limit int) ([]Match, error) {
	if strings.Trim(strings.ToLower(prefix), "0123456789abcdef-") != "" {
		return nil, fmt.Errorf("find %s%s: a short id has only hex digits and dashes", kind, prefix)
	}
	prefix = strings.ToLower(prefix)
	scope := "{pcs-*}:"
	if service != "" {
		scope = "{" + service + "}:"
	}
	var out []Match
	var found func(keys []string) error
	var match string
	switch kind {
	case KindServicePrefix:
		match = Namespace + "{pcs-" + prefix + "*}:info"
		found = func(keys []string) error {
			for _, key := range keys {
				if id, ok := serviceOfKey(key); ok && key == ServiceKeys(id).Info() && (service == "" || id == service) {
					out = append(out, Match{Service: id, ID: id})
				}
			}
			return nil
		}
	case KindPilotPrefix:
		// the aliases bigjob:bj-<uuid>:<host> name the pilot and hold its service
		match = Namespace + "bj-" + prefix + "*"
		found = func(keys []string) error {
			var names []string
			for _, key := range keys {
				if _, _, err := ParsePilotName(key); err == nil {
					names = append(names, key)
				}
			}
			if len(names) == 0 {
				return nil
			}
			svcs, err := s.rdb.MGet(ctx, names...).Result()
			if err != nil {
				return fmt.Errorf("read pilot aliases: %w", err)
			}
			for i, name := range names {
				svc, _ := svcs[i].(string)
				if svc == "" || (service != "" && svc != service) {
					continue
				}
				id, _, _ := ParsePilotName(name)
				out = append(out, Match{Service: svc, ID: id, Name: name})
			}
			return nil
		}
	case KindUnitPrefix:
		match = Namespace + scope + "cu-" + prefix + "*"
		found = func(keys []string) error {
			for _, key := range keys {
				svc, ok := serviceOfKey(key)
				id := strings.TrimPrefix(key, ServiceKeys(svc).Prefix())
				if ok && !strings.Contains(id, ":") {
					out = append(out, Match{Service: svc, ID: id})
				}
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("find %s%s: unknown kind %q", kind, prefix, kind)
	}
	err := s.scanKeys(ctx, match, func(keys []string) error {
		if err := found(keys); err != nil {
			return err
		}
		out = dedupeMatches(out)
		if limit > 0 && len(out) >= limit {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("find %s%s: %w", kind, prefix, err)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// errEnough ends a scan that found what it looked for.
var errEnough = errors.New("enough found")

// dedupeMatches drops the repeated matches (SCAN may return a key twice).
func dedupeMatches(ms []Match) []Match {
	seen := make(map[string]struct{}, len(ms))
	out := ms[:0]
	for _, m := range ms {
		if _, dup := seen[m.Service+" "+m.ID]; !dup {
			seen[m.Service+" "+m.ID] = struct{}{}
			out = append(out, m)
		}
	}
	return out
}
