package coord

import (
	"context"
	"strconv"
)

// Held is the Submit target of units held for central placement: they are
// recorded (state Unknown, open) but in no queue until Place puts them on a
// pilot's own queue. Service cancel cancels them.
const Held = "@held"

// PilotLoad is a pilot that is not final, as placement sees it.
type PilotLoad struct {
	ID    string
	State string
	Slots int
	Free  int // Slots less those of its units that are not final
}

// PilotLoads lists the service's pilots that are not final, with their
// free slots, in one script call.
func (s *Store) PilotLoads(ctx context.Context, k Keys) ([]PilotLoad, error) {
	v, err := s.run(ctx, scriptPilotLoads, k)
	if err != nil {
		return nil, err
	}
	r := replyStrings(v)
	out := make([]PilotLoad, 0, len(r)/4)
	for i := 0; i+3 < len(r); i += 4 {
		slots, _ := strconv.Atoi(r[i+2])
		free, _ := strconv.Atoi(r[i+3])
		out = append(out, PilotLoad{ID: r[i], State: r[i+1], Slots: slots, Free: free})
	}
	return out, nil
}

// Place puts held units on pilot pilotID's queue, in order, while the pilot
// has free slots for them; a unit no longer held (canceled) is passed over.
// consumed is how many of unitIDs, from the first, were placed or passed
// over (the others stay held); free is what the pilot has left. It returns
// ErrNotFound for an unknown pilot and *PilotEndedError for a final one.
func (s *Store) Place(ctx context.Context, k Keys, pilotID string, unitIDs []string) (consumed, free int, err error) {
	return s.place(ctx, k, pilotID, "", "", unitIDs)
}

// FailHeld ends the given units that are still held as Failed, with reason.
func (s *Store) FailHeld(ctx context.Context, k Keys, unitIDs []string, reason string) error {
	_, _, err := s.place(ctx, k, "", "fail", reason, unitIDs)
	return err
}

func (s *Store) place(ctx context.Context, k Keys, pilotID, mode, reason string, unitIDs []string) (consumed, free int, err error) {
	args := make([]any, 0, 3+len(unitIDs))
	args = append(args, pilotID, mode)
	if mode == "fail" {
		args = append(args, reason)
	}
	for _, id := range unitIDs {
		args = append(args, id)
	}
	v, err := s.run(ctx, scriptPlace, k, args...)
	if err != nil {
		return 0, 0, err
	}
	r := replyStrings(v)
	if err := submitError(r); err != nil {
		return 0, 0, err
	}
	consumed, _ = strconv.Atoi(at(r, 1))
	free, _ = strconv.Atoi(at(r, 2))
	return consumed, free, nil
}
