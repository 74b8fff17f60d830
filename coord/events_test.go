package coord_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// A large batch is published as several small entries, in order, and
// MaxEvents entries bound the stream whatever the batch sizes.
func TestEventStreamIsBoundedInEvents(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			a, err := coord.ParseURL(b.URL)
			require.NoError(t, err)
			const maxEntries = 10
			s, err := coord.Dial(ctx, a, coord.Config{MaxEvents: maxEntries})
			require.NoError(t, err)
			defer s.Close()
			k := coord.ServiceKeys("pcs-events-" + b.Name)

			var want []string
			for round := range 20 {
				units := make([]coord.NewUnit, 100)
				for i := range units {
					units[i] = coord.NewUnit{ID: fmt.Sprintf("cu-%d-%d", round, i), Slots: 1, Description: []byte("{}")}
					want = append(want, units[i].ID)
				}
				_, _, err := s.Submit(ctx, k, "", units)
				require.NoError(t, err)
			}

			batches, err := s.ReadEvents(ctx, k, "0-0", 10000, 0)
			require.NoError(t, err)
			// Redis trims whole stream nodes ("~": at most 100 entries
			// each), so a few more may stay.
			require.LessOrEqual(t, len(batches), maxEntries+100)
			var seen []string
			for i, eb := range batches {
				require.LessOrEqual(t, len(eb.Events), coord.EventsPerEntry)
				if i > 0 {
					require.Equal(t, batches[i-1].Seq+1, eb.Seq, "entries are numbered without gaps")
				}
				for _, e := range eb.Events {
					seen = append(seen, e.ID)
				}
			}
			last, seq, err := s.LastEvent(ctx, k)
			require.NoError(t, err)
			require.Equal(t, batches[len(batches)-1].StreamID, last)
			perSubmit := (100 + coord.EventsPerEntry - 1) / coord.EventsPerEntry
			require.EqualValues(t, 20*perSubmit, seq, "every submit wrote its events as %d entries", perSubmit)
			require.Less(t, int64(len(batches)), seq/2, "the stream was not trimmed")
			require.Equal(t, want[len(want)-len(seen):], seen, "the newest events, in order")
		})
	}
}
