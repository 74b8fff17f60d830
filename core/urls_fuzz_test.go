package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/coord"
)

// FuzzSplitObjectURL checks coord.SplitObjectURL, which OpenPilot, OpenUnit and
// OpenService use to split redis://[pw@]host:port/<name>: it never panics;
// errors are *coord.URLError and never show the password (the second
// argument, put into the first between markers as redis://:pw@... and
// redis://pw@...); an accepted URL round-trips through Address.String, and
// for a pilot name, through the URL a Pilot reports (Base + "/" + PilotName).
func FuzzSplitObjectURL(f *testing.F) {
	for _, s := range []string{
		"redis://localhost:6379/bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:localhost",
		"redis://secret@gw68.example.org:6379/bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:gw68",
		"redis://localhost:6379/bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:localhost:jobs:sj-2a1b3c4d-5a6b-11ee-8c99-0242ac120002",
		"redis://:pw@localhost:6379/PilotComputeServiceQueue-pcs-3c4d5e6f-5a6b-11ee-8c99-0242ac120002:jobs:sj-2a1b3c4d-5a6b-11ee-8c99-0242ac120002",
		"redis://localhost:6379/pcs/pcs-3c4d5e6f-5a6b-11ee-8c99-0242ac120002",
		"rediss://u:pw@cache.example:6380?ca=%2Fetc%2Fca.pem/bigjob:bj-1:cache",
		"redis://[::1]:6379/bigjob:bj-1:localhost",
		"redis://localhost:6379/",
		"redis://localhost:6379//",
		"redis://localhost:6379/2/bigjob:bj-1:h",
		"bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:localhost",
		"redis:/x",
		"advert://localhost/bigjob:bj-1:h",
		"redis://localhost:abc/bigjob:bj-1:h",
		"",
	} {
		f.Add(s, "hunter2")
	}
	f.Fuzz(func(t *testing.T, raw, pw string) {
		checkSplit(t, raw)
		i := strings.Index(raw, "://")
		const marker = "QJX7"
		if i < 0 || pw == "" || strings.Contains(pw, "@") || strings.Contains(raw[i+3:], "@") || strings.Contains(raw, marker) {
			return // pw would not be (all of) the password
		}
		pw = marker + pw + marker
		forms := []string{":" + pw}
		if !strings.Contains(pw, ":") {
			forms = append(forms, pw) // BigJob's redis://pw@host
		}
		for _, userinfo := range forms {
			withPW := raw[:i+3] + userinfo + "@" + raw[i+3:]
			if _, _, err := coord.SplitObjectURL("pilot", withPW); err != nil && strings.Contains(err.Error(), pw) {
				t.Fatalf("coord.SplitObjectURL(%q): the error shows the password %q: %v", withPW, pw, err)
			}
			checkSplit(t, withPW)
		}
	})
}

// checkSplit checks what coord.SplitObjectURL makes of raw.
func checkSplit(t *testing.T, raw string) {
	addr, name, err := coord.SplitObjectURL("pilot", raw)
	if err != nil {
		var ue *coord.URLError
		if !errors.As(err, &ue) {
			t.Fatalf("coord.SplitObjectURL(%q): error %v (%T) is not a *coord.URLError", raw, err, err)
		}
		return
	}
	if name == "" || addr.Host == "" {
		t.Fatalf("coord.SplitObjectURL(%q) = %#v, %q: no host or no name", raw, addr, name)
	}
	again := addr.String() + "/" + name
	addr2, name2, err := coord.SplitObjectURL("pilot", again)
	if err != nil || addr2 != addr || name2 != name {
		t.Fatalf("coord.SplitObjectURL(%q) = %#v, %q; but %q splits into %#v, %q, %v", raw, addr, name, again, addr2, name2, err)
	}
	id, host, err := coord.ParsePilotName(name)
	if err != nil {
		return
	}
	// What Pilot.URL reports: the base address and the pilot's name.
	base := addr
	base.DB, base.CAFile = 0, ""
	pilotURL := addr.Base() + "/" + coord.PilotName(id, host)
	addr3, name3, err := coord.SplitObjectURL("pilot", pilotURL)
	if err != nil || addr3 != base || name3 != name {
		t.Fatalf("pilot URL %q (from %q) splits into %#v, %q, %v", pilotURL, raw, addr3, name3, err)
	}
}
