package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
)

var (
	flagPluginsDir  = flag.String("plugins-dir", "bin/plugins", "where make plugins put the example plugins")
	flagLoadRounds  = flag.Int("plugin-load-rounds", 5, "rounds of the plugin load cases")
	flagHookCalls   = flag.Int("hook-calls", 5000, "calls of the hook call cases")
	flagHookedUnits = flag.Int("hooked-units", 2000, "units of the hooked-pilot case")
)

// pluginCases measures what plugins cost: loading one (cold: compiled
// anew; cached: from the on-disk compilation cache, as a second process
// does; and on libpilot's interpreter), a hook call as the agent makes it
// (plugins.Hooks on the compiler engine, the agent's code path), and the
// cost per unit of two hooks in a real fork pilot, against the same pilot
// without hooks in the same run.
func pluginCases(ctx context.Context, o core.Options) ([]result, error) {
	manifest := func(name string) string { return filepath.Join(*flagPluginsDir, name, "plugin.json") }
	var out []result
	for _, name := range []string{"allowlist", "outputs"} {
		r, err := pluginLoad(ctx, manifest(name))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
		out = append(out, r)
	}
	r, err := hookCalls(ctx, manifest("allowlist"), manifest("outputs"))
	if err != nil {
		return nil, err
	}
	out = append(out, r...)
	hooked, err := hookedPilot(ctx, o, manifest("allowlist"), manifest("outputs"))
	if err != nil {
		return nil, err
	}
	return append(out, hooked), nil
}

// loadOnce loads manifest into a new host and returns how long it took.
func loadOnce(ctx context.Context, manifest string, o plugins.HostOptions) (time.Duration, error) {
	h := plugins.NewHost(o)
	defer h.Close(context.Background())
	t0 := time.Now()
	_, err := h.Load(ctx, manifest)
	return time.Since(t0), err
}

func pluginLoad(ctx context.Context, manifest string) (result, error) {
	b, err := plugins.ReadBundle(manifest)
	if err != nil {
		return nil, err
	}
	var cold, cached, interp []float64
	for range *flagLoadRounds {
		dir, err := os.MkdirTemp("", "pilot-bench-wasm-cache-*")
		if err != nil {
			return nil, err
		}
		c := plugins.HostOptions{Engine: plugins.EngineCompiler, CacheDir: dir}
		d1, err1 := loadOnce(ctx, manifest, c)
		d2, err2 := loadOnce(ctx, manifest, c)
		d3, err3 := loadOnce(ctx, manifest, plugins.HostOptions{Engine: plugins.EngineInterpreter})
		os.RemoveAll(dir)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, err
		}
		cold, cached, interp = append(cold, ms(d1)), append(cached, ms(d2)), append(interp, ms(d3))
	}
	return result{
		"case": "plugin_load", "plugin": filepath.Base(filepath.Dir(manifest)), "module_bytes": len(b.Module),
		"rounds":         *flagLoadRounds,
		"cold_ms":        median(cold),
		"cached_ms":      median(cached),
		"interpreter_ms": median(interp),
		"baseline":       "cold load (compiler, empty compilation cache) in the same round",
		"ratio":          round2(median(cached) / median(cold)),
		"what":           "verify sha256, compile, instantiate, check ABI and exports (compiler: agent; interpreter: libpilot)",
	}, nil
}

// hookCalls times pre_unit calls of the allowlist (Go) and post_unit calls
// of outputs (C) through plugins.Hooks, the agent's path, with a unit like
// the seed example's; the baseline is starting /bin/true, what the agent
// does next for each unit.
func hookCalls(ctx context.Context, allowlist, outputs string) ([]result, error) {
	h := plugins.NewHost(plugins.HostOptions{Engine: plugins.EngineCompiler, CacheDir: "off"})
	defer h.Close(context.Background())
	dir, err := os.MkdirTemp("", "pilot-bench-hook-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "stdout.txt"), []byte("x"), 0o644); err != nil {
		return nil, err
	}
	unit := abi.Unit{ID: "cu-1", PilotID: "bj-1", Executable: "/bin/echo",
		Arguments: []string{"Hello", "$ENV1", "I am CU number 1"}, Environment: []string{"ENV1=World"},
		WorkingDirectory: dir, Description: map[string]any{"executable": "/bin/echo", "expected_outputs": []any{"stdout.txt"}}}
	var base []float64
	for range 200 {
		d, err := execTrue(ctx)
		if err != nil {
			return nil, err
		}
		base = append(base, float64(d.Nanoseconds())/1000)
	}
	var out []result
	for _, c := range []struct {
		name, manifest string
		call           func(*plugins.Hooks) error
	}{
		{"hook_pre_unit allowlist (Go)", allowlist, func(hk *plugins.Hooks) error {
			if _, v := hk.Pre(ctx, unit); v != nil {
				return fmt.Errorf("%s", v.Message)
			}
			return nil
		}},
		{"hook_post_unit outputs (C)", outputs, func(hk *plugins.Hooks) error {
			if v := hk.Post(ctx, abi.PostUnitRequest{State: "Done", Unit: unit}); v != nil {
				return fmt.Errorf("%s", v.Message)
			}
			return nil
		}},
	} {
		p, err := h.Load(ctx, c.manifest)
		if err != nil {
			return nil, err
		}
		hk, err := plugins.NewHooks([]*plugins.Plugin{p})
		if err != nil {
			return nil, err
		}
		if err := c.call(hk); err != nil { // warm: instance made
			return nil, err
		}
		us := make([]float64, *flagHookCalls)
		for i := range us {
			t0 := time.Now()
			if err := c.call(hk); err != nil {
				return nil, err
			}
			us[i] = float64(time.Since(t0).Nanoseconds()) / 1000
		}
		out = append(out, result{
			"case": "hook_call", "hook": c.name, "calls": len(us), "engine": "compiler (as in the agent)",
			"p50_us": round2(percentile(us, 50)), "p90_us": round2(percentile(us, 90)), "p99_us": round2(percentile(us, 99)),
			"baseline": "fork and exec of /bin/true (what the agent does next)", "baseline_p50_us": round2(percentile(base, 50)),
			"ratio": round2(percentile(us, 50) / percentile(base, 50)),
			"goal":  "p50_us <= 50",
		})
	}
	return out, nil
}

// hookedPilot runs the same /bin/true units through a 2-slot fork pilot
// with the allowlist and outputs hooks and through one without, back to
// back, and reports the cost per unit of the hooks inside a real agent.
func hookedPilot(ctx context.Context, o core.Options, allowlist, outputs string) (result, error) {
	n := *flagHookedUnits
	run := func(hooks []string) (time.Duration, error) {
		o := o
		o.Hooks = hooks
		_, p, closeAll, err := pilotFor(ctx, o, *flagWorkdir, 2, false)
		if err != nil {
			return 0, err
		}
		defer closeAll()
		return runAll(ctx, p, units(n, core.UnitDescription{Executable: "/bin/true"}))
	}
	var plain, hooked []float64
	for range *flagRounds {
		d1, err := run(nil)
		if err != nil {
			return nil, err
		}
		d2, err := run([]string{allowlist, outputs})
		if err != nil {
			return nil, fmt.Errorf("hooked pilot: %w", err)
		}
		plain, hooked = append(plain, float64(n)/d1.Seconds()), append(hooked, float64(n)/d2.Seconds())
	}
	return result{
		"case": "hooked_pilot", "units": n, "slots": 2, "rounds": *flagRounds,
		"hooks":                "allowlist (pre_unit, Go) + outputs (post_unit, C)",
		"pilot_units_per_s":    round(median(hooked)),
		"baseline":             "the same pilot without hooks",
		"baseline_units_per_s": round(median(plain)),
		"ratio":                round2(median(hooked) / median(plain)),
		"all_pilot_rates":      roundAll(hooked),
		"all_baseline_rates":   roundAll(plain),
	}, nil
}
