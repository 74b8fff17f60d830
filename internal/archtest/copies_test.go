package archtest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/bigjob-go/bigjob/vocab"
)

// read returns the text of a file of the repository.
func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func finals() []string {
	var out []string
	for _, s := range vocab.States {
		if s.Final() {
			out = append(out, string(s))
		}
	}
	return out
}

// The header's PILOT_STATE_* codes name the states of vocab.States at
// those indexes, and mark the final ones.
func TestHeaderStatesAreTheVocabulary(t *testing.T) {
	defs := regexp.MustCompile(`(?m)^#define PILOT_STATE_(\w+) (\d+)\s*/\* "(\w+)"([^*]*)\*/`).
		FindAllStringSubmatch(read(t, "include/pilot.h"), -1)
	if len(defs) != len(vocab.States) {
		t.Fatalf("include/pilot.h defines %d PILOT_STATE_* codes; vocab.States has %d states", len(defs), len(vocab.States))
	}
	for _, d := range defs {
		code, _ := strconv.Atoi(d[2])
		if code >= len(vocab.States) || string(vocab.States[code]) != d[3] {
			t.Errorf("include/pilot.h: PILOT_STATE_%s %d is %q; vocab.States[%d] differs", d[1], code, d[3], code)
			continue
		}
		if st := vocab.States[code]; st.Final() != regexp.MustCompile(`\(final\)`).MatchString(d[4]) {
			t.Errorf("include/pilot.h: PILOT_STATE_%s: marked final %q, but %s.Final() is %v", d[1], d[4], st, st.Final())
		}
	}
}

// The C helpers' names and final states are the vocabulary's.
func TestCHelpersStatesAreTheVocabulary(t *testing.T) {
	src := read(t, "capi/helpers.c")
	m := regexp.MustCompile(`state_names\[\] = \{([^}]*)\}`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("capi/helpers.c: no state_names table")
	}
	var names []string
	for _, q := range regexp.MustCompile(`"(\w*)"`).FindAllStringSubmatch(m[1], -1) {
		names = append(names, q[1])
	}
	var want []string
	for _, s := range vocab.States {
		want = append(want, string(s))
	}
	if !slices.Equal(names, want) {
		t.Errorf("capi/helpers.c state_names = %q; vocab.States = %q", names, want)
	}
	body := regexp.MustCompile(`(?s)pilot_state_is_final\(pilot_state state\) \{(.*?)\n\}`).FindStringSubmatch(src)
	if body == nil {
		t.Fatal("capi/helpers.c: no pilot_state_is_final")
	}
	var final []string
	for _, c := range regexp.MustCompile(`PILOT_STATE_(\w+)`).FindAllStringSubmatch(body[1], -1) {
		final = append(final, c[1])
	}
	var wantFinal []string
	for _, s := range finals() {
		wantFinal = append(wantFinal, upper(s))
	}
	slices.Sort(final)
	slices.Sort(wantFinal)
	if !slices.Equal(final, wantFinal) {
		t.Errorf("capi/helpers.c pilot_state_is_final tests %q; the final states are %q", final, wantFinal)
	}
}

// The Python module's State constants and FINAL are the vocabulary's.
func TestPythonStatesAreTheVocabulary(t *testing.T) {
	src := read(t, "python/pilot/state.py")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^    (\w+) = "(\w+)"$`).FindAllStringSubmatch(src, -1) {
		if m[1] != m[2] {
			t.Errorf("python/pilot/state.py: State.%s = %q: each value is its name", m[1], m[2])
		}
		names = append(names, m[2])
	}
	var want []string
	for _, s := range vocab.States {
		want = append(want, string(s))
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("python/pilot/state.py State = %q; vocab.States = %q", names, want)
	}
	m := regexp.MustCompile(`FINAL = frozenset\(\[([^\]]*)\]\)`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("python/pilot/state.py: no FINAL")
	}
	var final []string
	for _, c := range regexp.MustCompile(`State\.(\w+)`).FindAllStringSubmatch(m[1], -1) {
		final = append(final, c[1])
	}
	wantFinal := finals()
	slices.Sort(final)
	slices.Sort(wantFinal)
	if !slices.Equal(final, wantFinal) {
		t.Errorf("python/pilot/state.py FINAL = %q; the final states are %q", final, wantFinal)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
