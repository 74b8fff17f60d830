package coord

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ScanUnits calls each with the id and the values of fields ("" where a
// field is missing) of every unit record of the service, in no particular
// order, each unit once. It reads in bounded batches: a SCAN of the
// service's unit keys (COUNT BatchSize), then one pipelined HMGET per key of
// at most BatchSize keys, so that no command touches all keys and memory
// holds one batch (plus the ids seen, to drop the keys SCAN returns twice).
// A record that expires meanwhile is skipped. each must not keep values
// (it is reused); an error from it ends the scan and is returned. SCAN walks
// the whole database, so the cost grows with every key the store holds,
// not only this service's: about one round trip per 1,000 keys.
func (s *Store) ScanUnits(ctx context.Context, k Keys, fields []string, each func(id string, values []string) error) error {
	seen := map[string]struct{}{}
	return s.scanKeys(ctx, k.Unit("cu-")+"*", func(keys []string) error {
		return s.readUnits(ctx, k, keys, fields, seen, each)
	})
}

// readUnits reads fields of the unit records keys in one pipeline and hands
// the ones not seen before to each.
func (s *Store) readUnits(ctx context.Context, k Keys, keys, fields []string, seen map[string]struct{}, each func(string, []string) error) error {
	pipe := s.rdb.Pipeline()
	ids := make([]string, 0, len(keys))
	cmds := make([]*redis.SliceCmd, 0, len(keys))
	for _, key := range keys {
		id := strings.TrimPrefix(key, k.Prefix())
		if _, dup := seen[id]; dup || strings.Contains(id, ":") {
			continue
		}
		seen[id] = struct{}{}
		ids = append(ids, id)
		cmds = append(cmds, pipe.HMGet(ctx, key, append([]string{FieldState}, fields...)...))
	}
	if len(cmds) == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return fmt.Errorf("read unit records: %w", err)
	}
	values := make([]string, len(fields))
	for i, c := range cmds {
		v := c.Val()
		if st, _ := v[0].(string); st == "" {
			continue // expired since the SCAN
		}
		for j := range values {
			values[j], _ = v[j+1].(string)
		}
		if err := each(ids[i], values); err != nil {
			return err
		}
	}
	return nil
}

// PilotRecords reads fields of every pilot record of the service in one
// pipeline: the pilots' ids and, for each, the values ("" where missing).
// Pilots whose record is gone are left out.
func (s *Store) PilotRecords(ctx context.Context, k Keys, fields []string) (ids []string, values [][]string, err error) {
	all, err := s.PilotIDs(ctx, k)
	if err != nil {
		return nil, nil, fmt.Errorf("list pilots: %w", err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(all))
	for i, id := range all {
		cmds[i] = pipe.HMGet(ctx, k.Pilot(id), append([]string{FieldState}, fields...)...)
	}
	if len(all) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, nil, fmt.Errorf("read pilot records: %w", err)
		}
	}
	for i, c := range cmds {
		v := c.Val()
		if st, _ := v[0].(string); st == "" {
			continue
		}
		row := make([]string, len(fields))
		for j := range row {
			row[j], _ = v[j+1].(string)
		}
		ids = append(ids, all[i])
		values = append(values, row)
	}
	return ids, values, nil
}
