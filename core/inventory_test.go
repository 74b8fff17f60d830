package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
)

// A store's services, pilots and units are listed whichever process made
// them; the units a pilot took from the service queue are its units; short
// ids resolve to the URLs the listings print.
func TestInventory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := ctxT(t)
		o := testOptions(t, url)
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		other := newService(t, url)

		queued, err := s.Submit(ctx, core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		own, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		require.NoError(t, s.Wait(ctx))

		units, err := p.Units(ctx)
		require.NoError(t, err)
		var ids []string
		for _, u := range units {
			ids = append(ids, u.ID())
		}
		require.ElementsMatch(t, []string{queued.ID(), own.ID()}, ids, "the pilot lists the service-queue unit it ran")

		svcs, err := core.StoreServices(ctx, url, o)
		require.NoError(t, err)
		byID := map[string]core.ServiceInfo{}
		for _, si := range svcs {
			byID[si.ID] = si
		}
		require.Contains(t, byID, s.ID())
		require.Contains(t, byID, other.ID())
		require.Equal(t, s.URL(), byID[s.ID()].URL)
		require.Equal(t, "Active", byID[s.ID()].State)
		require.EqualValues(t, 1, byID[s.ID()].Pilots)
		require.Zero(t, byID[s.ID()].OpenUnits)
		require.Equal(t, core.ShortID(s.ID()), byID[s.ID()].ShortID)

		pilots, err := core.StorePilots(ctx, url, "", o)
		require.NoError(t, err)
		require.Len(t, pilots, 1)
		require.Equal(t, p.URL(), pilots[0].URL)
		require.Equal(t, s.URL(), pilots[0].ServiceURL)
		require.Equal(t, core.Running, pilots[0].State)
		none, err := core.StorePilots(ctx, url, other.ID(), o)
		require.NoError(t, err)
		require.Empty(t, none)

		infos, err := s.UnitInfos(ctx)
		require.NoError(t, err)
		require.Len(t, infos, 2)
		for _, ui := range infos {
			require.Equal(t, core.Done, ui.State, ui.ID)
			require.Equal(t, p.URL(), ui.Pilot, "%s ran on the pilot", ui.ID)
			if ui.ID == queued.ID() {
				require.Equal(t, "service", ui.Queue)
				require.Equal(t, queued.URL(), ui.URL)
			} else {
				require.Equal(t, p.Name(), ui.Queue)
				require.Equal(t, own.URL(), ui.URL)
			}
		}

		// short ids, as printed, resolve to the URLs
		for ref, want := range map[string]string{
			core.ShortID(queued.ID()):                   queued.URL(),
			core.ShortID(own.ID()):                      own.URL(),
			core.ShortID(p.ID()):                        p.URL(),
			core.ShortID(s.ID()):                        s.URL(),
			strings.ToUpper(core.ShortID(own.ID())[3:]): own.URL(), // bare uuid prefix
		} {
			got, err := core.Resolve(ctx, url, ref, "", o)
			require.NoError(t, err, ref)
			require.Equal(t, want, got, ref)
		}
		got, err := core.Resolve(ctx, url, p.URL(), core.KindPilot, o)
		require.NoError(t, err)
		require.Equal(t, p.URL(), got, "a URL is taken as it is")
		_, err = core.Resolve(ctx, url, core.ShortID(p.ID()), core.KindUnit, o)
		require.True(t, errors.Is(err, core.ErrNotFound), "a pilot's short id names no unit: %v", err)
		_, err = core.Resolve(ctx, url, "sj-ffffffff9", "", o)
		require.True(t, errors.Is(err, core.ErrNotFound), "%v", err)
		_, err = core.Resolve(ctx, url, "pcs-", "", o)
		require.ErrorContains(t, err, "hex digit")
		_, err = core.Resolve(ctx, url, "x*", "", o)
		require.ErrorContains(t, err, "short id")
		// the two services' ids are version-1 uuids made moments apart: the
		// digits they share are ambiguous
		a, b := s.ID()[4:], other.ID()[4:]
		n := 0
		for n < len(a) && a[n] == b[n] {
			n++
		}
		if n > 0 {
			_, err = core.Resolve(ctx, url, "pcs-"+a[:n], "", o)
			require.True(t, errors.Is(err, core.ErrAmbiguous), "%v", err)
			require.ErrorContains(t, err, "more digits")
		}
	})
}
