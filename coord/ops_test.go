package coord_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestProtocolRoundTrip drives a unit through the whole protocol as manager
// and agent would, on both backends.
func TestProtocolRoundTrip(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := testenv.Dial(t, b.URL)
			k := coord.ServiceKeys("pcs-test")
			lastID, seq, err := s.LastEvent(ctx, k)
			require.NoError(t, err)
			require.Equal(t, "0-0", lastID)
			require.Zero(t, seq)

			name := coord.PilotName("bj-1", "localhost")
			require.NoError(t, s.CreatePilot(ctx, k, "bj-1", name, 2, map[string]string{"description": "{}"}))
			svc, err := s.ResolvePilot(ctx, name)
			require.NoError(t, err)
			require.Equal(t, "pcs-test", svc)

			// a unit too large for the pilot is refused alone
			refused, n, err := s.Submit(ctx, k, "bj-1", []coord.NewUnit{
				{ID: "cu-a", Slots: 1, Description: []byte(`{"executable":"/bin/true"}`)},
				{ID: "cu-big", Slots: 3, Description: []byte("{}")},
				{ID: "cu-b", Slots: 1, Description: []byte(`{"executable":"/bin/false"}`)},
			})
			require.NoError(t, err)
			require.Equal(t, 3, n)
			require.Len(t, refused, 1)
			require.Equal(t, 1, refused[0].Index)
			var tl *coord.TooLargeError
			require.ErrorAs(t, refused[0].Err, &tl)
			require.Equal(t, 3, tl.Need)
			require.Equal(t, 2, tl.Have)
			_, err = s.Record(ctx, k.Unit("cu-big"))
			require.ErrorIs(t, err, coord.ErrNotFound, "a refused unit leaves no record")
			refused, _, err = s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-s", Slots: 2, Description: []byte(`{}`)}})
			require.NoError(t, err)
			require.Empty(t, refused)
			pend, err := s.PendingCount(ctx, k, "bj-1")
			require.NoError(t, err)
			require.EqualValues(t, 2, pend)

			require.NoError(t, s.PilotRunning(ctx, k, "bj-1", map[string]string{"run_host": "h"}))
			entries, err := s.ReadQueues(ctx, k, "bj-1", true, true, 10, 100*time.Millisecond)
			require.NoError(t, err)
			require.Len(t, entries, 3)

			// cancel one while queued: the claim drops it
			out, err := s.CancelUnit(ctx, k, "cu-b", "test")
			require.NoError(t, err)
			require.True(t, out.Canceled)

			claimed, err := s.Claim(ctx, k, "bj-1", "t1", coord.Want{}, entries)
			require.NoError(t, err)
			require.Len(t, claimed, 2)
			ids := []string{claimed[0].UnitID, claimed[1].UnitID}
			require.ElementsMatch(t, []string{"cu-a", "cu-s"}, ids)

			// queues are empty and acknowledged
			again, err := s.ReadQueues(ctx, k, "bj-1", true, true, 10, 50*time.Millisecond)
			require.NoError(t, err)
			require.Empty(t, again)

			// an owned unit is canceled through the agent's control list
			out, err = s.CancelUnit(ctx, k, "cu-s", "test")
			require.NoError(t, err)
			require.Equal(t, "bj-1", out.Owner)
			cmd, ok, err := s.PopControl(ctx, k, "bj-1", time.Second)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "cancel cu-s", cmd)

			require.NoError(t, s.Update(ctx, k, "bj-1", []coord.Update{
				{UnitID: "cu-a", State: "Done", Passed: []string{"Running"}, Fields: []string{"run_host", "h", "exit_code", "0"}},
				{UnitID: "cu-a", State: "Failed"}, // final states are never overwritten
			}))
			rec, err := s.Record(ctx, k.Unit("cu-a"))
			require.NoError(t, err)
			require.Equal(t, "Done", rec["state"])
			require.Equal(t, "0", rec["exit_code"])
			pend, err = s.PendingCount(ctx, k, "bj-1")
			require.NoError(t, err)
			require.Zero(t, pend)

			require.NoError(t, s.FinishPilot(ctx, k, "bj-1", coord.PilotEnd{State: "Done", Reason: "canceled", UnitState: "Canceled", UnitReason: "pilot canceled"}))
			var ended *coord.PilotEndedError
			require.ErrorAs(t, s.FinishPilot(ctx, k, "bj-1", coord.PilotEnd{State: "Failed", UnitState: "Failed"}), &ended)
			require.Equal(t, "Done", ended.State)
			st, err := s.States(ctx, k, []string{"cu-a", "cu-b", "cu-s", "cu-none"})
			require.NoError(t, err)
			// cu-s came from the service queue and never started: it goes back there
			require.Equal(t, []string{"Done", "Canceled", "Unknown", ""}, st)

			// events arrive in order and are numbered without gaps
			batches, err := s.ReadEvents(ctx, k, "0-0", 100, 0)
			require.NoError(t, err)
			var seen []string
			for i, b := range batches {
				require.EqualValues(t, i+1, b.Seq)
				for _, e := range b.Events {
					seen = append(seen, string(e.Kind)+" "+e.ID+" "+e.State)
				}
			}
			require.Equal(t, []string{
				"p bj-1 Unknown",
				"u cu-a Unknown", "u cu-b Unknown", "u cu-s Unknown",
				"p bj-1 Running",
				"u cu-b Canceled",
				"u cu-a New", "u cu-s New",
				"u cu-a Running", "u cu-a Done",
				"p bj-1 Done", "u cu-s Unknown",
			}, seen)

			_, _, err = s.Submit(ctx, k, "bj-1", []coord.NewUnit{{ID: "cu-late", Slots: 1, Description: []byte("{}")}})
			require.ErrorAs(t, err, &ended)
			require.NoError(t, s.CancelService(ctx, k, "service canceled"))
			st, err = s.States(ctx, k, []string{"cu-s"})
			require.NoError(t, err)
			require.Equal(t, []string{"Canceled"}, st, "service cancel ends the units of its queue")
			_, _, err = s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-late", Slots: 1, Description: []byte("{}")}})
			require.True(t, errors.Is(err, coord.ErrServiceCanceled), "got %v", err)
		})
	}
}

// Every key a service writes expires; nothing is left to grow forever.
func TestEveryKeyHasATTL(t *testing.T) {
	url := testenv.RedisServer(t)
	ctx := context.Background()
	s := testenv.Dial(t, url)
	k := coord.ServiceKeys("pcs-ttl")
	_, _, err := s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-1", Slots: 1, Description: []byte("{}")}})
	require.NoError(t, err)
	require.NoError(t, s.CreatePilot(ctx, k, "bj-1", coord.PilotName("bj-1", "h"), 1, nil))
	_, _, err = s.Submit(ctx, k, "bj-1", []coord.NewUnit{{ID: "cu-2", Slots: 1, Description: []byte("{}")}})
	require.NoError(t, err)
	keys, err := s.Client().Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, key := range keys {
		ttl, err := s.Client().TTL(ctx, key).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, time.Duration(0), "key %s has no TTL", key)
	}
}

// A command that its context's deadline cuts while it waits for the reply
// fails with the context's error, not as a store that does not answer.
func TestDeadlineCutCommandReportsTheContext(t *testing.T) {
	s := testenv.Dial(t, testenv.RedisServer(t))
	k := coord.ServiceKeys("pcs-deadline")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := s.PopControl(ctx, k, "bj-1", 5*time.Second) // blocks past ctx's deadline
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, coord.IsTransient(err), "not taken for an unreachable store: %v", err)
}
