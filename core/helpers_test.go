package core_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/proc"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// bound is how long any single wait in these tests may take before the test
// fails instead of hanging. It is a liveness bound, not a timing assertion.
const bound = 60 * time.Second

// testOptions are fast heartbeats so that failure detection tests finish
// quickly; everything else is the default.
func testOptions(t *testing.T, url string) core.Options {
	return core.Options{
		CoordinationURL:   url,
		AgentPath:         testenv.AgentBinary(t),
		HeartbeatInterval: 200 * time.Millisecond,
		HeartbeatTimeout:  3 * time.Second,
		StopTimeout:       10 * time.Second,
		Warnings:          &bytes.Buffer{},
	}
}

// forEachBackend runs f against a private redis-server and the embedded server.
func forEachBackend(t *testing.T, f func(t *testing.T, url string)) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b.URL) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	return ctx
}

// newService makes a service whose pilots are canceled when the test ends.
func newService(t *testing.T, url string, mod ...func(*core.Options)) *core.Service {
	o := testOptions(t, url)
	for _, m := range mod {
		m(&o)
	}
	s, err := core.NewService(ctxT(t), o)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		s.Cancel(ctx)
		s.Close()
	})
	return s
}

// newPilot creates a fork pilot with n slots in a fresh directory and waits
// until its agent runs.
func newPilot(t *testing.T, s *core.Service, n int, mod ...func(*core.PilotDescription)) (*core.Pilot, string) {
	dir := t.TempDir()
	pd := core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: n, WorkingDirectory: dir, Walltime: 10}
	for _, m := range mod {
		m(&pd)
	}
	p, err := s.CreatePilot(ctxT(t), pd)
	require.NoError(t, err)
	st, err := p.WaitState(ctxT(t), core.Running)
	require.NoError(t, err)
	require.Equal(t, core.Running, st, "pilot did not start; agent log:\n%s", agentLog(dir))
	return p, dir
}

func agentLog(dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "stderr-bj-*-agent.txt"))
	var b bytes.Buffer
	for _, f := range m {
		c, _ := os.ReadFile(f)
		b.Write(c)
	}
	return b.String()
}

// marker returns a unique environment entry; every process a unit starts
// inherits it, so the process table shows whether any is left.
func marker(t *testing.T) core.EnvVar {
	b := make([]byte, 8)
	rand.Read(b)
	return core.EnvVar{Name: "BJ_TEST_MARK", Value: hex.EncodeToString(b)}
}

func processesWith(m core.EnvVar) []int { return proc.WithEnv(m.Name, m.Value) }

// sleepers is n sleeper units.
func sleepers(m core.EnvVar, n int) []core.UnitDescription {
	uds := make([]core.UnitDescription, n)
	for i := range uds {
		uds[i] = sleeper(m)
	}
	return uds
}

// sleeper is a unit that runs a background child and a foreground sleep,
// both carrying the marker.
func sleeper(m core.EnvVar) core.UnitDescription {
	return core.UnitDescription{
		Executable:  "/bin/bash",
		Arguments:   []string{"-c", "'sleep 300 & sleep 300; wait'"},
		Environment: []core.EnvVar{m},
	}
}

func waitUnit(t *testing.T, u *core.Unit) (core.State, map[string]string) {
	t.Helper()
	st, err := u.Wait(ctxT(t))
	require.NoError(t, err)
	d, err := u.Details(ctxT(t))
	require.NoError(t, err)
	return st, d
}

// waitForUnitState waits until the unit is in state want.
func waitForUnitState(t *testing.T, u *core.Unit, want core.State) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, err := u.State(ctxT(t))
		return err == nil && st == want
	}, bound, 20*time.Millisecond, "unit %s never reached %s", u.ID(), want)
}

func agentPID(t *testing.T, p *core.Pilot) int {
	d, err := p.Details(ctxT(t))
	require.NoError(t, err)
	pid, err := strconv.Atoi(d["agent_pid"])
	require.NoError(t, err)
	return pid
}

func killAgent(t *testing.T, p *core.Pilot) int {
	pid := agentPID(t, p)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	return pid
}

// collect waits for many units concurrently and returns their details.
func collect(t *testing.T, us []*core.Unit) []map[string]string {
	t.Helper()
	out := make([]map[string]string, len(us))
	errs := make([]error, len(us))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errs[i] = u.Wait(ctx); errs[i] == nil {
				out[i], errs[i] = u.Details(ctx)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

func testenvRedis(t *testing.T, extraArgs ...string) string {
	return testenv.RedisServer(t, extraArgs...)
}

// busyPilot is a 1-slot pilot running a sleeper unit (processes marked with
// m) with a second unit queued behind it.
func busyPilot(t *testing.T, url string) (p *core.Pilot, running, queued *core.Unit, m core.EnvVar) {
	t.Helper()
	p, _ = newPilot(t, newService(t, url), 1)
	m = marker(t)
	running, err := p.Submit(ctxT(t), sleeper(m))
	require.NoError(t, err)
	queued, err = p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	waitForUnitState(t, running, core.Running)
	return p, running, queued, m
}
