package core

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/pilotdata"
)

// Central placement (BigJob's ComputeDataServiceCentral). The units of a
// central DataService are held in the store (state Unknown, open, in no
// queue) until the placer puts each on one pilot's own queue:
//   - once every data unit of its input_data is Running (a Failed one fails
//     the unit, with the data unit's reason);
//   - on a Running pilot with free slots for it (its slots less those of its
//     units that are not final), so that a unit never waits behind others
//     on a busy pilot while another has room;
//   - preferring pilots whose affinity labels (affinity_datacenter_label,
//     affinity_machine_label) equal the unit's: its own, or else those of
//     the Pilot-Data holding its first input data unit. While a live pilot
//     with those labels exists, only such pilots take the unit; else any.
// The placer runs in the process that submitted the units, as BigJob's
// scheduler thread did, while it has units held; it keeps their service's
// domain open meanwhile. A placed unit is bound to its pilot like a unit
// submitted to it. Units are placed in the order they were submitted among
// those that can run. Unit.Explain says why a held unit waits.

// placerPoll is how often the placer looks again while a unit waits for
// its input data (data units have no events); placerIdle while units wait
// for slots or pilots (their events wake it sooner).
const (
	placerPoll = 200 * time.Millisecond
	placerIdle = 2 * time.Second
)

// placeBatch is the most units one Place call carries.
const placeBatch = 1000

// affinity is a pair of affinity labels; the zero value asks for none.
type affinity struct{ datacenter, machine string }

func (a affinity) set() bool { return a != affinity{} }

func (a affinity) String() string {
	return "affinity_datacenter_label=" + strconv.Quote(a.datacenter) + ", affinity_machine_label=" + strconv.Quote(a.machine)
}

// unitNeed is what placement asks of a pilot for a unit; units with the same
// needs share one.
type unitNeed struct {
	slots  int
	own    affinity // the unit's own labels
	inputs []string // data unit URLs of its input_data
}

func needOf(ud UnitDescription) unitNeed {
	return unitNeed{slots: ud.Slots(), own: affinity{ud.AffinityDatacenterLabel, ud.AffinityMachineLabel}, inputs: ud.InputData}
}

func (n unitNeed) key() string {
	return strconv.Itoa(n.slots) + "\x00" + n.own.datacenter + "\x00" + n.own.machine + "\x00" + strings.Join(n.inputs, "\x00")
}

type heldUnit struct {
	u    *Unit
	seq  uint64
	need *unitNeed
}

// heldQueue is the placer's state for one service.
type heldQueue struct {
	d       *domain
	release func() // drops the placer's reference to d
	sub     *subscription
	units   []heldUnit // by seq; add only appends
	needs   map[string]*unitNeed
	labels  map[string]affinity // pilot id -> its labels (descriptions do not change)
}

// placer places the units of one central DataService.
type placer struct {
	mu      sync.Mutex
	queues  map[*domain]*heldQueue
	seq     uint64
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{} // closed when the running loop ends
	running bool
	closed  bool
}

func newPlacer() *placer {
	return &placer{queues: map[*domain]*heldQueue{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// add hands units (written or being written to d's held queue) to the
// placer, with their descriptions, and starts it if it is idle.
func (pl *placer) add(d *domain, us []*Unit, uds []UnitDescription) error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		return ErrClosed
	}
	q := pl.queues[d]
	if q == nil {
		q = &heldQueue{d: d, release: d.retain(), needs: map[string]*unitNeed{}, labels: map[string]affinity{}}
		pl.queues[d] = q
	}
	for i, u := range us {
		n := needOf(uds[i])
		k := n.key()
		need := q.needs[k]
		if need == nil {
			need = &n
			q.needs[k] = need
		}
		pl.seq++
		q.units = append(q.units, heldUnit{u: u, seq: pl.seq, need: need})
	}
	if !pl.running {
		pl.running = true
		pl.done = make(chan struct{})
		go pl.loop()
	}
	pl.poke()
	return nil
}

func (pl *placer) poke() {
	select {
	case pl.wake <- struct{}{}:
	default:
	}
}

// close stops the placer; the units it still held stay held in the store
// (canceled with their service). It returns when the loop has ended.
func (pl *placer) close() {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return
	}
	pl.closed = true
	close(pl.stop)
	done := pl.done
	pl.mu.Unlock()
	if done != nil {
		<-done
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for d, q := range pl.queues {
		q.drop()
		delete(pl.queues, d)
	}
}

func (q *heldQueue) drop() {
	if q.sub != nil {
		q.sub.close()
	}
	q.release()
}

// loop places units until none is held, or the placer is closed.
func (pl *placer) loop() {
	defer close(pl.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-pl.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		pl.mu.Lock()
		var qs []*heldQueue
		for d, q := range pl.queues {
			if len(q.units) == 0 {
				q.drop()
				delete(pl.queues, d)
				continue
			}
			qs = append(qs, q)
		}
		if len(qs) == 0 || pl.closed {
			pl.running = false
			pl.mu.Unlock()
			return
		}
		pl.mu.Unlock()
		delay := placerIdle
		for _, q := range qs {
			dataWait, err := pl.round(ctx, q)
			if err != nil && ctx.Err() == nil {
				q.d.log.Warn("place held units", "err", err)
			}
			if dataWait {
				delay = placerPoll
			}
		}
		select {
		case <-pl.wake:
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
	}
}

// follow subscribes q to its service's events: pilots that change and
// units that end wake the placer.
func (pl *placer) follow(ctx context.Context, q *heldQueue) error {
	if q.sub != nil {
		return nil
	}
	sub, err := q.d.watcher.subscribeTo(ctx, func(e coord.Event) bool {
		if e.Kind == coord.KindPilot || State(e.State).Final() {
			pl.poke()
		}
		return false
	}, pl.wake)
	if err == nil {
		q.sub = sub
	}
	return err
}

// dataState is an input data unit as one round sees it.
type dataState struct {
	state  State
	reason string
	labels affinity // of the Pilot-Data that holds it first
	err    error
}

// round places what it can of q's held units. It reports whether a unit
// waits for its input data.
func (pl *placer) round(ctx context.Context, q *heldQueue) (dataWait bool, err error) {
	if err := pl.follow(ctx, q); err != nil {
		return false, err
	}
	if err := q.d.outboxFor(queue{held: true}).settle(ctx); err != nil {
		return false, err
	}
	pl.mu.Lock()
	n := len(q.units)
	units := slices.Clone(q.units[:n])
	pl.mu.Unlock()

	loads, err := q.d.store.PilotLoads(ctx, q.d.keys)
	if err != nil {
		return false, err
	}
	free := map[string]int{}
	for _, l := range loads {
		if _, ok := q.labels[l.ID]; !ok {
			pd, err := (&Pilot{d: q.d, id: l.ID}).Description(ctx)
			if err != nil {
				continue // pruned meanwhile, or unreadable: not a candidate now
			}
			q.labels[l.ID] = affinity{pd.AffinityDatacenterLabel, pd.AffinityMachineLabel}
		}
		if State(l.State) == Running {
			free[l.ID] = l.Free
		}
	}
	room := 0
	for _, f := range free {
		room += max(f, 0)
	}
	data := map[string]*dataState{}
	var keep []heldUnit
	plan := map[string][]heldUnit{}
	failed := map[string][]string{} // reason -> unit ids
	for i, h := range units {
		if room <= 0 {
			keep = append(keep, units[i:]...)
			break
		}
		if err := h.u.written(ctx); err != nil {
			if ctx.Err() != nil {
				return dataWait, err
			}
			continue // refused at submission: its own operations say so
		}
		ready, want, why := inputsReady(ctx, q.d.store, h.need, data)
		if why != "" {
			failed[why] = append(failed[why], h.u.id)
			continue
		}
		if !ready {
			dataWait = true
			keep = append(keep, h)
			continue
		}
		best := choosePilot(loads, free, q.labels, h.need.slots, want)
		if best == "" {
			keep = append(keep, h)
			continue
		}
		free[best] -= h.need.slots
		room -= h.need.slots
		plan[best] = append(plan[best], h)
	}
	var errs []error
	for pid, hs := range plan {
		left, err := placeOn(ctx, q.d, pid, hs)
		keep = append(keep, left...)
		if errors.Is(err, coord.ErrServiceCanceled) {
			keep = nil // service_cancel canceled every held unit
			errs = append(errs, err)
			break
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for why, ids := range failed {
		if err := q.d.store.FailHeld(ctx, q.d.keys, ids, why); err != nil {
			errs = append(errs, err)
			for _, h := range units { // keep them to try again
				if slices.Contains(ids, h.u.id) {
					keep = append(keep, h)
				}
			}
		}
	}
	slices.SortFunc(keep, func(a, b heldUnit) int { return cmp.Compare(a.seq, b.seq) })
	pl.mu.Lock()
	q.units = append(keep, q.units[n:]...)
	pl.mu.Unlock()
	return dataWait, errors.Join(errs...)
}

// placeOn places hs on pilot pid, in batches, and returns those that stay
// held. A pilot that ended or vanished meanwhile takes none.
func placeOn(ctx context.Context, d *domain, pid string, hs []heldUnit) ([]heldUnit, error) {
	for len(hs) > 0 {
		b := hs[:min(len(hs), placeBatch)]
		ids := make([]string, len(b))
		for i, h := range b {
			ids[i] = h.u.id
		}
		consumed, _, err := d.store.Place(ctx, d.keys, pid, ids)
		var ended *coord.PilotEndedError
		if errors.As(err, &ended) || errors.Is(err, coord.ErrNotFound) {
			return hs, nil
		}
		if err != nil {
			return hs, err
		}
		hs = hs[consumed:]
		if consumed < len(b) {
			return hs, nil // the pilot filled up meanwhile
		}
	}
	return nil, nil
}

// inputsReady reports whether every input data unit of need is Running,
// and the labels the unit asks for (its own, or those of the Pilot-Data of
// its first input). why is set when the unit can never run: an input
// failed or is gone.
func inputsReady(ctx context.Context, store *coord.Store, need *unitNeed, seen map[string]*dataState) (ready bool, want affinity, why string) {
	want = need.own
	ready = true
	for i, url := range need.inputs {
		ds := seen[url]
		if ds == nil {
			ds = readDataState(ctx, store, url)
			seen[url] = ds
		}
		switch {
		case errors.Is(ds.err, coord.ErrNotFound):
			return false, want, "input data unit " + url + " is gone (its record expired or was removed)"
		case ds.err != nil:
			ready = false // unreadable now: try again
		case ds.state == Failed:
			return false, want, "input data unit " + url + " failed: " + ds.reason
		case ds.state != Running:
			ready = false
		}
		if i == 0 && !want.set() {
			want = ds.labels
		}
	}
	return ready, want, ""
}

// readDataState reads a data unit of the service's store (input_data was
// checked at submission to name one).
func readDataState(ctx context.Context, store *coord.Store, url string) *dataState {
	_, name, err := coord.SplitObjectURL("data unit", url)
	if err != nil {
		return &dataState{err: err}
	}
	du, err := pilotdata.OpenName(store, name)
	if err != nil {
		return &dataState{err: err}
	}
	r, err := du.Record(ctx)
	if err != nil {
		return &dataState{err: err}
	}
	ds := &dataState{state: r.State, reason: r.Reason}
	if len(r.PilotData) > 0 {
		if pdd, err := du.S.Description(ctx, r.PilotData[0]); err == nil {
			ds.labels = affinity{pdd.AffinityDatacenterLabel, pdd.AffinityMachineLabel}
		}
	}
	return ds
}

// choosePilot picks, among Running pilots with free slots for a unit of
// slots, the one with the most free slots, keeping to pilots labelled want
// while a live one is.
func choosePilot(loads []coord.PilotLoad, free map[string]int, labels map[string]affinity, slots int, want affinity) string {
	strict := false
	if want.set() {
		for _, l := range loads {
			if labels[l.ID] == want && l.Slots >= slots {
				strict = true
				break
			}
		}
	}
	best, bestFree := "", 0
	for _, l := range loads {
		f, running := free[l.ID]
		if !running || f < slots || (strict && labels[l.ID] != want) {
			continue
		}
		if best == "" || f > bestFree {
			best, bestFree = l.ID, f
		}
	}
	return best
}
