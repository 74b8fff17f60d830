package coord

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// urlSeeds are the URL forms of ParseURL's doc comment, the forms BigJob
// scripts and pilot URLs use, and hostile ones.
var urlSeeds = []string{
	"redis://localhost",
	"redis://localhost:6379",
	"redis://localhost:6379/",
	"redis://secret@gw68.example.org:6379",
	"redis://@localhost:6379",
	"redis://:secret@localhost",
	"redis://alice:secret@localhost:7000",
	"redis://localhost:6379/2",
	"rediss://cache.example:6380",
	"rediss://pw@cache.example?ca=/etc/ca.pem",
	"redis://[::1]:6379",
	"REDIS://LOCALHOST",
	"redis://localhost:6379/bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:localhost",
	"advert://localhost/?dbtype=sqlite3",
	"tcp://*",
	"http://localhost",
	"redis://",
	"redis:localhost",
	"localhost:6379",
	"redis://localhost:99999",
	"redis://localhost:abc",
	"redis://hunter2@localhost:abc",
	"redis://u:hunter2@localhost/x",
	"redis://localhost?db=1",
	"redis://localhost#frag",
	"redis://:a:b@host",
	"redis://a%3Ab:pw@host",
	"redis://p%40ss@host",
	"redis://[fe80::1%25eth0]:6379",
	"redis://h%C3%A9st",
	"redis://:%zz@host",
	"redis://:/x@host",
	"rediss://h?ca=a&ca=b%2Fc",
	"redis://host:0065535/-0",
	" redis://host",
	"redis://ho\x00st",
}

// FuzzParseURL checks ParseURL on any input: it never panics; an accepted
// URL is well formed, round-trips through String, and its Redacted form does
// not depend on the password; a rejected one is a *URLError whose message
// never shows the password. To check the last, the second argument is put
// into the first as the password (redis://:pw@... and BigJob's
// redis://pw@...), once as it is and once between two markers, so that a
// message that shows it can be told from one that merely has the same words.
func FuzzParseURL(f *testing.F) {
	for _, s := range urlSeeds {
		f.Add(s, "hunter2")
	}
	f.Add("redis://localhost/", "/x")
	f.Add("redis://host", "%zz")
	f.Add("redis://h", "#frag")
	f.Add("redis://h:abc", "s3cr3t")
	f.Fuzz(func(t *testing.T, raw, pw string) {
		checkParseURL(t, raw)
		i := strings.Index(raw, "://")
		if i < 0 || pw == "" || strings.Contains(pw, "@") || strings.Contains(raw[i+3:], "@") || strings.Contains(raw, marker) {
			return // pw would not be (all of) the password
		}
		with := func(userinfo string) string { return raw[:i+3] + userinfo + "@" + raw[i+3:] }
		marked := marker + pw + marker
		checkSecret(t, with(":"+marked), marked, "")
		if !strings.Contains(pw, ":") {
			checkSecret(t, with(marked), marked, "")
		}
		if userinfoChars(pw) && !strings.Contains(raw, pw) && !strings.Contains("***", pw) {
			checkSecret(t, with(":"+pw), pw, with(":"+neutral(pw)))
			if !strings.Contains(pw, ":") {
				checkSecret(t, with(pw), pw, with(neutral(pw)))
			}
		}
	})
}

// marker surrounds a password to make it unlike any word of a message.
const marker = "QJX7"

// userinfoChars reports whether s has only characters that may stand in the
// user part of a URL as they are, so that neutral(s) parses alike (but for
// %-escapes, which are what is checked then).
func userinfoChars(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~!$&'()*+,;=%:", r)) {
			return false
		}
	}
	return true
}

// checkParseURL checks what ParseURL makes of raw.
func checkParseURL(t *testing.T, raw string) {
	a, err := ParseURL(raw)
	if err != nil {
		var ue *URLError
		if !errors.As(err, &ue) || ue.What != "coordination" || ue.Problem == "" {
			t.Fatalf("ParseURL(%q): error %v (%T) is not a coordination *URLError with a problem", raw, err, err)
		}
		return
	}
	if a.Host == "" || a.Port < 1 || a.Port > 65535 || a.DB < 0 || (a.CAFile != "" && !a.TLS) {
		t.Fatalf("ParseURL(%q) accepted an invalid address %#v", raw, a)
	}
	back, err := ParseURL(a.String())
	if err != nil {
		t.Fatalf("ParseURL(%q) = %#v, but its String %q does not parse: %v", raw, a, a.String(), err)
	}
	if back != a {
		t.Fatalf("ParseURL(%q) = %#v; its String %q parses to %#v", raw, a, a.String(), back)
	}
	if a.Password != "" {
		other := a
		other.Password = neutral(a.Password)
		if a.Redacted() != other.Redacted() {
			t.Fatalf("ParseURL(%q): Redacted %q depends on the password (with another one: %q)", raw, a.Redacted(), other.Redacted())
		}
	}
	if b := a.Base(); !strings.HasPrefix(a.String(), b) {
		t.Fatalf("ParseURL(%q): Base %q is not a prefix of String %q", raw, b, a.String())
	}
}

// checkSecret checks that the error of ParseURL(raw), where pw is the
// password, does not show pw; unless same is given (raw with another
// password) and its error shows pw too: then pw is a word of the message.
func checkSecret(t *testing.T, raw, pw, same string) {
	_, err := ParseURL(raw)
	if err == nil {
		checkParseURL(t, raw) // Redacted does not depend on the password
		return
	}
	shown := []string{pw}
	for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
		if s, err := unescape(pw); err == nil && s != "" {
			shown = append(shown, s) // as the parts of a URL are quoted
		}
	}
	for _, pw := range shown {
		if msg := err.Error(); strings.Contains(msg, pw) {
			if same != "" {
				if _, err2 := ParseURL(same); err2 != nil && strings.Contains(err2.Error(), pw) {
					continue
				}
			}
			t.Fatalf("ParseURL(%q): the error shows the password %q: %s", raw, pw, msg)
		}
	}
}

// neutral is a password other than pw.
func neutral(pw string) string {
	if pw == "pw0" {
		return "pw1"
	}
	return "pw0"
}

// FuzzParsePilotName checks ParsePilotName: it never panics; an accepted
// name is rebuilt by PilotName; and PilotName's output is accepted whenever
// its parts are valid (bj-<something>, a host, neither with a colon).
func FuzzParsePilotName(f *testing.F) {
	for _, s := range []string{
		"bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:localhost",
		"bigjob:bj-1f0e3c4e-5a6b-11ee-8c99-0242ac120002:login1.stampede.tacc.utexas.edu",
		"bigjob:bj-:localhost", "bigjob:bj-x:", "bigjob:bj-x:a:b", "bigjob:cu-x:host",
		"bj-x:host", "PilotComputeServiceQueue-pcs-1f0e3c4e-5a6b-11ee-8c99-0242ac120002", "", "bigjob:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, host, err := ParsePilotName(name)
		if err == nil {
			if PilotName(id, host) != name {
				t.Fatalf("ParsePilotName(%q) = %q, %q; PilotName of those is %q", name, id, host, PilotName(id, host))
			}
			if !strings.HasPrefix(id, "bj-") || len(id) < 4 || strings.Contains(id, ":") || host == "" || strings.Contains(host, ":") {
				t.Fatalf("ParsePilotName(%q) accepted id %q, host %q", name, id, host)
			}
		} else if id != "" || host != "" {
			t.Fatalf("ParsePilotName(%q) failed (%v) but returned %q, %q", name, err, id, host)
		}
		// The other direction: split the input anywhere into an id and a host.
		pid, h, _ := strings.Cut(strings.TrimPrefix(name, Namespace), ":")
		valid := strings.HasPrefix(pid, "bj-") && len(pid) >= 4 && h != "" && !strings.Contains(h, ":")
		id2, host2, err := ParsePilotName(PilotName(pid, h))
		switch {
		case valid && (err != nil || id2 != pid || host2 != h):
			t.Fatalf("ParsePilotName(PilotName(%q, %q)) = %q, %q, %v", pid, h, id2, host2, err)
		case !valid && err == nil:
			t.Fatalf("ParsePilotName(PilotName(%q, %q)) accepted an invalid name", pid, h)
		}
	})
}
