package core

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// Progress is where a service's run stands at one moment (pilot-cli watch,
// the progress line of long waits). Counts come from the counters the
// store's scripts keep as units change state; nothing is scanned.
type Progress struct {
	Service string          `json:"service"`
	Time    float64         `json:"time"`  // epoch seconds
	Units   int64           `json:"units"` // submitted so far (all states)
	Counts  map[State]int64 `json:"counts"`
	Open    int64           `json:"open"` // not final
	// Rate is how many units ended per second over the last rateWindow
	// (-1 before two looks); ETA the seconds left at that rate (-1 unknown).
	Rate     float64       `json:"units_per_s"`
	ETA      float64       `json:"eta_s"`
	Pilots   []PilotGauge  `json:"pilots"`
	Failures []FailureNote `json:"failures"` // the latest, newest first (at most maxFailureNotes)
	Canceled bool          `json:"canceled"` // the service was canceled
	// Final is true once everything watched is final: every unit submitted
	// is (and there is at least one), or the service was canceled, or every
	// pilot it had ended (nothing is left to run what is open).
	Final bool `json:"final"`
}

// Ended is the number of units that are final.
func (p Progress) Ended() int64 { return p.Units - p.Open }

// PilotGauge is one pilot in a Progress.
type PilotGauge struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	Slots int    `json:"slots"`
	Busy  int    `json:"busy"` // slots its Staging and Running units hold (live pilots)
	// HeartbeatAge is how long ago its agent last reported, in seconds (-1
	// before it started, or once it ended).
	HeartbeatAge float64 `json:"heartbeat_age_s"`
	Reason       string  `json:"reason,omitempty"` // why it failed
}

// FailureNote is a unit that failed, and why.
type FailureNote struct {
	Unit   string `json:"unit"`
	Reason string `json:"reason"`
}

const (
	maxFailureNotes = 10
	rateWindow      = 10 * time.Second
	progressLook    = 30 * time.Second // bounds the reads of one look
)

// Progress reads the service's progress now (Rate and ETA -1, failures
// none: they need a watch).
func (s *Service) Progress(ctx context.Context) (Progress, error) {
	if err := s.check(); err != nil {
		return Progress{}, err
	}
	return readProgress(ctx, s.d, s.id, nil)
}

// ProgressWatch follows a service's progress through its event stream:
// Next returns when something changed. One goroutine calls Next; Close it
// when done.
type ProgressWatch struct {
	d       *domain
	id      string
	sub     *subscription
	wake    chan struct{}     // something changed (or a gap)
	watched map[string]func() // live pilots the monitor checks for us

	mu     sync.Mutex
	failed []string // units seen to fail, newest last (bounded)
	first  bool
	last   time.Time
	notes  map[string]string // unit -> reason, for those in failed
	looks  []look            // (time, ended) samples within rateWindow
}

type look struct {
	at    time.Time
	ended int64
}

// WatchProgress starts following the service's progress. Pilots of the
// service are watched for liveness meanwhile (a lost agent is noticed even
// when no script waits on it).
func (s *Service) WatchProgress(ctx context.Context) (*ProgressWatch, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	w := &ProgressWatch{d: s.d, id: s.id, watched: map[string]func(){}, notes: map[string]string{}, first: true,
		wake: make(chan struct{}, 1)}
	sub, err := s.d.watcher.subscribeTo(ctx, func(e coord.Event) bool {
		if e.Kind == coord.KindUnit && State(e.State) == Failed {
			w.mu.Lock()
			w.failed = append(w.failed, e.ID)
			if len(w.failed) > maxFailureNotes {
				delete(w.notes, w.failed[0])
				w.failed = w.failed[1:]
			}
			w.mu.Unlock()
		}
		select { // nothing piles up: Next reads what changed from the store
		case w.wake <- struct{}{}:
		default:
		}
		return false
	}, w.wake)
	if err != nil {
		return nil, err
	}
	w.sub = sub
	return w, nil
}

// Close stops following.
func (w *ProgressWatch) Close() {
	w.sub.close()
	for _, stop := range w.watched {
		stop()
	}
	w.watched = nil
}

// Next returns the progress now the first time; afterwards, once something
// changed (no sooner than every apart) or at the latest every, so that
// heartbeat ages and the rate stay current. It returns ctx's error when ctx
// ends first.
func (w *ProgressWatch) Next(ctx context.Context, every time.Duration) (Progress, error) {
	w.mu.Lock()
	first, last := w.first, w.last
	w.first = false
	w.mu.Unlock()
	if !first {
		apart := min(every, 250*time.Millisecond)
		if d := time.Until(last.Add(apart)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return Progress{}, ctx.Err()
			}
		}
		timer := time.NewTimer(time.Until(last.Add(every)))
		select {
		case <-w.wake:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return Progress{}, ctx.Err()
		}
		timer.Stop()
	}
	w.sub.next() // a gap: what changed is read below, from the store
	// the look is not cut by ctx (a caller's wait may be sliced short)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), progressLook)
	defer cancel()
	p, err := readProgress(rctx, w.d, w.id, w)
	if err != nil {
		return p, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.last = now
	w.looks = append(w.looks, look{now, p.Ended()})
	for len(w.looks) > 2 && now.Sub(w.looks[0].at) > rateWindow {
		w.looks = w.looks[1:]
	}
	if n := len(w.looks); n >= 2 {
		span := w.looks[n-1].at.Sub(w.looks[0].at).Seconds()
		if span > 0 {
			p.Rate = float64(w.looks[n-1].ended-w.looks[0].ended) / span
		}
		if p.Rate > 0 {
			p.ETA = float64(p.Open) / p.Rate
		}
	}
	return p, nil
}

// failures returns the latest failed units with their reasons, reading the
// reasons not read yet.
func (w *ProgressWatch) failures(ctx context.Context) []FailureNote {
	w.mu.Lock()
	ids := append([]string(nil), w.failed...)
	w.mu.Unlock()
	out := make([]FailureNote, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		id := ids[i]
		w.mu.Lock()
		reason, ok := w.notes[id]
		w.mu.Unlock()
		if !ok {
			f, err := w.d.store.Fields(ctx, w.d.keys.Unit(id), coord.FieldReason)
			if err == nil {
				reason = f[0]
				w.mu.Lock()
				w.notes[id] = reason
				w.mu.Unlock()
			}
		}
		out = append(out, FailureNote{Unit: id, Reason: reason})
	}
	return out
}

// readProgress reads a service's counters and pilots; w (may be nil) adds
// its failures and has the monitor watch the live pilots.
func readProgress(ctx context.Context, d *domain, id string, w *ProgressWatch) (Progress, error) {
	now := time.Now()
	p := Progress{Service: id, Time: float64(now.UnixMicro()) / 1e6, Counts: map[State]int64{}, Rate: -1, ETA: -1,
		Pilots: []PilotGauge{}, Failures: []FailureNote{}}
	var counts map[string]int64
	var info []string
	var ids []string
	err := d.patient(ctx, func() (err error) {
		if counts, err = d.store.UnitCounts(ctx, d.keys); err != nil {
			return err
		}
		if info, err = d.store.Fields(ctx, d.keys.Info(), coord.FieldState); err != nil {
			return err
		}
		ids, err = d.store.PilotIDs(ctx, d.keys)
		return err
	})
	if err != nil {
		return p, err
	}
	for st, n := range counts {
		p.Counts[State(st)] = n
		p.Units += n
		if !State(st).Final() {
			p.Open += n
		}
	}
	p.Canceled = info[0] == string(Canceled)
	sort.Strings(ids)
	live := 0
	for _, pid := range ids {
		l, err := d.lookPilot(ctx, pid, now)
		if err != nil {
			continue // pruned
		}
		g := PilotGauge{Name: l.Name, State: l.State, Slots: l.Slots, HeartbeatAge: -1}
		if g.State.Final() {
			g.Reason = l.Reason
		} else {
			live++
			g.HeartbeatAge = l.HeartbeatAge
			if g.Busy, err = d.store.BusySlots(ctx, d.keys, pid); err != nil {
				return p, err
			}
			if w != nil && w.watched[pid] == nil {
				w.watched[pid] = d.monitor.watch(pid)
			}
		}
		p.Pilots = append(p.Pilots, g)
	}
	p.Final = p.Canceled || (p.Units > 0 && p.Open == 0) || (len(p.Pilots) > 0 && live == 0)
	if w != nil {
		p.Failures = w.failures(ctx)
	}
	return p, nil
}
