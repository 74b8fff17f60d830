package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/bigjob-go/bigjob/core"
)

// watchCost runs flagUnits /bin/true units on a 2-slot pilot without and
// with `pilot-cli watch --json` (Python 3, the real command) following the
// service, rounds back to back, and reports the median ratio of the run
// times (goal: watched at most 2% slower).
func watchCost(ctx context.Context, o core.Options) (result, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	n := *flagUnits
	s, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, false)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	var plain, watched, ratios []float64
	for range *flagRounds {
		d, err := runAll(ctx, p, units(n, core.UnitDescription{Executable: "/bin/true"}))
		if err != nil {
			return nil, err
		}
		plain = append(plain, d.Seconds())
		w, err := startWatch(ctx, root, s.URL())
		if err != nil {
			return nil, err
		}
		d, err = runAll(ctx, p, units(n, core.UnitDescription{Executable: "/bin/true"}))
		w.stop()
		if err != nil {
			return nil, err
		}
		if w.lines() == 0 {
			return nil, fmt.Errorf("pilot-cli watch printed nothing while it watched")
		}
		watched = append(watched, d.Seconds())
		ratios = append(ratios, watched[len(watched)-1]/plain[len(plain)-1])
	}
	return result{
		"units": n, "slots": 2, "rounds": *flagRounds,
		"watched_s":   round2(median(watched)),
		"baseline":    "the same run with nothing watching",
		"baseline_s":  round2(median(plain)),
		"ratio":       round2(median(ratios)),
		"round_ratio": roundAll2(ratios),
		"goal":        "ratio <= 1.02",
	}, nil
}

// cliWatch is a running `pilot-cli watch --json`.
type cliWatch struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
}

func startWatch(ctx context.Context, root, url string) (*cliWatch, error) {
	out := filepath.Join(os.TempDir(), fmt.Sprintf("pilot-bench-watch-%d.jsonl", os.Getpid()))
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "python3", "-m", "pilot.cli", "watch", "--json", url)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(root, "python"))
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start pilot-cli watch: %w", err)
	}
	f.Close()
	w := &cliWatch{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(w.done) }()
	for t0 := time.Now(); w.lines() == 0; time.Sleep(10 * time.Millisecond) { // attached
		if time.Since(t0) > time.Minute {
			w.stop()
			return nil, fmt.Errorf("pilot-cli watch printed nothing within a minute")
		}
	}
	return w, nil
}

// stop ends the watch (it would run on: the service's pilot lives on).
func (w *cliWatch) stop() {
	w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
	}
}

func (w *cliWatch) lines() int {
	b, _ := os.ReadFile(w.out)
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
