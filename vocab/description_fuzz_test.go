package vocab

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// unitSeeds are compute unit descriptions: the seed example's
// (../shared/seed/example.py), the loose forms of bigjob-api.md 2.2, and
// hostile ones.
var unitSeeds = []string{
	`{"executable": "/bin/echo", "arguments": ["Hello", "$ENV1", "I am CU number 0"], "environment": ["ENV1=World"],
	  "number_of_processes": 1, "spmd_variation": "single", "output": "stdout.txt", "error": "stderr.txt"}`,
	`{"executable": "/bin/echo", "arguments": ["Hello", "$ENV1", 3, 1.5], "environment": {"B": 1, "A": "x y", "FLAG": true},
	  "number_of_processes": "2", "spmd_variation": "MPI", "working_directory": "/tmp/wd", "output": "out.txt",
	  "error": "err.txt", "input": "in.txt", "file_transfer": ["ssh://localhost/etc/hostname > SUBJOB_WORK_DIR"],
	  "input_data": ["redis://localhost/bigdata:du-1"], "output_data": [{"redis://localhost/bigdata:du-2": ["std*"]}],
	  "affinity_datacenter_label": "dc", "affinity_machine_label": "m", "total_core_count": 8, "wall_time_limit": 5,
	  "my_own_key": {"nested": [1, 2]}}`,
	`{"executable": "/bin/date", "arguments": [""], "environment": {"TASK_NO": 3, "NUMBER_SUBJOBS": "2"}}`,
	`{"executable": "x", "environment": ["ENV1=World", "EMPTY=", "EQ=a=b"], "arguments": "a b"}`,
	`{"executable": "x", "total_cpu_count": "3", "number_of_processes": null, "arguments": null}`,
	`{"executable": "x", "environment": {"A": "1", "A": "2"}, "number_of_processes": 1e3}`,
	`{"executable": "x", "environment": {"A": {"B": {"C": [1, {"D": null}]}}}}`,
	`{"executable": "x", "number_of_processes": 99999999999, "wall_time_limit": "0"}`,
	`{"executable": "x", "number_of_processes": 2.5}`,
	`{"executable": "", "spmd_variation": "openmp"}`,
	`{"executable": ["a"], "output": ["a"], "output_data": "x"}`,
	`{"executable": "x", "environment": {"1A": "v"}}`,
	`{"executable": "x", "environment": ["FOO"]}`,
	`{"executable": "x", "environment": 5}`,
	`{"executable": "x", "arguments": [["a"]]}`,
	`{"executable": "x", "\u0000": "\ud800", "": null}`,
	`{"arguments": ["a"]}`,
	`{"executable": `,
	`["executable"]`,
	`null`,
	`{}`,
	`"x"`,
}

// pilotSeeds are pilot compute descriptions: the seed example's, every key
// of bigjob-api.md 2.1, and hostile ones.
var pilotSeeds = []string{
	`{"service_url": "fork://localhost", "number_of_processes": 1, "working_directory": "/root/agent", "walltime": 10}`,
	`{"service_url": "slurm+ssh://login1.example.org", "number_of_processes": "4", "processes_per_node": "None",
	  "working_directory": "/tmp/agent", "walltime": "10", "queue": "normal", "allocation": "TG-123",
	  "spmd_variation": "12way", "file_transfer": ["ssh://localhost/etc/hosts"], "number_executor_threads": 16,
	  "affinity_datacenter_label": "dc", "affinity_machine_label": "m", "no_exec": "true", "vm_id": "ami-1",
	  "candidate_hosts": ["a", "b"]}`,
	`{"service_url": "pbs://localhost", "number_of_processes": 8, "project": "p", "allocation": "a", "queue": null}`,
	`{"service_url": "fork://localhost", "number_of_processes": 1, "project": "", "allocation": "a"}`,
	`{"service_url": "fork://localhost", "number_of_processes": 1, "no_exec": 1, "walltime": null, "processes_per_node": 2}`,
	`{"service_url": "fork://localhost", "number_of_processes": 1, "no_exec": "maybe"}`,
	`{"service_url": "fork://localhost", "number_of_processes": "-1"}`,
	`{"service_url": "", "number_of_processes": 0}`,
	`{"number_of_processes": 1}`,
	`{"service_url": "fork://localhost"}`,
	`{"service_url": 5, "number_of_processes": 1.0, "file_transfer": "one"}`,
	`{"service_url": {"a": 1}, "number_of_processes": [1]}`,
	`[]`,
	`{`,
}

// FuzzUnitDescription checks the parsing of compute unit descriptions from
// JSON (ParseUnitDescriptionJSON, as the C ABI and Python use it, and
// json.Unmarshal) and from maps (ParseUnitDescription): none panics; both
// JSON paths agree; a map decoded from the same JSON is accepted alike; an
// accepted description validates (also with defaults) and re-encodes to
// canonical JSON that parses back to the same description, loosely and
// strictly (EncodeUnit, DecodeUnit); an error on a
// JSON object is a *DescriptionError naming a key that was given or is
// required.
func FuzzUnitDescription(f *testing.F) {
	for _, s := range unitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseUnitDescriptionJSON(data)
		var viaUnmarshal UnitDescription
		errU := json.Unmarshal(data, &viaUnmarshal)
		if (err == nil) != (errU == nil) || err == nil && !reflect.DeepEqual(d, viaUnmarshal) {
			t.Fatalf("%s:\nParseUnitDescriptionJSON: %#v, %v\njson.Unmarshal: %#v, %v", data, d, err, viaUnmarshal, errU)
		}
		if err != nil {
			checkDescriptionError(t, data, err, UnitDescriptionName, "executable")
		} else {
			if err := d.Validate(); err != nil {
				t.Fatalf("%s: accepted, but Validate says %v", data, err)
			}
			if err := d.WithDefaults().Validate(); err != nil {
				t.Fatalf("%s: accepted, but with defaults Validate says %v", data, err)
			}
			roundTrip(t, data, d, ParseUnitDescriptionJSON)
			roundTrip(t, data, d.WithDefaults(), ParseUnitDescriptionJSON)
			// past the door: the canonical form reads back strictly as encoded
			enc, b, err := EncodeUnit(d)
			if err != nil {
				t.Fatalf("%s: accepted, but EncodeUnit says %v", data, err)
			}
			if back, err := DecodeUnit(b); err != nil || !reflect.DeepEqual(back, enc) {
				t.Fatalf("%s: canonical %s decodes strictly to %#v, %v; encoded %#v", data, b, back, err, enc)
			}
		}
		m, ok := decodeMap(data)
		if !ok {
			return
		}
		dm, errM := ParseUnitDescription(m)
		if errM != nil {
			checkDescriptionError(t, data, errM, UnitDescriptionName, "executable")
		} else if err := dm.Validate(); err != nil {
			t.Fatalf("%s: accepted as a map, but Validate says %v", data, err)
		}
		envObject, duplicates := envNames(data)
		if duplicates {
			return // a map keeps one of them
		}
		if (err == nil) != (errM == nil) {
			t.Fatalf("%s:\nfrom JSON: %v\nfrom a map: %v", data, err, errM)
		}
		if err == nil && envObject {
			// A Go map has no order: its environment is sorted by name.
			slices.SortStableFunc(d.Environment, func(a, b EnvVar) int { return strings.Compare(a.Name, b.Name) })
			if !reflect.DeepEqual(d, dm) {
				t.Fatalf("%s:\nfrom JSON: %#v\nfrom a map: %#v", data, d, dm)
			}
		}
	})
}

// FuzzPilotDescription checks the parsing of pilot compute descriptions from
// JSON (json.Unmarshal, as pilot_service_create_pilot does) and from maps
// (ParsePilotDescription), with the properties of FuzzUnitDescription.
func FuzzPilotDescription(f *testing.F) {
	for _, s := range pilotSeeds {
		f.Add([]byte(s))
	}
	parse := func(b []byte) (PilotDescription, error) {
		var d PilotDescription
		err := json.Unmarshal(b, &d)
		return d, err
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parse(data)
		if err != nil {
			checkDescriptionError(t, data, err, PilotDescriptionName, "service_url", "number_of_processes")
		} else {
			if err := d.Validate(); err != nil {
				t.Fatalf("%s: accepted, but Validate says %v", data, err)
			}
			if d.WalltimeMinutes() <= 0 {
				t.Fatalf("%s: walltime %d minutes", data, d.WalltimeMinutes())
			}
			roundTrip(t, data, d, parse)
			// past the door: the canonical form reads back strictly the same
			canon, err := d.Canonical()
			if err != nil || !reflect.DeepEqual(canon, d) {
				t.Fatalf("%s: Canonical gives %#v, %v; parsed %#v", data, canon, err, d)
			}
			b, _ := json.Marshal(d)
			if back, err := DecodePilot(b); err != nil || !reflect.DeepEqual(back, d) {
				t.Fatalf("%s: canonical %s decodes strictly to %#v, %v; parsed %#v", data, b, back, err, d)
			}
		}
		m, ok := decodeMap(data)
		if !ok {
			return
		}
		dm, errM := ParsePilotDescription(m)
		if errM != nil {
			checkDescriptionError(t, data, errM, PilotDescriptionName, "service_url", "number_of_processes")
		}
		if (err == nil) != (errM == nil) || err == nil && !reflect.DeepEqual(d, dm) {
			t.Fatalf("%s:\nfrom JSON: %#v, %v\nfrom a map: %#v, %v", data, d, err, dm, errM)
		}
	})
}

// roundTrip checks that d, parsed from data, encodes to JSON that parse
// turns into d again, and that this encoding is canonical (stable).
func roundTrip[D any](t *testing.T, data []byte, d D, parse func([]byte) (D, error)) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("%s: accepted as %#v, which does not encode: %v", data, d, err)
	}
	back, err := parse(b)
	if err != nil {
		t.Fatalf("%s: accepted as %#v, encoded as %s, which does not parse: %v", data, d, b, err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Fatalf("%s: accepted as\n%#v\nencoded as %s, which parses to\n%#v", data, d, b, back)
	}
	if b2, err := json.Marshal(back); err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("%s: encoded as %s, then as %s (%v)", data, b, b2, err)
	}
}

// checkDescriptionError checks the error of a description parsed from data:
// on a JSON object it is a *DescriptionError of desc naming a key of the
// object or a required one; on anything else, an error naming desc.
func checkDescriptionError(t *testing.T, data []byte, err error, desc string, required ...string) {
	t.Helper()
	var de *DescriptionError
	if !isObject(data) {
		var se *json.SyntaxError
		if !strings.Contains(err.Error(), desc) && !errors.As(err, &se) {
			t.Fatalf("%s: error %q does not name the %s and is not json.Unmarshal's syntax error", data, err, desc)
		}
		return
	}
	if !errors.As(err, &de) {
		t.Fatalf("%s: error %v (%T) is not a *DescriptionError", data, err, err)
	}
	if de.Description != desc || de.Problem == "" {
		t.Fatalf("%s: error %#v is not about a %s or has no problem", data, de, desc)
	}
	if !strings.Contains(err.Error(), "key "+strconv.Quote(de.Key)) {
		t.Fatalf("%s: error %q does not name its key %q", data, err, de.Key)
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) != nil {
		t.Fatalf("%s: not an object after all", data)
	}
	if _, given := keys[de.Key]; !given && !slices.Contains(required, de.Key) {
		t.Fatalf("%s: error %q names key %q, which is neither given nor required", data, err, de.Key)
	}
}

// isObject reports whether data is a JSON object (or null, which decodes
// as an empty one).
func isObject(data []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(data, &m) == nil
}

// decodeMap decodes a JSON object into a map as a Go program would build it
// (numbers as json.Number, so that they keep their text).
func decodeMap(data []byte) (map[string]any, bool) {
	if !isObject(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	return m, true
}

// envNames reports whether data has an environment object, and whether
// that has a name twice (JSON keeps both, a map one).
func envNames(data []byte) (object, duplicates bool) {
	kv, err := decodeFields(data, UnitDescriptionName)
	if err != nil {
		return false, false
	}
	env, _ := findKey(kv, "environment")
	om, object := env.(orderedMap)
	seen := map[string]bool{}
	for _, e := range om {
		if seen[e.key] {
			return object, true
		}
		seen[e.key] = true
	}
	return object, false
}
