package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
)

// A watch follows a run with failures and a lost pilot to its end: the
// counts match the units' states one by one, the failures carry their
// reasons, the lost pilot shows as Failed with why, and a unit it was
// running is given back and counted where it went.
func TestProgressWatchFollowsARunWithFailuresAndALostPilot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := ctxT(t)
		s := newService(t, url)
		w, err := s.WatchProgress(ctx)
		require.NoError(t, err)
		defer w.Close()
		first, err := w.Next(ctx, time.Second)
		require.NoError(t, err)
		require.False(t, first.Final, "nothing submitted yet, no pilot: not over")
		require.Zero(t, first.Units)

		lost, _ := newPilot(t, s, 1)
		moved, err := s.Submit(ctx, core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"2"}})
		require.NoError(t, err)
		waitForUnitState(t, moved, core.Running)
		own, err := lost.Submit(ctx, core.UnitDescription{Executable: "/bin/true"}) // queued behind it
		require.NoError(t, err)
		newPilot(t, s, 2)
		var uds []core.UnitDescription
		for range 6 {
			uds = append(uds, core.UnitDescription{Executable: "/bin/true"})
		}
		uds = append(uds, core.UnitDescription{Executable: "/bin/false"}, core.UnitDescription{Executable: "/bin/false"})
		us, err := s.SubmitBulk(ctx, uds)
		require.NoError(t, err)
		killAgent(t, lost)

		var p core.Progress
		for deadline := time.Now().Add(bound); ; {
			require.True(t, time.Now().Before(deadline), "the watch did not end; last: %+v", p)
			p, err = w.Next(ctx, 200*time.Millisecond)
			require.NoError(t, err)
			if p.Final {
				break
			}
		}
		all := append([]*core.Unit{moved, own}, us...)
		want := map[core.State]int64{}
		for _, u := range all {
			st, err := u.State(ctx)
			require.NoError(t, err)
			want[st]++
		}
		require.Equal(t, want, p.Counts, "the counters match the units")
		require.Equal(t, map[core.State]int64{core.Done: 7, core.Failed: 3}, p.Counts)
		require.Equal(t, int64(10), p.Units)
		require.Zero(t, p.Open)
		st, err := moved.State(ctx)
		require.NoError(t, err)
		require.Equal(t, core.Done, st, "given back, run by the other pilot")

		reasons := map[string]string{}
		for _, f := range p.Failures {
			reasons[f.Unit] = f.Reason
		}
		require.Len(t, reasons, 3)
		require.Contains(t, reasons[own.ID()], "pilot "+lost.Name()+" failed", "the unit of the lost pilot")
		require.Contains(t, reasons[us[6].ID()], "exit code 1")
		var gone *core.PilotGauge
		for i, g := range p.Pilots {
			if g.Name == lost.Name() {
				gone = &p.Pilots[i]
			}
		}
		require.NotNil(t, gone)
		require.Equal(t, core.Failed, gone.State)
		require.NotEmpty(t, gone.Reason)
		require.Equal(t, -1.0, gone.HeartbeatAge)

		once, err := s.Progress(ctx)
		require.NoError(t, err)
		require.Equal(t, p.Counts, once.Counts)
		require.Equal(t, -1.0, once.Rate)
	})
}

// A watch's Next ends with its context.
func TestProgressWatchNextEndsWithItsContext(t *testing.T) {
	s := newService(t, testenvRedis(t))
	w, err := s.WatchProgress(ctxT(t))
	require.NoError(t, err)
	defer w.Close()
	_, err = w.Next(ctxT(t), time.Hour)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	_, err = w.Next(ctx, time.Hour)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
