// Package condor is the HTCondor dialect of the batch adaptor: a submit
// description for condor_submit, condor_q (condor_history for jobs that
// have left the queue) and condor_rm.
//
// HTCondor gives no shared file system: the job runs the agent binary
// itself as the executable (vanilla universe, transferred to the execute
// node), with the coordination file in transfer_input_files and named by
// its base name in the arguments; the agent's output comes back to
// output/error on exit, and HTCondor's own event log goes to
// <name>.condor.log next to it.
//
// Mapping of the pilot description: number_of_processes → request_cpus;
// candidate_hosts → requirements on Machine; project → accounting_group;
// walltime, which HTCondor does not enforce itself, → a periodic_remove
// expression over the job's attribute BigJobWalltime (seconds), so that a
// RemoveReason naming BigJobWalltime means the walltime was reached. queue
// is ignored (HTCondor has no queues), as are processes_per_node and
// spmd_variation.
package condor

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/runner"
)

const name = "condor"

// WalltimeAttribute is the job attribute holding the walltime in seconds;
// a RemoveReason that names it means the job was removed at its walltime.
const WalltimeAttribute = "BigJobWalltime"

// New returns the HTCondor dialect.
func New() batch.System { return system{} }

type system struct{}

func (system) Name() string { return name }

const where = "a submit description line"

// value checks a submit-command value: no control characters, no '$'
// (macro expansion: $(name)), no trailing backslash (line continuation).
func value(key, v string) (string, error) {
	if err := batch.CheckChars(name, key, v, "$", where); err != nil {
		return "", err
	}
	if strings.HasSuffix(v, `\`) {
		return "", &batch.ValueError{System: name, Key: key, Value: v, Reason: "ends in a backslash, which continues " + where}
	}
	return v, nil
}

// Script renders the submit description.
func (system) Script(j batch.Job) (string, error) {
	var b strings.Builder
	set := func(cmd, key, v string) error {
		v, err := value(key, v)
		if err == nil {
			fmt.Fprintf(&b, "%s = %s\n", cmd, v)
		}
		return err
	}
	coord := path.Base(j.CoordinationFile)
	// Relative to initialdir when it is inside: a working directory with
	// blanks then does not reach the blank-separated file list.
	input := j.CoordinationFile
	if rel, ok := strings.CutPrefix(j.CoordinationFile, strings.TrimSuffix(j.Dir, "/")+"/"); ok {
		input = rel
	}
	if err := batch.CheckChars(name, batch.KeyWorkingDirectory, input, " ,", "transfer_input_files"); err != nil {
		return "", err
	}
	args, err := arguments(append(append([]string(nil), j.AgentArgs...), "-coordination-file", coord))
	if err != nil {
		return "", err
	}

	fmt.Fprintf(&b, "# BigJob pilot %s\n", batch.JobName(j.Name, 0))
	b.WriteString("universe = vanilla\n")
	fmt.Fprintf(&b, "batch_name = %s\n", batch.JobName(j.Name, 0))
	if err := set("executable", batch.KeyAgentPath, j.Agent); err != nil {
		return "", err
	}
	b.WriteString("arguments = " + args + "\n")
	if err := set("initialdir", batch.KeyWorkingDirectory, j.Dir); err != nil {
		return "", err
	}
	if err := set("transfer_input_files", batch.KeyWorkingDirectory, input); err != nil {
		return "", err
	}
	b.WriteString("should_transfer_files = YES\nwhen_to_transfer_output = ON_EXIT\ngetenv = false\n")
	for _, f := range []struct{ cmd, v string }{
		{"output", j.Stdout},
		{"error", j.Stderr},
		{"log", path.Join(path.Dir(j.Stdout), batch.JobName(j.Name, 0)+".condor.log")},
	} {
		if err := set(f.cmd, batch.KeyWorkingDirectory, f.v); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(&b, "request_cpus = %d\n", max(j.Slots, 1))
	if len(j.CandidateHosts) > 0 {
		terms := make([]string, len(j.CandidateHosts))
		for i, h := range j.CandidateHosts {
			if _, err := value(batch.KeyCandidateHosts, h); err != nil {
				return "", err
			}
			terms[i] = "Machine == " + classAdString(h)
		}
		b.WriteString("requirements = (" + strings.Join(terms, " || ") + ")\n")
	}
	if j.Project != "" {
		if err := batch.CheckChars(name, batch.KeyProject, j.Project, ` "'\$`, "accounting_group"); err != nil {
			return "", err
		}
		b.WriteString("accounting_group = " + j.Project + "\n")
	}
	if j.Walltime > 0 {
		secs := int64((j.Walltime + time.Second - 1) / time.Second)
		fmt.Fprintf(&b, "+%s = %d\n", WalltimeAttribute, secs)
		fmt.Fprintf(&b, "periodic_remove = (JobStatus == 2) && (time() - JobCurrentStartDate > %s)\n", WalltimeAttribute)
	}
	b.WriteString("queue\n")
	return b.String(), nil
}

// arguments renders argv in the "new syntax" of the arguments command:
// the whole list in double quotes ("" for a double quote), each argument
// holding a blank or a single quote in single quotes (” for a single
// quote).
func arguments(argv []string) (string, error) {
	words := make([]string, len(argv))
	for i, a := range argv {
		if _, err := value(batch.KeyAgentPath, a); err != nil {
			return "", err
		}
		if a == "" || strings.ContainsAny(a, " '") {
			a = "'" + strings.ReplaceAll(a, "'", "''") + "'"
		}
		words[i] = strings.ReplaceAll(a, `"`, `""`)
	}
	return `"` + strings.Join(words, " ") + `"`, nil
}

// classAdString is s as a ClassAd string literal.
func classAdString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

var (
	terseID     = regexp.MustCompile(`^([0-9]+\.[0-9]+) - [0-9]+\.[0-9]+$`)
	submittedTo = regexp.MustCompile(`submitted to cluster ([0-9]+)\.`)
)

// Submit runs condor_submit -terse, which prints "42.0 - 42.0"; the
// non-terse "1 job(s) submitted to cluster 42." is taken too. The id is
// "<cluster>.<proc>".
func (system) Submit(ctx context.Context, run batch.Exec, _ batch.Job, path string) (string, error) {
	line := "condor_submit -terse " + runner.Quote(path)
	out, err := run(ctx, line)
	if err != nil {
		return "", fmt.Errorf("submit condor job: %w", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if m := terseID.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			return m[1], nil
		}
	}
	if m := submittedTo.FindSubmatch(out); m != nil {
		return string(m[1]) + ".0", nil
	}
	return "", fmt.Errorf("submit condor job: %w", batch.Unparsable(name, line, out))
}

// State asks condor_q for JobStatus: 1 idle → queued; 2 running, 6
// transferring output, 7 suspended → running; 5 held → queued with
// Reason "held: <HoldReason>" (a held job stays in the queue until
// released or removed; whether to wait is the caller's decision); 3
// removed and 4 completed → ended, as for a job that has left the queue,
// which condor_history tells about: completed with ExitCode 0 →
// completed, other exits → failed; removed → walltime when RemoveReason
// names BigJobWalltime, else canceled. A job in neither has ended, how is
// unknown.
func (s system) State(ctx context.Context, run batch.Exec, id string) (adaptors.Status, error) {
	line := "condor_q " + runner.Quote(id) + " -af JobStatus HoldReason"
	out, err := run(ctx, line)
	if err != nil {
		return adaptors.Status{}, fmt.Errorf("query condor job %s: %w", id, err)
	}
	text := strings.TrimSpace(string(out))
	if text == "" {
		return s.ended(ctx, run, "condor_history "+runner.Quote(id)+" -limit 1", id)
	}
	code, rest, _ := strings.Cut(firstLine(text), " ")
	switch code {
	case "1":
		return adaptors.Status{State: adaptors.JobQueued, Reason: "idle"}, nil
	case "2":
		return adaptors.Status{State: adaptors.JobRunning, Reason: "running"}, nil
	case "5":
		return adaptors.Status{State: adaptors.JobQueued, Reason: "held: " + rest}, nil
	case "6":
		return adaptors.Status{State: adaptors.JobRunning, Reason: "transferring output"}, nil
	case "7":
		return adaptors.Status{State: adaptors.JobRunning, Reason: "suspended"}, nil
	case "3", "4":
		return s.ended(ctx, run, "condor_q "+runner.Quote(id), id)
	}
	return adaptors.Status{}, fmt.Errorf("query condor job %s: %w", id, batch.Unparsable(name, line, out))
}

// ended asks cmd (condor_q or condor_history for the job) how it ended.
func (system) ended(ctx context.Context, run batch.Exec, cmd, id string) (adaptors.Status, error) {
	st := adaptors.Status{State: adaptors.JobEnded, End: adaptors.EndUnknown}
	line := cmd + " -af JobStatus ExitCode RemoveReason"
	out, err := run(ctx, line)
	if err != nil {
		if batch.Failure(err) != nil {
			// No history kept, or not readable: the job is not in the
			// queue, so it has ended.
			return st, nil
		}
		return adaptors.Status{}, fmt.Errorf("query condor job %s: %w", id, err)
	}
	text := strings.TrimSpace(string(out))
	if text == "" {
		return st, nil
	}
	f := strings.SplitN(firstLine(text), " ", 3)
	if len(f) < 2 {
		return adaptors.Status{}, fmt.Errorf("query condor job %s: %w", id, batch.Unparsable(name, line, out))
	}
	reason := ""
	if len(f) == 3 {
		reason = f[2]
	}
	switch f[0] {
	case "4":
		code, err := strconv.Atoi(f[1])
		switch {
		case err != nil: // undefined: killed by a signal
			st.End, st.Reason = adaptors.EndFailed, "completed without an exit code"
		case code == 0:
			st.End, st.Reason = adaptors.EndCompleted, "exit code 0"
		default:
			st.End, st.Reason = adaptors.EndFailed, fmt.Sprintf("exit code %d", code)
		}
	case "3":
		st.End, st.Reason = adaptors.EndCanceled, "removed: "+reason
		if strings.Contains(reason, WalltimeAttribute) {
			st.End = adaptors.EndWalltime
		}
	default:
		if _, err := strconv.Atoi(f[0]); err != nil {
			return adaptors.Status{}, fmt.Errorf("query condor job %s: %w", id, batch.Unparsable(name, line, out))
		}
	}
	return st, nil
}

// Cancel runs condor_rm. It says "Couldn't find/remove all jobs ..." both
// for a job that has left the queue and for one it may not remove, so
// when it fails, State decides: a job that has ended counts as canceled.
func (s system) Cancel(ctx context.Context, run batch.Exec, id string) error {
	_, err := run(ctx, "condor_rm "+runner.Quote(id))
	if err != nil && batch.Failure(err) != nil {
		err = batch.ConfirmEnded(ctx, s, run, id, err)
	}
	if err != nil {
		return fmt.Errorf("cancel condor job %s: %w", id, err)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
