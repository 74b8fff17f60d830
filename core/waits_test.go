package core_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

// trueUnits is n /bin/true units.
func trueUnits(n int) []core.UnitDescription {
	uds := make([]core.UnitDescription, n)
	for i := range uds {
		uds[i] = core.UnitDescription{Executable: "/bin/true"}
	}
	return uds
}

// slice calls wait with a very short timeout, as Python's sliced waits do,
// and reports whether it returned other than by its timeout.
func slice(wait func(context.Context) error) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	err := wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return false, nil
	}
	return true, err
}

// untilDone calls wait in short slices until it returns, and returns its
// error and how many calls it took.
func untilDone(t *testing.T, wait func(context.Context) error) (error, int) {
	deadline := time.Now().Add(bound)
	for calls := 1; time.Now().Before(deadline); calls++ {
		if done, err := slice(wait); done {
			return err, calls
		}
	}
	t.Fatal("the sliced wait did not finish")
	return nil, 0
}

// Waits on a data service, a service and a pilot that started before the
// event stream was trimmed past this process's reader (paused meanwhile)
// return once the units are done: each reads again what it missed. The
// stream is trimmed to its newest entry, as a tiny cap would.
func TestWaitsReturnAfterTheEventStreamWasTrimmedPastThem(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, dir := newPilot(t, s, 2)
		gate := filepath.Join(dir, "gate")
		hold := core.UnitDescription{Executable: "/bin/sh", Arguments: []string{"-c", "'while [ ! -e " + gate + " ]; do sleep 0.01; done'"}}
		gates, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{hold, hold}) // both slots, until the gate opens
		require.NoError(t, err)
		for _, g := range gates {
			waitForUnitState(t, g, core.Running)
		}
		cds := core.NewDataService()
		cds.AddService(s)
		var us []*core.Unit
		for _, ud := range trueUnits(150) {
			u, err := cds.Enqueue(ud)
			require.NoError(t, err)
			us = append(us, u)
		}
		own, err := p.SubmitBulk(ctxT(t), trueUnits(150))
		require.NoError(t, err)
		waits := map[string]func(context.Context) error{"data service": cds.Wait, "service": s.Wait, "pilot": p.Wait}
		for name, wait := range waits { // subscribed, then left behind
			ctx, cancel := context.WithTimeout(ctxT(t), 300*time.Millisecond)
			err := wait(ctx)
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded, name)
		}

		resume := core.PauseWatcher(s)
		st := testenv.Dial(t, url)
		k := coord.ServiceKeys(s.ID())
		_, before, err := st.LastEvent(ctxT(t), k)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(gate, nil, 0o600))
		for _, u := range append(us, own...) {
			require.Eventually(t, func() bool {
				f, err := st.Fields(context.Background(), k.Unit(u.ID()), coord.FieldState)
				return err == nil && f[0] == string(core.Done)
			}, bound, 5*time.Millisecond)
		}
		opt, err := redis.ParseURL(url)
		require.NoError(t, err)
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		require.NoError(t, rdb.XTrimMaxLen(ctxT(t), k.Events(), 1).Err())
		first, err := st.ReadEvents(ctxT(t), k, "0-0", 1, 0)
		require.NoError(t, err)
		require.Greater(t, first[0].Seq, before+1, "the stream was trimmed past the paused reader")
		resume()

		for name, wait := range waits {
			err, _ := untilDone(t, wait)
			assert.NoError(t, err, name)
		}
	})
}

// A wait in many short calls completes, for each kind of wait.
func TestSlicedWaitsComplete(t *testing.T) {
	s := newService(t, testenv.RedisServer(t))
	p, _ := newPilot(t, s, 2)
	cds := core.NewDataService()
	cds.AddService(s)
	var last *core.Unit
	for _, ud := range trueUnits(300) {
		u, err := cds.Enqueue(ud)
		require.NoError(t, err)
		last = u
	}
	own, err := p.SubmitBulk(ctxT(t), trueUnits(300))
	require.NoError(t, err)
	for name, wait := range map[string]func(context.Context) error{
		"unit":         func(ctx context.Context) error { _, err := last.Wait(ctx); return err },
		"pilot":        p.Wait,
		"data service": cds.Wait,
		"service":      s.Wait,
	} {
		err, calls := untilDone(t, wait)
		require.NoError(t, err, name)
		t.Logf("%s: %d calls", name, calls)
	}
	st, err := own[len(own)-1].State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st)
}

// Units left with no live pilot to run them make every wait say so, rather
// than return as if they had run: with no pilot ever created, and with one
// whose agent was killed.
func TestWaitsWithNoLivePilotRaise(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		cds := core.NewDataService()
		cds.AddService(s)
		u, err := cds.Enqueue(core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		require.ErrorIs(t, cds.Wait(ctxT(t)), core.ErrNoPilots, "no pilot was ever created")
		require.ErrorIs(t, s.Wait(ctxT(t)), core.ErrNoPilots)
		_, err = u.Wait(ctxT(t))
		require.ErrorIs(t, err, core.ErrNoPilots)
		require.ErrorContains(t, err, "wait for unit "+u.ID())

		s2 := newService(t, url)
		p, _ := newPilot(t, s2, 1)
		running, err := p.Submit(ctxT(t), sleeper(marker(t)))
		require.NoError(t, err)
		waitForUnitState(t, running, core.Running)
		other := core.NewDataService()
		other.AddService(s2)
		queued, err := other.Enqueue(core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		killAgent(t, p)
		for name, wait := range map[string]func(context.Context) error{
			"data service": other.Wait, "service": s2.Wait, "pilot": p.Wait,
			"unit": func(ctx context.Context) error { _, err := queued.Wait(ctx); return err },
		} {
			err, _ := untilDone(t, wait) // sliced: liveness tracking survives the slices
			require.ErrorIs(t, err, core.ErrNoPilots, name)
		}
		st, err := running.State(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Failed, st)
	})
}

// One unit larger than every pilot among valid ones, through a data service
// one call at a time: it alone is refused, with its own id, at every call
// on it; the others run; the wait returns; nothing is left after cancel.
func TestOversizedUnitAmongValidOnesIsRefusedAlone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		cds := core.NewDataService()
		cds.AddService(s)
		m := marker(t)
		var us []*core.Unit
		var big *core.Unit
		for i := range 100 {
			ud := core.UnitDescription{Executable: "/bin/true", Environment: []core.EnvVar{m}}
			if i == 37 {
				ud.NumberOfProcesses = 8
			}
			u, err := cds.Enqueue(ud)
			require.NoError(t, err, "unit %d is accepted at the call (write-behind)", i)
			if i == 37 {
				big = u
			} else {
				us = append(us, u)
			}
		}
		require.NoError(t, cds.Wait(ctxT(t)), "the wait does not wait for the refused unit")
		for _, u := range us {
			st, err := u.State(ctxT(t))
			require.NoError(t, err)
			require.Equal(t, core.Done, st, u.ID())
		}
		for range 2 { // every call on it says so
			_, err := big.State(ctxT(t))
			require.ErrorContains(t, err, "unit "+big.ID()+" was not submitted")
			require.ErrorContains(t, err, "needs 8 slots but the largest live pilot of the service has only 2")
			_, err = big.Wait(ctxT(t))
			require.ErrorContains(t, err, "unit "+big.ID()+" was not submitted")
		}
		u, err := cds.Enqueue(core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err, "the next submission is not blamed")
		st, err := u.Wait(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Done, st)

		require.NoError(t, s.Cancel(ctxT(t)))
		st, err = p.State(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Done, st)
		require.Empty(t, processesWith(m), "nothing left running after cancel")
		require.NoDirExists(t, fmt.Sprintf("/proc/%d/fd", agentPIDOf(t, p)), "the agent is gone after cancel")
	})
}

// agentPIDOf reads the agent's pid from the pilot record.
func agentPIDOf(t *testing.T, p *core.Pilot) int {
	d, err := p.Details(ctxT(t))
	require.NoError(t, err)
	pid, err := strconv.Atoi(d["agent_pid"])
	require.NoError(t, err)
	return pid
}

// Units of the service queue are taken as soon as an agent has room,
// whether it was idle or busy with its own queue: their starts never wait
// for the agent's blocking read (2 s) to time out.
func TestServiceQueueUnitsAreTakenAtOnce(t *testing.T) {
	s := newService(t, testenv.RedisServer(t))
	p, _ := newPilot(t, s, 2)
	starts := func(us []*core.Unit) []float64 {
		var out []float64
		for _, d := range collect(t, us) {
			require.Equal(t, "Done", d["state"])
			f, err := strconv.ParseFloat(d["agent_start_time"], 64)
			require.NoError(t, err)
			out = append(out, f)
		}
		sort.Float64s(out)
		return out
	}
	maxGap := func(ts []float64) float64 {
		g := 0.0
		for i := 1; i < len(ts); i++ {
			g = max(g, ts[i]-ts[i-1])
		}
		return g
	}

	// idle: one at a time, each after the last is done
	for range 20 {
		u, err := s.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		_, d := waitUnit(t, u)
		q, _ := strconv.ParseFloat(d["start_time"], 64)
		st, _ := strconv.ParseFloat(d["agent_start_time"], 64)
		require.Less(t, st-q, 1.0, "a unit queued on an idle agent waited for a read timeout")
	}

	// many at once, and mixed with the pilot's own queue
	svc, err := s.SubmitBulk(ctxT(t), trueUnits(300))
	require.NoError(t, err)
	require.Less(t, maxGap(starts(svc)), 1.0, "service units started with a gap of a read timeout")

	own, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{{Executable: "/bin/sleep", Arguments: []string{"0.05"}},
		{Executable: "/bin/sleep", Arguments: []string{"0.05"}}, {Executable: "/bin/sleep", Arguments: []string{"0.05"}}})
	require.NoError(t, err)
	svc, err = s.SubmitBulk(ctxT(t), trueUnits(100))
	require.NoError(t, err)
	all := starts(append(own, svc...))
	require.Less(t, maxGap(all), 1.0, "with the pilot busy on its own queue, service units waited for a read timeout")
}
