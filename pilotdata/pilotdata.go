// Package pilotdata is what is done to data units, on their records in the
// coordination store (coord/data.go) and their bytes in Pilot-Data
// locations (package storage): placing files, recording them, copying them
// out, replicating. The client (core) and the agent (a compute unit's
// input_data and output_data) share it.
package pilotdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/storage"
	"github.com/bigjob-go/bigjob/vocab"
)

// Service is a pilot data service's records in a store.
type Service struct {
	Store *coord.Store
	Keys  coord.DataKeys
}

// Description reads the description of Pilot-Data pd.
func (s Service) Description(ctx context.Context, pd string) (vocab.PilotDataDescription, error) {
	m, err := s.Store.DataRecord(ctx, s.Keys.PilotData(pd))
	if err != nil {
		return vocab.PilotDataDescription{}, fmt.Errorf("pilot data %s: %w", pd, err)
	}
	var pdd vocab.PilotDataDescription
	if err := json.Unmarshal([]byte(m[coord.FieldDescription]), &pdd); err != nil {
		return vocab.PilotDataDescription{}, fmt.Errorf("pilot data %s: read its description: %w", pd, err)
	}
	return pdd, nil
}

// Location opens the location of Pilot-Data pd (for a host reached over
// SSH, a connection).
func (s Service) Location(ctx context.Context, pd string) (storage.Location, error) {
	pdd, err := s.Description(ctx, pd)
	if err != nil {
		return nil, err
	}
	loc, err := storage.Open(ctx, pdd.ServiceURL)
	if err != nil {
		return nil, fmt.Errorf("pilot data %s: %w", pd, err)
	}
	return loc, nil
}

// Unit is data unit ID of service S.
type Unit struct {
	S  Service
	ID string
}

// OpenName names the data unit of a data unit URL's object name
// ("bigdata:pds-<uuid>:du-<uuid>") in store.
func OpenName(store *coord.Store, name string) (Unit, error) {
	svc, obj, err := coord.ParseDataObjectName(name)
	if err != nil {
		return Unit{}, err
	}
	if len(obj) < 3 || obj[:3] != "du-" {
		return Unit{}, fmt.Errorf("%q names no data unit (du-<uuid>)", name)
	}
	return Unit{S: Service{Store: store, Keys: coord.DataServiceKeys(svc)}, ID: obj}, nil
}

// Record is a data unit's record.
type Record struct {
	State     vocab.State
	Reason    string         // why it Failed
	Files     []storage.File // by name
	PilotData []string       // the ids of the Pilot-Data that hold it, in the order they got it
}

// Record reads the unit's record; coord.ErrNotFound if it has none.
func (u Unit) Record(ctx context.Context) (Record, error) {
	m, err := u.S.Store.DataRecord(ctx, u.S.Keys.DataUnit(u.ID))
	if err != nil {
		return Record{}, fmt.Errorf("data unit %s: %w", u.ID, err)
	}
	r := Record{State: vocab.State(m[coord.FieldState]), Reason: m[coord.FieldReason], PilotData: jsonList(m[coord.FieldPilotData])}
	if err := json.Unmarshal([]byte(m[coord.FieldFiles]), &r.Files); err != nil {
		return Record{}, fmt.Errorf("data unit %s: read its files: %w", u.ID, err)
	}
	return r, nil
}

// Create writes the record of a new data unit, Pending, with its
// description.
func (u Unit) Create(ctx context.Context, desc []byte, created string) error {
	return u.S.Store.SetDataUnit(ctx, u.S.Keys, u.ID, "", map[string]string{
		coord.FieldDescription: string(desc), coord.FieldState: string(vocab.Pending), coord.FieldFiles: "[]",
		coord.FieldPilotData: "[]", coord.FieldCreated: created,
	})
}

// Place copies the local files srcs into Pilot-Data pd (at loc) under the
// unit's name and records them, and that pd holds the unit: the unit is
// then Running. A file of a name the unit has is replaced (of two sources
// of one name, the later). A failed copy leaves the unit Failed with the
// reason.
func (u Unit) Place(ctx context.Context, pd string, loc storage.Location, srcs []string) error {
	var puts []storage.Put
	at := map[string]int{} // of two sources of one name, the later is placed
	for _, src := range srcs {
		p := storage.Put{Src: src, Name: u.ID + "/" + filepath.Base(src)}
		if i, ok := at[p.Name]; ok {
			puts[i] = p
			continue
		}
		at[p.Name] = len(puts)
		puts = append(puts, p)
	}
	placed, err := storage.PutAll(ctx, loc, puts)
	if err != nil {
		return u.Fail(ctx, fmt.Errorf("data unit %s: %w", u.ID, err))
	}
	return u.record(ctx, pd, placed)
}

// record adds files to the unit's record and pd to its holders, and makes
// it Running.
func (u Unit) record(ctx context.Context, pd string, placed []storage.File) error {
	return u.S.Store.UpdateDataUnit(ctx, u.S.Keys, u.ID, pd, func(m map[string]string) (map[string]string, error) {
		byName := map[string]storage.File{}
		var old []storage.File
		json.Unmarshal([]byte(m[coord.FieldFiles]), &old)
		for _, f := range append(old, placed...) {
			byName[f.Name] = f
		}
		files := make([]storage.File, 0, len(byName))
		for _, f := range byName {
			files = append(files, f)
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		ids := jsonList(m[coord.FieldPilotData])
		if !slices.Contains(ids, pd) {
			ids = append(ids, pd)
		}
		fb, _ := json.Marshal(files)
		ib, _ := json.Marshal(ids)
		return map[string]string{coord.FieldFiles: string(fb), coord.FieldPilotData: string(ib), coord.FieldState: string(vocab.Running)}, nil
	})
}

// Fail records that the unit failed, and why, and returns why.
func (u Unit) Fail(ctx context.Context, why error) error {
	if err := u.S.Store.SetDataUnit(context.WithoutCancel(ctx), u.S.Keys, u.ID, "", map[string]string{
		coord.FieldState: string(vocab.Failed), coord.FieldReason: why.Error()}); err != nil {
		return errors.Join(why, fmt.Errorf("record the failure: %w", err))
	}
	return why
}

// AddFiles copies the local files srcs into every Pilot-Data that holds the
// unit.
func (u Unit) AddFiles(ctx context.Context, srcs []string) error {
	r, err := u.Record(ctx)
	if err != nil {
		return err
	}
	if len(r.PilotData) == 0 {
		return fmt.Errorf("data unit %s: no Pilot-Data holds it yet", u.ID)
	}
	for _, pd := range r.PilotData {
		loc, err := u.S.Location(ctx, pd)
		if err != nil {
			return err
		}
		if err := u.Place(ctx, pd, loc, srcs); err != nil {
			return err
		}
	}
	return nil
}

// Export copies the unit's files into the local directory dir (created if
// missing), each checked against its recorded size and sha256. The unit
// must be Running.
func (u Unit) Export(ctx context.Context, dir string) error {
	_, err := u.export(ctx, dir)
	return err
}

// export is Export, returning the record whose files it copied.
func (u Unit) export(ctx context.Context, dir string) (Record, error) {
	r, err := u.Record(ctx)
	if err != nil {
		return Record{}, err
	}
	if r.State != vocab.Running {
		return Record{}, fmt.Errorf("data unit %s is %s, not Running: its files are not all in place", u.ID, r.State)
	}
	if len(r.PilotData) == 0 {
		return Record{}, fmt.Errorf("data unit %s: no Pilot-Data holds it", u.ID)
	}
	loc, err := u.S.Location(ctx, r.PilotData[0])
	if err != nil {
		return Record{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Record{}, fmt.Errorf("export data unit %s: %w", u.ID, err)
	}
	if err := storage.GetAll(ctx, loc, r.Files, func(f storage.File) string {
		return filepath.Join(dir, path.Base(f.Name))
	}); err != nil {
		return Record{}, fmt.Errorf("export data unit %s: %w", u.ID, err)
	}
	return r, nil
}

// Replicate copies the unit's files into Pilot-Data pd (at loc) too, each
// checked against its recorded size and sha256, and records that pd holds
// it.
func (u Unit) Replicate(ctx context.Context, pd string, loc storage.Location) error {
	tmp, err := os.MkdirTemp("", "bigjob-replica-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r, err := u.export(ctx, tmp) // the files of this record, and no others, are in tmp
	if err != nil {
		return fmt.Errorf("replicate data unit %s into %s: %w", u.ID, pd, err)
	}
	puts := make([]storage.Put, len(r.Files))
	for i, f := range r.Files {
		puts[i] = storage.Put{Src: filepath.Join(tmp, path.Base(f.Name)), Name: f.Name}
	}
	placed, err := storage.PutAll(ctx, loc, puts)
	if err == nil && !slices.Equal(placed, r.Files) {
		err = storage.ErrChecksum
	}
	if err != nil {
		return u.Fail(ctx, fmt.Errorf("replicate data unit %s into %s: %w", u.ID, pd, err))
	}
	return u.record(ctx, pd, placed)
}

// LocalFiles checks that every file URL names an existing regular file of
// this machine, no two of the same name, and returns their paths. Problems
// are *vocab.DescriptionError naming file_urls and the file.
func LocalFiles(urls []string) ([]string, error) {
	bad := func(problem string) error {
		return &vocab.DescriptionError{Description: vocab.DataUnitDescriptionName, Key: "file_urls", Problem: problem}
	}
	seen := map[string]string{}
	paths := make([]string, 0, len(urls))
	for _, u := range urls {
		p, err := vocab.LocalFile(u)
		if err != nil {
			return nil, bad(err.Error())
		}
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, bad(fmt.Sprintf("%s does not exist; give files that exist (the original dropped missing ones silently)", u))
		case err != nil:
			return nil, bad(err.Error())
		case !st.Mode().IsRegular():
			return nil, bad(fmt.Sprintf("%s is not a regular file; a data unit holds files", u))
		}
		base := filepath.Base(p)
		if other, dup := seen[base]; dup {
			return nil, bad(fmt.Sprintf("%s and %s have the same name, %s; a data unit keeps one file of each name", other, u, base))
		}
		seen[base] = u
		paths = append(paths, p)
	}
	return paths, nil
}

func jsonList(s string) []string {
	var l []string
	json.Unmarshal([]byte(s), &l)
	return l
}
