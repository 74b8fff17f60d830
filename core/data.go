package core

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/pilotdata"
	"github.com/bigjob-go/bigjob/storage"
	"github.com/bigjob-go/bigjob/vocab"
)

// Pilot-Data: a PilotDataService makes PilotData (storage on a resource); a
// DataUnit is a set of files kept in one or more PilotData. Their records
// live in the coordination store (coord/data.go), so any process reconnects
// them by URL; their bytes live in the PilotData's location (package
// storage), each file recorded with its size and sha256 and checked on
// every copy.

type (
	PilotDataDescription = vocab.PilotDataDescription
	DataUnitDescription  = vocab.DataUnitDescription
	// DataFile is a file of a data unit: its name, size and sha256.
	DataFile = storage.File
)

// dataRef is what Pilot-Data objects share: the store and the service's keys.
type dataRef struct {
	store   *coord.Store
	addr    coord.Address
	keys    coord.DataKeys
	opts    Options // to reopen pilots (a Pilot-Data in a pilot's sandbox)
	release func()
	once    sync.Once
}

func (r *dataRef) close() { r.once.Do(r.release) }

func (r *dataRef) url(obj string) string {
	return r.addr.Base() + "/" + coord.DataObjectName(r.keys.Service(), obj)
}

// openDataRef connects to the store of the Pilot-Data object that rawURL
// names, which must be of the kind whose ids start with prefix ("": the
// service itself), and returns the object's id.
func openDataRef(ctx context.Context, kind, prefix, rawURL string, o Options) (*dataRef, string, error) {
	addr, name, err := coord.SplitObjectURL(kind, rawURL)
	if err != nil {
		return nil, "", err
	}
	svc, obj, err := coord.ParseDataObjectName(name)
	if err == nil && ((prefix == "") != (obj == "") || !strings.HasPrefix(obj, prefix)) {
		err = fmt.Errorf("names no %s (%s<uuid>)", kind, cmp.Or(prefix, "pds-"))
	}
	if err != nil {
		return nil, "", &coord.URLError{What: kind, URL: addr.Redacted() + "/" + name, Problem: err.Error()}
	}
	store, release, err := acquireStore(ctx, addr, reconnectOptions(o.withDefaults()))
	if err != nil {
		return nil, "", reconnectError(kind+" "+name, addr, err)
	}
	return &dataRef{store: store, addr: addr, keys: coord.DataServiceKeys(svc), opts: o, release: release}, obj, nil
}

// PilotDataService makes PilotData. Close it when done; its records stay.
type PilotDataService struct {
	ref *dataRef
	id  string
}

// NewPilotDataService creates a pilot data service in the coordination store
// of o.
func NewPilotDataService(ctx context.Context, o Options) (*PilotDataService, error) {
	o = o.withDefaults()
	addr, err := coord.ParseURL(o.CoordinationURL)
	if err != nil {
		return nil, err
	}
	store, release, err := acquireStore(ctx, addr, o)
	if err != nil {
		return nil, err
	}
	id := newID("pds-")
	ref := &dataRef{store: store, addr: addr, keys: coord.DataServiceKeys(id), opts: o, release: release}
	if err := store.CreateDataService(ctx, ref.keys); err != nil {
		ref.close()
		return nil, fmt.Errorf("create pilot data service: %w", err)
	}
	return &PilotDataService{ref: ref, id: id}, nil
}

// OpenPilotDataService reconnects to a pilot data service by its URL,
// redis://[pw@]host:port/bigdata:pds-<uuid>.
func OpenPilotDataService(ctx context.Context, url string, o Options) (*PilotDataService, error) {
	ref, _, err := openDataRef(ctx, "pilot data service", "", url, o)
	if err != nil {
		return nil, err
	}
	if _, err := ref.store.DataRecord(ctx, ref.keys.Info()); err != nil {
		ref.close()
		return nil, fmt.Errorf("pilot data service %s: %w", ref.keys.Service(), notFound(err))
	}
	return &PilotDataService{ref: ref, id: ref.keys.Service()}, nil
}

// ID is "pds-<uuid>".
func (s *PilotDataService) ID() string { return s.id }

// URL is the reconnectable URL of the service.
func (s *PilotDataService) URL() string { return s.ref.url("") }

// Close releases the service's connection; its records stay.
func (s *PilotDataService) Close() { s.ref.close() }

// CreatePilotData makes a PilotData at pdd.ServiceURL (its directory is
// created), or, when pdd.Pilot names a pilot, in that pilot's sandbox (see
// inPilotSandbox). A location that cannot be used is a *DescriptionError
// naming service_url (or pilot).
func (s *PilotDataService) CreatePilotData(ctx context.Context, pdd PilotDataDescription) (*PilotData, error) {
	if err := pdd.Validate(); err != nil {
		return nil, err
	}
	id := newID("pd-")
	key := "service_url"
	if pdd.Pilot != "" {
		var err error
		if pdd, err = inPilotSandbox(ctx, pdd, id, s.ref.opts); err != nil {
			return nil, &DescriptionError{Description: vocab.PilotDataDescriptionName, Key: "pilot", Problem: err.Error()}
		}
		key = "pilot"
	}
	loc, err := storage.Open(ctx, pdd.ServiceURL)
	if err != nil {
		return nil, &DescriptionError{Description: vocab.PilotDataDescriptionName, Key: key, Problem: err.Error()}
	}
	desc, err := json.Marshal(pdd)
	if err != nil {
		return nil, err
	}
	if err := s.ref.store.CreatePilotData(ctx, s.ref.keys, id, map[string]string{
		coord.FieldDescription: string(desc), coord.FieldServiceURL: pdd.ServiceURL,
		coord.FieldState: string(Running), coord.FieldCreated: coord.Timestamp(time.Now()),
	}); err != nil {
		return nil, fmt.Errorf("create pilot data: %w", err)
	}
	return &PilotData{ref: s.ref, id: id, desc: pdd, loc: loc}, nil
}

// inPilotSandbox completes a description naming a pilot: the Pilot-Data is
// the directory pd-<uuid> of the pilot's sandbox, where its agent runs (on a
// batch resource, the node's file system as the job sees it). It waits until
// the pilot runs (its sandbox is known then) or ctx ends. The location is
// file:// when the pilot runs on this host, else ssh:// to the host of the
// pilot's service_url (user and port kept) or, for a pilot with none, to
// the host it runs on. Without labels of its own, the Pilot-Data takes the
// pilot's, so that central placement sends units using its data there. The
// description returned has the location as its service_url.
func inPilotSandbox(ctx context.Context, pdd PilotDataDescription, id string, o Options) (PilotDataDescription, error) {
	p, err := OpenPilot(ctx, pdd.Pilot, o)
	if err != nil {
		return pdd, err
	}
	defer p.Close()
	st, err := p.WaitState(ctx, Running)
	if err != nil {
		return pdd, fmt.Errorf("wait for pilot %s to run: %w", p.Name(), err)
	}
	if st != Running {
		return pdd, fmt.Errorf("pilot %s is %s; a Pilot-Data in a pilot's sandbox needs a pilot that runs", p.Name(), st)
	}
	f, err := p.d.store.Fields(ctx, p.d.keys.Pilot(p.id), "run_host", "sandbox")
	if err != nil {
		return pdd, p.wrap("read sandbox", err)
	}
	pd, err := p.Description(ctx)
	if err != nil {
		return pdd, err
	}
	dir := path.Join(f[1], id)
	here, _ := os.Hostname()
	switch res, err := url.Parse(pd.ServiceURL); {
	case f[0] == here:
		pdd.ServiceURL = "file://" + dir
	case err == nil && res.Hostname() != "" && res.Hostname() != "localhost":
		pdd.ServiceURL = (&url.URL{Scheme: "ssh", User: res.User, Host: res.Host, Path: dir}).String()
	default:
		pdd.ServiceURL = (&url.URL{Scheme: "ssh", Host: f[0], Path: dir}).String()
	}
	if pdd.AffinityDatacenterLabel == "" && pdd.AffinityMachineLabel == "" {
		pdd.AffinityDatacenterLabel, pdd.AffinityMachineLabel = pd.AffinityDatacenterLabel, pd.AffinityMachineLabel
	}
	pdd.Pilot = "" // resolved: the Pilot-Data is its location now
	return pdd, nil
}

// PilotData lists the service's PilotData, by id.
func (s *PilotDataService) PilotData(ctx context.Context) ([]*PilotData, error) {
	ids, err := s.ref.store.PilotDataIDs(ctx, s.ref.keys)
	if err != nil {
		return nil, fmt.Errorf("list pilot data: %w", err)
	}
	sort.Strings(ids)
	out := make([]*PilotData, 0, len(ids))
	for _, id := range ids {
		pd, err := s.ref.pilotData(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, pd)
	}
	return out, nil
}

// PilotData is storage for data units on a resource.
type PilotData struct {
	ref   *dataRef
	id    string
	desc  PilotDataDescription
	owned bool // reconnected by URL: Close releases ref

	mu  sync.Mutex
	loc storage.Location // opened at the first copy (for another host, a connection), not to list
}

func (r *dataRef) pilotData(ctx context.Context, id string) (*PilotData, error) {
	pdd, err := r.service().Description(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	return &PilotData{ref: r, id: id, desc: pdd}, nil
}

// location is the PilotData's location, opened once.
func (pd *PilotData) location(ctx context.Context) (storage.Location, error) {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if pd.loc == nil {
		loc, err := storage.Open(ctx, pd.desc.ServiceURL)
		if err != nil {
			return nil, fmt.Errorf("pilot data %s: %w", pd.id, err)
		}
		pd.loc = loc
	}
	return pd.loc, nil
}

func (r *dataRef) service() pilotdata.Service { return pilotdata.Service{Store: r.store, Keys: r.keys} }

// OpenPilotData reconnects to a PilotData by its URL,
// redis://[pw@]host:port/bigdata:pds-<uuid>:pd-<uuid>. Close it when done.
func OpenPilotData(ctx context.Context, url string, o Options) (*PilotData, error) {
	ref, obj, err := openDataRef(ctx, "pilot data", "pd-", url, o)
	if err != nil {
		return nil, err
	}
	pd, err := ref.pilotData(ctx, obj)
	if err != nil {
		ref.close()
		return nil, err
	}
	pd.owned = true
	return pd, nil
}

// Close releases a PilotData reconnected by URL (others share their service's).
func (pd *PilotData) Close() {
	if pd.owned {
		pd.ref.close()
	}
}

// ID is "pd-<uuid>".
func (pd *PilotData) ID() string { return pd.id }

// URL is the reconnectable URL of the PilotData.
func (pd *PilotData) URL() string { return pd.ref.url(pd.id) }

// Description is the PilotData's description.
func (pd *PilotData) Description() PilotDataDescription { return pd.desc }

// DataUnits lists the URLs of the data units kept in the PilotData.
func (pd *PilotData) DataUnits(ctx context.Context) ([]string, error) {
	ids, err := pd.ref.store.DataUnitIDs(ctx, pd.ref.keys, pd.id)
	if err != nil {
		return nil, fmt.Errorf("pilot data %s: list data units: %w", pd.id, err)
	}
	sort.Strings(ids)
	for i, id := range ids {
		ids[i] = pd.ref.url(id)
	}
	return ids, nil
}

// SubmitDataUnit makes a data unit of dud's files, copied into this
// PilotData, and returns it Running (its files in place and recorded). Every
// file must exist: a missing one is a *DescriptionError naming it, and
// nothing is made. A copy that fails leaves the unit Failed with the reason.
func (pd *PilotData) SubmitDataUnit(ctx context.Context, dud DataUnitDescription) (*DataUnit, error) {
	srcs, err := pilotdata.LocalFiles(dud.FileURLs)
	if err != nil {
		return nil, err
	}
	desc, err := json.Marshal(dud)
	if err != nil {
		return nil, err
	}
	du := &DataUnit{ref: pd.ref, id: newID("du-")}
	if err := du.unit().Create(ctx, desc, coord.Timestamp(time.Now())); err != nil {
		return nil, fmt.Errorf("create data unit: %w", err)
	}
	loc, err := pd.location(ctx)
	if err != nil {
		return du, du.unit().Fail(ctx, err)
	}
	return du, du.unit().Place(ctx, pd.id, loc, srcs)
}

// Add copies data unit du's files into this PilotData too (replication),
// each checked against its recorded size and sha256.
func (pd *PilotData) Add(ctx context.Context, du *DataUnit) error {
	loc, err := pd.location(ctx)
	if err != nil {
		return err
	}
	return du.unit().Replicate(ctx, pd.id, loc)
}

// DataUnit is a set of files kept in PilotData.
type DataUnit struct {
	ref   *dataRef
	id    string
	owned bool
}

// OpenDataUnit reconnects to a data unit by its URL,
// redis://[pw@]host:port/bigdata:pds-<uuid>:du-<uuid>. Close it when done.
func OpenDataUnit(ctx context.Context, url string, o Options) (*DataUnit, error) {
	ref, obj, err := openDataRef(ctx, "data unit", "du-", url, o)
	if err != nil {
		return nil, err
	}
	du := &DataUnit{ref: ref, id: obj, owned: true}
	if _, err := du.State(ctx); err != nil {
		ref.close()
		return nil, err
	}
	return du, nil
}

// Close releases a data unit reconnected by URL.
func (du *DataUnit) Close() {
	if du.owned {
		du.ref.close()
	}
}

// ID is "du-<uuid>".
func (du *DataUnit) ID() string { return du.id }

// URL is the reconnectable URL of the data unit: what compute units name
// in input_data and output_data.
func (du *DataUnit) URL() string { return du.ref.url(du.id) }

func (du *DataUnit) unit() pilotdata.Unit { return pilotdata.Unit{S: du.ref.service(), ID: du.id} }

// State is Pending while its files are being placed, Running once they are
// in every PilotData that holds it, Failed if a copy failed.
func (du *DataUnit) State(ctx context.Context) (State, error) {
	r, err := du.unit().Record(ctx)
	return r.State, notFound(err)
}

// Wait returns when the data unit is Running, or its reason when it Failed.
func (du *DataUnit) Wait(ctx context.Context) error {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		r, err := du.unit().Record(ctx)
		if err != nil {
			return notFound(err)
		}
		switch r.State {
		case Running:
			return nil
		case Failed:
			return fmt.Errorf("data unit %s failed: %s", du.id, r.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// Files lists the data unit's files with their sizes and sha256, by name.
func (du *DataUnit) Files(ctx context.Context) ([]DataFile, error) {
	r, err := du.unit().Record(ctx)
	return r.Files, notFound(err)
}

// PilotData lists the URLs of the PilotData that hold the data unit, in the
// order they got it.
func (du *DataUnit) PilotData(ctx context.Context) ([]string, error) {
	r, err := du.unit().Record(ctx)
	for i, id := range r.PilotData {
		r.PilotData[i] = du.ref.url(id)
	}
	return r.PilotData, notFound(err)
}

// AddFiles copies local files into the data unit, in every PilotData that
// holds it. Every file must exist (a missing one is a *DescriptionError
// naming it, and nothing is copied); a name the unit has already is
// replaced.
func (du *DataUnit) AddFiles(ctx context.Context, files []string) error {
	srcs, err := pilotdata.LocalFiles(files)
	if err != nil {
		return err
	}
	return notFound(du.unit().AddFiles(ctx, srcs))
}

// Export waits until the data unit is Running, then copies its files into
// the local directory dir (created if missing), each checked against its
// recorded size and sha256.
func (du *DataUnit) Export(ctx context.Context, dir string) error {
	if err := du.Wait(ctx); err != nil {
		return err
	}
	return notFound(du.unit().Export(ctx, dir))
}

// checkInputData refuses, at submission, a unit whose input_data names
// something that is not a data unit of this coordination store (the agent
// could not stage it). known (may be nil) remembers the data units seen.
func (d *domain) checkInputData(ctx context.Context, ud UnitDescription, known map[string]bool) error {
	for _, url := range ud.InputData {
		if known[url] {
			continue
		}
		bad := func(problem string) error {
			return &DescriptionError{Description: UnitDescriptionName, Key: "input_data", Problem: fmt.Sprintf("%q %s", url, problem)}
		}
		_, name, err := coord.SplitObjectURL("data unit", url)
		if err != nil {
			return bad("is not a data unit URL; give DataUnit URLs (redis://host:port/bigdata:pds-<uuid>:du-<uuid>)")
		}
		du, err := pilotdata.OpenName(d.store, name)
		if err != nil {
			return bad("is not a data unit URL: " + err.Error())
		}
		if _, err := du.Record(ctx); errors.Is(err, coord.ErrNotFound) {
			return bad("is not in the service's coordination store (never made, its record expired, or made in another store): its pilot could not stage it")
		} else if err != nil {
			return fmt.Errorf("check input_data %s: %w", url, err)
		}
		if known != nil {
			known[url] = true
		}
	}
	return nil
}

// notFound maps the store's ErrNotFound to core's, keeping the message.
func notFound(err error) error {
	if errors.Is(err, coord.ErrNotFound) {
		return &kindError{fmt.Errorf("%w (no record: never made, or expired)", err), ErrNotFound}
	}
	return err
}
