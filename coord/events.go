package coord

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event kinds.
const (
	KindUnit  = 'u'
	KindPilot = 'p'
)

// Event is one state change: a unit or a pilot entered State. For units,
// Pilot names the owning pilot when there is one.
type Event struct {
	Kind  byte
	ID    string
	State string
	Pilot string
}

// EventBatch is one entry of a service's event stream: up to
// EventsPerEntry of the changes one script made, in order (a script that
// made more writes several entries at once). Seq numbers entries 1, 2, 3, ... so that a reader
// sees when trimming (or anything else) made it miss some.
type EventBatch struct {
	StreamID string
	Seq      int64
	Events   []Event
}

// LastEvent returns the stream id and sequence number of the newest event
// entry of a service: where a new reader starts. For an empty stream it
// returns "0-0" and 0.
func (s *Store) LastEvent(ctx context.Context, k Keys) (string, int64, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, k.Events(), "+", "-", 1).Result()
	if err != nil && err != redis.Nil {
		return "", 0, fmt.Errorf("read event stream: %w", err)
	}
	if len(msgs) == 0 {
		return "0-0", 0, nil
	}
	b := parseBatch(msgs[0])
	return b.StreamID, b.Seq, nil
}

// ReadEvents blocks up to block for event entries after stream id `after`.
// It returns nil on timeout.
func (s *Store) ReadEvents(ctx context.Context, k Keys, after string, count int64, block time.Duration) ([]EventBatch, error) {
	res, err := s.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{k.Events(), after},
		Count:   count,
		Block:   block,
	}).Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read event stream: %w", err)
	}
	var out []EventBatch
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, parseBatch(m))
		}
	}
	return out, nil
}

func parseBatch(m redis.XMessage) EventBatch {
	b := EventBatch{StreamID: m.ID}
	if n, ok := m.Values["n"].(string); ok {
		b.Seq, _ = strconv.ParseInt(n, 10, 64)
	}
	payload, _ := m.Values["e"].(string)
	b.Events = make([]Event, 0, strings.Count(payload, "\n")+1)
	for line := range strings.SplitSeq(payload, "\n") {
		if ev, ok := parseEvent(line); ok {
			b.Events = append(b.Events, ev)
		}
	}
	return b
}

// parseEvent reads one event line, "<kind> <id> <state> [<pilot>]", without
// allocating (a watcher reads millions).
func parseEvent(line string) (Event, bool) {
	var f [4]string
	n := 0
	for n < len(f) {
		line = strings.TrimLeft(line, " ")
		if line == "" {
			break
		}
		word, rest, _ := strings.Cut(line, " ")
		f[n], line, n = word, rest, n+1
	}
	if n < 3 || len(f[0]) != 1 {
		return Event{}, false
	}
	return Event{Kind: f[0][0], ID: f[1], State: f[2], Pilot: f[3]}, true
}
