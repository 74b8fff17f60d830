package core

import (
	"context"
	"fmt"
	"sync"

	"github.com/bigjob-go/bigjob/coord"
)

// stateChunk is how many unit states a wait reads in one store call.
const stateChunk = 10000

// unitsWait is the state of a wait for a set of units (DataService.Wait),
// spread over the domains of the services they went to: which units are
// not known to be final, and which of those must have their state read.
// Final events of the units strike them off as they arrive; a state is read
// only when the wait subscribes (then for every open unit) or when the
// event stream was trimmed past it (then for the units still open), in
// chunks whose progress is kept, so that the wait catches up once however
// many calls it is sliced into.
type unitsWait struct {
	held
	added int // units of the data service taken in so far

	mu            sync.Mutex // guards the fields below; the filters write them
	open          map[*domain]map[string]struct{}
	unread        map[*domain][]string // open units whose state is to be read
	doms          map[*domain]bool     // domains whose pilots can run the units
	pilotsChanged bool
}

// add takes in a unit to wait for.
func (w *unitsWait) add(d *domain, id string) {
	w.follow(d)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.open[d][id] = struct{}{}
	w.unread[d] = append(w.unread[d], id)
}

// follow adds a domain whose pilots can run the units.
func (w *unitsWait) follow(d *domain) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.doms == nil {
		w.doms, w.open, w.unread = map[*domain]bool{}, map[*domain]map[string]struct{}{}, map[*domain][]string{}
	}
	if !w.doms[d] {
		w.doms[d], w.open[d] = true, map[string]struct{}{}
	}
}

// reread marks every open unit of d for reading, and the pilots as changed.
func (w *unitsWait) reread(d *domain) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unread[d] = w.unread[d][:0]
	for id := range w.open[d] {
		w.unread[d] = append(w.unread[d], id)
	}
	w.pilotsChanged = true
}

// filter notes d's events: final units are struck off, pilot changes
// noted; the wait is poked when it must look.
func (w *unitsWait) filter(d *domain) func(coord.Event) bool {
	return func(e coord.Event) bool {
		switch {
		case e.Kind == coord.KindPilot:
			w.mu.Lock()
			w.pilotsChanged = true
			w.mu.Unlock()
			w.poke()
		case State(e.State).Final():
			w.mu.Lock()
			set := w.open[d]
			_, mine := set[e.ID]
			delete(set, e.ID)
			emptied := mine && len(set) == 0
			w.mu.Unlock()
			if emptied {
				w.poke()
			}
		}
		return false
	}
}

// run waits until no unit is open or no live pilot is left; lctx serves the
// first look (see lookCtx).
func (w *unitsWait) run(ctx, lctx context.Context) error {
	if w.reset == nil {
		w.reset = func() { // the events from now on are lost: read again
			for d := range w.open {
				w.reread(d)
			}
		}
	}
	w.mu.Lock()
	doms := make([]*domain, 0, len(w.doms))
	for d := range w.doms {
		doms = append(doms, d)
	}
	w.mu.Unlock()
	for _, d := range doms {
		fresh, err := w.subscribe(lctx, d, w.filter(d))
		if err != nil {
			return err
		}
		if fresh || ctx.Err() != nil { // a call that only looks reads too: events may lag
			w.reread(d)
		}
	}
	rctx := lctx
	for {
		if err := w.readStates(rctx); err != nil {
			return err
		}
		left, checkPilots := w.status()
		if left == 0 {
			return nil
		}
		if checkPilots {
			live, err := livePilots(rctx, doms, &w.held)
			if err != nil {
				w.mu.Lock()
				w.pilotsChanged = true
				w.mu.Unlock()
				return err
			}
			if live == 0 {
				return fmt.Errorf("wait for %d units: %w", left, ErrNoPilots)
			}
		}
		gaps, _, err := w.block(ctx)
		if err != nil {
			return err
		}
		for _, d := range gaps {
			w.reread(d)
		}
		rctx = ctx
	}
}

// status says how many units are open and takes the pilots-changed flag.
func (w *unitsWait) status() (left int, pilotsChanged bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, set := range w.open {
		left += len(set)
	}
	pilotsChanged, w.pilotsChanged = w.pilotsChanged, false
	return left, pilotsChanged
}

// readStates reads the state of the unread units chunk by chunk and strikes
// off the final ones (and those whose record is gone).
func (w *unitsWait) readStates(ctx context.Context) error {
	w.mu.Lock()
	var doms []*domain
	for d, ids := range w.unread {
		if len(ids) > 0 {
			doms = append(doms, d)
		}
	}
	w.mu.Unlock()
	for _, d := range doms {
		for {
			w.mu.Lock()
			ids := w.unread[d][:min(len(w.unread[d]), stateChunk)]
			ids = append([]string(nil), ids...)
			w.mu.Unlock()
			if len(ids) == 0 {
				break
			}
			var states []string
			err := d.patient(ctx, func() (err error) { states, err = d.store.States(ctx, d.keys, ids); return err })
			if err != nil {
				return err
			}
			w.mu.Lock()
			for i, st := range states {
				if st == "" || State(st).Final() {
					delete(w.open[d], ids[i])
				}
			}
			w.unread[d] = w.unread[d][len(ids):]
			w.mu.Unlock()
		}
	}
	return nil
}

// livePilots counts the pilots of the domains that are not final, and has
// the monitor watch each of them for the wait h (so that a pilot whose
// agent died is found out even when this process did not create it).
func livePilots(ctx context.Context, doms []*domain, h *held) (int, error) {
	n := 0
	for _, d := range doms {
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
				h.watch(d, s.ID)
			}
		}
	}
	return n, nil
}
