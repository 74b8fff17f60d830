// Package slurm is the SLURM dialect of the batch adaptor: #SBATCH job
// scripts, sbatch, squeue (sacct for jobs squeue has forgotten) and
// scancel.
//
// Mapping of the pilot description: number_of_processes → --ntasks,
// processes_per_node → --ntasks-per-node, walltime → --time in minutes
// (rounded up), queue → --partition, project → --account, working
// directory → --chdir. spmd_variation and candidate_hosts are ignored.
package slurm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/runner"
)

const name = "slurm"

// New returns the SLURM dialect.
func New() batch.System { return system{} }

type system struct{}

func (system) Name() string { return name }

// Script renders an sbatch script. Values that are not plain words are
// double-quoted (sbatch takes \" and \\ inside quotes); % in the log paths
// is doubled, as --output and --error read it as a pattern; a backslash in
// a log path and control characters anywhere cannot be carried.
func (system) Script(j batch.Job) (string, error) {
	const where = "a #SBATCH line"
	var d []string
	add := func(opt, key, value, reject string) error {
		v, err := batch.DirectiveArg(name, key, value, reject, where, true)
		if err == nil {
			d = append(d, opt+"="+v)
		}
		return err
	}
	// --output and --error read % as a pattern (%% is a literal %) and
	// drop every backslash.
	logFile := func(opt, p string) error {
		if err := batch.CheckChars(name, batch.KeyWorkingDirectory, p, `\`, where+" as a log file name"); err != nil {
			return err
		}
		return add(opt, batch.KeyWorkingDirectory, strings.ReplaceAll(p, "%", "%%"), "")
	}
	d = append(d, "--job-name="+batch.JobName(j.Name, 0))
	if err := logFile("--output", j.Stdout); err != nil {
		return "", err
	}
	if err := logFile("--error", j.Stderr); err != nil {
		return "", err
	}
	if err := add("--chdir", batch.KeyWorkingDirectory, j.Dir, ""); err != nil {
		return "", err
	}
	d = append(d, fmt.Sprintf("--ntasks=%d", max(j.Slots, 1)))
	if j.ProcessesPerNode > 0 {
		d = append(d, fmt.Sprintf("--ntasks-per-node=%d", j.ProcessesPerNode))
	}
	if j.Walltime > 0 {
		d = append(d, fmt.Sprintf("--time=%d", j.WalltimeMinutes()))
	}
	if j.Queue != "" {
		if err := add("--partition", batch.KeyQueue, j.Queue, ""); err != nil {
			return "", err
		}
	}
	if j.Project != "" {
		if err := add("--account", batch.KeyProject, j.Project, ""); err != nil {
			return "", err
		}
	}
	return batch.ShellScript("#SBATCH", d, j), nil
}

// Submit runs sbatch --parsable, which prints "<id>" or "<id>;<cluster>"
// (or, from wrappers that drop --parsable, "Submitted batch job <id>").
func (system) Submit(ctx context.Context, run batch.Exec, _ batch.Job, path string) (string, error) {
	line := "sbatch --parsable " + runner.Quote(path)
	out, err := run(ctx, line)
	if err != nil {
		return "", fmt.Errorf("submit slurm job: %w", err)
	}
	last := batch.Tail(out)
	id, _, _ := strings.Cut(strings.TrimPrefix(last, "Submitted batch job "), ";")
	if !numeric(id) {
		return "", fmt.Errorf("submit slurm job: %w", batch.Unparsable(name, line, out))
	}
	return id, nil
}

// State asks squeue, which keeps finished jobs for MinJobAge (300 s by
// default); for a job it no longer knows it asks sacct. When accounting is
// off (or sacct does not know the job either) the job has ended, how is
// unknown.
func (s system) State(ctx context.Context, run batch.Exec, id string) (adaptors.Status, error) {
	line := "squeue -h -t all -j " + runner.Quote(id) + " -o '%T|%r'"
	out, err := run(ctx, line)
	if err != nil && !batch.Says(err, "Invalid job id") {
		return adaptors.Status{}, fmt.Errorf("query slurm job %s: %w", id, err)
	}
	if err == nil && strings.TrimSpace(string(out)) != "" {
		word, reason, _ := strings.Cut(firstLine(out), "|")
		st, ok := status(word)
		if !ok {
			return st, fmt.Errorf("query slurm job %s: %w", id, batch.Unparsable(name, line, out))
		}
		if reason != "" && reason != "None" {
			st.Reason += ": " + reason
		}
		return st, nil
	}
	return s.accounting(ctx, run, id)
}

// accounting asks sacct about a job squeue has forgotten.
func (system) accounting(ctx context.Context, run batch.Exec, id string) (adaptors.Status, error) {
	gone := adaptors.Status{State: adaptors.JobEnded, End: adaptors.EndUnknown}
	line := "sacct -X -n -P -j " + runner.Quote(id) + " -o State,ExitCode"
	out, err := run(ctx, line)
	if err != nil {
		if batch.Failure(err) != nil {
			// Accounting disabled or unreachable: squeue has forgotten
			// the job, so it has ended.
			return gone, nil
		}
		return adaptors.Status{}, fmt.Errorf("query slurm job %s: %w", id, err)
	}
	if strings.TrimSpace(string(out)) == "" {
		return gone, nil
	}
	// The last line is the job's latest record (a requeued job has several).
	state, code, _ := strings.Cut(batch.Tail(out), "|")
	word, _, _ := strings.Cut(state, " ") // "CANCELLED by 1000"
	st, ok := status(word)
	if !ok {
		return st, fmt.Errorf("query slurm job %s: %w", id, batch.Unparsable(name, line, out))
	}
	st.Reason = state
	if st.End == adaptors.EndFailed && code != "" && code != "0:0" {
		st.Reason += " (exit code " + code + ")"
	}
	return st, nil
}

// status maps a SLURM job state word (squeue %T, sacct State).
func status(word string) (adaptors.Status, bool) {
	st := adaptors.Status{Reason: word}
	switch word {
	case "PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD":
		st.State = adaptors.JobQueued
	case "RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING":
		st.State = adaptors.JobRunning
	case "COMPLETED":
		st.State, st.End = adaptors.JobEnded, adaptors.EndCompleted
	case "TIMEOUT", "DEADLINE":
		st.State, st.End = adaptors.JobEnded, adaptors.EndWalltime
	case "CANCELLED", "PREEMPTED", "REVOKED":
		st.State, st.End = adaptors.JobEnded, adaptors.EndCanceled
	case "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "SPECIAL_EXIT":
		st.State, st.End = adaptors.JobEnded, adaptors.EndFailed
	default:
		return adaptors.Status{}, false
	}
	return st, true
}

// Cancel runs scancel. scancel 22.05 exits 0 for jobs that have ended or
// never existed; older versions say "Invalid job id specified" or "already
// completing or completed", which count as success too.
func (s system) Cancel(ctx context.Context, run batch.Exec, id string) error {
	_, err := run(ctx, "scancel "+runner.Quote(id))
	if err == nil || batch.Says(err, "Invalid job id", "already completing or completed") {
		return nil
	}
	if batch.Failure(err) != nil {
		err = batch.ConfirmEnded(ctx, s, run, id, err)
	}
	if err != nil {
		return fmt.Errorf("cancel slurm job %s: %w", id, err)
	}
	return nil
}

func numeric(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func firstLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
