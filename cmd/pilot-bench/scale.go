package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
)

var (
	flagCPUUnits    = flag.Int("cpu-units", 10000, "/bin/true units of the agent_cpu_per_unit case (no-exec: 10 x)")
	flagManyPilots  = flag.Int("many-pilots", 16, "no-exec pilots of the many_pilots case")
	flagManyUnits   = flag.Int("many-units", 1000000, "units of the many_pilots case")
	flagMillionWait = flag.Int("million-wait-units", 1000000, "units of the million_wait case")
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTicks = 100

// processCPU is the CPU time, in seconds, that process pid has used
// (user + system), from /proc/<pid>/stat.
func processCPU(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %q", pid, b)
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / clockTicks, nil
}

// agentCPU measures the agent's own CPU time (its children's excluded) per
// unit: /bin/true units on a 2-slot fork pilot, and no-exec units.
func agentCPU(ctx context.Context, o core.Options) (result, error) {
	r := result{"baseline": "spawn_floor: this process starting the same number of /bin/true processes itself, " +
		"2 at a time, as the agent does but reaped on the same thread, with nothing else to do (its own CPU per process)",
		"goal": "exec_us_per_unit <= 50 (20,000 units/s from one agent)"}
	floor, err := spawnFloor(*flagCPUUnits)
	if err != nil {
		return nil, fmt.Errorf("spawn floor: %w", err)
	}
	r["spawn_floor_us_per_unit"] = round2(floor)
	for _, c := range []struct {
		name   string
		noExec bool
		n      int
	}{{"exec", false, *flagCPUUnits}, {"no_exec", true, 10 * *flagCPUUnits}} {
		_, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, c.noExec)
		if err != nil {
			return nil, err
		}
		d, err := p.Details(ctx)
		if err == nil {
			_, err = runAll(ctx, p, units(200, core.UnitDescription{Executable: "/bin/true"})) // warm up
		}
		var before, after float64
		if err == nil {
			before, err = processCPU(d["agent_pid"])
		}
		var took time.Duration
		if err == nil {
			took, err = runAll(ctx, p, units(c.n, core.UnitDescription{Executable: "/bin/true"}))
		}
		if err == nil {
			after, err = processCPU(d["agent_pid"])
		}
		closeAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		us := (after - before) / float64(c.n) * 1e6
		r[c.name+"_units"] = c.n
		r[c.name+"_us_per_unit"] = round2(us)
		r[c.name+"_ceiling_units_per_s"] = round(1e6 / us)
		r[c.name+"_units_per_s"] = round(float64(c.n) / took.Seconds())
		if !c.noExec {
			r["exec_over_spawn_floor"] = round2(us / floor)
		}
	}
	return r, nil
}

// spawnFloor is this process's own CPU time, in µs, per /bin/true process
// that it starts as the agent starts a unit (os.StartProcess, a process
// group of its own, /dev/null in, a file out) and reaps on the same thread,
// two at a time: what starting a process costs a Go program on this machine
// before any bookkeeping.
func spawnFloor(n int) (float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	out, err := os.CreateTemp("", "spawn-floor-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	attr := &os.ProcAttr{Dir: os.TempDir(), Env: os.Environ(), Files: []*os.File{devnull, out, out},
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	var running []*os.Process
	reap := func() error {
		_, err := running[0].Wait()
		running = running[1:]
		return err
	}
	before := selfCPU()
	for i := 0; i < n; i++ {
		if len(running) == 2 {
			if err := reap(); err != nil {
				return 0, err
			}
		}
		p, err := os.StartProcess("/bin/true", []string{"/bin/true"}, attr)
		if err != nil {
			return 0, err
		}
		running = append(running, p)
	}
	for len(running) > 0 {
		if err := reap(); err != nil {
			return 0, err
		}
	}
	return (selfCPU() - before).Seconds() * 1e6 / float64(n), nil
}

// selfCPU is the CPU time this process has used, all its threads (it is
// otherwise idle while spawnFloor runs).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisStats is what a redis-server reports of its own work.
type redisStats struct {
	cpu   float64          // used_cpu_user + used_cpu_sys, seconds
	calls map[string]int64 // per command, scripts' inner commands included
	usec  map[string]int64
}

func readRedisStats(ctx context.Context, rdb *redis.Client) (redisStats, error) {
	st := redisStats{calls: map[string]int64{}, usec: map[string]int64{}}
	info, err := rdb.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		switch {
		case k == "used_cpu_user" || k == "used_cpu_sys":
			f, _ := strconv.ParseFloat(v, 64)
			st.cpu += f
		case strings.HasPrefix(k, "cmdstat_"):
			cmd := strings.TrimPrefix(k, "cmdstat_")
			for _, kv := range strings.Split(v, ",") {
				name, val, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(val, 10, 64)
				switch name {
				case "calls":
					st.calls[cmd] = n
				case "usec":
					st.usec[cmd] = n
				}
			}
		}
	}
	return st, nil
}

// manyPilots runs -many-units no-exec units through one service queue
// taken by -many-pilots no-exec pilots, and reports the rate from the
// first submit to the wait's return with the store's work per unit.
func manyPilots(ctx context.Context, o core.Options) (result, error) {
	n, np := *flagManyUnits, *flagManyPilots
	s, dir, closeAll, err := benchService(ctx, o, *flagWorkdir)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	for range np {
		if _, err := runningPilot(ctx, s, dir, 2, true); err != nil {
			return nil, err
		}
	}
	if _, err := s.SubmitBulk(ctx, units(1000, core.UnitDescription{Executable: "/bin/true"})); err != nil {
		return nil, err
	}
	if err := s.Wait(ctx); err != nil { // warm up
		return nil, err
	}
	opt, err := redis.ParseURL(o.CoordinationURL)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	before, err := readRedisStats(ctx, rdb)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if _, err := s.SubmitBulk(ctx, units(n, core.UnitDescription{Executable: "/bin/true"})); err != nil {
		return nil, err
	}
	if err := s.Wait(ctx); err != nil {
		return nil, err
	}
	d := time.Since(t0)
	after, err := readRedisStats(ctx, rdb)
	if err != nil {
		return nil, err
	}
	perUnit := func(v float64) float64 { return round2(v / float64(n)) }
	var commands, scripts int64
	for cmd, c := range after.calls {
		commands += c - before.calls[cmd]
	}
	scripts = after.calls["evalsha"] - before.calls["evalsha"]
	return result{
		"units": n, "pilots": np, "mode": "no_exec", "seconds": round2(d.Seconds()),
		"units_per_s":                round(float64(n) / d.Seconds()),
		"redis_cpu_us_per_unit":      perUnit((after.cpu - before.cpu) * 1e6),
		"redis_script_us_per_unit":   perUnit(float64(after.usec["evalsha"] - before.usec["evalsha"])),
		"redis_commands_per_unit":    perUnit(float64(commands)),
		"script_calls_per_unit":      perUnit(float64(scripts)),
		"redis_round_trips_per_unit": perUnit(float64(commands - innerCommands(before, after))),
		"baseline":                   "none",
		"goal":                       "units_per_s >= 50000",
	}, nil
}

// innerCommands counts the commands the scripts ran (those the clients do
// not send themselves), so that the rest are round trips.
func innerCommands(before, after redisStats) int64 {
	var n int64
	for _, cmd := range []string{"hset", "hmget", "hget", "hincrby", "sadd", "srem", "expire", "exists", "xadd",
		"xack", "xdel", "incr", "ttl", "del", "smembers", "xlen", "xrange", "xpending", "xgroup|create", "rpush"} {
		n += after.calls[cmd] - before.calls[cmd]
	}
	// the scripts' own XREADGROUP (claims read without blocking) is inner too
	// but indistinguishable from the agents' blocking reads: counted as a
	// round trip
	return n
}

// millionWait submits -million-wait-units no-exec units, half through a
// data service and half to a pilot, in batches of 10,000 while waits of each
// kind run in 1 s slices (as Python's do, picking up the units submitted
// meanwhile), and measures for each wait the time from the end of the last
// unit it waits for to its return.
func millionWait(ctx context.Context, o core.Options) (result, error) {
	n := *flagMillionWait
	s, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, true)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	for range 3 { // more pilots take the service queue
		q, err := s.CreatePilot(ctx, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 2,
			WorkingDirectory: os.TempDir(), NoExec: true, Walltime: 60})
		if err != nil {
			return nil, err
		}
		q.WaitState(ctx, core.Running)
	}
	cds := core.NewDataService()
	cds.AddService(s)
	var svcUnits, own []*core.Unit
	var submitErr error
	svcIn, allIn := make(chan struct{}), make(chan struct{}) // the data service's units are in; all are
	go func() {
		defer close(allIn)
		defer func() {
			select {
			case <-svcIn:
			default:
				close(svcIn)
			}
		}()
		for done := 0; done < n; done += 10000 {
			if done >= n/2 && len(own) == 0 {
				close(svcIn)
			}
			k := min(10000, n-done)
			var us []*core.Unit
			var err error
			if done < n/2 {
				us, err = cds.SubmitBulk(ctx, units(k, core.UnitDescription{Executable: "/bin/true"}))
				svcUnits = append(svcUnits, us...)
			} else {
				us, err = p.SubmitBulk(ctx, units(k, core.UnitDescription{Executable: "/bin/true"}))
				own = append(own, us...)
			}
			if err != nil {
				submitErr = err
				return
			}
		}
	}()
	waits := map[string]func(context.Context) error{
		"data_service": cds.Wait, "service": s.Wait, "pilot": p.Wait,
		"unit": func(ctx context.Context) error {
			select {
			case <-svcIn:
			case <-ctx.Done():
				return ctx.Err()
			}
			_, err := svcUnits[len(svcUnits)-1].Wait(ctx)
			return err
		},
	}
	in := map[string]chan struct{}{"data_service": svcIn, "unit": svcIn, "service": allIn, "pilot": allIn}
	returned := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(waits))
	for name, wait := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				complete := false // the call began after all its units were submitted
				select {
				case <-in[name]:
					complete = true
				default:
				}
				sctx, cancel := context.WithTimeout(ctx, time.Second)
				err := wait(sctx)
				cancel()
				if !complete && (err == nil || errors.Is(err, context.DeadlineExceeded)) {
					continue // units are still coming
				}
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("%s wait: %w", name, err)
					return
				}
				mu.Lock()
				returned[name] = time.Now()
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	<-allIn
	if submitErr != nil {
		return nil, submitErr
	}
	if err := <-errs; err != nil {
		return nil, err
	}
	// each wait against the end of the last unit it waits for
	ends := map[string][]*core.Unit{"data_service": svcUnits, "pilot": own, "service": append(svcUnits, own...),
		"unit": svcUnits[len(svcUnits)-1:]}
	r := result{"units": n, "pilots": 4, "mode": "no_exec", "wait_slice_s": 1,
		"baseline": "the end_time of the last unit the wait waits for",
		"goal":     "every wait returns promptly after the last unit ends, at any number of units"}
	for name, at := range returned {
		last, err := lastEnd(ctx, o, s.ID(), ends[name])
		if err != nil {
			return nil, err
		}
		r[name+"_wait_ms_after_last_end"] = round2(float64(at.Sub(last).Microseconds()) / 1000)
	}
	return r, nil
}

// lastEnd reads every unit's end_time and returns the latest.
func lastEnd(ctx context.Context, o core.Options, service string, us []*core.Unit) (time.Time, error) {
	opt, err := redis.ParseURL(o.CoordinationURL)
	if err != nil {
		return time.Time{}, err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	k := coord.ServiceKeys(service)
	last := 0.0
	for i := 0; i < len(us); i += 10000 {
		pipe := rdb.Pipeline()
		var cmds []*redis.StringCmd
		for _, u := range us[i:min(i+10000, len(us))] {
			cmds = append(cmds, pipe.HGet(ctx, k.Unit(u.ID()), "end_time"))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return time.Time{}, fmt.Errorf("read end times: %w", err)
		}
		for _, c := range cmds {
			f, _ := strconv.ParseFloat(c.Val(), 64)
			last = max(last, f)
		}
	}
	return time.Unix(0, int64(last*1e9)), nil
}

var (
	flagWideSlots = flag.Int("wide-slots", 0, "slots of the wide_pilot case (0: one per CPU)")
	flagWideUnits = flag.Int("wide-units", 40000, "units of the wide_pilot case")
)

// widePilot runs /bin/true units on one fork pilot with a slot per CPU,
// against as many independent `xargs -P1 -n1 true` processes sharing the
// same units, in rounds of baseline then pilot; the ratio is the median of
// the rounds'.
func widePilot(ctx context.Context, o core.Options) (result, error) {
	slots, n := *flagWideSlots, *flagWideUnits
	if slots == 0 {
		slots = runtime.NumCPU()
	}
	_, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, slots, false)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	if _, err := runAll(ctx, p, units(200, core.UnitDescription{Executable: "/bin/true"})); err != nil {
		return nil, err
	}
	var pilotRates, baseRates, ratios []float64
	for range *flagRounds {
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, slots)
		for i := range slots {
			k := n/slots + min(1, max(0, n%slots-i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.CommandContext(ctx, "xargs", "-P1", "-n1", "true")
				cmd.Stdin = strings.NewReader(strings.Repeat("x\n", k))
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("xargs: %v: %s", err, out)
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
		baseRates = append(baseRates, float64(n)/time.Since(t0).Seconds())
		d, err := runAll(ctx, p, units(n, core.UnitDescription{Executable: "/bin/true"}))
		if err != nil {
			return nil, err
		}
		pilotRates = append(pilotRates, float64(n)/d.Seconds())
		ratios = append(ratios, pilotRates[len(pilotRates)-1]/baseRates[len(baseRates)-1])
	}
	return result{
		"units": n, "slots": slots, "rounds": *flagRounds,
		"pilot_units_per_s":    round(median(pilotRates)),
		"baseline":             fmt.Sprintf("%d independent xargs -P1 -n1 true over the same units", slots),
		"baseline_units_per_s": round(median(baseRates)),
		"ratio":                round2(median(ratios)),
		"round_ratios":         roundAll2(ratios),
		"goal":                 "ratio >= 0.8",
	}, nil
}
