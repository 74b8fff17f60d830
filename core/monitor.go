package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/coord"
)

// monitor ends pilots whose agent is gone, so that no pilot
// is left Running and no wait hangs. It watches the pilots this process has
// an interest in (ones it created, ones someone waits on) and runs only while
// at least one of them is not final. A pilot is dead when
//   - its adaptor says the job ended (the fork adaptor knows at once for the
//     agents it started; otherwise State is asked at the adaptor's pace); a
//     job the resource manager ended at its walltime or removed leaves the
//     pilot Done with the resource manager's reason, any other end Failed, or
//   - it is Running and its heartbeat counter has not moved for
//     HeartbeatTimeout, as measured on this process's clock while it could
//     read the store (clock skew and store outages do not count).
//
// The verdict is applied with the same conditional script the agent uses to
// end a pilot, so a pilot that ended by itself is never overwritten.
type monitor struct {
	d *domain

	mu      sync.Mutex
	pilots  map[string]*watched
	running bool
	cancel  context.CancelFunc
	kick    chan struct{}
	closed  bool
}

type watched struct {
	refs      int
	final     bool
	state     string    // last state seen
	beat      string    // last heartbeat value seen
	changed   time.Time // when state or beat last changed (or watching began)
	handle    *adaptors.Handle
	adaptor   adaptors.Adaptor
	nextState time.Time // next time to ask the adaptor
	notified  bool      // a goroutine waits on the adaptor's Ended channel
	stateErrs int       // State errors in a row
	endSeen   time.Time // when the job was first seen ended in an unknown way
}

func newMonitor(d *domain) *monitor {
	return &monitor{d: d, pilots: map[string]*watched{}, kick: make(chan struct{}, 1)}
}

// watch adds interest in a pilot until the returned function is called.
func (m *monitor) watch(pilotID string) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return func() {}
	}
	w := m.pilots[pilotID]
	if w == nil {
		w = &watched{changed: time.Now()}
		m.pilots[pilotID] = w
	}
	w.refs++
	if !m.running && !w.final {
		ctx, cancel := context.WithCancel(context.Background())
		m.running, m.cancel = true, cancel
		go m.loop(ctx)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if w.refs--; w.refs == 0 {
				delete(m.pilots, pilotID)
			}
		})
	}
}

func (m *monitor) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.running {
		m.cancel()
	}
}

func (m *monitor) loop(ctx context.Context) {
	t := time.NewTicker(m.d.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		if !m.check(ctx) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// check examines every watched pilot once. It returns false (and marks the
// monitor stopped) when nothing is left to watch.
func (m *monitor) check(ctx context.Context) bool {
	m.mu.Lock()
	var ids []string
	for id, w := range m.pilots {
		if !w.final {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || ctx.Err() != nil {
		m.running = false
		m.mu.Unlock()
		return false
	}
	m.mu.Unlock()

	st, err := m.d.store.PilotStatuses(ctx, m.d.keys, ids)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		// Whatever happened during the outage is not the agent's silence.
		for _, id := range ids {
			if w := m.pilots[id]; w != nil {
				w.changed = now
			}
		}
		m.d.log.Warn("liveness check: cannot read pilots", "err", err)
		return true
	}
	for _, s := range st {
		w := m.pilots[s.ID]
		if w == nil {
			continue
		}
		if !s.Exists || State(s.State).Final() {
			w.final = true
			continue
		}
		m.loadHandle(ctx, s, w)
		if s.Heartbeat != w.beat || s.State != w.state {
			w.beat, w.state, w.changed = s.Heartbeat, s.State, now
		}
		if js, ended := m.jobEnded(ctx, w, now); ended {
			m.ended(s, w, js)
			continue
		}
		// A job the resource manager no longer runs waits (EndLag) for its
		// word on how it ended; silence is no news then.
		if State(s.State) == Running && w.endSeen.IsZero() && now.Sub(w.changed) > m.d.opts.HeartbeatTimeout {
			m.finish(s, w, Failed, fmt.Sprintf("no heartbeat from its agent for %s", now.Sub(w.changed).Round(time.Second)))
		}
	}
	return true
}

// loadHandle finds the adaptor of a pilot once its handle is known, and
// arranges to be kicked when the adaptor reports the job's end.
func (m *monitor) loadHandle(ctx context.Context, s coord.PilotStatus, w *watched) {
	if w.adaptor != nil || s.Handle == "" {
		return
	}
	var h adaptors.Handle
	if err := json.Unmarshal([]byte(s.Handle), &h); err != nil {
		m.d.log.Warn("pilot has an unreadable adaptor handle", "pilot", s.ID, "err", err)
		return
	}
	a, err := adaptors.ForHandle(h)
	if err != nil {
		m.d.log.Warn("pilot has no usable adaptor", "pilot", s.ID, "err", err)
		return
	}
	w.handle, w.adaptor = &h, a
	if n, ok := a.(adaptors.Notifier); ok && !w.notified {
		if ch := n.Ended(h); ch != nil {
			w.notified = true
			go func() {
				select {
				case <-ch:
					select {
					case m.kick <- struct{}{}:
					default:
					}
				case <-ctx.Done():
				}
			}()
		}
	}
}

// jobEnded asks the adaptor, at its pace, whether the pilot's job is gone.
// A resource manager that keeps failing to answer while the pilot has not
// started (a broken qstat, say) fails the pilot after stateFailures tries:
// nothing else would ever end it.
func (m *monitor) jobEnded(ctx context.Context, w *watched, now time.Time) (adaptors.Status, bool) {
	if w.adaptor == nil || now.Before(w.nextState) {
		return adaptors.Status{}, false
	}
	w.nextState = now.Add(adaptors.StatePollInterval(w.adaptor))
	js, err := w.adaptor.State(ctx, *w.handle)
	if err != nil {
		w.stateErrs++
		m.d.log.Warn("ask the resource manager about a pilot job", "job", w.handle.ID, "err", err, "failures", w.stateErrs)
		if w.stateErrs >= stateFailures && State(w.state) != Running {
			return adaptors.Status{State: adaptors.JobEnded, End: adaptors.EndFailed,
				Reason: fmt.Sprintf("its resource manager cannot be asked about job %s: %v", w.handle.ID, err)}, true
		}
		return adaptors.Status{}, false
	}
	w.stateErrs = 0
	if js.State == adaptors.JobEnded && js.End == adaptors.EndUnknown {
		// the resource manager may not know yet how the job ended
		if w.endSeen.IsZero() {
			w.endSeen = now
		}
		if lag := adaptors.EndLag(w.adaptor); now.Sub(w.endSeen) < lag {
			w.nextState = now.Add(min(adaptors.StatePollInterval(w.adaptor), lag/3))
			return js, false
		}
	}
	return js, js.State == adaptors.JobEnded
}

// stateFailures is how many State errors in a row fail a pilot that has
// not started.
const stateFailures = 5

// ended records the end of a pilot whose job the resource manager no
// longer runs. A job ended by its walltime or removed by someone is the
// resource manager ending the pilot: Done, with its word for it. Anything
// else means the agent died without ending the pilot: Failed.
func (m *monitor) ended(s coord.PilotStatus, w *watched, js adaptors.Status) {
	job := "job " + w.handle.ID
	switch js.End {
	case adaptors.EndWalltime:
		m.finish(s, w, Done, withReason(fmt.Sprintf("the resource manager ended %s at its walltime", job), js.Reason))
	case adaptors.EndCanceled:
		m.finish(s, w, Done, withReason(fmt.Sprintf("the resource manager removed %s", job), js.Reason))
	default:
		why := "its agent exited without ending the pilot"
		if js.Reason != "" {
			why += " (" + js.Reason + ")"
		}
		m.finish(s, w, Failed, why+"; see stderr-"+s.ID+"-agent.txt in the pilot's working directory")
	}
}

func withReason(s, reason string) string {
	if reason == "" {
		return s
	}
	return s + " (" + reason + ")"
}

// finish ends a lost pilot in state st and has the adaptor remove what is
// left of it. The service units it ran go back to the service queue (within
// the service's max_attempts); its other unfinished units fail with the same
// reason. Called with m.mu held; the store and adaptor calls run outside it.
func (m *monitor) finish(s coord.PilotStatus, w *watched, st State, why string) {
	w.final = true
	h, a := w.handle, w.adaptor
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.d.opts.StopTimeout+10*time.Second)
		defer cancel()
		err := m.d.store.FinishPilot(ctx, m.d.keys, s.ID, coord.LostPilot(s.ID, s.Name, string(st), why))
		if err == nil {
			m.d.log.Warn("pilot ended by its resource", "pilot", s.ID, "name", s.Name, "state", st, "why", why)
		}
		if a != nil {
			if err := a.Cancel(ctx, *h); err != nil {
				m.d.log.Warn("clean up an ended pilot's job", "pilot", s.ID, "err", err)
			}
		}
	}()
}
