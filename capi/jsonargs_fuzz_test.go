package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
)

// jsonArgSeeds are what C and Python callers pass as JSON arguments: the
// seed example's descriptions (../shared/seed/example.py), BigJob's loose
// forms, service options, arrays for submit_units, and hostile strings.
var jsonArgSeeds = []string{
	`{"service_url": "fork://localhost", "number_of_processes": 1, "working_directory": "/root/agent", "walltime": 10}`,
	`{"service_url": "slurm+ssh://login1.example.org", "number_of_processes": "4", "processes_per_node": "None",
	  "queue": "normal", "allocation": "TG-123", "spmd_variation": "12way", "no_exec": "true", "vm_id": "ami-1"}`,
	`{"executable": "/bin/echo", "arguments": ["Hello", "$ENV1", "I am CU number 0"], "environment": ["ENV1=World"],
	  "number_of_processes": 1, "spmd_variation": "single", "output": "stdout.txt", "error": "stderr.txt"}`,
	`{"executable": "/bin/date", "environment": {"TASK_NO": 3, "B": true}, "arguments": [1, 2.5], "total_cpu_count": "2"}`,
	`[{"executable": "/bin/true"}, {"executable": "/bin/echo", "arguments": "a b"}]`,
	`[{"executable": "/bin/true"}, {"arguments": []}]`,
	`[]`,
	`{"coordination_url": "redis://secret@localhost:6379", "agent_path": "/opt/pilot/bin/pilot-agent", "quiet": true,
	  "no_embedded": false, "heartbeat_interval_ms": 1000, "heartbeat_timeout_ms": 10000, "store_grace_ms": 60000,
	  "stop_timeout_ms": 10000, "record_ttl_s": 604800, "hooks": ["allowlist", "/plugins/outputs/plugin.json"]}`,
	`{"coordination_url": 6379}`,
	`{"quiet": true, "colour": "red"}`,
	`{"quiet": true} {"no_embedded": true}`,
	`{"heartbeat_interval_ms": 1e400}`,
	`{"request": "state", "job": {"id": "42"}}`,
	``, `null`, `{}`, `"x"`, `0`, `{`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
	"{\"executable\": \"a\x00b\"}",
	"{\"executable\": \"\xff\xfe\"}",
	`{"executable": "x", "number_of_processes": 99999999999999999999}`,
	`{"executable": "x", "environment": {"A": {"B": [1, {"C": null}]}}}`,
}

// FuzzJSONArgs passes any string as each JSON argument of the exports
// (options, pilot and unit descriptions, arrays of them, a plugin request)
// through the exports' own parsing, guard and last-error path, and checks
// that each yields PILOT_OK with no message, or a status with a message
// naming the export; never PILOT_EINTERNAL (a panic caught by the guard);
// and that the C ABI accepts exactly what package core accepts.
func FuzzJSONArgs(f *testing.F) {
	for _, s := range jsonArgSeeds {
		f.Add(s, false)
	}
	f.Add(jsonArgSeeds[4], true)
	f.Fuzz(func(t *testing.T, s string, wrongCount bool) {
		c := s // what C passes: up to the first NUL
		if i := strings.IndexByte(s, 0); i >= 0 {
			c = s[:i]
		}
		for arg, fn := range exportOf {
			n := 0
			var list []json.RawMessage
			if json.Unmarshal([]byte(c), &list) == nil {
				n = len(list)
			}
			if wrongCount {
				n++
			}
			st, msg := parseJSONArg(arg, s, n)
			switch {
			case st == statusInternal:
				t.Fatalf("%s(%q): a panic reached the guard: %s", fn, s, msg)
			case st == statusOK && msg != "":
				t.Fatalf("%s(%q): PILOT_OK with last error %q", fn, s, msg)
			case st != statusOK && !strings.HasPrefix(msg, fn+": "):
				t.Fatalf("%s(%q): status %d with a last error that does not name the export: %q", fn, s, st, msg)
			}
			if want := expectedStatus(arg, c, n); st != want && !(want == okOrInvalid && (st == statusOK || st == statusInvalid)) {
				t.Fatalf("%s(%q): status %d (%s), want %d", fn, s, st, msg, want)
			}
		}
	})
}

// okOrInvalid stands for PILOT_OK or PILOT_EINVAL.
const okOrInvalid int32 = 1

// expectedStatus is the status arg's parsing should give for c, from what
// package core and encoding/json make of it.
func expectedStatus(arg jsonArg, c string, n int) int32 {
	accept := func(ok bool) int32 {
		if ok {
			return statusOK
		}
		return statusInvalid
	}
	switch arg {
	case argOptions:
		var v map[string]any
		if json.Unmarshal([]byte(c), &v) != nil {
			return statusInvalid // not one JSON object (or null: the defaults)
		}
		return okOrInvalid // which keys and values are right is options's business
	case argPilotDescription:
		var pd core.PilotDescription
		return accept(json.Unmarshal([]byte(c), &pd) == nil)
	case argUnitDescription:
		_, err := core.ParseUnitDescriptionJSON([]byte(c))
		return accept(err == nil)
	case argUnitDescriptions:
		var list []json.RawMessage
		if json.Unmarshal([]byte(c), &list) != nil || len(list) != n {
			return statusInvalid
		}
		for _, r := range list {
			if _, err := core.ParseUnitDescriptionJSON(r); err != nil {
				return statusInvalid
			}
		}
		return statusOK
	case argPluginRequest:
		if json.Valid([]byte(c)) {
			return statusNotFound // valid, but no such plugin
		}
		return statusInvalid
	}
	return statusInternal
}
