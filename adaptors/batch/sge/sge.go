// Package sge is the Sun/Son of Grid Engine dialect of the batch adaptor:
// "#$" job scripts, qsub -terse, qstat -xml (qstat -j for the reason of an
// error state), qacct for jobs that have left the queue, and qdel.
//
// Mapping of the pilot description: spmd_variation names the parallel
// environment: "-pe <name> <number_of_processes>"; a TACC-style wayness
// such as "12way" rounds the slot count up to a multiple of the way
// number; "" and "single" request no parallel environment (a one-slot
// job: the agent then takes the slot count from the description).
// walltime → -l h_rt, queue → -q, project → -P (an SGE project, which must
// exist), working directory → -wd. processes_per_node and candidate_hosts
// are ignored.
package sge

import (
	"context"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/runner"
)

const name = "sge"

// New returns the Grid Engine dialect.
func New() batch.System { return system{} }

type system struct{}

func (system) Name() string { return name }

var wayness = regexp.MustCompile(`^(?i)([1-9][0-9]*)way$`)

// Script renders a qsub script. qsub keeps double-quoted text together and
// drops every quote character, so values holding quotes (or control
// characters) cannot be carried; log paths cannot hold ':' (it separates
// a host name) or '$' (qsub expands $JOB_ID and the like in them).
func (system) Script(j batch.Job) (string, error) {
	const where = "a #$ line"
	d := []string{"-N " + batch.JobName(j.Name, 0), "-S /bin/bash"}
	add := func(opt, key, value, reject string) error {
		v, err := batch.DirectiveArg(name, key, value, "'"+reject, where, false)
		if err == nil {
			d = append(d, opt+" "+v)
		}
		return err
	}
	if err := add("-o", batch.KeyWorkingDirectory, j.Stdout, ":$"); err != nil {
		return "", err
	}
	if err := add("-e", batch.KeyWorkingDirectory, j.Stderr, ":$"); err != nil {
		return "", err
	}
	if err := add("-wd", batch.KeyWorkingDirectory, j.Dir, "$"); err != nil {
		return "", err
	}
	if pe := j.SPMDVariation; pe != "" && !strings.EqualFold(pe, "single") {
		if err := batch.CheckChars(name, batch.KeySPMDVariation, pe, ` "'\/:@*?,$&|!<>()[]{}#`, "a parallel environment name"); err != nil {
			return "", err
		}
		slots := max(j.Slots, 1)
		if m := wayness.FindStringSubmatch(pe); m != nil {
			way, _ := strconv.Atoi(m[1])
			slots = batch.CeilDiv(slots, way) * way
		}
		d = append(d, fmt.Sprintf("-pe %s %d", pe, slots))
	}
	if j.Walltime > 0 {
		d = append(d, "-l h_rt="+j.HMS())
	}
	if j.Queue != "" {
		if err := add("-q", batch.KeyQueue, j.Queue, ""); err != nil {
			return "", err
		}
	}
	if j.Project != "" {
		if err := add("-P", batch.KeyProject, j.Project, ""); err != nil {
			return "", err
		}
	}
	return batch.ShellScript("#$", d, j), nil
}

// Submit runs qsub -terse, which prints the job id ("42"; an array job
// "42.1-3:1").
func (system) Submit(ctx context.Context, run batch.Exec, _ batch.Job, path string) (string, error) {
	line := "qsub -terse " + runner.Quote(path)
	out, err := run(ctx, line)
	if err != nil {
		return "", fmt.Errorf("submit sge job: %w", err)
	}
	id, _, _ := strings.Cut(batch.Tail(out), ".")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("submit sge job: %w", batch.Unparsable(name, line, out))
	}
	return id, nil
}

// queueXML is what State reads of qstat -xml: the job_list elements of
// the running (queue_info) and the pending (job_info) sections.
type queueXML struct {
	XMLName xml.Name  `xml:"job_info"`
	Running []listXML `xml:"queue_info>job_list"`
	Pending []listXML `xml:"job_info>job_list"`
}

type listXML struct {
	Number string `xml:"JB_job_number"`
	State  string `xml:"state"`
}

var separator = regexp.MustCompile(`(?m)^=+\s*$`)

// State looks for the job in qstat -xml (the caller's own jobs, as qstat
// lists by default): a state with E (Eqw) is an ended, failed job, though
// it stays listed until deleted; r/t (also with R, d or suspension s/S/T)
// is running; q/w/h is queued. A job qstat does not list has ended, and
// qacct says how once it has the record (10-15 s after the end); before,
// the end is unknown.
func (s system) State(ctx context.Context, run batch.Exec, id string) (adaptors.Status, error) {
	const line = "qstat -xml"
	out, err := run(ctx, line)
	if err != nil {
		return adaptors.Status{}, fmt.Errorf("query sge job %s: %w", id, err)
	}
	var q queueXML
	if err := xml.Unmarshal(out, &q); err != nil {
		return adaptors.Status{}, fmt.Errorf("query sge job %s: %w", id, batch.Unparsable(name, line, out))
	}
	for _, job := range append(q.Running, q.Pending...) {
		if strings.TrimSpace(job.Number) != id {
			continue
		}
		word := strings.TrimSpace(job.State)
		st := adaptors.Status{Reason: word}
		switch {
		case strings.Contains(word, "E"):
			st.State, st.End = adaptors.JobEnded, adaptors.EndFailed
			if why := s.errorReason(ctx, run, id); why != "" {
				st.Reason += ": " + why
			}
		case strings.ContainsAny(word, "rtsST"):
			st.State = adaptors.JobRunning
		case strings.ContainsAny(word, "qwh"):
			st.State = adaptors.JobQueued
		default:
			return adaptors.Status{}, fmt.Errorf("query sge job %s: %w", id, batch.Unparsable(name, line, out))
		}
		return st, nil
	}
	return s.accounting(ctx, run, id)
}

// errorReason is the "error reason" line of qstat -j for a job in error
// state, or "" when qstat -j does not give it.
func (system) errorReason(ctx context.Context, run batch.Exec, id string) string {
	out, err := run(ctx, "qstat -j "+runner.Quote(id))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "error reason"); ok {
			// "error reason    1:      11/24/2026 21:50:54 [0:315]: error: ..."
			if _, why, ok := strings.Cut(rest, ":"); ok {
				return strings.TrimSpace(why)
			}
		}
	}
	return ""
}

// EndLag: qacct has a job's record 10-15 s after it left the queue.
func (system) EndLag() time.Duration { return 30 * time.Second }

// accounting asks qacct how a job that left the queue ended.
func (system) accounting(ctx context.Context, run batch.Exec, id string) (adaptors.Status, error) {
	gone := adaptors.Status{State: adaptors.JobEnded, End: adaptors.EndUnknown}
	line := "qacct -j " + runner.Quote(id)
	out, err := run(ctx, line)
	if err != nil {
		if batch.Failure(err) != nil {
			// "error: job id 42 not found": not accounted yet (or
			// never ran); qstat no longer lists it, so it has ended.
			return gone, nil
		}
		return adaptors.Status{}, fmt.Errorf("query sge job %s: %w", id, err)
	}
	// Records are separated by lines of '='; a job number the qmaster
	// used again has several, the last is the latest.
	records := separator.Split(string(out), -1)
	f := fields(records[len(records)-1])
	failed, exit := f["failed"], f["exit_status"]
	if failed == "" || exit == "" {
		return adaptors.Status{}, fmt.Errorf("query sge job %s: %w", id, batch.Unparsable(name, line, out))
	}
	failCode, _, _ := strings.Cut(failed, " ")
	exitCode, _, _ := strings.Cut(exit, " ") // "137                  (Killed)"
	st := gone
	switch {
	case failCode == "0" && exitCode == "0":
		st.End, st.Reason = adaptors.EndCompleted, "exit_status 0"
	case failCode == "0":
		st.End, st.Reason = adaptors.EndFailed, "exit_status "+exitCode
	case failCode == "37" || strings.Contains(failed, "h_rt"):
		st.End, st.Reason = adaptors.EndWalltime, "failed "+failed
	case failCode == "100" && (exitCode == "137" || exitCode == "143"):
		// Killed by SIGKILL/SIGTERM outside the limits: qdel.
		st.End, st.Reason = adaptors.EndCanceled, "failed "+failed+", exit_status "+exitCode
	default:
		st.End, st.Reason = adaptors.EndFailed, "failed "+failed+", exit_status "+exitCode
	}
	return st, nil
}

// Cancel runs qdel; `denied: job "42" does not exist` means it has ended.
func (s system) Cancel(ctx context.Context, run batch.Exec, id string) error {
	_, err := run(ctx, "qdel "+runner.Quote(id))
	if err == nil || batch.Says(err, "does not exist") {
		return nil
	}
	if batch.Failure(err) != nil {
		err = batch.ConfirmEnded(ctx, s, run, id, err)
	}
	if err != nil {
		return fmt.Errorf("cancel sge job %s: %w", id, err)
	}
	return nil
}

// fields parses qacct's "name   value" lines.
func fields(record string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(record, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.IndexAny(l, " \t"); i > 0 {
			m[l[:i]] = strings.TrimSpace(l[i:])
		}
	}
	return m
}
