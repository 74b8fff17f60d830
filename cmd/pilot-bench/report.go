package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/report/reporttest"
)

var flagReportUnits = flag.Int("report-units", 100000, "units of the report case")

// reportCase measures writing the run report (core.Service.Report to a
// file) of a service with -report-units finished units on 4 pilots of 32
// slots (records written straight into the store by package reporttest),
// against reading the same records and nothing else (the store's
// ScanUnits and PilotRecords): the median of three rounds of each,
// interleaved.
func reportCase(ctx context.Context, o core.Options) (result, error) {
	n := *flagReportUnits
	r := result{"units": n, "pilots": 4, "slots_per_pilot": 32,
		"baseline": "reading the same unit and pilot records in the same batches, nothing else",
		"goal":     "report of 100,000 units written in under 2 s"}
	a, err := coord.ParseURL(o.CoordinationURL)
	if err != nil {
		return nil, err
	}
	store, err := coord.Dial(ctx, a, coord.Config{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	id := "pcs-00000000-0000-4000-8000-00000000beef"
	k := coord.ServiceKeys(id)
	if _, err := reporttest.Write(ctx, store, k, reporttest.Run{Pilots: 4, Slots: 32, Units: n, Seed: 1}); err != nil {
		return nil, err
	}
	s, err := core.OpenService(ctx, o.CoordinationURL+"/pcs/"+id, o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	dir, err := os.MkdirTemp("", "pilot-bench-report-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run.html")
	var reads, writes []float64
	for range 3 {
		start := time.Now()
		seen := 0
		if _, _, err := store.PilotRecords(ctx, k, []string{"name", "slots"}); err != nil {
			return nil, err
		}
		err := store.ScanUnits(ctx, k, []string{"start_time", "agent_start_time", "end_time", "run_host", "pilot",
			"exit_code", "reason", "attempt", "slots"}, func(string, []string) error { seen++; return nil })
		if err != nil {
			return nil, err
		}
		reads = append(reads, time.Since(start).Seconds())
		if seen != n {
			return nil, fmt.Errorf("read %d unit records, wrote %d", seen, n)
		}
		start = time.Now()
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := s.Report(ctx, f); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		writes = append(writes, time.Since(start).Seconds())
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	r["report_s"], r["read_records_s"] = round2(median(writes)), round2(median(reads))
	r["report_rounds_s"], r["read_rounds_s"] = roundAll2(writes), roundAll2(reads)
	r["report_mb"] = round2(float64(st.Size()) / (1 << 20))
	return r, nil
}
