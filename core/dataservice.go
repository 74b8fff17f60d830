package core

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/bigjob-go/bigjob/coord"
)

// DataService is BigJob's (decentral) ComputeDataService: units submitted
// to it go to the service-wide queue of an attached Service, where any of
// that service's pilots takes them as it has room (late binding). With
// several services attached, units are spread over them in turn.
type DataService struct {
	id string

	mu       sync.Mutex
	services []*Service
	units    []*Unit
	next     int
}

// NewDataService returns an empty data service.
func NewDataService() *DataService { return &DataService{id: newID("cds-")} }

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
	u, err := s.Enqueue(ud)
	if err == nil {
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

// SubmitBulk queues many units, all on one attached service.
func (c *DataService) SubmitBulk(ctx context.Context, uds []UnitDescription) ([]*Unit, error) {
	s, err := c.pick()
	if err != nil {
		return nil, err
	}
	us, err := s.SubmitBulk(ctx, uds)
	c.mu.Lock()
	c.units = append(c.units, us...)
	c.mu.Unlock()
	return us, err
}

// Wait returns when every unit submitted through this data service is
// final. It returns ErrNoPilots early when the attached services have no
// live pilot left (none created, or all Done or Failed), as BigJob does.
func (c *DataService) Wait(ctx context.Context) error {
	lctx, cancel := lookCtx(ctx)
	defer cancel()
	byDomain := map[*domain][]string{}
	for _, u := range c.Units() {
		if err := u.written(lctx); err != nil {
			return err
		}
		byDomain[u.d] = append(byDomain[u.d], u.id)
	}
	doms := map[*domain]bool{}
	for _, s := range c.Services() {
		doms[s.d] = true
	}
	for d := range byDomain {
		doms[d] = true
	}
	return waitUnits(ctx, lctx, byDomain, doms)
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

// waitUnits waits until the units (ids per domain) are final, or until no
// domain in doms has a live pilot. lctx serves the first look (see lookCtx).
func waitUnits(ctx, lctx context.Context, units map[*domain][]string, doms map[*domain]bool) error {
	wake := make(chan struct{}, 1)
	subs := map[*domain]*subscription{}
	defer func() {
		for _, s := range subs {
			s.close()
		}
	}()
	for d := range doms {
		s, err := d.watcher.subscribeTo(lctx, nil, wake)
		if err != nil {
			return err
		}
		subs[d] = s
	}
	remaining := map[*domain]map[string]bool{}
	for d, ids := range units {
		remaining[d] = map[string]bool{}
		for _, id := range ids {
			remaining[d][id] = true
		}
	}
	recheck, pilotsChanged := true, true
	for first := true; ; first = false {
		rctx := ctx
		if first {
			rctx = lctx
		}
		if recheck {
			if err := dropFinal(rctx, remaining); err != nil {
				return err
			}
			recheck = false
		}
		left := 0
		for _, set := range remaining {
			left += len(set)
		}
		if left == 0 {
			return nil
		}
		if pilotsChanged {
			live, err := livePilots(rctx, doms)
			if err != nil {
				return err
			}
			if live == 0 {
				return fmt.Errorf("wait for %d units: %w", left, ErrNoPilots)
			}
			pilotsChanged = false
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		for d, s := range subs {
			if err := s.failed(); err != nil {
				return err
			}
			evs, gap := s.next()
			recheck = recheck || gap
			pilotsChanged = pilotsChanged || gap
			for _, e := range evs {
				switch {
				case e.Kind == coord.KindPilot:
					pilotsChanged = true
				case State(e.State).Final():
					delete(remaining[d], e.ID)
				}
			}
		}
	}
}

// dropFinal removes the units that are final (or gone) from remaining.
func dropFinal(ctx context.Context, remaining map[*domain]map[string]bool) error {
	for d, set := range remaining {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		var states []string
		err := d.patient(ctx, func() (err error) { states, err = d.store.States(ctx, d.keys, ids); return err })
		if err != nil {
			return err
		}
		for i, st := range states {
			if st == "" || State(st).Final() {
				delete(set, ids[i])
			}
		}
	}
	return nil
}

// livePilots counts the pilots of the domains that are not final.
func livePilots(ctx context.Context, doms map[*domain]bool) (int, error) {
	n := 0
	for d := range doms {
		var st []coord.PilotStatus
		err := d.patient(ctx, func() error {
			ids, err := d.store.PilotIDs(ctx, d.keys)
			if err == nil {
				st, err = d.store.PilotStatuses(ctx, d.keys, ids)
			}
			return err
		})
		if err != nil {
			return 0, err
		}
		for _, s := range st {
			if s.Exists && !State(s.State).Final() {
				n++
			}
		}
	}
	return n, nil
}
