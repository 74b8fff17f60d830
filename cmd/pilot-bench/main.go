// Command pilot-bench measures the figures the project's issues ask for and
// prints one JSON line per case, each with the baseline it is compared with,
// measured in the same run:
//
//	throughput     N /bin/true units on a 2-slot fork pilot, first submit to
//	               last Done, against `xargs -P2 -n1 true` over N lines; the
//	               pilot's sandboxes on tmpfs (-workdir, default /dev/shm)
//	throughput_disk  the same with the sandboxes in the temporary directory
//	control_plane  N units in no-exec mode through a real redis-server
//	latency        one /bin/true unit at a time on an idle pilot, submit to
//	               Done as the caller sees it: p50 and p99
//	memory         peak RSS of the agent and of the submitting process with
//	               N units queued
//	python         N units from Python 3 and 2.7, one submit_compute_unit
//	               call at a time and in one bulk call (bench/python_submit.py),
//	               and BigJob's tests/performance/throughput.py pattern: 128
//	               /bin/date units on a 16-slot pilot (bench/throughput.py)
//	soak           (make soak) 1,000,000 no-exec units through one service,
//	               50,000 at a time: agent and manager RSS and Redis keys
//	               after each round, the middle against the end
//	startup        create_pilot to the first unit running on fork://, ssh://
//	               (a private sshd) and slurm:// (make services), against
//	               starting a process, ssh host true, and a bare sbatch job
//	cds_throughput N /bin/true units through ComputeDataService, one call at
//	               a time (bench/cds_throughput.py), against the pilot path
//	               and xargs -P2
//	agent_cpu_per_unit  the agent's own CPU time per /bin/true and no-exec
//	               unit (/proc), and the rate one core could sustain at it,
//	               against this process starting the same processes itself
//	               (the spawn floor)
//	many_pilots    1,000,000 no-exec units through one service queue, 16
//	               pilots: units/s, and Redis's CPU, commands and round trips
//	               per unit (INFO cpu, commandstats)
//	million_wait   1,000,000 no-exec units: from the last unit's end to the
//	               return of a unit's, a pilot's, a service's and a data
//	               service's wait
//	seed           examples/example.py with NUMBER_JOBS=1000, on a
//	               redis-server at localhost:6379 and, with nothing there, on
//	               the lasting local store (started by the script; running)
//	peers          Parsl (HTEX) and Dask on the same /bin/true tasks, from
//	               build/bench-venv (bench/peers.py)
//	data_staging   a data unit staged into a sandbox (as the agent stages
//	               input_data) from a file:// Pilot-Data against cp -r, and
//	               from an ssh:// one (a private sshd, the system's ssh as
//	               the agent uses it) against scp -r: 1,000 files of 4 KiB
//	               (-data-files), and one of 1 GiB (-data-mib); and placing
//	               them (submit_data_unit) against cp -r / scp -r into it
//	report         the run report (Service.Report to a file) of 100,000
//	               finished units on 4 pilots, against reading the same
//	               records only
//	watch_cost     10,000 /bin/true units on a 2-slot pilot with and without
//	               pilot-cli watch --json following the service (python3)
//	wide_pilot     (not in the default -cases) one fork pilot with a slot per
//	               CPU against as many independent xargs -P1 -n1 true
//
// Each case runs on a fresh private redis-server (so that no case measures
// what an earlier one left in the store), unless -redis names a server.
// Usage:
//
//	pilot-bench [-cases throughput,control_plane,latency,memory] [-redis URL]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
	_ "github.com/bigjob-go/bigjob/coord/embedded"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/redisserver"
	_ "github.com/bigjob-go/bigjob/storage/pluginstore"
	// Pilot-Data on other hosts as the agent reaches them: the system's ssh
	_ "github.com/bigjob-go/bigjob/storage/sshcmd"
)

var (
	flagCases = flag.String("cases", "throughput,throughput_disk,control_plane,latency,memory,python,startup,plugins,"+
		"cds_throughput,agent_cpu_per_unit,many_pilots,million_wait,seed,peers,data_staging,report,watch_cost", "cases to run, comma-separated")
	flagPyUnits     = flag.Int("python-units", 10000, "units of the Python submission cases")
	flagRedis       = flag.String("redis", "", "coordination URL of a running Redis (default: start a private redis-server)")
	flagUnits       = flag.Int("throughput-units", 10000, "units of the throughput case")
	flagCtl         = flag.Int("control-units", 100000, "units of the control-plane case")
	flagLat         = flag.Int("latency-units", 200, "units of the latency case")
	flagMem         = flag.Int("memory-units", 100000, "queued units of the memory case")
	flagStartRounds = flag.Int("startup-rounds", 5, "rounds of the startup cases (pilot, then baseline)")
	flagRounds      = flag.Int("rounds", 3, "rounds of the throughput cases (baseline and pilot back to back)")
	flagWorkdir     = flag.String("workdir", defaultWorkdir(), "directory for the pilots' working directories")
	flagChild       = flag.String("child", "", "internal: run as the submitting child of the memory case")
	flagChildPD     = flag.String("pilot", "", "internal: pilot URL for -child")
	flagDataFiles   = flag.Int("data-files", 1000, "small files (4 KiB) of the data_staging case")
	flagDataMiB     = flag.Int("data-mib", 1024, "size in MiB of the big file of the data_staging case")
	flagCPUProfile  = flag.String("cpuprofile", "", "write this process's CPU profile (runtime/pprof) to the file")
)

// result is one JSON line.
type result map[string]any

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("pilot-bench: ")
	if *flagCPUProfile != "" {
		f, err := os.Create(*flagCPUProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *flagChild != "" {
		if err := memoryChild(*flagChildPD, *flagMem); err != nil {
			log.Fatal(err)
		}
		return
	}
	cases := map[string]func(context.Context, core.Options) (result, error){
		"throughput":         func(ctx context.Context, o core.Options) (result, error) { return throughput(ctx, o, *flagWorkdir) },
		"throughput_disk":    func(ctx context.Context, o core.Options) (result, error) { return throughput(ctx, o, os.TempDir()) },
		"control_plane":      controlPlane,
		"latency":            latency,
		"memory":             memory,
		"soak":               soak, // make soak; not in the default -cases
		"agent_cpu_per_unit": agentCPU,
		"many_pilots":        manyPilots,
		"million_wait":       millionWait,
		"wide_pilot":         widePilot, // one pilot with a slot per CPU; on the 16-core device machine
		"report":             reportCase,
		"watch_cost":         watchCost,
	}
	multi := map[string]func(context.Context, core.Options) ([]result, error){
		"python":         pythonCases,
		"startup":        startupCases,
		"plugins":        pluginCases,
		"cds_throughput": cdsThroughput,
		"peers":          peers,
		"seed":           seed,
		"data_staging":   dataStaging,
	}
	host, _ := os.Hostname()
	for _, name := range strings.Split(*flagCases, ",") {
		url, store, stop := storeFor(name)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		var rs []result
		var err error
		switch f, g := cases[name], multi[name]; {
		case f != nil:
			var r result
			if r, err = f(ctx, core.Options{CoordinationURL: url}); err == nil {
				r["case"] = name
				rs = []result{r}
			}
		case g != nil:
			rs, err = g(ctx, core.Options{CoordinationURL: url})
		default:
			log.Fatalf("unknown case %q", name)
		}
		cancel()
		stop()
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		for _, r := range rs {
			r["store"] = store
			r["date"] = time.Now().UTC().Format(time.RFC3339)
			r["host"] = host
			r["cpus"] = runtime.NumCPU()
			enc := json.NewEncoder(os.Stdout)
			enc.SetEscapeHTML(false)
			enc.Encode(r)
		}
	}
}

// storeFor returns the coordination URL for a case: -redis, or a fresh
// private redis-server that stop removes.
func storeFor(name string) (url, store string, stop func()) {
	if *flagRedis != "" {
		return *flagRedis, "redis-server (given)", func() {}
	}
	dir, err := os.MkdirTemp("", "pilot-bench-redis-*")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := redisserver.Start(dir)
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	return srv.URL, "private redis-server, fresh for this case", func() {
		srv.Stop()
		os.RemoveAll(dir)
	}
}

// defaultWorkdir is /dev/shm (tmpfs, like node-local scratch) when there is
// one, else the temporary directory.
func defaultWorkdir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// pilotFor makes a service with one fork pilot of n slots, its working
// directory under workdir, and waits for it to run. close cancels everything
// and removes the working directory.
func pilotFor(ctx context.Context, o core.Options, workdir string, n int, noExec bool) (*core.Service, *core.Pilot, func(), error) {
	s, dir, closeAll, err := benchService(ctx, o, workdir)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := runningPilot(ctx, s, dir, n, noExec)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return s, p, closeAll, nil
}

// benchService makes a service and a working directory for its pilots under
// workdir. close cancels the service, closes it and removes the directory.
func benchService(ctx context.Context, o core.Options, workdir string) (s *core.Service, dir string, close func(), err error) {
	s, err = core.NewService(ctx, o)
	if err != nil {
		return nil, "", nil, err
	}
	dir, err = os.MkdirTemp(workdir, "pilot-bench-*")
	if err != nil {
		s.Close()
		return nil, "", nil, err
	}
	close = func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.Cancel(cctx)
		s.Close()
		os.RemoveAll(dir)
	}
	return s, dir, close, nil
}

// runningPilot creates a fork pilot of n slots in dir and waits until it
// runs.
func runningPilot(ctx context.Context, s *core.Service, dir string, n int, noExec bool) (*core.Pilot, error) {
	p, err := s.CreatePilot(ctx, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: n,
		WorkingDirectory: dir, NoExec: noExec, Walltime: 60})
	if err != nil {
		return nil, err
	}
	st, err := p.WaitState(ctx, core.Running)
	if err == nil && st != core.Running {
		err = fmt.Errorf("pilot is %s", st)
	}
	return p, err
}

func units(n int, ud core.UnitDescription) []core.UnitDescription {
	out := make([]core.UnitDescription, n)
	for i := range out {
		out[i] = ud
	}
	return out
}

// runAll submits the units in bulk to the pilot and waits for all of them;
// it returns the time from the first submit to the last Done.
func runAll(ctx context.Context, p *core.Pilot, uds []core.UnitDescription) (time.Duration, error) {
	t0 := time.Now()
	if _, err := p.SubmitBulk(ctx, uds); err != nil {
		return 0, err
	}
	if err := p.Wait(ctx); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}
