package coord_test

import (
	"context"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// startPilot creates a running pilot with slots slots.
func startPilot(t *testing.T, s *coord.Store, k coord.Keys, id string, slots int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.CreatePilot(ctx, k, id, coord.PilotName(id, "h"), slots, nil))
	require.NoError(t, s.PilotRunning(ctx, k, id, nil))
}

// claimAll claims every queued unit for pilot id.
func claimAll(t *testing.T, s *coord.Store, k coord.Keys, id string) []string {
	t.Helper()
	cl, err := s.Claim(context.Background(), k, id, "all", coord.Want{Own: 100, Service: 100}, nil)
	require.NoError(t, err)
	var ids []string
	for _, c := range cl {
		ids = append(ids, c.UnitID)
	}
	return ids
}

func unitField(t *testing.T, s *coord.Store, k coord.Keys, id, field string) string {
	t.Helper()
	f, err := s.Fields(context.Background(), k.Unit(id), field)
	require.NoError(t, err)
	return f[0]
}

// A lost pilot's running service unit goes back to the service queue and is
// run by another pilot; the lost agent's late report is dropped, so the
// unit ends once; after max_attempts starts it fails with the count.
func TestLostPilotGivesUnitsBack(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := testenv.Dial(t, b.URL)
			k := coord.ServiceKeys("pcs-lost")
			require.NoError(t, s.CreateService(ctx, k, coord.ServiceConfig{MaxAttempts: 2}))
			_, _, err := s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-1", Slots: 1, Description: []byte("{}"), Sig: "s1"}})
			require.NoError(t, err)
			open, err := s.OpenUnits(ctx, k)
			require.NoError(t, err)
			require.EqualValues(t, 1, open)

			startPilot(t, s, k, "bj-a", 1)
			require.Equal(t, []string{"cu-1"}, claimAll(t, s, k, "bj-a"))
			require.NoError(t, s.Update(ctx, k, "bj-a", []coord.Update{{UnitID: "cu-1", State: "Running"}}))
			require.Equal(t, "1", unitField(t, s, k, "cu-1", coord.FieldAttempt))

			require.NoError(t, s.FinishPilot(ctx, k, "bj-a", coord.PilotEnd{State: "Failed", Reason: "no heartbeat",
				UnitState: "Failed", UnitReason: "pilot bj-a failed: no heartbeat", Lost: true}))
			require.Equal(t, "Unknown", unitField(t, s, k, "cu-1", coord.FieldState))
			require.Equal(t, "pilot bj-a failed: no heartbeat", unitField(t, s, k, "cu-1", "lost_reason"))

			// the lost agent comes back and reports: dropped
			require.NoError(t, s.Update(ctx, k, "bj-a", []coord.Update{{UnitID: "cu-1", State: "Done"}}))
			require.Equal(t, "Unknown", unitField(t, s, k, "cu-1", coord.FieldState))

			startPilot(t, s, k, "bj-b", 1)
			cl, err := s.Claim(ctx, k, "bj-b", "b1", coord.Want{Service: 10}, nil)
			require.NoError(t, err)
			require.Len(t, cl, 1)
			require.Equal(t, "s1", cl[0].Sig, "the signature travels with the claim")
			require.NoError(t, s.Update(ctx, k, "bj-b", []coord.Update{{UnitID: "cu-1", State: "Running"}}))
			require.Equal(t, "2", unitField(t, s, k, "cu-1", coord.FieldAttempt))

			// lost again: the second start was the last one allowed
			require.NoError(t, s.FinishPilot(ctx, k, "bj-b", coord.PilotEnd{State: "Failed", Reason: "killed",
				UnitState: "Failed", UnitReason: "pilot bj-b failed: killed", Lost: true}))
			require.Equal(t, "Failed", unitField(t, s, k, "cu-1", coord.FieldState))
			require.Contains(t, unitField(t, s, k, "cu-1", coord.FieldReason), "started 2 times; max_attempts is 2")
			open, err = s.OpenUnits(ctx, k)
			require.NoError(t, err)
			require.Zero(t, open)
		})
	}
}

// A pilot that ends because its user canceled it does not give its running
// units back: they are Canceled.
func TestCanceledPilotDoesNotRetry(t *testing.T) {
	ctx := context.Background()
	s := testenv.Dial(t, testenv.RedisServer(t))
	k := coord.ServiceKeys("pcs-cancel")
	require.NoError(t, s.CreateService(ctx, k, coord.ServiceConfig{MaxAttempts: 3}))
	_, _, err := s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-1", Slots: 1, Description: []byte("{}")}})
	require.NoError(t, err)
	startPilot(t, s, k, "bj-a", 1)
	claimAll(t, s, k, "bj-a")
	require.NoError(t, s.Update(ctx, k, "bj-a", []coord.Update{{UnitID: "cu-1", State: "Running"}}))
	require.NoError(t, s.FinishPilot(ctx, k, "bj-a", coord.PilotEnd{State: "Done", Reason: "canceled",
		UnitState: "Canceled", UnitReason: "pilot canceled"}))
	require.Equal(t, "Canceled", unitField(t, s, k, "cu-1", coord.FieldState))
}

// Final unit records get the service's finished TTL; a canceled service's
// keys get it too, so that a finished service is pruned.
func TestFinishedRecordsArePruned(t *testing.T) {
	ctx := context.Background()
	s := testenv.Dial(t, testenv.RedisServer(t))
	k := coord.ServiceKeys("pcs-prune")
	require.NoError(t, s.CreateService(ctx, k, coord.ServiceConfig{MaxAttempts: 1, FinishedTTL: 30 * time.Second}))
	_, _, err := s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-1", Slots: 1, Description: []byte("{}")}, {ID: "cu-2", Slots: 1, Description: []byte("{}")}})
	require.NoError(t, err)
	startPilot(t, s, k, "bj-a", 2)
	claimAll(t, s, k, "bj-a")
	ttl := func(key string) time.Duration {
		d, err := s.Client().TTL(ctx, key).Result()
		require.NoError(t, err)
		return d
	}
	require.Greater(t, ttl(k.Unit("cu-1")), time.Hour, "an unfinished unit keeps the long TTL")
	require.NoError(t, s.Update(ctx, k, "bj-a", []coord.Update{{UnitID: "cu-1", State: "Done", Passed: []string{"Running"}}}))
	require.LessOrEqual(t, ttl(k.Unit("cu-1")), 30*time.Second)
	require.Greater(t, ttl(k.Unit("cu-2")), time.Hour)

	require.NoError(t, s.FinishPilot(ctx, k, "bj-a", coord.PilotEnd{State: "Done", UnitState: "Canceled", UnitReason: "canceled"}))
	require.NoError(t, s.CancelService(ctx, k, "canceled"))
	keys, err := s.Client().Keys(ctx, k.Prefix()+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, key := range keys {
		d := ttl(key)
		require.Greater(t, d, time.Duration(0), key)
		require.LessOrEqual(t, d, 30*time.Second, "key %s of the canceled service is not pruned", key)
	}
}

// A retried claim (same token) returns what the first call took and takes
// nothing more, so a claim whose reply was lost never hands a unit twice.
func TestRetriedClaimReturnsTheSameUnits(t *testing.T) {
	ctx := context.Background()
	s := testenv.Dial(t, testenv.RedisServer(t))
	k := coord.ServiceKeys("pcs-claim")
	_, _, err := s.Submit(ctx, k, "", []coord.NewUnit{{ID: "cu-1", Slots: 1}, {ID: "cu-2", Slots: 1}})
	require.NoError(t, err)
	startPilot(t, s, k, "bj-a", 1)
	first, err := s.Claim(ctx, k, "bj-a", "7", coord.Want{Service: 1}, nil)
	require.NoError(t, err)
	require.Len(t, first, 1)
	again, err := s.Claim(ctx, k, "bj-a", "7", coord.Want{Service: 1}, nil)
	require.NoError(t, err)
	require.Equal(t, first, again)
	next, err := s.Claim(ctx, k, "bj-a", "8", coord.Want{Service: 1}, nil)
	require.NoError(t, err)
	require.Len(t, next, 1)
	require.NotEqual(t, first[0].UnitID, next[0].UnitID)
}
