package core

import (
	"context"
	"sync"

	"github.com/bigjob-go/bigjob/coord"
)

// Event is a state change of a pilot or a unit.
type Event struct {
	Pilot   bool   // the change is a pilot's (else a unit's)
	ID      string // bj-<uuid> or cu-<uuid>
	State   State
	PilotID string // for a unit: the pilot that runs it, if any
}

// Watch calls fn for every state change of the service's pilots and units,
// in the order they happened, from one goroutine, until stop is called.
// stop returns after a call in progress has returned; fn must not call stop.
// A watcher that falls more than about MaxEvents event batches behind misses
// the oldest ones (they are trimmed from the store).
func (s *Service) Watch(fn func(Event)) (stop func(), err error) {
	return watch(s.d, nil, fn)
}

// Watch is Service.Watch for this pilot and the units it runs or was given.
func (p *Pilot) Watch(fn func(Event)) (stop func(), err error) {
	return watch(p.d, func(e coord.Event) bool {
		return e.ID == p.id || e.Pilot == p.id
	}, fn)
}

// Watch is Service.Watch for this unit.
func (u *Unit) Watch(fn func(Event)) (stop func(), err error) {
	return watch(u.d, func(e coord.Event) bool { return e.ID == u.id }, fn)
}

func watch(d *domain, filter func(coord.Event) bool, fn func(Event)) (func(), error) {
	sub, err := d.watcher.subscribe(context.Background(), filter)
	if err != nil {
		return nil, err
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-sub.C:
			}
			evs, gap := sub.next()
			if gap {
				d.log.Warn("a state-change watcher missed events (it fell behind the trimmed event stream)")
			}
			for _, e := range evs {
				select {
				case <-quit:
					return
				default:
				}
				fn(Event{Pilot: e.Kind == coord.KindPilot, ID: e.ID, State: State(e.State), PilotID: e.Pilot})
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
			sub.close()
		})
	}, nil
}
