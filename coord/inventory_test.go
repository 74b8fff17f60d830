package coord_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// claimAs claims every queued unit for pilot with the call token token
// (claimAll's token is fixed: a second claim would repeat the first).
func claimAs(t *testing.T, s *coord.Store, k coord.Keys, pilot, token string) []string {
	t.Helper()
	cl, err := s.Claim(context.Background(), k, pilot, token, coord.Want{Own: 100, Service: 100}, nil)
	require.NoError(t, err)
	var ids []string
	for _, c := range cl {
		ids = append(ids, c.UnitID)
	}
	return ids
}

// A pilot's unit list holds the service-queue units its agent took, each
// once, under the pilot that took it last.
func TestPilotUnitsIncludeServiceQueueUnits(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := testenv.Dial(t, b.URL)
			k := coord.ServiceKeys("pcs-units")
			for _, p := range []string{"bj-1", "bj-2"} {
				require.NoError(t, s.CreatePilot(ctx, k, p, coord.PilotName(p, "h"), 4, nil))
			}
			require.NoError(t, s.PilotRunning(ctx, k, "bj-1", nil))
			_, _, err := s.Submit(ctx, k, "bj-1", []coord.NewUnit{{ID: "cu-own", Slots: 1, Description: []byte("{}")}})
			require.NoError(t, err)
			_, _, err = s.Submit(ctx, k, "", []coord.NewUnit{
				{ID: "cu-s1", Slots: 1, Description: []byte("{}")},
				{ID: "cu-s2", Slots: 1, Description: []byte("{}")},
			})
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"cu-own", "cu-s1", "cu-s2"}, claimAs(t, s, k, "bj-1", "a"))

			ids := unitIDs(t, s, k, "bj-1")
			require.Equal(t, "cu-own", ids[0], "submitted first, listed first")
			require.ElementsMatch(t, []string{"cu-own", "cu-s1", "cu-s2"}, ids)
			ids = unitIDs(t, s, k, "bj-2")
			require.Empty(t, ids)

			// bj-1 gives cu-s2 back; while it waits it stays under bj-1
			require.NoError(t, s.Requeue(ctx, k, "bj-1", []string{"cu-s2"}))
			ids = unitIDs(t, s, k, "bj-1")
			require.ElementsMatch(t, []string{"cu-own", "cu-s1", "cu-s2"}, ids)

			// bj-2 takes it: it moves there
			require.NoError(t, s.PilotRunning(ctx, k, "bj-2", nil))
			require.Equal(t, []string{"cu-s2"}, claimAs(t, s, k, "bj-2", "b"))
			ids = unitIDs(t, s, k, "bj-1")
			require.ElementsMatch(t, []string{"cu-own", "cu-s1"}, ids)
			ids = unitIDs(t, s, k, "bj-2")
			require.Equal(t, []string{"cu-s2"}, ids)

			// given back again and taken by bj-1 again: listed there once
			require.NoError(t, s.Requeue(ctx, k, "bj-2", []string{"cu-s2"}))
			require.Equal(t, []string{"cu-s2"}, claimAs(t, s, k, "bj-1", "c"))
			ids = unitIDs(t, s, k, "bj-1")
			require.Equal(t, []string{"cu-own", "cu-s1", "cu-s2"}, sortedAfterFirst(ids))
			require.Len(t, ids, 3)
			ids = unitIDs(t, s, k, "bj-2")
			require.Empty(t, ids)

			ttl, err := s.Client().TTL(ctx, k.PilotUnits("bj-2")).Result()
			require.NoError(t, err)
			require.Greater(t, ttl, time.Duration(0), "the list a claim created expires")
		})
	}
}

// Services lists every service of the store; FindByPrefix resolves short
// ids of services, pilots and units, within the store or one service.
func TestServicesAndShortIDs(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := testenv.Dial(t, b.URL)
			none, err := s.Services(ctx)
			require.NoError(t, err)
			require.Empty(t, none)

			ka := coord.ServiceKeys("pcs-aaaa1111-0000-0000-0000-000000000000")
			kb := coord.ServiceKeys("pcs-aaaa2222-0000-0000-0000-000000000000")
			require.NoError(t, s.CreateService(ctx, ka, coord.ServiceConfig{MaxAttempts: 1}))
			require.NoError(t, s.CreateService(ctx, kb, coord.ServiceConfig{MaxAttempts: 1}))
			require.NoError(t, s.CreatePilot(ctx, ka, "bj-0a01", coord.PilotName("bj-0a01", "h"), 1, nil))
			require.NoError(t, s.CreatePilot(ctx, ka, "bj-0a02", coord.PilotName("bj-0a02", "h"), 1, nil))
			require.NoError(t, s.CreatePilot(ctx, kb, "bj-0b01", coord.PilotName("bj-0b01", "h"), 1, nil))
			_, _, err = s.Submit(ctx, ka, "", []coord.NewUnit{{ID: "cu-c0ffee01", Slots: 1, Description: []byte("{}")}})
			require.NoError(t, err)
			_, _, err = s.Submit(ctx, kb, "bj-0b01", []coord.NewUnit{{ID: "cu-c0ffee02", Slots: 1, Description: []byte("{}")}})
			require.NoError(t, err)
			require.NoError(t, s.CancelService(ctx, kb, "test"))

			svcs, err := s.Services(ctx)
			require.NoError(t, err)
			sort.Slice(svcs, func(i, j int) bool { return svcs[i].ID < svcs[j].ID })
			require.Len(t, svcs, 2)
			require.Equal(t, ka.Service(), svcs[0].ID)
			require.Equal(t, "", svcs[0].State)
			require.EqualValues(t, 2, svcs[0].Pilots)
			require.EqualValues(t, 1, svcs[0].OpenUnits)
			require.NotEmpty(t, svcs[0].Created)
			require.Equal(t, "Canceled", svcs[1].State)

			find := func(kind, prefix, service string) []string {
				t.Helper()
				ms, err := s.FindByPrefix(ctx, kind, prefix, service, 0)
				require.NoError(t, err)
				var out []string
				for _, m := range ms {
					out = append(out, fmt.Sprintf("%s %s %s", m.Service, m.ID, m.Name))
				}
				sort.Strings(out)
				return out
			}
			require.Equal(t, []string{ka.Service() + " " + ka.Service() + " "}, find(coord.KindServicePrefix, "aaaa1", ""))
			require.Len(t, find(coord.KindServicePrefix, "aaaa", ""), 2)
			require.Empty(t, find(coord.KindServicePrefix, "aaab", ""))
			require.Equal(t, []string{ka.Service() + " bj-0a01 bigjob:bj-0a01:h"}, find(coord.KindPilotPrefix, "0a01", ""))
			require.Len(t, find(coord.KindPilotPrefix, "0", ""), 3)
			require.Len(t, find(coord.KindPilotPrefix, "0", kb.Service()), 1)
			require.Equal(t, []string{ka.Service() + " cu-c0ffee01 "}, find(coord.KindUnitPrefix, "C0FFEE01", ""))
			require.Len(t, find(coord.KindUnitPrefix, "c0ffee", ""), 2)
			require.Equal(t, []string{kb.Service() + " cu-c0ffee02 "}, find(coord.KindUnitPrefix, "c0ffee", kb.Service()))
			ms, err := s.FindByPrefix(ctx, coord.KindUnitPrefix, "c0ffee", "", 1)
			require.NoError(t, err)
			require.Len(t, ms, 1, "limit bounds the answer")
			_, err = s.FindByPrefix(ctx, coord.KindUnitPrefix, "*", "", 0)
			require.ErrorContains(t, err, "hex digits")
		})
	}
}

// unitIDs lists the ids of pilot's units.
func unitIDs(t *testing.T, s *coord.Store, k coord.Keys, pilot string) []string {
	t.Helper()
	units, err := s.PilotUnitIDs(context.Background(), k, pilot)
	require.NoError(t, err)
	var ids []string
	for _, u := range units {
		require.Equal(t, u.ID != "cu-own", u.Service, u.ID)
		ids = append(ids, u.ID)
	}
	return ids
}

// sortedAfterFirst is ids with all but the first sorted (units claimed in
// one call come in no set order).
func sortedAfterFirst(ids []string) []string {
	out := append([]string(nil), ids...)
	if len(out) > 1 {
		sort.Strings(out[1:])
	}
	return out
}
