package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/runner"
	"github.com/bigjob-go/bigjob/vocab"
)

// Helpers shared by the System implementations in the subpackages.

// Pilot description keys, as named in errors about values a batch system
// cannot carry.
const (
	KeyWorkingDirectory = "working_directory"
	KeyQueue            = "queue"
	KeyProject          = "project"
	KeySPMDVariation    = "spmd_variation"
	KeyCandidateHosts   = vocab.KeyCandidateHosts
	KeyAgentPath        = vocab.KeyAgentPath
)

// ValueError is a pilot description value that a batch system's job script
// or submit description cannot carry.
type ValueError struct {
	System string // "slurm", ...
	Key    string // the description key, e.g. "queue"
	Value  string
	Reason string // e.g. `holds a newline, which a #SBATCH line cannot carry`
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("%s: pilot description key %s: value %q %s", e.System, e.Key, e.Value, e.Reason)
}

// CheckChars returns a *ValueError when value holds a control character
// (a newline, a tab, ...) or one of the runes in reject; where names what
// would carry it, e.g. "a #SBATCH line".
func CheckChars(system, key, value, reject, where string) error {
	for _, r := range value {
		if unicode.IsControl(r) {
			return &ValueError{system, key, value, fmt.Sprintf("holds the control character %q, which %s cannot carry", r, where)}
		}
		if strings.ContainsRune(reject, r) {
			return &ValueError{system, key, value, fmt.Sprintf("holds %q, which %s cannot carry", r, where)}
		}
	}
	return nil
}

// plain reports whether s can stand unquoted in a directive line.
func plain(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./=:,@%+~", r))
	}) < 0
}

// DirectiveArg renders value as one argument of a directive line (#SBATCH,
// #PBS, #$), whose parser splits the line at blanks and keeps double-quoted
// text together: a plain value as it is, any other in double quotes. With
// escapes the parser also takes \" and \\ inside quotes (sbatch); without,
// a value holding a double quote or a backslash is an error. Control
// characters and the runes in reject are errors too.
func DirectiveArg(system, key, value, reject, where string, escapes bool) (string, error) {
	if !escapes {
		reject += `"\`
	}
	if err := CheckChars(system, key, value, reject, where); err != nil {
		return "", err
	}
	if plain(value) {
		return value, nil
	}
	if escapes {
		value = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value)
	}
	return `"` + value + `"`, nil
}

// ShellScript renders a job script for a batch system whose jobs see the
// submit host's file system: the interpreter line (some qsub versions
// refuse scripts without one), the directives, each after prefix (e.g.
// "#SBATCH"), then a cd into j.Dir and j.AgentLine(). A directive line
// must not hold a newline; callers check values with DirectiveArg.
func ShellScript(prefix string, directives []string, j Job) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	for _, d := range directives {
		b.WriteString(prefix + " " + d + "\n")
	}
	b.WriteString("\ncd " + runner.Quote(j.Dir) + " || exit 1\n")
	b.WriteString(j.AgentLine() + "\n")
	return b.String()
}

// JobName makes name fit the job-name rules that batch systems share: only
// letters, digits, '_', '-' and '.', starting with a letter, at most max
// characters (max <= 0: no limit). Other characters become '_'; a name
// that does not start with a letter gets a "j" in front.
func JobName(name string, max int) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		s = "j" + s
	}
	if max > 0 && len(s) > max {
		s = s[:max]
	}
	return s
}

// CeilDiv is a/b rounded up, for positive a and b.
func CeilDiv(a, b int) int { return (a + b - 1) / b }

// OutputError is command output that a System cannot make sense of.
type OutputError struct {
	System string // "slurm", ...
	Line   string // the command line
	Output string // what it printed, at most 200 bytes
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("cannot parse what the %s command %q printed: %q", e.System, e.Line, e.Output)
}

// Unparsable returns an *OutputError quoting the first 200 bytes of out.
func Unparsable(system, line string, out []byte) error {
	s := strings.TrimSpace(string(out))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return &OutputError{System: system, Line: line, Output: s}
}

// Failure returns the *runner.CommandError in err, or nil when err is not
// a command that ran and failed.
func Failure(err error) *runner.CommandError {
	var ce *runner.CommandError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// Says reports whether err is a failed command whose standard error or
// output contains one of phrases, compared case-insensitively.
func Says(err error, phrases ...string) bool {
	ce := Failure(err)
	if ce == nil {
		return false
	}
	text := strings.ToLower(ce.Stderr + "\n" + ce.Stdout)
	for _, p := range phrases {
		if strings.Contains(text, strings.ToLower(p)) {
			return true
		}
	}
	return false
}

// ExitedWith reports whether err is a failed command that exited with one
// of codes.
func ExitedWith(err error, codes ...int) bool {
	ce := Failure(err)
	if ce == nil {
		return false
	}
	for _, c := range codes {
		if ce.ExitCode == c {
			return true
		}
	}
	return false
}

// ConfirmEnded decides a cancel command's failure that the System does not
// recognise (cancel commands of some versions fail, with no message, on
// jobs that have ended): when sys says job id has ended, the cancel
// succeeded and ConfirmEnded returns nil; otherwise it returns cancelErr.
func ConfirmEnded(ctx context.Context, sys System, run Exec, id string, cancelErr error) error {
	st, err := sys.State(ctx, run, id)
	if err == nil && st.State == adaptors.JobEnded {
		return nil
	}
	return cancelErr
}
