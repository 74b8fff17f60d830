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
	addr, name, err := splitObjectURL("service", serviceURL)
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
	s := &Service{d: d, release: release, id: id, url: addr.String() + "/pcs/" + id}
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
// cannot be read for Options.StoreGrace.
func (s *Service) Wait(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	lctx, cancel := lookCtx(ctx)
	defer cancel()
	if err := s.Flush(lctx); err != nil {
		return err
	}
	var sub *subscription
	err := s.d.patient(lctx, func() (err error) {
		sub, err = s.d.watcher.subscribe(lctx, func(e coord.Event) bool {
			return e.Kind == coord.KindPilot || State(e.State).Final()
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for service %s: %w", s.id, err)
	}
	defer sub.close()
	watched := map[string]func(){} // pilots the monitor watches during the wait
	defer func() {
		for _, unwatch := range watched {
			unwatch()
		}
	}()
	rctx := lctx
	for {
		var left int64
		var live int
		err := s.d.patient(rctx, func() (err error) {
			if left, err = s.d.store.OpenUnits(rctx, s.d.keys); err != nil || left == 0 {
				return err
			}
			live, err = s.livePilots(rctx, watched)
			return err
		})
		if err != nil {
			return fmt.Errorf("wait for service %s: %w", s.id, err)
		}
		if left == 0 {
			return nil
		}
		if live == 0 {
			return fmt.Errorf("wait for %d units of service %s: %w", left, s.id, ErrNoPilots)
		}
		if _, _, err := sub.wait(ctx); err != nil {
			return err
		}
		rctx = ctx
	}
}

// livePilots counts the service's pilots that are not final, and has the
// monitor watch each (adding its unwatch function to watched).
func (s *Service) livePilots(ctx context.Context, watched map[string]func()) (int, error) {
	ids, err := s.d.store.PilotIDs(ctx, s.d.keys)
	if err != nil {
		return 0, err
	}
	st, err := s.d.store.PilotStatuses(ctx, s.d.keys, ids)
	if err != nil {
		return 0, err
	}
	live := 0
	for _, p := range st {
		if p.Exists && !State(p.State).Final() {
			live++
			if watched[p.ID] == nil {
				watched[p.ID] = s.d.monitor.watch(p.ID)
			}
		}
	}
	return live, nil
}
