package core

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/bigjob-go/bigjob/coord"
)

// What a store holds, whatever process made it: its services, their pilots
// and units, and short ids for them (a unique prefix of the uuid, as git
// takes a prefix of a commit hash).

// ShortIDLength is the number of hex digits of the uuid that listings show
// (ShortID): the first group of a version-1 uuid, its fastest-changing part.
const ShortIDLength = 8

// ShortID is the short form of an id that listings print: its kind prefix
// and the first ShortIDLength hex digits of its uuid ("sj-1f2e3d4c" for unit
// cu-1f2e3d4c-…). Resolve turns it back into a URL.
func ShortID(id string) string {
	kind, uuid, ok := strings.Cut(id, "-")
	if !ok {
		return id
	}
	if kind == "cu" {
		kind = "sj" // the name units have in URLs and sandboxes
	}
	if len(uuid) > ShortIDLength {
		uuid = uuid[:ShortIDLength]
	}
	return kind + "-" + uuid
}

// ServiceInfo is one service of a store, as StoreServices lists it.
type ServiceInfo struct {
	ID        string  `json:"id"`
	ShortID   string  `json:"short_id"`
	URL       string  `json:"url"`
	State     string  `json:"state"`   // "Canceled", or "Active" before it is canceled
	Created   float64 `json:"created"` // epoch seconds; 0 if unknown
	Pilots    int64   `json:"pilots"`
	OpenUnits int64   `json:"open_units"` // units not final yet
}

// PilotInfo is one pilot of a store, as StorePilots lists it.
type PilotInfo struct {
	ID         string  `json:"id"`
	ShortID    string  `json:"short_id"`
	URL        string  `json:"url"`
	State      State   `json:"state"`
	Service    string  `json:"service"`
	ServiceURL string  `json:"service_url"`
	Created    float64 `json:"created"` // epoch seconds of its submission
	Slots      int     `json:"slots"`
	Reason     string  `json:"reason,omitempty"` // why it ended, if it did
}

// UnitInfo is one unit of a service, as Service.UnitInfos lists it.
type UnitInfo struct {
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
	URL     string `json:"url"`
	State   State  `json:"state"`
	// Queue is "service" for a unit of the service queue, or the name of
	// the pilot it was submitted to.
	Queue string `json:"queue"`
	// Pilot is the URL of the pilot that holds or ran the unit; "" while
	// none has taken it.
	Pilot     string  `json:"pilot"`
	Submitted float64 `json:"submitted"` // epoch seconds
	Started   float64 `json:"started"`   // 0 until it runs
	Ended     float64 `json:"ended"`     // 0 until it is final
	ExitCode  string  `json:"exit_code,omitempty"`
}

// inStore runs f with the store at coordinationURL (a reconnection: it never
// starts an empty local store).
func inStore(ctx context.Context, coordinationURL string, o Options, f func(*coord.Store, coord.Address) error) error {
	addr, err := coord.ParseURL(coordinationURL)
	if err != nil {
		return err
	}
	store, release, err := acquireStore(ctx, addr, reconnectOptions(o))
	if err != nil {
		return reconnectError("coordination store", addr, err)
	}
	defer release()
	return f(store, addr)
}

func serviceURL(addr coord.Address, id string) string { return addr.String() + "/pcs/" + id }

func seconds(v string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// StoreServices lists the services in the coordination store at
// coordinationURL, oldest first, whichever process created them (one that
// crashed too, as long as the records live).
func StoreServices(ctx context.Context, coordinationURL string, o Options) ([]ServiceInfo, error) {
	out := []ServiceInfo{} // empty, not nil: a JSON list
	err := inStore(ctx, coordinationURL, o, func(store *coord.Store, addr coord.Address) error {
		svcs, err := store.Services(ctx)
		if err != nil {
			return err
		}
		for _, s := range svcs {
			st := s.State
			if st == "" {
				st = "Active"
			}
			out = append(out, ServiceInfo{ID: s.ID, ShortID: ShortID(s.ID), URL: serviceURL(addr, s.ID), State: st,
				Created: seconds(s.Created), Pilots: s.Pilots, OpenUnits: s.OpenUnits})
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created < out[j].Created })
	return out, err
}

// StorePilotsAt lists the pilots of the store at url, oldest first: of
// every service if url is a coordination URL, of one if it is a service's
// URL (redis://host:port/pcs/pcs-<uuid>).
func StorePilotsAt(ctx context.Context, url string, o Options) ([]PilotInfo, error) {
	i := strings.LastIndex(url, "/pcs/")
	if i < 0 {
		return StorePilots(ctx, url, "", o)
	}
	if _, _, err := coord.SplitObjectURL("service", url); err != nil {
		return nil, err
	}
	return StorePilots(ctx, url[:i], url[i+len("/pcs/"):], o)
}

// StorePilots lists the pilots of the service serviceID ("pcs-<uuid>"), or
// of every service of the store if it is "", oldest first.
func StorePilots(ctx context.Context, coordinationURL, serviceID string, o Options) ([]PilotInfo, error) {
	out := []PilotInfo{}
	err := inStore(ctx, coordinationURL, o, func(store *coord.Store, addr coord.Address) error {
		ids := []string{serviceID}
		if serviceID == "" {
			svcs, err := store.Services(ctx)
			if err != nil {
				return err
			}
			ids = ids[:0]
			for _, s := range svcs {
				ids = append(ids, s.ID)
			}
		}
		for _, svc := range ids {
			pids, vals, err := store.PilotRecords(ctx, coord.ServiceKeys(svc),
				[]string{coord.FieldState, coord.FieldName, "start_time", coord.FieldSlots, coord.FieldReason})
			if err != nil {
				return fmt.Errorf("service %s: %w", svc, err)
			}
			for i, pid := range pids {
				v := vals[i]
				name := v[1]
				if name == "" {
					name = pid
				}
				slots, _ := strconv.Atoi(v[3])
				out = append(out, PilotInfo{ID: pid, ShortID: ShortID(pid), URL: addr.Base() + "/" + name, State: State(v[0]),
					Service: svc, ServiceURL: serviceURL(addr, svc), Created: seconds(v[2]), Slots: slots, Reason: v[4]})
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created < out[j].Created })
	return out, err
}

// UnitInfos lists every unit of the service, whichever process submitted
// it, in the order they were submitted: the units of its pilots' queues and
// of the service queue, each with the pilot that holds or ran it. It reads
// the records in batches (coord.Store.ScanUnits).
func (s *Service) UnitInfos(ctx context.Context) ([]UnitInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	d := s.d
	pids, names, err := d.store.PilotRecords(ctx, d.keys, []string{coord.FieldName})
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	nameOf := make(map[string]string, len(pids))
	for i, pid := range pids {
		nameOf[pid] = names[i][0]
	}
	pilotName := func(pid string) string {
		if n := nameOf[pid]; n != "" {
			return n
		}
		return pid
	}
	out := []UnitInfo{}
	fields := []string{coord.FieldVia, coord.FieldPilot, "start_time", "end_queue_time", "end_time", "exit_code"}
	err = d.store.ScanUnits(ctx, d.keys, fields, func(id string, v []string) error {
		u := UnitInfo{ID: id, ShortID: ShortID(id), Queue: "service", Submitted: seconds(v[2]),
			Started: seconds(v[3]), Ended: seconds(v[4]), ExitCode: v[5]}
		owner := coord.ServiceQueueName(d.keys.Service())
		if v[0] == coord.ViaPilot && v[1] != "" {
			owner = pilotName(v[1])
			u.Queue = owner
		}
		if v[1] != "" {
			u.Pilot = d.base() + "/" + pilotName(v[1])
		}
		u.URL = d.base() + "/" + owner + ":jobs:sj-" + strings.TrimPrefix(id, "cu-")
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	// states come from a second read, so that all fields of a row match
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	states, err := d.store.States(ctx, d.keys, ids)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	for i := range out {
		out[i].State = State(states[i])
	}
	// units written in one batch share their submission time: their ids,
	// version-1 uuids, keep the order they were made in
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Submitted != out[j].Submitted {
			return out[i].Submitted < out[j].Submitted
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Kinds of object a short id may name (Resolve's kind).
const (
	KindService = "service"
	KindPilot   = "pilot"
	KindUnit    = "unit"
)

// Resolve turns a reference to an object of the store at coordinationURL
// into its URL. ref is a URL (returned as it is) or a short id: the kind
// prefix pcs-, bj- or sj- (cu- too) and a unique prefix of the uuid
// ("sj-1f2e3d4c", as listings print it), or a bare uuid prefix. kind
// (KindService, KindPilot, KindUnit, or "" for any) restricts what it may
// name. An unknown prefix is ErrNotFound, one that names several objects
// ErrAmbiguous; the messages say which.
func Resolve(ctx context.Context, coordinationURL, ref, kind string, o Options) (string, error) {
	if strings.Contains(ref, "://") {
		return ref, nil
	}
	type search struct{ kind, prefix string }
	var searches []search
	want := func(k string) bool { return kind == "" || kind == k }
	prefix := strings.ToLower(strings.TrimSpace(ref))
	switch {
	case strings.HasPrefix(prefix, "pcs-"):
		searches = []search{{KindService, prefix[4:]}}
	case strings.HasPrefix(prefix, "bj-"):
		searches = []search{{KindPilot, prefix[3:]}}
	case strings.HasPrefix(prefix, "sj-"), strings.HasPrefix(prefix, "cu-"):
		searches = []search{{KindUnit, prefix[3:]}}
	default:
		searches = []search{{KindService, prefix}, {KindPilot, prefix}, {KindUnit, prefix}}
	}
	if strings.Trim(prefix, "0123456789abcdef-") != "" && len(searches) == 3 || ref == "" {
		return "", &URLError{What: "short id", URL: ref, Problem: "expected a URL, or a short id such as sj-1f2e3d4c, bj-… or pcs-… (a unique prefix of the uuid)"}
	}
	var urls []string
	err := inStore(ctx, coordinationURL, o, func(store *coord.Store, addr coord.Address) error {
		for _, s := range searches {
			if !want(s.kind) {
				continue
			}
			if len(s.prefix) == 0 {
				return &URLError{What: "short id", URL: ref, Problem: "give at least one hex digit of the uuid after the prefix"}
			}
			found, err := store.FindByPrefix(ctx, map[string]string{KindService: coord.KindServicePrefix,
				KindPilot: coord.KindPilotPrefix, KindUnit: coord.KindUnitPrefix}[s.kind], s.prefix, "", 2)
			if err != nil {
				return &URLError{What: "short id", URL: ref, Problem: err.Error()}
			}
			for _, m := range found {
				u, err := matchURL(ctx, store, addr, s.kind, m)
				if err != nil {
					return err
				}
				urls = append(urls, u)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	what := kind
	switch {
	case len(searches) == 1:
		what = searches[0].kind
	case what == "":
		what = "service, pilot or unit"
	}
	switch len(urls) {
	case 0:
		return "", fmt.Errorf("%s %q: %w in the store at %s (no %s id starts so; it never existed, or its records expired)",
			what, ref, ErrNotFound, coord.RedactURL(coordinationURL), what)
	case 1:
		return urls[0], nil
	}
	return "", fmt.Errorf("%s %q: %w: it names %s and %s at least; give more digits", what, ref, ErrAmbiguous, urls[0], urls[1])
}

// matchURL is the URL of a match of FindByPrefix.
func matchURL(ctx context.Context, store *coord.Store, addr coord.Address, kind string, m coord.Match) (string, error) {
	switch kind {
	case KindService:
		return serviceURL(addr, m.ID), nil
	case KindPilot:
		return addr.Base() + "/" + m.Name, nil
	}
	k := coord.ServiceKeys(m.Service)
	f, err := store.Fields(ctx, k.Unit(m.ID), coord.FieldVia, coord.FieldPilot)
	if err != nil {
		return "", fmt.Errorf("read unit %s: %w", m.ID, err)
	}
	owner := coord.ServiceQueueName(m.Service)
	if f[0] == coord.ViaPilot && f[1] != "" {
		name, err := store.Fields(ctx, k.Pilot(f[1]), coord.FieldName)
		if err != nil {
			return "", fmt.Errorf("read pilot %s: %w", f[1], err)
		}
		owner = f[1]
		if name[0] != "" {
			owner = name[0]
		}
	}
	return addr.Base() + "/" + owner + ":jobs:sj-" + strings.TrimPrefix(m.ID, "cu-"), nil
}
