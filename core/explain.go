package core

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/vocab"
)

// Explanation says where a unit stands and, if it is not running yet, what
// it waits for and which pilots could take it (pilot-cli explain).
type Explanation struct {
	Unit        string `json:"unit"`
	State       State  `json:"state"`
	Queue       string `json:"queue"` // "service", or the name of the pilot it was submitted to
	Slots       int    `json:"slots"`
	Pilot       string `json:"pilot,omitempty"` // the name of the pilot that owns it now
	Attempts    int    `json:"attempts"`        // how often it was started
	MaxAttempts int    `json:"max_attempts"`
	LostReason  string `json:"lost_reason,omitempty"` // why its last run was lost, if one was
	Reason      string `json:"reason,omitempty"`      // why it failed or was canceled
	Waiting     int64  `json:"queue_length"`          // units waiting in its queue, itself included
	// Summary is one sentence: what the unit waits for, or what it does.
	Summary string         `json:"summary"`
	Pilots  []PilotOutlook `json:"pilots"`
}

// PilotOutlook is one pilot as seen from a waiting unit.
type PilotOutlook struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	Slots int    `json:"slots"`
	// LastHeartbeat is when its agent last reported (agent's clock), and
	// HeartbeatAge how long ago that was here, in seconds; -1 before the
	// agent started.
	LastHeartbeat string  `json:"last_heartbeat,omitempty"`
	HeartbeatAge  float64 `json:"heartbeat_age_s"`
	CanTake       bool    `json:"can_take"`
	Why           string  `json:"why,omitempty"` // why it cannot take the unit
}

// Explain reports why the unit is not running yet (or what became of it).
// It first waits until every unit this process submitted before is written,
// so that queue lengths count them.
func (u *Unit) Explain(ctx context.Context) (Explanation, error) {
	if err := u.written(ctx); err != nil {
		return Explanation{}, err
	}
	if err := u.d.settleAll(ctx); err != nil {
		return Explanation{}, err
	}
	m, err := u.d.store.Record(ctx, u.d.keys.Unit(u.id))
	if err != nil {
		if st := u.known(); st != "" {
			return Explanation{Unit: u.id, State: st, Summary: "the unit is " + string(st) + "; its record was pruned"}, nil
		}
		return Explanation{}, u.wrap("explain", err)
	}
	e := Explanation{Unit: u.id, State: State(m[coord.FieldState]), Queue: "service", Pilot: m[coord.FieldPilot],
		LostReason: m["lost_reason"], Reason: m[coord.FieldReason]}
	e.Slots, _ = strconv.Atoi(m[coord.FieldSlots])
	e.Attempts, _ = strconv.Atoi(m[coord.FieldAttempt])
	if e.MaxAttempts, err = u.d.store.MaxAttempts(ctx, u.d.keys); err != nil {
		return Explanation{}, u.wrap("explain", err)
	}
	if e.Pilot != "" {
		e.Pilot = u.pilotNameOf(ctx, e.Pilot)
	}
	bound := ""
	if m["via"] == "held" {
		e.Queue = "placement"
	}
	if m["via"] == "pilot" {
		bound = m[coord.FieldPilot]
		e.Queue = u.pilotName
		if e.Queue == "" {
			e.Queue = u.pilotNameOf(ctx, bound)
		}
	}
	if e.Waiting, err = u.d.store.QueueLength(ctx, u.d.keys, bound); err != nil {
		return Explanation{}, u.wrap("explain", err)
	}
	if e.Pilots, err = u.outlook(ctx, e.Slots, bound); err != nil {
		return Explanation{}, u.wrap("explain", err)
	}
	e.Summary = e.summarize(bound)
	if e.Queue == "placement" && !e.State.Final() {
		e.Summary = u.placementSummary(ctx, m[coord.FieldDescription], e.Slots)
	}
	return e, nil
}

// placementSummary says why a unit held by a central data service is not
// placed yet: its input data, or the pilots it may go to.
func (u *Unit) placementSummary(ctx context.Context, desc string, slots int) string {
	const placer = " (the central ComputeDataService of the process that submitted it places it; if that process ended, nothing does)"
	ud, err := vocab.DecodeUnit([]byte(desc))
	if err != nil {
		return "the unit waits to be placed, but its description is unreadable: " + err.Error()
	}
	need := needOf(ud)
	seen := map[string]*dataState{} // read once, for the waits and the labels
	var waits []string
	for _, url := range need.inputs {
		ds := readDataState(ctx, u.d.store, url)
		seen[url] = ds
		switch {
		case ds.err != nil:
			waits = append(waits, url+" (unreadable: "+ds.err.Error()+")")
		case ds.state != Running:
			waits = append(waits, url+" ("+string(ds.state)+")")
		}
	}
	if len(waits) > 0 {
		return "the unit waits for its input data before it is placed: data unit " + strings.Join(waits, ", ") + placer
	}
	_, want, _ := inputsReady(ctx, u.d.store, &need, seen)
	loads, err := u.d.store.PilotLoads(ctx, u.d.keys)
	if err != nil {
		return "the unit waits to be placed; its pilots are unreadable: " + err.Error()
	}
	var running, other []string
	for _, l := range loads {
		name := u.pilotNameOf(ctx, l.ID)
		if State(l.State) == Running {
			running = append(running, fmt.Sprintf("%s (%d of %d slots free)", name, max(l.Free, 0), l.Slots))
		} else {
			other = append(other, name+" ("+l.State+")")
		}
	}
	s := fmt.Sprintf("the unit waits to be placed on a Running pilot with %d free slots", slots)
	if want.set() {
		s += " labelled " + want.String() + " if a live pilot is"
	}
	switch {
	case len(running) > 0:
		s += "; running pilots: " + strings.Join(running, ", ")
	case len(other) > 0:
		s += "; no pilot runs yet: " + strings.Join(other, ", ")
	default:
		s += "; the service has no live pilot: create one"
	}
	return s + placer
}

// pilotNameOf is the public name of pilot id (bigjob:bj-<uuid>:<host>), or
// id if its record is gone: explanations name pilots as their URLs do.
func (u *Unit) pilotNameOf(ctx context.Context, id string) string {
	if f, err := u.d.store.Fields(ctx, u.d.keys.Pilot(id), coord.FieldName); err == nil && f[0] != "" {
		return f[0]
	}
	return id
}

// outlook describes the pilots that could run a unit needing slots: the
// one it is bound to, or every pilot of the service.
func (u *Unit) outlook(ctx context.Context, slots int, bound string) ([]PilotOutlook, error) {
	ids := []string{bound}
	if bound == "" {
		var err error
		if ids, err = u.d.store.PilotIDs(ctx, u.d.keys); err != nil {
			return nil, err
		}
		sort.Strings(ids)
	}
	out := make([]PilotOutlook, 0, len(ids))
	now := time.Now()
	for _, id := range ids {
		l, err := u.d.lookPilot(ctx, id, now)
		if err != nil {
			continue // pruned
		}
		p := PilotOutlook{Name: l.Name, State: l.State, Slots: l.Slots, HeartbeatAge: l.HeartbeatAge}
		if !l.LastHeartbeat.IsZero() {
			p.LastHeartbeat = l.LastHeartbeat.UTC().Format(time.RFC3339)
		}
		switch {
		case p.State.Final():
			p.Why = "the pilot is " + string(p.State)
		case p.Slots < slots:
			p.Why = fmt.Sprintf("the unit needs %d slots and the pilot has %d", slots, p.Slots)
		case p.State != Running:
			p.CanTake, p.Why = true, "its agent has not started yet (the pilot's job waits at the resource)"
		default:
			p.CanTake = true
		}
		out = append(out, p)
	}
	return out, nil
}

// summarize is the one-sentence answer.
func (e Explanation) summarize(bound string) string {
	switch {
	case e.State.Final():
		if e.Reason != "" {
			return fmt.Sprintf("the unit is %s: %s", e.State, e.Reason)
		}
		return "the unit is " + string(e.State)
	case e.State == Running || e.State == Staging:
		return fmt.Sprintf("the unit is %s on pilot %s (attempt %d of %d)", e.State, e.Pilot, e.Attempts, e.MaxAttempts)
	case e.State == New:
		return fmt.Sprintf("pilot %s has taken the unit and starts it when %d of its slots are free", e.Pilot, e.Slots)
	}
	var running, starting []string
	for _, p := range e.Pilots {
		if p.CanTake && p.State == Running {
			running = append(running, p.Name)
		} else if p.CanTake {
			starting = append(starting, p.Name)
		}
	}
	where := "the service queue"
	if bound != "" {
		where = "the queue of pilot " + e.Queue
	}
	var s string
	switch {
	case len(running) > 0:
		s = fmt.Sprintf("the unit waits in %s (%d units waiting there) for free slots on %s", where, e.Waiting, strings.Join(running, ", "))
	case len(starting) > 0:
		s = fmt.Sprintf("the unit waits in %s for %s to start running (their jobs wait at the resource)", where, strings.Join(starting, ", "))
	case bound != "":
		s = fmt.Sprintf("the unit cannot run: pilot %s cannot take it (see pilots)", e.Queue)
	case len(e.Pilots) == 0:
		s = "the unit waits in the service queue, but the service has no pilot: create one"
	default:
		s = fmt.Sprintf("the unit waits in the service queue, but no live pilot of the service has the %d slots it needs: create one", e.Slots)
	}
	if e.LostReason != "" {
		s += fmt.Sprintf("; it was started %d of %d times, its last run was lost (%s)", e.Attempts, e.MaxAttempts, e.LostReason)
	}
	return s
}
