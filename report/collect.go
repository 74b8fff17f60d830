// Package report writes the report of a run: one self-contained HTML page
// (no network access when opened; its script and style are inline) that
// shows a service's pilots and units: the totals (units, throughput,
// utilisation), a timeline of every unit on the slots of its pilot (drawn
// on a canvas from compact arrays embedded in the page, so that it stays
// readable at 100,000 units), each pilot's slot utilisation over time, the
// distributions of queue wait and run time, the failures grouped by reason
// and per-host figures. Everything but the timeline is plain HTML and SVG,
// readable without JavaScript.
//
// Collect reads the records from the coordination store in bounded batches
// and keeps a few numbers per unit; Summarize computes the figures; Write
// renders them. The numbers in the page carry data-k attributes (and the
// rows of the tables data-* attributes) so that programs can read them back.
package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/vocab"
)

// Pilot is what a report keeps of a pilot record.
type Pilot struct {
	ID, Name string
	State    vocab.State
	Host     string  // where its agent ran
	Slots    int     // slots of the pilot (0 if its agent never started)
	Created  float64 // epoch seconds: when it was submitted
	Running  float64 // when its agent started (0: never)
	End      float64 // when it ended (0: not yet)
}

// Unit is what a report keeps of a unit record: a few numbers, so that
// 100,000 units take a few megabytes. Times are epoch seconds, 0 when not
// set; Pilot, Host and Reason index Run.Pilots, Run.Hosts and Run.Reasons
// (-1: none).
type Unit struct {
	Submitted, Started, Ended float64
	Pilot, Host, Reason       int32
	Slots                     int32
	Attempt                   int32
	Exit                      int32 // exit code, -1 if none
	State                     vocab.State
}

// Run is a service's records as a report reads them.
type Run struct {
	Service string
	Now     float64 // when the records were read: the end of what has not ended
	Pilots  []Pilot
	Units   []Unit
	Hosts   []string
	Reasons []string

	hosts, reasons, pilots map[string]int32
}

// NewRun is an empty run of service at now, to which Add* add records.
func NewRun(service string, now time.Time) *Run {
	return &Run{Service: service, Now: float64(now.UnixMicro()) / 1e6,
		hosts: map[string]int32{}, reasons: map[string]int32{}, pilots: map[string]int32{}}
}

// unitFields are the unit record fields Collect reads, in the order AddUnit
// takes them.
var unitFields = []string{"state", "start_time", "agent_start_time", "end_queue_time", "end_time",
	"run_host", "pilot", "exit_code", "reason", "attempt", "slots"}

var pilotFields = []string{"name", "run_host", "slots", "start_time", "end_queue_time", "end_time"}

// Collect reads the pilots and units of the service whose keys are k. It
// keeps only the figures a report needs; the store is read in batches
// (coord.Store.ScanUnits).
func Collect(ctx context.Context, s *coord.Store, k coord.Keys) (*Run, error) {
	r := NewRun(k.Service(), time.Now())
	ids, rows, err := s.PilotRecords(ctx, k, append([]string{"state"}, pilotFields...))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	// in the order they were created (then by name), not the set's
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(num(rows[a][4]), num(rows[b][4])), cmp.Compare(rows[a][1], rows[b][1]))
	})
	for _, i := range order {
		r.AddPilot(ids[i], rows[i][0], rows[i][1:])
	}
	err = s.ScanUnits(ctx, k, unitFields, func(_ string, v []string) error {
		r.AddUnit(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return r, nil
}

// AddPilot adds a pilot record: its state and the values of pilotFields.
func (r *Run) AddPilot(id, state string, v []string) {
	p := Pilot{ID: id, Name: v[0], State: vocab.State(state), Host: v[1], Created: num(v[3]), Running: num(v[4]), End: num(v[5])}
	p.Slots, _ = strconv.Atoi(v[2])
	if p.Name == "" {
		p.Name = id
	}
	r.pilots[id] = int32(len(r.Pilots))
	r.Pilots = append(r.Pilots, p)
}

// AddUnit adds a unit record: the values of unitFields. A unit's pilot must
// have been added first to be counted with it.
func (r *Run) AddUnit(v []string) {
	u := Unit{State: vocab.State(v[0]), Submitted: num(v[1]), Started: num(v[2]), Ended: num(v[4]),
		Pilot: -1, Host: -1, Reason: -1, Exit: -1, Slots: 1}
	if u.Started == 0 {
		u.Started = num(v[3])
	}
	if p, ok := r.pilots[v[6]]; ok && v[6] != "" {
		u.Pilot = p
	}
	if v[5] != "" {
		u.Host = intern(r.hosts, &r.Hosts, v[5])
	}
	if n, err := strconv.Atoi(v[7]); err == nil {
		u.Exit = int32(n)
	}
	if why := failureReason(u.State, v[8], u.Exit); why != "" {
		u.Reason = intern(r.reasons, &r.Reasons, why)
	}
	if n, err := strconv.Atoi(v[9]); err == nil {
		u.Attempt = int32(n)
	}
	if n, err := strconv.Atoi(v[10]); err == nil && n > 0 {
		u.Slots = int32(n)
	}
	r.Units = append(r.Units, u)
}

func intern(index map[string]int32, list *[]string, s string) int32 {
	if i, ok := index[s]; ok {
		return i
	}
	i := int32(len(*list))
	index[s] = i
	*list = append(*list, s)
	return i
}

// num reads a timestamp or number field; "" and garbage are 0.
func num(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
