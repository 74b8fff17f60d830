package coord

import "testing"

func TestParseEvent(t *testing.T) {
	for line, want := range map[string]Event{
		"u cu-1 Done bj-1":    {Kind: 'u', ID: "cu-1", State: "Done", Pilot: "bj-1"},
		"u cu-2 Unknown ":     {Kind: 'u', ID: "cu-2", State: "Unknown"},
		"p bj-1 Running":      {Kind: 'p', ID: "bj-1", State: "Running"},
		"u  cu-3  New  bj-2 ": {Kind: 'u', ID: "cu-3", State: "New", Pilot: "bj-2"},
	} {
		if got, ok := parseEvent(line); !ok || got != want {
			t.Errorf("parseEvent(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	for _, bad := range []string{"", "u cu-1", "uu cu-1 Done", "   "} {
		if _, ok := parseEvent(bad); ok {
			t.Errorf("parseEvent(%q) accepted", bad)
		}
	}
}
