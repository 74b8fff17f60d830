package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DataService is BigJob's (decentral) ComputeDataService: units submitted
// to it go to the service-wide queue of an attached Service, where any of
// that service's pilots takes them as it has room (late binding). With
// several services attached, units are spread over them in turn.
//
// A central data service (NewCentralDataService) places each unit itself
// instead, on one pilot's own queue, by free slots, input data and affinity
// labels (see placer.go).
type DataService struct {
	id      string
	central *placer // nil: decentral

	mu       sync.Mutex
	services []*Service
	units    []*Unit
	next     int

	waiting unitsWait // Wait's state between calls
}

// NewDataService returns an empty data service.
func NewDataService() *DataService { return &DataService{id: newID("cds-")} }

// NewCentralDataService returns an empty central data service: BigJob's
// ComputeDataServiceCentral. Its units are held until this process places
// them (see placer.go); Close stops the placing.
func NewCentralDataService() *DataService {
	c := NewDataService()
	c.central = newPlacer()
	return c
}

// Central reports whether the data service places units itself.
func (c *DataService) Central() bool { return c.central != nil }

// Close stops a central data service's placing in this process: units not
// placed yet stay held in the store, until their service is canceled. It
// does nothing to a decentral one.
func (c *DataService) Close() {
	if c.central != nil {
		c.central.close()
	}
}

// ID is "cds-<uuid>".
func (c *DataService) ID() string { return c.id }

// URL is redis://<host>/bigjob:cds-<uuid> on the first attached service's
// store (BigJob drops the port here), or "" while none is attached.
func (c *DataService) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.services) == 0 {
		return ""
	}
	a := c.services[0].d.addr
	return "redis://" + a.Host + "/bigjob:" + c.id
}

// AddService attaches a pilot compute service.
func (c *DataService) AddService(s *Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.services = append(c.services, s)
}

// RemoveService detaches a service; its units stay where they are.
func (c *DataService) RemoveService(s *Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.services {
		if x == s {
			c.services = append(c.services[:i], c.services[i+1:]...)
			return
		}
	}
}

// Services lists the attached services.
func (c *DataService) Services() []*Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Service(nil), c.services...)
}

// Units lists the units submitted through this data service.
func (c *DataService) Units() []*Unit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Unit(nil), c.units...)
}

// Submit queues a unit on the service queue of an attached service. It is
// accepted even before any pilot runs.
func (c *DataService) Submit(ctx context.Context, ud UnitDescription) (*Unit, error) {
	us, err := c.SubmitBulk(ctx, []UnitDescription{ud})
	if err != nil {
		return nil, err
	}
	return us[0], nil
}

// Enqueue queues a unit with write-behind (see Service.Enqueue) on the
// service queue of an attached service.
func (c *DataService) Enqueue(ud UnitDescription) (*Unit, error) {
	s, err := c.pick()
	if err != nil {
		return nil, err
	}
	var u *Unit
	if c.central == nil {
		u, err = s.Enqueue(ud)
	} else if err = s.check(); err == nil {
		if u, err = s.d.outboxFor(queue{held: true}).enqueue(ud); err == nil {
			err = c.central.add(s.d, []*Unit{u}, []UnitDescription{ud})
		}
	}
	if u != nil {
		c.mu.Lock()
		c.units = append(c.units, u)
		c.mu.Unlock()
	}
	return u, err
}

// pick chooses the service for the next units, in turn.
func (c *DataService) pick() (*Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.services) == 0 {
		return nil, fmt.Errorf("compute data service %s: no pilot compute service attached; add one first", c.id)
	}
	s := c.services[c.next%len(c.services)]
	c.next++
	return s, nil
}

// SubmitBulk queues many units, all on one attached service (held for
// placement, if the data service is central).
func (c *DataService) SubmitBulk(ctx context.Context, uds []UnitDescription) ([]*Unit, error) {
	s, err := c.pick()
	if err != nil {
		return nil, err
	}
	var us []*Unit
	if c.central == nil {
		us, err = s.SubmitBulk(ctx, uds)
	} else if err = s.check(); err == nil {
		us, err = submitUnits(ctx, s.d, queue{held: true}, uds)
		if addErr := c.central.add(s.d, us, uds[:len(us)]); err == nil {
			err = addErr
		}
	}
	c.mu.Lock()
	c.units = append(c.units, us...)
	c.mu.Unlock()
	return us, err
}

// Wait returns when every unit submitted through this data service is
// final. It returns ErrNoPilots when units remain but the attached services
// have no live pilot left (none created, or all Done or Failed). A unit the
// store refused at submission is not waited for: its own operations report
// the refusal.
//
// Wait keeps what it learned between calls (see held): a call that ctx ends
// leaves it to the next, which goes on from there, so that a wait in many
// short slices reads each unit's state at most once (again only for the
// units still open when the event stream was trimmed past it).
func (c *DataService) Wait(ctx context.Context) error {
	w := &c.waiting
	w.enter()
	err := c.wait(ctx, w)
	w.leave(ctx, err)
	return err
}

func (c *DataService) wait(ctx context.Context, w *unitsWait) error {
	lctx, cancel := lookCtx(ctx)
	defer cancel()
	units := c.Units()
	for _, u := range units[w.added:] {
		if err := u.written(lctx); err != nil {
			if lctx.Err() != nil {
				return err
			}
			// refused at submission: reported by the unit's own operations
		} else {
			w.add(u.d, u.id)
		}
		w.added++
	}
	for _, s := range c.Services() {
		w.follow(s.d)
	}
	return w.run(ctx, lctx)
}

// Details returns the details of every pilot of the attached services.
func (c *DataService) Details(ctx context.Context) ([]map[string]string, error) {
	var out []map[string]string
	for _, s := range c.Services() {
		ids, err := s.d.store.PilotIDs(ctx, s.d.keys)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			m, err := (&Pilot{d: s.d, id: id}).Details(ctx)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}
