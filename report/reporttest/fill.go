// Package reporttest writes the records of a made-up run into a
// coordination store, fast, for the report's tests and benchmark: pilots
// with slots, and units scheduled on them as an agent would (each starts on
// the slot that frees first), with run times, queue waits, failures and
// cancellations, and the timestamps and fields an agent records.
package reporttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// Run describes the run to write.
type Run struct {
	Pilots int // pilots, each on host "node-<i>"
	Slots  int // slots of each pilot
	Units  int
	Seed   uint64
}

// Reasons are the failure reasons the units are given (in turn, to every
// FailEvery-th unit); a report groups the first under "exit code 1".
var Reasons = []string{
	"exit code 1; stderr ends with: Traceback: oops",
	"exit code 127: command not found (executable \"/opt/app/missing\")",
	"killed: it ran longer than its wall_time_limit of 1 min",
}

const (
	FailEvery   = 23 // every FailEvery-th unit fails (with Reasons[i%len(Reasons)])
	CancelEvery = 97 // every CancelEvery-th unit (not failed) is canceled before it starts
)

// Expected is what a report of the run must say.
type Expected struct {
	Units, Done, Failed, Canceled int
	// Failures counts the failed units by the reason a report groups them
	// under (the reason without the quoted stderr).
	Failures map[string]int
	Lanes    int // Pilots × Slots
	// BusySlotSeconds and AllocatedSlotSeconds: the sum of the units' run
	// times (each has one slot) and of the pilots' slots × their agents'
	// run time.
	BusySlotSeconds, AllocatedSlotSeconds float64
}

// Write writes the records of r under k (a service record, its pilots and
// its units) and returns what a report must find. Times start an hour ago.
func Write(ctx context.Context, s *coord.Store, k coord.Keys, r Run) (Expected, error) {
	rdb := s.Client()
	rng := rand.New(rand.NewPCG(r.Seed, 1))
	e := Expected{Units: r.Units, Failures: map[string]int{}, Lanes: r.Pilots * r.Slots}
	t0 := float64(time.Now().UnixMicro())/1e6 - 3600
	ts := func(t float64) string { return strconv.FormatFloat(t, 'f', 6, 64) }
	// free[p][slot] is when the slot frees
	free := make([][]float64, r.Pilots)
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, k.Info(), "created", ts(t0), "max_attempts", 3)
	for p := range r.Pilots {
		free[p] = make([]float64, r.Slots)
		for i := range free[p] {
			free[p][i] = t0 + 2 + float64(p)
		}
	}
	flush := func() error {
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("write run: %w", err)
		}
		return nil
	}
	last := make([]float64, r.Pilots)
	for u := range r.Units {
		id := fmt.Sprintf("cu-%08d-0000-4000-8000-%012d", u, r.Seed)
		submitted := t0 + 1 + float64(u)*0.0005
		f := map[string]any{"slots": "1", "via": "service", "description": "{}", "attempt": "1"}
		f["start_time"] = ts(submitted)
		if u%CancelEvery == CancelEvery-1 && u%FailEvery != FailEvery-1 {
			f["state"], f["end_time"], f["reason"], f["attempt"] = "Canceled", ts(submitted+0.5), "canceled by the user", "0"
			e.Canceled++
			pipe.HSet(ctx, k.Unit(id), f)
			continue
		}
		// the slot that frees first, over all pilots
		bp, bs := 0, 0
		for p := range free {
			for i, t := range free[p] {
				if t < free[bp][bs] {
					bp, bs = p, i
				}
			}
		}
		start := max(submitted, free[bp][bs]) + 0.002
		run := 0.2 + rng.ExpFloat64()*1.5
		end := start + run
		free[bp][bs] = end
		e.BusySlotSeconds += run
		last[bp] = max(last[bp], end)
		f["pilot"], f["run_host"] = pilotID(bp), fmt.Sprintf("node-%d", bp)
		f["agent_start_time"], f["end_queue_time"], f["end_time"] = ts(start), ts(start), ts(end)
		if u%FailEvery == FailEvery-1 {
			why := Reasons[(u/FailEvery)%len(Reasons)]
			f["state"], f["exit_code"], f["reason"] = "Failed", "1", why
			e.Failed++
			e.Failures[groupOf(why)]++
		} else {
			f["state"], f["exit_code"] = "Done", "0"
			e.Done++
		}
		pipe.HSet(ctx, k.Unit(id), f)
		if pipe.Len() >= 1000 {
			if err := flush(); err != nil {
				return e, err
			}
		}
	}
	for p := range r.Pilots {
		id := pilotID(p)
		running, ended := t0+2+float64(p), max(last[p], t0+2+float64(p))+1
		e.AllocatedSlotSeconds += float64(r.Slots) * (ended - running)
		pipe.SAdd(ctx, k.Pilots(), id)
		pipe.HSet(ctx, k.Pilot(id), map[string]any{
			"state": "Done", "name": coord.PilotName(id, fmt.Sprintf("node-%d", p)), "run_host": fmt.Sprintf("node-%d", p),
			"slots": strconv.Itoa(r.Slots), "start_time": ts(t0 + float64(p)), "end_queue_time": ts(running),
			"end_time": ts(ended), "description": "{}",
		})
	}
	return e, flush()
}

func pilotID(p int) string { return fmt.Sprintf("bj-%08d-0000-4000-8000-000000000000", p) }

// groupOf is the failure group of a reason: what comes before the quoted
// stderr.
func groupOf(why string) string {
	before, _, _ := strings.Cut(why, "; stderr ends with: ")
	return before
}
