// Package core is the Pilot-Job API: a Service (BigJob's
// PilotComputeService) creates pilots on resources through adaptors; units
// (compute units) are submitted to one pilot or to the service-wide queue
// that every pilot of the service pulls from (late binding, which a
// DataService — BigJob's ComputeDataService — uses); waits follow the
// service's event stream instead of polling.
//
// All types are safe for concurrent use. Every method that blocks takes a
// context; cancel it to stop waiting (the waited-on object is unaffected).
package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/coord"
)

// Service is a pilot compute service: a set of pilots sharing one
// coordination namespace and one service-wide queue.
type Service struct {
	d       *domain
	release func()
	id      string
	url     string

	mu      sync.Mutex
	pilots  []*Pilot
	unwatch []func()
	closed  bool

	waiting countWait // Wait's state between calls
}

// NewService creates a service on the coordination store of o (connecting,
// or starting the embedded server; see Options).
func NewService(ctx context.Context, o Options) (*Service, error) {
	o = o.withDefaults()
	addr, err := coord.ParseURL(o.CoordinationURL)
	if err != nil {
		return nil, err
	}
	id := newID("pcs-")
	key, err := coord.NewKey()
	if err != nil {
		return nil, err
	}
	d, release, err := acquireDomain(ctx, addr, id, o)
	if err != nil {
		return nil, err
	}
	d.keyMu.Lock()
	d.signKey = key
	d.keyMu.Unlock()
	if err := d.store.CreateService(ctx, d.keys, coord.ServiceConfig{MaxAttempts: o.MaxAttempts, FinishedTTL: o.FinishedTTL}); err != nil {
		release()
		return nil, err
	}
	if err := saveKey(id, key); err != nil {
		d.log.Warn("the service's signing key cannot be kept on disk; other processes will not be able to add units to it", "err", err)
	}
	return &Service{
		d:       d,
		release: release,
		id:      id,
		url:     strings.TrimRight(o.CoordinationURL, "/") + "/pcs/" + id,
	}, nil
}

// ID is "pcs-<uuid>".
func (s *Service) ID() string { return s.id }

// URL is the coordination URL followed by /pcs/<id>, as in BigJob.
func (s *Service) URL() string { return s.url }

// CoordinationURL is the store the service uses (password masked).
func (s *Service) CoordinationURL() string { return s.d.addr.Redacted() }

// Pilots returns the pilots this Service created, in order.
func (s *Service) Pilots() []*Pilot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Pilot(nil), s.pilots...)
}

// CreatePilot submits a pilot to the resource named by pd.ServiceURL and
// returns at once; the pilot is Unknown until its agent runs. An agent that
// dies is noticed while this Service is open (or while someone waits on the
// pilot), and the pilot is then Failed.
func (s *Service) CreatePilot(ctx context.Context, pd PilotDescription) (*Pilot, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	pd, err := pd.Canonical() // Extra's keys of ours typed, and all checked: the door
	if err != nil {
		return nil, err
	}
	adaptor, resource, err := adaptors.Open(pd.ServiceURL)
	if err != nil {
		return nil, &DescriptionError{Description: PilotDescriptionName, Key: "service_url", Problem: err.Error(), Err: ErrNoAdaptor}
	}
	agent, err := findAgent(s.d.opts)
	if err != nil {
		return nil, fmt.Errorf("create pilot: %w", err)
	}
	key, err := s.d.signingKey() // before anything is written: without it no agent would start
	if err != nil {
		return nil, fmt.Errorf("create pilot: %w", err)
	}
	hooks, err := s.pilotHooks(ctx, pd)
	if err != nil {
		return nil, err
	}
	hookArgs, err := s.shipHooks(ctx, hooks)
	if err != nil {
		return nil, fmt.Errorf("create pilot: %w", err)
	}
	if h := resource.Hostname(); h != "" && !adaptors.IsLocalHost(h) && s.d.store.Address().Socket != "" {
		return nil, fmt.Errorf("create pilot on %s: the service's coordination store is your local store (%s), which an agent on another host cannot reach; give the service a coordination URL of a Redis that %s can reach",
			pd.ServiceURL, s.d.store.Address().Redacted(), h)
	}
	if h := resource.Hostname(); s.d.addr.IsLoopback() && h != "" && !adaptors.IsLocalHost(h) {
		s.d.log.Warn("the pilot's agent runs on another host but the coordination store has a loopback address, "+
			"which that host cannot reach; give the service a coordination URL with an address the host can reach",
			"resource", pd.ServiceURL, "coordination", s.d.addr.Redacted())
	}
	id := newID("bj-")
	name := coord.PilotName(id, adaptors.Host(resource))
	desc, err := json.Marshal(pd)
	if err != nil {
		return nil, fmt.Errorf("create pilot: %w", err)
	}
	o := s.d.opts
	fields := map[string]string{
		coord.FieldDescription: string(desc),
		coord.FieldSig:         key.Sign(coord.SignPilot, id, desc),
		"service_url":          pd.ServiceURL,
		"hb_interval_ms":       strconv.FormatInt(o.HeartbeatInterval.Milliseconds(), 10),
		"store_grace_ms":       strconv.FormatInt(o.StoreGrace.Milliseconds(), 10),
		"hb_timeout_ms":        strconv.FormatInt(o.HeartbeatTimeout.Milliseconds(), 10),
	}
	if err := s.d.store.CreatePilot(ctx, s.d.keys, id, name, pd.NumberOfProcesses, fields); err != nil {
		if errors.Is(err, coord.ErrServiceCanceled) {
			return nil, fmt.Errorf("create pilot: service %s was canceled", s.id)
		}
		return nil, fmt.Errorf("create pilot: %w", err)
	}
	req := adaptors.Request{
		PilotID:          id,
		Resource:         resource,
		Slots:            pd.NumberOfProcesses,
		ProcessesPerNode: pd.ProcessesPerNode,
		WorkingDirectory: pd.WorkingDirectory,
		Walltime:         time.Duration(pd.Walltime) * time.Minute, // 0: not given
		Queue:            pd.Queue,
		Project:          pd.Project,
		SPMDVariation:    pd.SPMDVariation,
		AgentPath:        pd.AgentPath,
		CandidateHosts:   pd.CandidateHosts,
		Extra:            pd.Extra,
		Agent: adaptors.Agent{
			Path: agent,
			Args: append([]string{"-pilot", id, "-service", s.id}, hookArgs...),
			Env:  []string{adaptors.EnvCoordination + "=" + coord.Credentials{URL: s.d.store.Address().String(), Key: key}.Encode()},
		},
	}
	h, err := adaptor.Submit(ctx, req)
	if err != nil {
		why := fmt.Sprintf("submit to %s: %v", pd.ServiceURL, err)
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.d.store.FinishPilot(fctx, s.d.keys, id, coord.PilotEnd{State: string(Failed), Reason: why,
			UnitState: string(Failed), UnitReason: "pilot " + name + " failed: " + why})
		cancel()
		return nil, fmt.Errorf("create pilot: %w: %s", ErrAdaptor, why)
	}
	hj, _ := json.Marshal(h)
	if err := s.d.store.SetPilotField(ctx, s.d.keys, id, coord.FieldHandle, string(hj)); err != nil {
		return nil, fmt.Errorf("create pilot: record its job handle: %w", err)
	}
	p := &Pilot{d: s.d, id: id, name: name, desc: &pd}
	unwatch := s.d.monitor.watch(id)
	s.mu.Lock()
	s.pilots = append(s.pilots, p)
	s.unwatch = append(s.unwatch, unwatch)
	s.mu.Unlock()
	return p, nil
}

// Submit queues a unit on the service-wide queue, from which any pilot of
// the service may take it. It is accepted before any pilot exists; it is
// refused if it needs more slots than the largest live pilot has.
func (s *Service) Submit(ctx context.Context, ud UnitDescription) (*Unit, error) {
	us, err := s.SubmitBulk(ctx, []UnitDescription{ud})
	if err != nil {
		return nil, err
	}
	return us[0], nil
}

// SubmitBulk queues many units on the service-wide queue in few round trips.
// On error the units before the failing batch are submitted and returned.
func (s *Service) SubmitBulk(ctx context.Context, uds []UnitDescription) ([]*Unit, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return submitUnits(ctx, s.d, queue{}, uds)
}

// Cancel cancels every pilot of the service (concurrently) and the units
// still waiting in the service queue; afterwards the service takes no new
// pilots or units, its signing key is deleted and its records are pruned
// after Options.FinishedTTL. It returns when the agents have stopped and
// their processes are gone.
func (s *Service) Cancel(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	settleErr := s.d.settleAll(ctx) // units enqueued before the cancel are canceled with it
	ids, err := s.d.store.PilotIDs(ctx, s.d.keys)
	if err != nil {
		return fmt.Errorf("cancel service %s: %w", s.id, err)
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = (&Pilot{d: s.d, id: id}).Cancel(ctx)
		}()
	}
	wg.Wait()
	if err := s.d.store.CancelService(ctx, s.d.keys, "canceled with its pilot compute service"); err != nil {
		errs = append(errs, fmt.Errorf("cancel service %s: %w", s.id, err))
	} else {
		removeKey(s.id) // the service takes no more units: nothing to sign
	}
	return errors.Join(append(errs, settleErr)...)
}

// Close releases the Service's resources in this process. It does not
// cancel pilots: they run on (until their walltime) and can be reached again
// by URL, as in BigJob.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	s.Flush(ctx) // nothing enqueued is lost
	cancel()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	unwatch := s.unwatch
	s.unwatch = nil
	s.mu.Unlock()
	for _, u := range unwatch {
		u()
	}
	s.release()
	return nil
}

func (s *Service) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("service %s: %w", s.id, ErrClosed)
	}
	return nil
}

// submitUnits validates and queues units on queue q. Every description is checked before any unit is sent; then they go
// in batches, the next batch being encoded while the store runs the current
// one, so that memory stays bounded by two batches whatever the number of
// units. A unit the store refuses (larger than every live pilot) is refused
// alone: it is returned with the others, its operations return the refusal,
// and so does the call, for the first such unit, once the others are
// queued. On any other error, the units of the batches written before are
// returned.
func submitUnits(ctx context.Context, d *domain, q queue, uds []UnitDescription) ([]*Unit, error) {
	target, name := q.target(), q.pilotName()
	known := map[string]bool{} // input data units seen to exist
	for i, ud := range uds {
		err := ud.Validate()
		if err == nil {
			err = d.checkInputData(ctx, ud, known)
		}
		if err != nil {
			if len(uds) > 1 {
				return nil, fmt.Errorf("unit %d: %w", i, err)
			}
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []coord.NewUnit, 1)
	units := make([]*Unit, 0, len(uds))
	var sendErr, refusedErr error
	sent := make(chan struct{})
	go func() { // the sender: writes batches in order until one fails
		defer close(sent)
		for b := range batches {
			if sendErr != nil {
				continue
			}
			refused, n, err := d.store.Submit(ctx, d.keys, target, b)
			first := len(units)
			for _, nu := range b[:n] {
				units = append(units, &Unit{d: d, id: nu.ID, pilotName: name})
			}
			for _, r := range refused {
				u := units[first+r.Index]
				u.refused = fmt.Errorf("unit %s was not submitted: %w", u.id, submitError(r.Err, q))
				if refusedErr == nil {
					refusedErr = u.refused
				}
			}
			if err != nil {
				sendErr = submitError(err, q)
				cancel()
			}
		}
	}()
	var encErr error
	for start := 0; start < len(uds) && ctx.Err() == nil; start += submitBatch {
		batch := make([]coord.NewUnit, 0, min(submitBatch, len(uds)-start))
		for i, ud := range uds[start:min(start+submitBatch, len(uds))] {
			nu, err := d.newUnit(ud)
			if err != nil {
				encErr = fmt.Errorf("unit %d: %w", start+i, err)
				break
			}
			batch = append(batch, nu)
		}
		if encErr != nil {
			break
		}
		batches <- batch
	}
	close(batches)
	<-sent
	if sendErr != nil {
		return units, sendErr
	}
	if encErr == nil && ctx.Err() != nil {
		encErr = ctx.Err()
	}
	if encErr == nil {
		encErr = refusedErr
	}
	return units, encErr
}

// submitBatch is the number of units encoded and sent at a time: one script
// call of the store's.
const submitBatch = coord.BatchSize

// queue is where submitted units go: pilot p's own queue, the service
// queue (p nil), or held for the central placement of a DataService.
type queue struct {
	p    *Pilot
	held bool
}

// target is the queue as coord.Store.Submit names it.
func (q queue) target() string {
	switch {
	case q.p != nil:
		return q.p.id
	case q.held:
		return coord.Held
	}
	return ""
}

// pilotName is the name of the queue's pilot, "" for the others.
func (q queue) pilotName() string {
	if q.p != nil {
		return q.p.Name()
	}
	return ""
}

func (q queue) String() string {
	switch {
	case q.p != nil:
		return "pilot " + q.p.Name()
	case q.held:
		return "the placement queue of the ComputeDataService"
	}
	return "the service queue"
}

func submitError(err error, q queue) error {
	where, p := q.String(), q.p
	var tl *coord.TooLargeError
	var ended *coord.PilotEndedError
	switch {
	case errors.As(err, &tl) && p != nil:
		return &DescriptionError{Description: UnitDescriptionName, Key: "number_of_processes", Problem: fmt.Sprintf(
			"the unit needs %d slots but pilot %s has only %d; lower number_of_processes or submit to a larger pilot", tl.Need, p.Name(), tl.Have)}
	case errors.As(err, &tl):
		return &DescriptionError{Description: UnitDescriptionName, Key: "number_of_processes", Problem: fmt.Sprintf(
			"the unit needs %d slots but the largest live pilot of the service has only %d; lower number_of_processes or create a larger pilot", tl.Need, tl.Have)}
	case errors.As(err, &ended):
		return fmt.Errorf("submit to %s: the pilot is %s and takes no more units; submit to a running pilot", where, ended.State)
	case errors.Is(err, coord.ErrServiceCanceled):
		return fmt.Errorf("submit to %s: the pilot compute service was canceled", where)
	case errors.Is(err, coord.ErrNotFound):
		return fmt.Errorf("submit to %s: %w", where, ErrNotFound)
	}
	return fmt.Errorf("submit to %s: %w", where, err)
}
