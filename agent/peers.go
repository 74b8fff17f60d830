package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/vocab"
)

// reapPeers ends the pilots of the agent's service whose agents died, so
// that the service units they had started go back to the service queue (and
// their pilot-bound units fail) even when no managing process watches them.
// One agent of the service does it at a time: the holder of the service's
// reaper lease, renewed every heartbeat interval. A peer is dead when it is
// Running and its heartbeat counter has not moved for peerTimeout (twice the
// heartbeat timeout and a minute: a managing process, which also knows the
// resource manager's view, decides first when there is one), measured on
// this agent's clock while it could read the store; it is ended
// exactly as a managing process's liveness check ends it (the same
// conditional script), so a peer that ended by itself is never overwritten.
func (a *agent) reapPeers(ctx context.Context) {
	t := time.NewTicker(a.hb)
	defer t.Stop()
	seen := map[string]*peerBeat{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, max(a.hb, time.Second))
		held, err := a.store.HoldLease(cctx, a.keys.Reaper(), a.id, 3*a.hb)
		if err == nil && held {
			seen = a.checkPeers(cctx, seen, time.Now())
		} else {
			clear(seen) // someone else watches; start afresh when our turn comes
		}
		cancel()
	}
}

// peerBeat is the last heartbeat counter seen of a peer, and since when.
type peerBeat struct {
	beat  string
	since time.Time
}

// checkPeers reads the service's pilots once, ends those silent for longer
// than peerTimeout, and returns what it saw of the live peers: the seen of
// the next check.
func (a *agent) checkPeers(ctx context.Context, seen map[string]*peerBeat, now time.Time) map[string]*peerBeat {
	ids, err := a.store.PilotIDs(ctx, a.keys)
	var st []coord.PilotStatus
	if err == nil {
		st, err = a.store.PilotStatuses(ctx, a.keys, ids)
	}
	if err != nil {
		// whatever happened meanwhile is not the peers' silence
		for _, b := range seen {
			b.since = now
		}
		return seen
	}
	next := map[string]*peerBeat{}
	for _, s := range st {
		if s.ID == a.id || vocab.State(s.State) != vocab.Running {
			continue
		}
		b := seen[s.ID]
		if b == nil || b.beat != s.Heartbeat {
			b = &peerBeat{beat: s.Heartbeat, since: now}
		}
		silent := now.Sub(b.since)
		if silent <= a.peerTimeout {
			next[s.ID] = b
			continue
		}
		why := fmt.Sprintf("no heartbeat from its agent for %s (noticed by the agent of pilot %s)", silent.Round(time.Second), a.id)
		var ended *coord.PilotEndedError
		switch err := a.store.FinishPilot(ctx, a.keys, s.ID, coord.LostPilot(s.ID, s.Name, string(vocab.Failed), why)); {
		case err == nil:
			a.log.Warn("ended a pilot whose agent is gone", "pilot", s.ID, "why", why)
		case errors.As(err, &ended) || errors.Is(err, coord.ErrNotFound):
			// it ended meanwhile, or is gone: nothing to do
		default:
			a.log.Warn("end a pilot whose agent is gone; trying again", "pilot", s.ID, "err", err)
			next[s.ID] = b // still silent: the next check tries again
		}
	}
	return next
}
