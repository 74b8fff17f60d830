package report_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/report"
	"github.com/bigjob-go/bigjob/report/reporttest"
	"github.com/stretchr/testify/require"
)

// writeRun writes a made-up run and returns its report's HTML and what the
// report must say.
func writeRun(t *testing.T, url string, r reporttest.Run) ([]byte, reporttest.Expected) {
	t.Helper()
	ctx := context.Background()
	s := testenv.Dial(t, url)
	k := coord.ServiceKeys("pcs-00000000-0000-4000-8000-000000000001")
	want, err := reporttest.Write(ctx, s, k, r)
	require.NoError(t, err)
	run, err := report.Collect(ctx, s, k)
	require.NoError(t, err)
	var page bytes.Buffer
	require.NoError(t, report.Write(&page, run))
	return page.Bytes(), want
}

func near(t *testing.T, want, got float64, what string) {
	t.Helper()
	require.LessOrEqual(t, math.Abs(want-got), 1e-6*math.Max(1, math.Abs(want)), "%s: want %v, got %v", what, want, got)
}

// TestReportNumbers reads back the numbers of a known run from the report's
// HTML, on both backends (the embedded server answers SCAN differently).
func TestReportNumbers(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			page, want := writeRun(t, b.URL, reporttest.Run{Pilots: 2, Slots: 4, Units: 2500, Seed: 7})
			got, err := reporttest.Parse(page)
			require.NoError(t, err)
			require.EqualValues(t, want.Units, got.Totals["units"])
			require.EqualValues(t, want.Done, got.Totals["done"])
			require.EqualValues(t, want.Failed, got.Totals["failed"])
			require.EqualValues(t, want.Canceled, got.Totals["canceled"])
			require.NotZero(t, want.Failed)
			require.NotZero(t, want.Canceled)
			failures := map[string]int{"Canceled: canceled by the user": want.Canceled}
			for why, n := range want.Failures {
				failures["Failed: "+why] = n
			}
			require.Equal(t, failures, got.Failures)
			require.Equal(t, want.Lanes, got.Lanes)
			require.Equal(t, want.Units-want.Canceled, got.Segments, "one segment per started one-slot unit")
			near(t, want.BusySlotSeconds, got.Totals["busy_slot_s"], "busy slot time")
			near(t, want.AllocatedSlotSeconds, got.Totals["allocated_slot_s"], "allocated slot time")
			near(t, want.BusySlotSeconds/want.AllocatedSlotSeconds, got.Totals["utilisation"], "utilisation")
			require.Len(t, got.Pilots, 2)
			for _, p := range got.Pilots {
				require.Equal(t, 4, p.Lanes, "pilot %s", p.Name)
				near(t, p.Busy/p.Allocated, p.Utilisation, "utilisation of "+p.Name)
			}
		})
	}
}
