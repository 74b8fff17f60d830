package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/core"
)

func throughput(ctx context.Context, o core.Options, workdir string) (result, error) {
	n := *flagUnits
	_, p, closeAll, err := pilotFor(ctx, o, workdir, 2, false)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	// Each round runs xargs and then the pilot, back to back; the figure is
	// the median of the rounds' ratios, which cancels the machine's drift
	// better than comparing best runs taken minutes apart.
	var pilotRates, xargsRates, ratios []float64
	for range *flagRounds {
		d, err := xargs(ctx, n)
		if err != nil {
			return nil, err
		}
		xargsRates = append(xargsRates, float64(n)/d.Seconds())
		d, err = runAll(ctx, p, units(n, core.UnitDescription{Executable: "/bin/true"}))
		if err != nil {
			return nil, err
		}
		pilotRates = append(pilotRates, float64(n)/d.Seconds())
		ratios = append(ratios, pilotRates[len(pilotRates)-1]/xargsRates[len(xargsRates)-1])
	}
	return result{
		"units": n, "slots": 2, "rounds": *flagRounds,
		"pilot_units_per_s":    round(median(pilotRates)),
		"baseline":             "xargs -P2 -n1 true",
		"baseline_units_per_s": round(median(xargsRates)),
		"ratio":                round2(median(ratios)),
		"round_ratios":         roundAll2(ratios),
		"sandboxes":            workdir + " (" + fsType(workdir) + ")",
		"all_pilot_rates":      roundAll(pilotRates),
		"all_baseline_rates":   roundAll(xargsRates),
		"goal":                 "ratio >= 0.8",
	}, nil
}

// xargs runs `xargs -P2 -n1 true` over n lines and times it.
func xargs(ctx context.Context, n int) (time.Duration, error) {
	var in strings.Builder
	for i := range n {
		in.WriteString(strconv.Itoa(i) + "\n")
	}
	cmd := exec.CommandContext(ctx, "xargs", "-P2", "-n1", "true")
	cmd.Stdin = strings.NewReader(in.String())
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("xargs: %v: %s", err, out)
	}
	return time.Since(t0), nil
}

func controlPlane(ctx context.Context, o core.Options) (result, error) {
	n := *flagCtl
	_, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, true)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	// a short warm-up loads the scripts and the connections
	if _, err := runAll(ctx, p, units(100, core.UnitDescription{Executable: "/bin/true"})); err != nil {
		return nil, err
	}
	d, err := runAll(ctx, p, units(n, core.UnitDescription{Executable: "/bin/true"}))
	if err != nil {
		return nil, err
	}
	return result{
		"units": n, "mode": "no_exec", "seconds": round2(d.Seconds()),
		"units_per_s": round(float64(n) / d.Seconds()),
		"baseline":    "BigJob: at most slots/5 units/s (5 s monitor cycle), ~3 units/s for 16 slots",
		"goal":        "units_per_s >= 20000",
	}, nil
}

func latency(ctx context.Context, o core.Options) (result, error) {
	n := *flagLat
	s, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, false)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	cds := core.NewDataService()
	cds.AddService(s)
	r := result{"units": n,
		"baseline": "BigJob: a finished unit is noticed by a 5 s monitor loop (1-7 s submit to Done); fork and exec of /bin/true: exec_ms",
		"goal":     "p50_ms <= 1 on both paths"}
	for _, path := range []struct {
		name   string
		submit func(context.Context, core.UnitDescription) (*core.Unit, error)
	}{{"pilot", p.Submit}, {"cds", cds.Submit}} {
		ds, stages, err := latencies(ctx, n, path.submit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path.name, err)
		}
		q := func(f float64) float64 { return ms(ds[int(f*float64(len(ds)-1))]) }
		r[path.name+"_p50_ms"], r[path.name+"_p99_ms"], r[path.name+"_max_ms"] = q(0.5), q(0.99), ms(ds[len(ds)-1])
		r[path.name+"_stages_p50_ms"] = stages
	}
	r["p50_ms"], r["p99_ms"] = r["pilot_p50_ms"], r["pilot_p99_ms"]
	var execs []time.Duration
	for range 50 {
		t0 := time.Now()
		if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
			return nil, err
		}
		execs = append(execs, time.Since(t0))
	}
	slices.Sort(execs)
	r["exec_ms"] = ms(execs[len(execs)/2])
	return r, nil
}

// latencies submits one /bin/true unit at a time with submit and waits for
// it: the sorted submit-to-Done times, and the median of each stage as the
// unit record's times tell them (submit to claim, claim to start, start to
// end, end to the wait's return).
func latencies(ctx context.Context, n int, submit func(context.Context, core.UnitDescription) (*core.Unit, error)) ([]time.Duration, result, error) {
	ud := core.UnitDescription{Executable: "/bin/true"}
	var ds []time.Duration
	stage := map[string][]float64{}
	for i := range n + 10 {
		t0 := time.Now()
		u, err := submit(ctx, ud)
		if err != nil {
			return nil, nil, err
		}
		st, err := u.Wait(ctx)
		if err != nil {
			return nil, nil, err
		}
		t1 := time.Now()
		if st != core.Done {
			return nil, nil, fmt.Errorf("unit %s is %s", u.ID(), st)
		}
		if i < 10 { // the first few warm up scripts and connections
			continue
		}
		ds = append(ds, t1.Sub(t0))
		d, err := u.Details(ctx)
		if err != nil {
			return nil, nil, err
		}
		at := func(f string) float64 { v, _ := strconv.ParseFloat(d[f], 64); return v }
		sub := float64(t0.UnixNano()) / 1e9
		stage["submit_to_claim"] = append(stage["submit_to_claim"], at("claim_time")-sub)
		stage["claim_to_start"] = append(stage["claim_to_start"], at("agent_start_time")-at("claim_time"))
		stage["start_to_end"] = append(stage["start_to_end"], at("end_time")-at("agent_start_time"))
		stage["end_to_return"] = append(stage["end_to_return"], float64(t1.UnixNano())/1e9-at("end_time"))
	}
	slices.Sort(ds)
	out := result{}
	for k, v := range stage {
		slices.Sort(v)
		out[k] = round2(v[len(v)/2] * 1000)
	}
	return ds, out, nil
}

// memory runs the submitter as a child process, so that its peak RSS is its
// own, and reads the agent's peak RSS from /proc while the units are queued.
func memory(ctx context.Context, o core.Options) (result, error) {
	n := *flagMem
	_, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, false)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	d, err := p.Details(ctx)
	if err != nil {
		return nil, err
	}
	agentPID := d["agent_pid"]
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-child", "memory", "-pilot", p.URL(), "-memory-units", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("submitting child: %w", err)
	}
	child, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return nil, fmt.Errorf("submitting child said %q", out)
	}
	// the agent works through the queue for a while, with most units queued
	time.Sleep(3 * time.Second)
	agent, err := peakRSS(agentPID)
	if err != nil {
		return nil, err
	}
	return result{
		"queued_units": n, "agent_peak_rss_mb": round2(agent), "submitter_peak_rss_mb": round2(child),
		"goal": "<= 100 MB each",
	}, nil
}

// memoryChild reconnects to the pilot, submits n units in bulk and prints its
// own peak RSS in MB.
func memoryChild(pilotURL string, n int) error {
	ctx := context.Background()
	p, err := core.OpenPilot(ctx, pilotURL, core.Options{})
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := p.SubmitBulk(ctx, units(n, core.UnitDescription{Executable: "/bin/true"})); err != nil {
		return err
	}
	rss, err := peakRSS("self")
	if err != nil {
		return err
	}
	fmt.Println(rss)
	return nil
}

// fsType names the file system that holds dir, from /proc/mounts.
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	best, typ := "", "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, typ = mp, f[2]
		}
	}
	return typ
}

// peakRSS reads VmHWM of a process, in MB.
func peakRSS(pid string) (float64, error) { return statusMB(pid, "VmHWM") }

// statusMB reads a memory field (VmHWM, VmRSS) of /proc/<pid>/status, in MB.
func statusMB(pid, field string) (float64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%s/status", field, pid)
}

func ms(d time.Duration) float64 { return round2(float64(d.Microseconds()) / 1000) }

// median of a non-empty slice (the lower middle for even lengths).
func median(fs []float64) float64 { return percentile(fs, 50) }

// percentile p (0-100) of a non-empty slice: the nearest rank at or below.
func percentile(fs []float64, p int) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func roundAll2(fs []float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = round2(f)
	}
	return out
}
func round(f float64) float64  { return float64(int64(f + 0.5)) }
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
func roundAll(fs []float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = round(f)
	}
	return out
}
