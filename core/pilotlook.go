package core

import (
	"context"
	"strconv"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// pilotLook is a pilot as explanations and progress show it.
type pilotLook struct {
	Name          string // its public name, or its id if the record has none
	State         State
	Slots         int
	Reason        string
	LastHeartbeat time.Time // zero before its agent reported
	// HeartbeatAge is how long before now the agent last reported, in
	// seconds to a tenth; -1 before it reported.
	HeartbeatAge float64
}

// lookPilot reads pilot id's record (coord.ErrNotFound once pruned).
func (d *domain) lookPilot(ctx context.Context, id string, now time.Time) (pilotLook, error) {
	f, err := d.store.Fields(ctx, d.keys.Pilot(id), coord.FieldState, coord.FieldSlots, coord.FieldName, "last_contact", coord.FieldReason)
	if err != nil {
		return pilotLook{}, err
	}
	l := pilotLook{Name: f[2], State: State(f[0]), Reason: f[4], HeartbeatAge: -1}
	if l.Name == "" {
		l.Name = id
	}
	l.Slots, _ = strconv.Atoi(f[1])
	if t, err := coord.ParseTimestamp(f[3]); err == nil && !t.IsZero() {
		l.LastHeartbeat = t
		l.HeartbeatAge = now.Sub(t).Round(100 * time.Millisecond).Seconds()
	}
	return l, nil
}
