package core_test

import (
	"sync"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
)

func TestEnqueueWritesBehind(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		var us []*core.Unit
		for i := range 300 {
			u, err := p.Enqueue(core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"n", string(rune('a' + i%26))}})
			require.NoError(t, err)
			us = append(us, u)
		}
		// the first operation on a unit waits for its write
		st, err := us[299].State(ctxT(t))
		require.NoError(t, err)
		require.NotEmpty(t, st)
		require.NoError(t, p.Wait(ctxT(t)))
		for _, u := range us {
			st, err := u.State(ctxT(t))
			require.NoError(t, err)
			require.Equal(t, core.Done, st)
		}
		// errors known at once are returned at once
		_, err = p.Enqueue(core.UnitDescription{Executable: "/bin/true", NumberOfProcesses: 3})
		require.ErrorContains(t, err, "has only 2")
		_, err = p.Enqueue(core.UnitDescription{})
		require.ErrorContains(t, err, `key "executable"`)
	})
}

func TestEnqueueErrorSurfaces(t *testing.T) {
	url := testenvRedis(t)
	s := newService(t, url)
	p, _ := newPilot(t, s, 1)
	require.NoError(t, p.Cancel(ctxT(t)))
	u, err := p.Enqueue(core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err, "the pilot's end is only known when the write fails")
	_, err = u.State(ctxT(t))
	require.ErrorContains(t, err, "the pilot is Done")
	require.ErrorContains(t, p.Flush(ctxT(t)), "the pilot is Done")
	require.NoError(t, p.Flush(ctxT(t)), "an error is reported once")
}

func TestWatchDeliversInOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		var mu sync.Mutex
		seen := map[string][]core.State{}
		stop, err := s.Watch(func(e core.Event) {
			mu.Lock()
			seen[e.ID] = append(seen[e.ID], e.State)
			mu.Unlock()
		})
		require.NoError(t, err)
		p, _ := newPilot(t, s, 2)
		us, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{{Executable: "/bin/true"}, {Executable: "/bin/false"}})
		require.NoError(t, err)
		collect(t, us)
		require.NoError(t, p.Cancel(ctxT(t)))
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen[p.ID()]) == 3
		}, bound, 10e6)
		stop()
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []core.State{core.Unknown, core.Running, core.Done}, seen[p.ID()])
		require.Equal(t, []core.State{core.Unknown, core.New, core.Running, core.Done}, seen[us[0].ID()])
		require.Equal(t, []core.State{core.Unknown, core.New, core.Running, core.Failed}, seen[us[1].ID()])
	})
}
