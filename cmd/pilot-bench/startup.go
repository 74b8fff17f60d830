package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/sshd"
)

// startupCases measures, for fork://, ssh:// (a private sshd on loopback)
// and slurm:// (the single-host SLURM of scripts/services), the time from
// create_pilot to the first unit running (the agent's agent_start_time of
// a unit submitted right after create_pilot), each beside the nearest bare
// equivalent measured in the same run: starting a process, running a
// command over a new ssh connection, and a bare sbatch job starting.
func startupCases(ctx context.Context, o core.Options) ([]result, error) {
	rounds := *flagStartRounds
	s, dir, closeAll, err := benchService(ctx, o, "")
	if err != nil {
		return nil, err
	}
	defer closeAll()

	var out []result
	r, err := startup(ctx, s, "fork://localhost", dir, rounds, "fork and exec of /bin/true", execTrue)
	if err != nil {
		return nil, fmt.Errorf("fork: %w", err)
	}
	out = append(out, r)

	srv, err := startSSHD(filepath.Join(dir, "sshd"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	r, err = startup(ctx, s, srv.URL("ssh"), dir, rounds, "OpenSSH client: ssh host true over a new connection",
		func(ctx context.Context) (time.Duration, error) { return sshTrue(ctx, srv) })
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	r["first_round_copies_the_agent"] = true
	out = append(out, r)

	if err := exec.CommandContext(ctx, "sinfo", "-h").Run(); err != nil {
		out = append(out, result{"resource": "slurm://localhost", "skipped": "SLURM is not running: make services starts it"})
		return out, nil
	}
	r, err = startup(ctx, s, "slurm://localhost", dir, rounds, "a bare sbatch --wrap job: submission to its first command",
		func(ctx context.Context) (time.Duration, error) { return sbatchStart(ctx, dir) })
	if err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	return append(out, r), nil
}

// startup runs rounds of pilot start on resource, each followed by one
// baseline measurement, and reports medians and their ratio.
func startup(ctx context.Context, s *core.Service, resource, dir string, rounds int, baseline string, base func(context.Context) (time.Duration, error)) (result, error) {
	var pilot, bare, ratios []float64
	for i := range rounds {
		d, err := firstUnitRunning(ctx, s, resource, filepath.Join(dir, fmt.Sprintf("r%d", i)))
		if err != nil {
			return nil, err
		}
		b, err := base(ctx)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		pilot, bare = append(pilot, ms(d)), append(bare, ms(b))
		ratios = append(ratios, float64(d)/float64(b))
	}
	return result{
		"case": "startup", "resource": resource, "rounds": rounds,
		"create_pilot_to_first_unit_running_ms": median(pilot),
		"baseline":                              baseline,
		"baseline_ms":                           median(bare),
		"ratio":                                 round2(median(ratios)),
		"all_pilot_ms":                          pilot,
		"all_baseline_ms":                       bare,
	}, nil
}

// firstUnitRunning creates a one-slot pilot, submits a unit at once and
// returns the time from create_pilot to the unit's start on the agent. The
// pilot is canceled (and its job gone) before it returns.
func firstUnitRunning(ctx context.Context, s *core.Service, resource, wd string) (time.Duration, error) {
	t0 := time.Now()
	p, err := s.CreatePilot(ctx, core.PilotDescription{ServiceURL: resource, NumberOfProcesses: 1, WorkingDirectory: wd, Walltime: 10})
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		p.Cancel(cctx)
	}()
	u, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/true"})
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := u.Wait(wctx)
	if err != nil {
		return 0, err
	}
	d, err := u.Details(ctx)
	if err != nil {
		return 0, err
	}
	if st != core.Done {
		return 0, fmt.Errorf("unit on %s is %s: %s", resource, st, d["reason"])
	}
	started, err := coord.ParseTimestamp(d["agent_start_time"])
	if err != nil || started.IsZero() {
		return 0, fmt.Errorf("unit on %s has no agent_start_time (%q)", resource, d["agent_start_time"])
	}
	return started.Sub(t0), nil
}

func execTrue(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	err := exec.CommandContext(ctx, "/bin/true").Run()
	return time.Since(t0), err
}

// sshTrue runs `true` over a new connection with the OpenSSH client.
func sshTrue(ctx context.Context, srv *sshd.Server) (time.Duration, error) {
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "ssh", "-i", srv.UserKey, "-o", "UserKnownHostsFile="+srv.KnownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "HostKeyAlgorithms=ssh-ed25519",
		"-p", strconv.Itoa(srv.Port), srv.User+"@"+srv.Host, "true").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ssh: %v: %s", err, out)
	}
	return time.Since(t0), nil
}

// sbatchStart submits a job that writes the time it starts, and returns
// the time from submission to that.
func sbatchStart(ctx context.Context, dir string) (time.Duration, error) {
	f := filepath.Join(dir, fmt.Sprintf("sbatch-%d", time.Now().UnixNano()))
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", "date +%s.%N > "+f+".tmp && mv "+f+".tmp "+f).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("sbatch: %v: %s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		secs, err := strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
		if err != nil {
			return 0, fmt.Errorf("job %s wrote %q", strings.TrimSpace(string(out)), b)
		}
		return time.Unix(0, int64(secs*1e9)).Sub(t0), nil
	}
	exec.Command("scancel", strings.TrimSpace(string(out))).Run()
	return 0, fmt.Errorf("job %s did not start within 5 minutes", strings.TrimSpace(string(out)))
}
