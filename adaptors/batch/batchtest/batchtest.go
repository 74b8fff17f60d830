// Package batchtest helps test batch.System implementations: a fake Exec
// that answers from recorded command transcripts, golden-file comparison,
// and the pilot jobs every system's scripts are checked with.
//
// A transcript file holds answers, each starting with a marker line
// "-- $ <command prefix> --", followed by optional "-- exit N --" and
// section markers "-- stdout --" (the default after the command) and
// "-- stderr --"; every other line is output, kept byte for byte. Lines
// before the first marker are comments.
package batchtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/runner"
)

// Update rewrites golden files instead of comparing with them:
// go test ./adaptors/batch/... -update
var Update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Answer is one recorded command outcome.
type Answer struct {
	Prefix   string // answers command lines starting with it
	ExitCode int
	Stdout   string
	Stderr   string
}

// Fake is an Exec that answers from recorded outcomes and records the
// command lines it was given. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	answers []Answer
	calls   []string
}

// Load reads transcript files (paths relative to the test's directory)
// into one Fake; earlier files answer first.
func Load(t testing.TB, files ...string) *Fake {
	t.Helper()
	f := &Fake{}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		answers, err := Parse(string(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.answers = append(f.answers, answers...)
	}
	return f
}

// Parse reads a transcript.
func Parse(text string) ([]Answer, error) {
	var answers []Answer
	var out *strings.Builder
	var stdout, stderr strings.Builder
	flush := func() {
		if len(answers) > 0 {
			answers[len(answers)-1].Stdout = stdout.String()
			answers[len(answers)-1].Stderr = stderr.String()
		}
		stdout.Reset()
		stderr.Reset()
	}
	for n, line := range strings.SplitAfter(text, "\n") {
		marker := strings.TrimSuffix(line, "\n")
		if m, ok := strings.CutPrefix(marker, "-- "); ok && strings.HasSuffix(m, " --") {
			m = strings.TrimSuffix(m, " --")
			switch {
			case strings.HasPrefix(m, "$ "):
				flush()
				answers = append(answers, Answer{Prefix: strings.TrimPrefix(m, "$ ")})
				out = &stdout
			case len(answers) == 0:
				return nil, fmt.Errorf("line %d: %q before the first command", n+1, marker)
			case m == "stdout":
				out = &stdout
			case m == "stderr":
				out = &stderr
			case strings.HasPrefix(m, "exit "):
				code, err := strconv.Atoi(strings.TrimPrefix(m, "exit "))
				if err != nil {
					return nil, fmt.Errorf("line %d: %v", n+1, err)
				}
				answers[len(answers)-1].ExitCode = code
			default:
				return nil, fmt.Errorf("line %d: unknown marker %q", n+1, marker)
			}
			continue
		}
		if out != nil {
			out.WriteString(line)
		}
	}
	flush()
	return answers, nil
}

// Exec answers line with the first recorded answer whose prefix it starts
// with: its stdout, and a *runner.CommandError when its exit code is not
// zero. A line nothing answers is an error naming it.
func (f *Fake) Exec(ctx context.Context, line string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, line)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, a := range f.answers {
		if !strings.HasPrefix(line, a.Prefix) {
			continue
		}
		if a.ExitCode != 0 {
			return []byte(a.Stdout), &runner.CommandError{Host: "fake", Line: line, ExitCode: a.ExitCode,
				Stderr: strings.TrimSpace(a.Stderr), Stdout: strings.TrimSpace(a.Stdout)}
		}
		return []byte(a.Stdout), nil
	}
	return nil, fmt.Errorf("fake exec: nothing recorded answers %q", line)
}

// Calls returns the command lines run so far.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var _ batch.Exec = (*Fake)(nil).Exec

// Submit has sys submit the job script at path (for a zero batch.Job,
// which no System reads) through f.Exec, and returns what sys returns.
func (f *Fake) Submit(sys batch.System, path string) (string, error) {
	return sys.Submit(context.Background(), f.Exec, batch.Job{}, path)
}

// State has sys ask about job id through f.Exec, and returns what sys
// returns.
func (f *Fake) State(sys batch.System, id string) (adaptors.Status, error) {
	return sys.State(context.Background(), f.Exec, id)
}

// Cancel has sys cancel job id through f.Exec, and returns what sys
// returns.
func (f *Fake) Cancel(sys batch.System, id string) error {
	return sys.Cancel(context.Background(), f.Exec, id)
}

// Fails checks that err is, or wraps, an E, stopping the test when it is
// not, and that err's message contains each of want, failing the test
// (without stopping it) for each it lacks. It returns the E found.
func Fails[E error](t testing.TB, err error, want ...string) E {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, not a %v", err, reflect.TypeFor[E]())
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not contain %q: %v", w, err)
		}
	}
	return e
}

// Refusal is a case of RefusesValues: edit makes a job that Script must
// refuse, naming the description key Key.
type Refusal struct {
	Edit func(*batch.Job)
	Key  string
}

// RefusesValues checks, as a subtest per case, that sys's Script refuses
// batchtest.Minimal() as edited with a *batch.ValueError naming the
// system and the case's key.
func RefusesValues(t *testing.T, sys batch.System, cases map[string]Refusal) {
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			j := Minimal()
			c.Edit(&j)
			_, err := sys.Script(j)
			var ve *batch.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("Script gave %v, not a *batch.ValueError", err)
			}
			if ve.Key != c.Key {
				t.Errorf("the error names key %q, not %q: %v", ve.Key, c.Key, err)
			}
			if msg := err.Error(); !strings.Contains(msg, sys.Name()) || !strings.Contains(msg, c.Key) {
				t.Errorf("the error does not name %s and %s: %v", sys.Name(), c.Key, err)
			}
		})
	}
}

// GoldenScripts renders each job of cases with sys, as a subtest, and
// checks the script against testdata/<case>.golden.
func GoldenScripts(t *testing.T, sys batch.System, cases map[string]batch.Job) {
	for name, j := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := sys.Script(j)
			if err != nil {
				t.Fatalf("script of %s: %v", name, err)
			}
			Golden(t, name+".golden", s)
		})
	}
}

// Golden compares got with the file testdata/<name>, or rewrites the file
// when -update is given.
func Golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the tests with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what was rendered (run with -update to accept):\n--- got ---\n%s--- want ---\n%s", path, got, want)
	}
}

// Minimal is a pilot with only what every description has.
func Minimal() batch.Job {
	return batch.Job{
		Name:             "bj-0a1b2c3d",
		Dir:              "/home/alice/pilots",
		Stdout:           "/home/alice/pilots/stdout-bj-0a1b2c3d-agent.txt",
		Stderr:           "/home/alice/pilots/stderr-bj-0a1b2c3d-agent.txt",
		Agent:            "/home/alice/bin/pilot-agent",
		CoordinationFile: "/home/alice/pilots/.bigjob/bj-0a1b2c3d.coord",
		Slots:            1,
	}
}

// Full is a pilot that sets every option.
func Full() batch.Job {
	j := Minimal()
	j.AgentArgs = []string{"-walltime-margin", "2m0s"}
	j.Slots = 10
	j.ProcessesPerNode = 4
	j.Walltime = 90*time.Minute + 30*time.Second
	j.Queue = "normal"
	j.Project = "TG-MCB090174"
	j.SPMDVariation = "mpi"
	j.CandidateHosts = []string{"node01.example.org", "node02.example.org"}
	return j
}

// Awkward is a pilot whose paths and values hold blanks and whose agent
// arguments hold quotes and shell syntax.
func Awkward() batch.Job {
	j := Minimal()
	j.Dir = "/home/alice/my pilots/run 1"
	j.Stdout = j.Dir + "/stdout-bj-0a1b2c3d-agent.txt"
	j.Stderr = j.Dir + "/stderr-bj-0a1b2c3d-agent.txt"
	j.Agent = "/home/alice/bin dir/pilot-agent"
	j.AgentArgs = []string{"-label", `say "hi" & 'bye'`}
	j.CoordinationFile = j.Dir + "/.bigjob/bj-0a1b2c3d.coord"
	j.Slots = 3
	j.Walltime = 59 * time.Second
	j.Queue = "long queue"
	j.Project = "proj one"
	return j
}
