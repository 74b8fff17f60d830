// Package e2e_test runs pilots on real resources: a private sshd, the
// single-host SLURM, Grid Engine and PBS (slurm-wlm-torque) that
// scripts/services/ starts, and OpenMPI. Each test says which component it
// needs (internal/testenv); a missing one fails the test unless it is listed
// in BIGJOB_TEST_SKIP.
package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
	_ "github.com/bigjob-go/bigjob/adaptors/pluginadaptor"
	_ "github.com/bigjob-go/bigjob/coord/embedded"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// bound is how long any single wait may take before the test fails instead
// of hanging (batch schedulers start jobs within seconds here). It is a
// liveness bound, not a timing assertion.
const bound = 3 * time.Minute

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	return ctx
}

// newService makes a service on a private redis-server (agents in batch
// jobs reach it over TCP); its pilots are canceled when the test ends.
func newService(t *testing.T) *core.Service {
	s, err := core.NewService(ctxT(t), core.Options{
		CoordinationURL:   testenv.RedisServer(t),
		NoEmbedded:        true,
		AgentPath:         testenv.AgentBinary(t),
		HeartbeatInterval: 500 * time.Millisecond,
		HeartbeatTimeout:  20 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		require.NoError(t, s.Cancel(ctx))
		s.Close()
	})
	return s
}

// running creates a pilot and waits until its agent runs.
func running(t *testing.T, s *core.Service, pd core.PilotDescription) *core.Pilot {
	t.Helper()
	p, err := s.CreatePilot(ctxT(t), pd)
	require.NoError(t, err)
	st, err := p.WaitState(ctxT(t), core.Running)
	require.NoError(t, err)
	if st != core.Running {
		d, _ := p.Details(ctxT(t))
		t.Fatalf("pilot %s is %s, not Running: %s\nagent log:\n%s", p.Name(), st, d["reason"], agentLog(pd.WorkingDirectory, p))
	}
	return p
}

// agentLog is the agent's stderr, for failure messages.
func agentLog(dir string, p *core.Pilot) string {
	b, _ := os.ReadFile(filepath.Join(dir, "stderr-"+p.ID()+"-agent.txt"))
	return string(b)
}

// jobID is the pilot's native job id (batch job id or agent pid).
func jobID(t *testing.T, p *core.Pilot) string {
	d, err := p.Details(ctxT(t))
	require.NoError(t, err)
	require.NotEmpty(t, d["native_job_id"])
	return d["native_job_id"]
}

// handle is the pilot's adaptor handle.
func handle(t *testing.T, p *core.Pilot) adaptors.Handle {
	d, err := p.Details(ctxT(t))
	require.NoError(t, err)
	var h adaptors.Handle
	require.NoError(t, json.Unmarshal([]byte(d["handle"]), &h))
	return h
}

// runUnits runs n units that print their unit id and the given variables,
// waits for them and returns their outputs.
func runUnits(t *testing.T, p *core.Pilot, n int, vars ...string) []string {
	t.Helper()
	args := []string{"$BIGJOB_UNIT_ID"}
	for _, v := range vars {
		args = append(args, "$"+v)
	}
	uds := make([]core.UnitDescription, n)
	for i := range uds {
		uds[i] = core.UnitDescription{Executable: "/bin/echo", Arguments: args}
	}
	us, err := p.SubmitBulk(ctxT(t), uds)
	require.NoError(t, err)
	out := make([]string, n)
	for i, u := range us {
		st, err := u.Wait(ctxT(t))
		require.NoError(t, err)
		d, err := u.Details(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Done, st, "unit %s: %s", u.ID(), d["reason"])
		b, err := os.ReadFile(filepath.Join(d["sandbox"], "stdout"))
		require.NoError(t, err)
		out[i] = strings.TrimSpace(string(b))
		require.True(t, strings.HasPrefix(out[i], u.ID()), "unit %s printed %q", u.ID(), out[i])
	}
	return out
}

var mpiProgram struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// mpiRank builds testdata/mpi_rank.c with mpicc once per test binary.
func mpiRank(t *testing.T) string {
	mpicc, _ := testenv.MPI(t)
	mpiProgram.once.Do(func() {
		dir, err := os.MkdirTemp("", "bigjob-mpi-")
		if err != nil {
			mpiProgram.err = err
			return
		}
		mpiProgram.path = filepath.Join(dir, "mpi_rank")
		src, _ := filepath.Abs("testdata/mpi_rank.c")
		mpiProgram.out, mpiProgram.err = exec.Command(mpicc, "-o", mpiProgram.path, src).CombinedOutput()
	})
	require.NoError(t, mpiProgram.err, "mpicc: %s", mpiProgram.out)
	return mpiProgram.path
}

// mpiLauncher is OpenMPI's mpirun as the tests run it: as root.
const mpiLauncher = "mpirun --allow-run-as-root"

// runMPIUnit runs the rank program as a 2-process MPI unit and checks that
// both ranks wrote their file.
func runMPIUnit(t *testing.T, p *core.Pilot) {
	t.Helper()
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: mpiRank(t), SPMDVariation: "mpi", NumberOfProcesses: 2})
	require.NoError(t, err)
	st, err := u.Wait(ctxT(t))
	require.NoError(t, err)
	d, err := u.Details(ctxT(t))
	require.NoError(t, err)
	stderr, _ := os.ReadFile(filepath.Join(d["sandbox"], "stderr"))
	require.Equal(t, core.Done, st, "MPI unit: %s\nstderr: %s", d["reason"], stderr)
	for rank, want := range []string{"0 2 ", "1 2 "} {
		b, err := os.ReadFile(filepath.Join(d["sandbox"], "rank-"+string(rune('0'+rank))))
		require.NoError(t, err, "rank %d wrote no file", rank)
		require.True(t, strings.HasPrefix(string(b), want), "rank %d wrote %q", rank, b)
	}
}

// pids lists the processes whose command line holds s.
func pids(s string) []string {
	out, _ := exec.Command("pgrep", "-f", s).Output()
	return strings.Fields(string(out))
}

// noProcessWith fails if a process's command line still holds s.
func noProcessWith(t *testing.T, s string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(pids(s)) == 0 }, 30*time.Second, 100*time.Millisecond,
		"processes of %s are still running", s)
}

// waitRunning waits until a unit runs.
func waitRunning(t *testing.T, u *core.Unit) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, err := u.State(ctxT(t))
		return err == nil && st == core.Running
	}, bound, 20*time.Millisecond, "unit %s never ran", u.ID())
}
