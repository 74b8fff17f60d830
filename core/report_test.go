package core_test

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/report/reporttest"
	"github.com/stretchr/testify/require"
)

// TestReportOfARun runs units that end Done and Failed for distinct reasons
// on two fork pilots, ends the pilots, and reads the report's numbers back
// from its HTML: they match what the test computes from the units' and
// pilots' details.
func TestReportOfARun(t *testing.T) {
	s := newService(t, testenvRedis(t))
	a, _ := newPilot(t, s, 2)
	b, _ := newPilot(t, s, 1)
	sh := func(script string) core.UnitDescription {
		return core.UnitDescription{Executable: "/bin/sh", Arguments: []string{"-c", "'" + script + "'"}}
	}
	var units []*core.Unit
	submit := func(p *core.Pilot, uds ...core.UnitDescription) {
		us, err := p.SubmitBulk(ctxT(t), uds)
		require.NoError(t, err)
		units = append(units, us...)
	}
	submit(a, sh("sleep 0.2"), sh("sleep 0.1"), sh("exit 3"), sh("sleep 0.1; exit 3"),
		core.UnitDescription{Executable: "/bin/true"})
	submit(b, sh("sleep 0.1"), core.UnitDescription{Executable: "/nonexistent/program"}, sh("exit 5"))
	details := collect(t, units)
	for _, p := range []*core.Pilot{a, b} {
		require.NoError(t, p.Cancel(ctxT(t)))
	}

	// what the report must say, from the records as the API gives them
	done, failed := 0, map[string]int{}
	busy := 0.0
	for _, d := range details {
		switch core.State(d["state"]) {
		case core.Done:
			done++
		case core.Failed:
			why, _, _ := strings.Cut(d["reason"], "; stderr ends with: ")
			failed["Failed: "+why]++
		}
		busy += f64(t, d["end_time"]) - f64(t, d["agent_start_time"])
	}
	require.Equal(t, 4, done)
	require.Len(t, failed, 3, "exit 3, exit 5 and a missing program are three reasons: %v", failed)
	allocated := 0.0
	for _, p := range []*core.Pilot{a, b} {
		d, err := p.Details(ctxT(t))
		require.NoError(t, err)
		slots, _ := strconv.Atoi(d["slots"])
		allocated += float64(slots) * (f64(t, d["end_time"]) - f64(t, d["end_queue_time"]))
	}

	var page bytes.Buffer
	require.NoError(t, s.Report(ctxT(t), &page))
	got, err := reporttest.Parse(page.Bytes())
	require.NoError(t, err)
	require.EqualValues(t, len(units), got.Totals["units"])
	require.EqualValues(t, done, got.Totals["done"])
	require.EqualValues(t, len(units)-done, got.Totals["failed"])
	require.Equal(t, failed, got.Failures)
	require.Equal(t, 3, got.Lanes, "one lane per slot of the two pilots")
	require.InDelta(t, busy, got.Totals["busy_slot_s"], 1e-5)
	require.InDelta(t, allocated, got.Totals["allocated_slot_s"], 1e-5)
	require.InDelta(t, busy/allocated, got.Totals["utilisation"], 1e-6)
	require.Len(t, got.Pilots, 2)
	for _, p := range got.Pilots {
		require.Contains(t, []string{a.Name(), b.Name()}, p.Name)
	}
}

func f64(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "timestamp %q", s)
	require.False(t, math.IsNaN(v))
	return v
}
