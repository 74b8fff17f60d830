package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/redis/go-redis/v9"
)

var (
	flagSoakUnits = flag.Int("soak-units", 1000000, "units of the soak case")
	flagSoakRound = flag.Int("soak-round", 50000, "units submitted (then waited for) at a time in the soak case")
	flagSoakTTL   = flag.Duration("soak-finished-ttl", 10*time.Second, "Options.FinishedTTL of the soak case")
)

// soak runs -soak-units no-exec units through one service (its queue, one
// 2-slot pilot), -soak-round at a time, and samples after every round the
// RSS of the agent and of this (managing) process and the number of keys
// and bytes in Redis. Flat means: the figures at the end are those of the
// middle, not twice them.
func soak(ctx context.Context, o core.Options) (result, error) {
	n, round := *flagSoakUnits, *flagSoakRound
	o.FinishedTTL = *flagSoakTTL
	s, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, true)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	d, err := p.Details(ctx)
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(o.CoordinationURL)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	self := strconv.Itoa(os.Getpid())
	var samples []result
	t0 := time.Now()
	for done := 0; done < n; {
		k := min(round, n-done)
		if _, err := s.SubmitBulk(ctx, units(k, core.UnitDescription{Executable: "/bin/true"})); err != nil {
			return nil, fmt.Errorf("after %d units: %w", done, err)
		}
		if err := s.Wait(ctx); err != nil {
			return nil, fmt.Errorf("after %d units: %w", done, err)
		}
		done += k
		runtime.GC() // what the manager keeps, not what it has not collected yet
		agentRSS, err := statusMB(d["agent_pid"], "VmRSS")
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		selfRSS, err := statusMB(self, "VmRSS")
		if err != nil {
			return nil, err
		}
		keys, err := rdb.DBSize(ctx).Result()
		if err != nil {
			return nil, err
		}
		info, err := rdb.InfoMap(ctx, "memory").Result()
		if err != nil {
			return nil, err
		}
		evKey := coord.ServiceKeys(s.ID()).Events()
		evBytes, err := rdb.MemoryUsage(ctx, evKey, 0).Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		evLen, err := rdb.XLen(ctx, evKey).Result()
		if err != nil {
			return nil, err
		}
		samples = append(samples, result{
			"units_done": done, "seconds": round2(time.Since(t0).Seconds()),
			"agent_rss_mb": round2(agentRSS), "manager_rss_mb": round2(selfRSS),
			"redis_keys": keys, "redis_used_mb": round2(atof(info["Memory"]["used_memory"]) / 1048576),
			"event_stream_mb": round2(float64(evBytes) / 1048576), "event_entries": evLen,
		})
	}
	mid, end := samples[(len(samples)-1)/2], samples[len(samples)-1]
	return result{
		"units": n, "round": round, "finished_ttl_s": o.FinishedTTL.Seconds(),
		"units_per_s": round2(float64(n) / time.Since(t0).Seconds()),
		"middle":      mid, "end": end, "samples": samples,
		"baseline": "the middle sample (after half the units): flat means end ≈ middle",
		"goal":     "agent and manager RSS and Redis keys flat at the end",
	}, nil
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
