package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/coord/userstore"
	"github.com/bigjob-go/bigjob/core"
)

var (
	flagCDSUnits   = flag.Int("cds-units", 10000, "units of the cds_throughput case")
	flagSeedUnits  = flag.Int("seed-units", 1000, "NUMBER_JOBS of the seed case's copy of examples/example.py")
	flagSeedRounds = flag.Int("seed-rounds", 5, "runs of the seed case on each store, taken in turn; the median counts")
	flagPeerUnits  = flag.Int("peer-units", 10000, "tasks of the peers case")
	flagVenv       = flag.String("venv", "build/bench-venv", "virtual environment with parsl and dask for the peers case (make bench creates it)")
)

// scriptLines runs argv in the source tree with env added and parses each
// line it prints as a JSON result.
func scriptLines(ctx context.Context, env []string, argv ...string) ([]result, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+filepath.Join(root, "python")), env...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	var out []result
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s printed %q: %w", argv[1], line, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// cdsThroughput runs bench/cds_throughput.py: the seed's path, one call at
// a time, against the pilot path and xargs.
func cdsThroughput(ctx context.Context, o core.Options) ([]result, error) {
	return scriptLines(ctx, nil, "python3", "bench/cds_throughput.py", o.CoordinationURL,
		strconv.Itoa(*flagCDSUnits), strconv.Itoa(*flagRounds), *flagWorkdir)
}

// peers runs bench/peers.py with the interpreter of the bench's virtual
// environment (Parsl and Dask on the same tasks).
func peers(ctx context.Context, o core.Options) ([]result, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	venv := *flagVenv
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(root, venv)
	}
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return nil, fmt.Errorf("no virtual environment at %s: make bench creates it (scripts/bench-venv.sh)", venv)
	}
	run, err := os.MkdirTemp("", "pilot-bench-parsl-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(run)
	return scriptLines(ctx, []string{"PATH=" + filepath.Join(venv, "bin") + ":" + os.Getenv("PATH")},
		py, "bench/peers.py", strconv.Itoa(*flagPeerUnits), strconv.Itoa(*flagLat/2), run)
}

// seed runs a copy of examples/example.py (the seed every user starts
// with) with only NUMBER_JOBS changed, on a real redis-server at the URL
// it names (localhost:6379), then with nothing there: on the lasting local
// store the script starts, and on that store once it runs.
func seed(ctx context.Context, _ core.Options) ([]result, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(filepath.Join(root, "examples", "example.py"))
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`(?m)^NUMBER_JOBS=\d+`)
	if !re.Match(src) {
		return nil, errors.New("examples/example.py has no NUMBER_JOBS line")
	}
	dir, err := os.MkdirTemp("", "pilot-bench-seed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "example.py")
	if err := os.WriteFile(script, re.ReplaceAll(src, []byte("NUMBER_JOBS="+strconv.Itoa(*flagSeedUnits))), 0o644); err != nil {
		return nil, err
	}
	if listening("127.0.0.1:6379") {
		return nil, errors.New("something listens on localhost:6379 already: the seed case needs the port")
	}
	// The script's home is dir: its lasting local store lives in
	// dir/.bigjob/store, stopped before dir goes, and before each run that
	// measures the script starting it.
	store := filepath.Join(dir, ".bigjob", "store")
	defer userstore.Stop(context.Background(), store)
	run := func(coordination string) (time.Duration, error) {
		switch coordination {
		case seedOnRedis:
			stop, err := redisOn6379(ctx, dir)
			if err != nil {
				return 0, err
			}
			defer stop()
		case seedStartingStore:
			if err := userstore.Stop(ctx, store); err != nil {
				return 0, err
			}
		}
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, "python3", script)
		cmd.Dir = dir
		cmd.Env = append(environWithout("PYTHONPATH", "HOME", userstore.EnvHome), "PYTHONPATH="+filepath.Join(root, "python"), "HOME="+dir)
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("seed on %s: %v: %s", coordination, err, b)
		}
		return time.Since(t0), nil
	}
	// Short runs on a shared machine: rounds in turn, the median of each.
	kinds := []string{seedOnRedis, seedStartingStore, seedRunningStore}
	took := map[string][]time.Duration{}
	for range *flagSeedRounds {
		for _, k := range kinds {
			d, err := run(k)
			if err != nil {
				return nil, err
			}
			took[k] = append(took[k], d)
		}
	}
	var out []result
	secs := func(k string) float64 {
		var fs []float64
		for _, d := range took[k] {
			fs = append(fs, d.Seconds())
		}
		return median(fs)
	}
	onRedis := secs(seedOnRedis)
	for _, k := range kinds {
		d := secs(k)
		r := result{"case": "seed", "coordination": k, "units": *flagSeedUnits, "rounds": *flagSeedRounds,
			"script_seconds": round2(d), "units_per_s": round(float64(*flagSeedUnits) / d),
			"note":     "the whole script, median of the rounds: interpreter start, pilot start, submission one call at a time, cds.wait(), cancel",
			"baseline": "none", "goal": "units_per_s >= 1000"}
		if k != seedOnRedis {
			r["baseline"] = "the same script on the redis-server, same rounds"
			r["ratio"] = round2(onRedis / d)
			r["goal"] = "units_per_s >= 1000; ratio >= 0.8"
		}
		out = append(out, r)
	}
	return out, nil
}

// The seed case's coordination stores.
const (
	seedOnRedis       = "redis-server on localhost:6379"
	seedStartingStore = "local store, started by the script"
	seedRunningStore  = "local store, running"
)

// environWithout is this process's environment without the variables names.
func environWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// redisOn6379 starts a redis-server on localhost:6379 for the seed case.
func redisOn6379(ctx context.Context, dir string) (stop func(), err error) {
	cmd := exec.CommandContext(ctx, "redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server on 6379: %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); !listening("127.0.0.1:6379"); {
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("redis-server on 6379 did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop, nil
}
