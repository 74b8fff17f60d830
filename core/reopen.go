package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/google/uuid"
)

// OpenService reconnects to a service by its URL (Service.URL:
// redis://[pw@]host:port/pcs/pcs-<uuid>), from any process: a manager that
// died is replaced by one that carries on with Wait, Pilots, Details-style
// reads and Cancel. Adding units or pilots needs the service's signing key
// (see ErrNoKey), which the user's processes on the machine that created the
// service have. Close it when done; Close does not cancel the service.
//
// Within one process, all objects of a service share one connection, event
// watcher and liveness monitor, set up with the Options of whatever opened
// the service first: opening a service this process already has open (or
// created) reuses those and ignores o, except that a different RecordTTL
// gets its own.
func OpenService(ctx context.Context, serviceURL string, o Options) (*Service, error) {
	addr, name, err := coord.SplitObjectURL("service", serviceURL)
	if err != nil {
		return nil, err
	}
	id, ok := strings.CutPrefix(name, "pcs/")
	if !ok || !validID(id, "pcs-") {
		return nil, &coord.URLError{What: "service", URL: addr.Redacted() + "/" + name,
			Problem: "expected redis://host:port/pcs/pcs-<uuid>, the URL a service prints (PilotComputeService.get_url())"}
	}
	d, release, err := acquireDomain(ctx, addr, id, reconnectOptions(o))
	if err != nil {
		return nil, reconnectError("service "+id, addr, err)
	}
	exists, err := d.store.ServiceExists(ctx, d.keys)
	if err == nil && !exists {
		err = fmt.Errorf("service %s at %s: %w (it never existed, or its records expired)", id, addr.Redacted(), ErrNotFound)
	}
	if err != nil {
		release()
		return nil, err
	}
	s := &Service{d: d, release: release, id: id, url: serviceURLOf(addr, id)}
	ids, err := d.store.PilotIDs(ctx, d.keys)
	if err != nil {
		release()
		return nil, fmt.Errorf("service %s: list its pilots: %w", id, err)
	}
	for _, pid := range ids {
		s.pilots = append(s.pilots, &Pilot{d: d, id: pid})
		s.unwatch = append(s.unwatch, d.monitor.watch(pid))
	}
	return s, nil
}

// serviceURLOf is the URL of service id at addr.
func serviceURLOf(addr coord.Address, id string) string { return addr.String() + "/pcs/" + id }

// validID reports whether id is prefix followed by a UUID.
func validID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	return ok && uuid.Validate(rest) == nil
}

// Wait returns when every unit of the service is final, whichever process
// submitted it. Meanwhile this process watches the service's pilots, so a
// lost pilot's units go back to the queue (or fail) even when the process
// that created it is gone. It returns ErrNoPilots when units remain but no
// pilot of the service is live, and ErrStoreUnreachable when the store
// cannot be read for Options.StoreGrace. A call that ctx ends leaves the
// wait's state to the next call (see held).
func (s *Service) Wait(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	w := &s.waiting
	w.enter()
	err := s.wait(ctx, w)
	w.leave(ctx, err)
	return err
}

func (s *Service) wait(ctx context.Context, w *countWait) error {
	lctx, cancel := lookCtx(ctx)
	defer cancel()
	if err := s.d.settleAll(lctx); err != nil {
		return err
	}
	err := w.begin(lctx, s.d, func(e coord.Event) bool {
		switch {
		case e.Kind == coord.KindPilot:
			w.changed(false)
		case State(e.State).Final():
			w.ended()
		}
		return false
	}, ctx.Err() != nil)
	if err != nil {
		return fmt.Errorf("wait for service %s: %w", s.id, err)
	}
	rctx := lctx
	for {
		count, pilots := w.take()
		if count || pilots {
			var left int64
			var live int
			err := s.d.patient(rctx, func() (err error) {
				if left, err = s.d.store.OpenUnits(rctx, s.d.keys); err != nil || left == 0 || !pilots {
					return err
				}
				live, err = livePilots(rctx, []*domain{s.d}, &w.held)
				return err
			})
			if err != nil {
				w.changed(true)
				return fmt.Errorf("wait for service %s: %w", s.id, err)
			}
			if left == 0 {
				return nil
			}
			if pilots && live == 0 {
				return fmt.Errorf("wait for %d units of service %s: %w", left, s.id, ErrNoPilots)
			}
			if w.counted(int(left)) {
				continue
			}
		}
		gaps, _, err := w.block(ctx)
		if err != nil {
			return err
		}
		if len(gaps) > 0 {
			w.changed(true)
		}
		rctx = ctx
	}
}
