package report

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// unitRow is a unit record's values in the order of unitFields.
func unitRow(state string, submitted, started, ended float64, pilot, host, exit, reason string, slots int) []string {
	ts := func(t float64) string {
		if t == 0 {
			return ""
		}
		return strconv.FormatFloat(t, 'f', 6, 64)
	}
	return []string{state, ts(submitted), ts(started), ts(started), ts(ended), host, pilot, exit, reason, "1", strconv.Itoa(slots)}
}

func TestLanesAndFigures(t *testing.T) {
	r := NewRun("pcs-x", time.Unix(1000, 0))
	r.AddPilot("bj-a", "Done", []string{"bigjob:bj-a:h", "h", "2", "90", "100", "120"})
	r.AddPilot("bj-b", "Running", []string{"bigjob:bj-b:h2", "h2", "1", "90", "110", ""})
	r.AddUnit(unitRow("Done", 95, 100, 110, "bj-a", "h", "0", "", 2))                             // lanes 0 and 1
	r.AddUnit(unitRow("Done", 95, 110, 115, "bj-a", "h", "0", "", 1))                             // lane 0
	r.AddUnit(unitRow("Failed", 95, 110, 120, "bj-a", "h", "2", "exit code 2"+stderrTail+"x", 1)) // lane 1
	r.AddUnit(unitRow("Done", 96, 112, 114, "bj-a", "h", "0", "", 1))                             // overlaps both: lane 2
	r.AddUnit(unitRow("Running", 100, 990, 0, "bj-b", "h2", "", "", 1))                           // runs until now (1000)
	r.AddUnit(unitRow("Failed", 100, 0, 130, "bj-b", "", "4", "", 1))                             // never started
	r.AddUnit(unitRow("Canceled", 100, 0, 101, "", "", "", "", 1))                                // queued, canceled

	f, segs := Summarize(r)
	require.Equal(t, 7, f.Units)
	require.Equal(t, 3, f.Done)
	require.Equal(t, 2, f.Failed)
	require.Equal(t, 1, f.Canceled)
	require.Equal(t, 1, f.Open)
	require.Equal(t, 5, f.Started)
	require.Equal(t, 3, f.Pilots[0].Lanes, "three units overlap on a 2-slot pilot at 112")
	require.Equal(t, 1, f.Pilots[1].Lanes)
	require.Equal(t, 4, f.Lanes)
	lanes := map[float64][]int32{}
	for _, s := range segs {
		lanes[s.start] = append(lanes[s.start], s.lane)
	}
	require.Equal(t, map[float64][]int32{100: {0, 1}, 110: {0, 1}, 112: {2}, 990: {3}}, lanes)
	// busy: 2×10 + 5 + 10 + 2 on bj-a, 10 on bj-b (until the records were read)
	require.InDelta(t, 37.0, f.Pilots[0].BusySlotSeconds, 1e-9)
	require.InDelta(t, 10.0, f.Pilots[1].BusySlotSeconds, 1e-9)
	require.InDelta(t, 47.0, f.BusySlotSeconds, 1e-9)
	// allocated: 2 × (120-100) + 1 × (1000-110)
	require.InDelta(t, 40.0, f.Pilots[0].AllocatedSlotSeconds, 1e-9)
	require.InDelta(t, 930.0, f.AllocatedSlotSeconds, 1e-9)
	require.InDelta(t, 47.0/930, f.Utilisation, 1e-12)
	require.InDelta(t, 1-47.0/930, f.Overhead, 1e-12)
	require.Equal(t, []Failure{
		{State: "Canceled", Reason: "no reason recorded", Units: 1},
		{State: "Failed", Reason: "exit code 2", Units: 1},
		{State: "Failed", Reason: "exit code 4", Units: 1},
	}, f.Failures)
	require.Equal(t, []HostFigures{
		{Host: "h", Units: 4, Done: 3, Failed: 1, BusySlotSeconds: 37, MeanRunTime: 6.75},
		{Host: "h2", Units: 1, BusySlotSeconds: 10, MeanRunTime: 10},
	}, f.Hosts)
	require.Equal(t, 5, f.QueueWait.N, "every started unit waited")
	require.Equal(t, 4, f.RunTime.N, "the running unit has no run time yet")
	require.InDelta(t, 10.0, f.RunTime.Max, 1e-9)
	// makespan: from the first submission (pilot bj-a created at 90) to now
	require.InDelta(t, 910.0, f.Makespan, 1e-9)
	// bj-a's slots: full (2 of 2) from 100 to 110, then 2 or 3 of 2 until 115 (capped), then 1 of 2
	require.Len(t, f.Pilots[0].Busy, UtilisationBins)
	require.InDelta(t, 1.0, f.Pilots[0].Busy[0], 1e-9)
	require.InDelta(t, 0.5, f.Pilots[0].Busy[UtilisationBins-1], 1e-9)
}

// TestPageEscapes: names and reasons cannot close the page's elements.
func TestPageEscapes(t *testing.T) {
	r := NewRun("pcs-x", time.Unix(1000, 0))
	evil := `</script><script>alert(1)</script>`
	r.AddPilot("bj-a", "Done", []string{"bigjob:bj-a:" + evil, evil, "1", "90", "100", "120"})
	r.AddUnit(unitRow("Failed", 95, 100, 110, "bj-a", evil, "1", evil, 1))
	var b bytes.Buffer
	require.NoError(t, Write(&b, r))
	page := b.String()
	require.NotContains(t, page, "<script>alert")
	require.Equal(t, 2, strings.Count(page, "<script"), "the data and the page's script")
	require.Equal(t, 2, strings.Count(page, "</script>"))
}
