package core_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/faultproxy"
	"github.com/bigjob-go/bigjob/internal/proc"
	"github.com/bigjob-go/bigjob/internal/redisserver"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// doneCounter counts, per unit, the Done events the caller sees.
type doneCounter struct {
	mu   sync.Mutex
	done map[string]int
}

func countDone(t *testing.T, s *core.Service) *doneCounter {
	c := &doneCounter{done: map[string]int{}}
	stop, err := s.Watch(func(e core.Event) {
		if !e.Pilot && e.State == core.Done {
			c.mu.Lock()
			c.done[e.ID]++
			c.mu.Unlock()
		}
	})
	require.NoError(t, err)
	t.Cleanup(stop)
	return c
}

func (c *doneCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.done)
}

// once checks that every unit was seen Done exactly once.
func (c *doneCounter) once(t *testing.T, us []*core.Unit) {
	t.Helper()
	require.Eventually(t, func() bool { return c.total() >= len(us) }, bound, 10*time.Millisecond, "Done events seen: %d of %d", c.total(), len(us))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range us {
		require.Equal(t, 1, c.done[u.ID()], "unit %s was seen Done %d times", u.ID(), c.done[u.ID()])
	}
}

// shortUnits are n units that sleep briefly (so that an agent always has
// some running).
func shortUnits(n int) []core.UnitDescription {
	uds := make([]core.UnitDescription, n)
	for i := range uds {
		uds[i] = core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"0.03"}}
	}
	return uds
}

// Fault injection: one of two agents is SIGKILLed in the middle of 1,000
// units. Its running units go back to the service queue and the other pilot
// runs them: every unit ends Done, seen Done exactly once by the caller,
// and the re-executions are counted in the records.
func TestKilledAgentsUnitsRunElsewhere(t *testing.T) {
	url := testenvRedis(t)
	s := newService(t, url)
	done := countDone(t, s)
	victim, _ := newPilot(t, s, 2)
	newPilot(t, s, 2)
	us, err := s.SubmitBulk(ctxT(t), shortUnits(1000))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return done.total() >= 300 }, bound, 5*time.Millisecond)
	killAgent(t, victim)

	require.NoError(t, s.Wait(ctxT(t)))
	done.once(t, us)
	retried := 0
	for _, d := range collect(t, us) {
		require.Equal(t, "Done", d["state"], "unit %s: %s", d["id"], d["reason"])
		if d["attempt"] != "1" {
			require.Equal(t, "2", d["attempt"], "unit %s", d["id"])
			require.Contains(t, d["lost_reason"], victim.Name())
			retried++
		}
	}
	require.Positive(t, retried, "the units the killed agent ran were run again")
	st, err := victim.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Failed, st)
	t.Logf("%d units were run again after the agent was killed", retried)
}

// Fault injection: redis-server (append-only file, fsync always) is killed
// and restarted while units run; agents and the caller reconnect and every
// unit ends Done.
func TestRedisRestartMidRun(t *testing.T) {
	srv, err := redisserver.StartPersistent(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	runThroughStoreCrash(t, srv.URL, func() {
		srv.Kill()
		time.Sleep(2 * time.Second) // an outage, well inside the agents' grace period
		require.NoError(t, srv.Restart(ctxT(t)))
	})
}

// Fault injection: the redis-server of the lasting local store is SIGKILLed
// while units run; its supervisor restarts it from its append-only file,
// agents and the caller reconnect, and no acknowledged unit is lost.
func TestLocalStoreKilledMidRun(t *testing.T) {
	home := privateHome(t)
	// redis-server names itself "redis-server unixsocket:<socket>"
	servers := func() []int {
		return proc.WithArgs("redis-server unixsocket:" + filepath.Join(home, "store", "redis.sock"))
	}
	var killed int
	runThroughStoreCrash(t, fmt.Sprintf("redis://localhost:%d", testenv.FreePort(t)), func() {
		s := servers()
		require.Len(t, s, 1)
		killed = s[0]
		require.NoError(t, syscall.Kill(killed, syscall.SIGKILL))
	})
	restarted := servers()
	require.Len(t, restarted, 1)
	require.NotEqual(t, killed, restarted[0], "the supervisor started a new redis-server")
}

// runThroughStoreCrash runs 300 short units on a 2-slot pilot of a service
// at url, calls crash once 60 are Done, and checks that every unit ends
// Done and is seen Done once.
func runThroughStoreCrash(t *testing.T, url string, crash func()) {
	s := newService(t, url)
	done := countDone(t, s)
	_, dir := newPilot(t, s, 2)
	defer func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", agentLog(dir))
		}
	}()
	us, err := s.SubmitBulk(ctxT(t), shortUnits(300))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return done.total() >= 60 }, bound, 5*time.Millisecond)

	crash()

	require.NoError(t, s.Wait(ctxT(t)))
	for _, d := range collect(t, us) {
		require.Equal(t, "Done", d["state"], "unit %s: %s", d["id"], d["reason"])
	}
	done.once(t, us)
}

// envManager makes the test binary act as a managing process (see
// TestMain): it creates a service with two pilots, submits units, prints the
// service URL and the units' URLs, and waits to be killed.
const envManager = "BIGJOB_TEST_MANAGER"

func runManager() {
	url, agent, n := os.Getenv(envManager), os.Getenv("BIGJOB_AGENT"), 200
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	s, err := core.NewService(ctx, core.Options{CoordinationURL: url, AgentPath: agent, NoEmbedded: true})
	if err != nil {
		fail(err)
	}
	for range 2 {
		if _, err := s.CreatePilot(ctx, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 2,
			WorkingDirectory: os.Getenv("BIGJOB_TEST_DIR"), Walltime: 10}); err != nil {
			fail(err)
		}
	}
	us, err := s.SubmitBulk(ctx, shortUnits(n))
	if err != nil {
		fail(err)
	}
	fmt.Println("service", s.URL())
	for _, u := range us {
		fmt.Println("unit", u.URL())
	}
	fmt.Println("submitted")
	<-ctx.Done() // killed long before
}

// Fault injection: the managing process is SIGKILLed mid-run; a second one
// reconnects by the service URL, waits until every unit is final, and
// cancels the service.
func TestManagerKilledMidRun(t *testing.T) {
	url := testenvRedis(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envManager+"="+url, "BIGJOB_AGENT="+testenv.AgentBinary(t), "BIGJOB_TEST_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var serviceURL string
	var unitURLs []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "submitted" {
		kind, v, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "service":
			serviceURL = v
		case "unit":
			unitURLs = append(unitURLs, v)
		default:
			t.Fatalf("manager: %s", sc.Text())
		}
	}
	require.NotEmpty(t, serviceURL)
	require.Len(t, unitURLs, 200)

	s, err := core.OpenService(ctxT(t), serviceURL, testOptions(t, url))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		require.NoError(t, s.Cancel(ctx))
		s.Close()
	})
	require.Eventually(t, func() bool {
		u, err := core.OpenUnit(ctxT(t), unitURLs[20], testOptions(t, url))
		if err != nil {
			return false
		}
		defer u.Close()
		st, err := u.State(ctxT(t))
		return err == nil && st == core.Done
	}, bound, 10*time.Millisecond, "the manager's pilots run units")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	require.NoError(t, s.Wait(ctxT(t)))
	require.Len(t, s.Pilots(), 2)
	for _, uu := range unitURLs {
		u, err := core.OpenUnit(ctxT(t), uu, testOptions(t, url))
		require.NoError(t, err)
		st, err := u.State(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Done, st, uu)
		u.Close()
	}
}

// Fault injection: the connection to Redis is cut for longer than the grace
// period. The agent kills its units, exits and leaves no process behind; the
// caller's wait returns ErrStoreUnreachable instead of hanging.
func TestStoreCutOffBeyondGrace(t *testing.T) {
	srv := testenvRedis(t)
	px, err := faultproxy.Start(strings.TrimPrefix(srv, "redis://"))
	require.NoError(t, err)
	t.Cleanup(px.Close)
	url := "redis://" + px.Addr()
	s := newService(t, url, func(o *core.Options) { o.StoreGrace = 3 * time.Second })
	p, _ := newPilot(t, s, 1)
	m := marker(t)
	u, err := p.Submit(ctxT(t), sleeper(m))
	require.NoError(t, err)
	waitForUnitState(t, u, core.Running)
	pid := agentPID(t, p)
	st, err := proc.ReadStat(pid)
	require.NoError(t, err)
	require.NotEmpty(t, processesWith(m))

	px.Cut()
	// waits in short slices, as Python makes them, end too
	deadline := time.Now().Add(bound)
	for err = context.DeadlineExceeded; errors.Is(err, context.DeadlineExceeded) && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = u.Wait(ctx)
		cancel()
	}
	require.True(t, errors.Is(err, core.ErrStoreUnreachable), "got %v", err)
	_, err = u.Wait(ctxT(t))
	require.True(t, errors.Is(err, core.ErrStoreUnreachable), "got %v", err)
	require.Eventually(t, func() bool { return !proc.Alive(pid, st.StartTime) }, bound, 50*time.Millisecond, "the agent exits after its grace period")
	require.Eventually(t, func() bool { return len(processesWith(m)) == 0 }, bound, 50*time.Millisecond, "the agent's units are gone")
	px.Restore()
}
