// Package pbs is the PBS dialect of the batch adaptor, in two flavors:
// Torque (also the PBS-style wrappers of slurm-wlm-torque) and PBS
// Professional / OpenPBS. Both take #PBS job scripts, qsub, qstat -f and
// qdel; they differ in how nodes are requested, in exit codes, and in that
// PBS Pro keeps finished jobs for qstat -x.
//
// Mapping of the pilot description: number_of_processes N with
// processes_per_node P (P = N when unset) → Torque "-l nodes=⌈N/P⌉:ppn=P",
// PBS Pro "-l select=⌈N/P⌉:ncpus=P:mpiprocs=P"; walltime → -l walltime,
// queue → -q, project → -A. The job runs in the working directory through
// a cd in the script, not -d: PBS Pro has no -d, and sbatch, which reads
// #PBS lines for slurm-wlm-torque, refuses it. spmd_variation and
// candidate_hosts are ignored.
package pbs

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/runner"
)

const name = "pbs"

// Flavor is the PBS implementation a resource runs.
type Flavor int

const (
	// Torque is Torque/OpenPBS 2.x (the default, also for torque://) and
	// the PBS-style wrappers of slurm-wlm-torque.
	Torque Flavor = iota
	// PBSPro is PBS Professional and OpenPBS 19+ (pbspro://).
	PBSPro
)

func (f Flavor) String() string {
	if f == PBSPro {
		return "PBS Pro"
	}
	return "Torque"
}

// New returns the PBS dialect of flavor f.
func New(f Flavor) batch.System { return system{f} }

type system struct{ flavor Flavor }

func (system) Name() string { return name }

// Script renders a qsub script. qsub keeps double-quoted text together;
// values holding quotes, '#' or control characters cannot be carried, nor
// log paths holding ':' (it separates a host name) or '$'. The job name is
// kept within the 15 characters old Torque allows.
func (s system) Script(j batch.Job) (string, error) {
	const where = "a #PBS line"
	d := []string{"-N " + batch.JobName(j.Name, 15)}
	add := func(opt, key, value, reject string) error {
		v, err := batch.DirectiveArg(name, key, value, "'#"+reject, where, false)
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
	n := max(j.Slots, 1)
	per := n
	if j.ProcessesPerNode > 0 {
		per = j.ProcessesPerNode
	}
	nodes := batch.CeilDiv(n, per)
	if s.flavor == PBSPro {
		d = append(d, fmt.Sprintf("-l select=%d:ncpus=%d:mpiprocs=%d", nodes, per, per))
	} else {
		d = append(d, fmt.Sprintf("-l nodes=%d:ppn=%d", nodes, per))
	}
	if j.Walltime > 0 {
		d = append(d, "-l walltime="+j.HMS())
	}
	if j.Queue != "" {
		if err := add("-q", batch.KeyQueue, j.Queue, ""); err != nil {
			return "", err
		}
	}
	if j.Project != "" {
		if err := add("-A", batch.KeyProject, j.Project, ""); err != nil {
			return "", err
		}
	}
	return batch.ShellScript("#PBS", d, j), nil
}

// jobID is what qsub prints: "123.server.example.org", "123[].server" for
// arrays, or "10" from slurm-wlm-torque.
var jobID = regexp.MustCompile(`^[0-9]+(\[[0-9]*\])?(\.[A-Za-z0-9_.-]+)?$`)

// Submit runs qsub and returns the id as it printed it.
func (system) Submit(ctx context.Context, run batch.Exec, _ batch.Job, path string) (string, error) {
	line := "qsub " + runner.Quote(path)
	out, err := run(ctx, line)
	if err != nil {
		return "", fmt.Errorf("submit pbs job: %w", err)
	}
	id := batch.Tail(out)
	if !jobID.MatchString(id) {
		return "", fmt.Errorf("submit pbs job: %w", batch.Unparsable(name, line, out))
	}
	return id, nil
}

// unknownJob reports whether a qstat or qdel failure says the server no
// longer has the job: PBSE_UNKJOBID (exit 153) or, in PBS Pro, a job kept
// only in the history (PBSE_HISTJOBID, exit 35).
func unknownJob(err error) bool {
	return batch.ExitedWith(err, 153, 35) || batch.Says(err, "Unknown Job Id", "Job has finished")
}

// State reads qstat -f; PBS Pro answers for finished jobs with qstat -x
// -f. A job the server does not know has ended, how is unknown. See
// status for the mapping.
func (s system) State(ctx context.Context, run batch.Exec, id string) (adaptors.Status, error) {
	gone := adaptors.Status{State: adaptors.JobEnded, End: adaptors.EndUnknown}
	line := "qstat -f " + runner.Quote(id)
	out, err := run(ctx, line)
	if err != nil && unknownJob(err) && s.flavor == PBSPro {
		line = "qstat -x -f " + runner.Quote(id)
		out, err = run(ctx, line)
	}
	if err != nil {
		if unknownJob(err) {
			return gone, nil
		}
		return adaptors.Status{}, fmt.Errorf("query pbs job %s: %w", id, err)
	}
	attrs, ok := parseFull(string(out))
	if !ok {
		return adaptors.Status{}, fmt.Errorf("query pbs job %s: %w", id, batch.Unparsable(name, line, out))
	}
	st, ok := s.status(attrs)
	if !ok {
		return adaptors.Status{}, fmt.Errorf("query pbs job %s: %w", id, batch.Unparsable(name, line, out))
	}
	return st, nil
}

var attrLine = regexp.MustCompile(`^\s+([A-Za-z_][A-Za-z0-9_.]*) =(?: (.*))?$`)

// parseFull reads the first job of qstat -f output: a "Job Id:" line, then
// indented "name = value" lines (four spaces in Torque and PBS Pro, a tab
// from slurm-wlm-torque). A long value continues on lines that start with
// a tab and are not themselves "name = value" lines.
func parseFull(out string) (map[string]string, bool) {
	attrs := map[string]string{}
	var last string
	seen := false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "Job Id:"):
			if seen {
				return attrs, true
			}
			seen = true
		case !seen || strings.TrimSpace(l) == "":
		case attrLine.MatchString(l):
			m := attrLine.FindStringSubmatch(l)
			last = m[1]
			attrs[last] = m[2]
		case strings.HasPrefix(l, "\t") && last != "":
			attrs[last] += strings.TrimPrefix(l, "\t")
		default:
			return nil, false
		}
	}
	return attrs, seen && attrs["job_state"] != ""
}

// status maps qstat -f attributes. job_state Q/H/W/T/M is queued (with
// the server's comment, e.g. why it does not run), R/E/B/S/U is running,
// C (Torque) and F/X (PBS Pro) have ended. For an ended job exit_status
// (Torque) or Exit_status (PBS Pro) tells how: 0 completed; Torque's -11
// and PBS Pro's -29 are walltime kills; above 256 the job was killed by
// signal (status-256), a walltime kill when it had used its walltime, else
// a deletion; other values are failures. An ended job without an exit
// status was deleted if it never started, else the end is unknown (the
// slurm-wlm-torque wrappers give no exit status).
func (s system) status(a map[string]string) (adaptors.Status, bool) {
	state := strings.TrimSpace(a["job_state"])
	st := adaptors.Status{Reason: state}
	switch state {
	case "Q", "H", "W", "T", "M":
		st.State = adaptors.JobQueued
		if c := a["comment"]; c != "" {
			st.Reason += ": " + c
		}
		return st, true
	case "R", "E", "B", "S", "U":
		st.State = adaptors.JobRunning
		return st, true
	case "C", "F", "X":
		st.State = adaptors.JobEnded
	default:
		return st, false
	}
	key := "exit_status"
	if _, ok := a[key]; !ok {
		key = "Exit_status"
	}
	v, ok := a[key]
	if !ok {
		if a["exec_host"] == "" && a["start_time"] == "" && a["stime"] == "" {
			st.End = adaptors.EndCanceled
		}
		return st, true
	}
	code, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return st, false
	}
	st.Reason += fmt.Sprintf(", %s %d", key, code)
	walltimeCode := -11
	if s.flavor == PBSPro {
		walltimeCode = -29
	}
	switch {
	case code == 0:
		st.End = adaptors.EndCompleted
	case code == walltimeCode || walltimeComment(a["comment"]):
		st.End = adaptors.EndWalltime
	case code > 256:
		st.Reason += fmt.Sprintf(" (signal %d)", code-256)
		st.End = adaptors.EndCanceled
		if usedWalltime(a) {
			st.End = adaptors.EndWalltime
		}
	default:
		st.End = adaptors.EndFailed
	}
	return st, true
}

func walltimeComment(c string) bool {
	c = strings.ToLower(c)
	return strings.Contains(c, "walltime") && strings.Contains(c, "exceed")
}

// usedWalltime reports whether the job ran for its whole walltime.
func usedWalltime(a map[string]string) bool {
	used, ok1 := seconds(a["resources_used.walltime"])
	limit, ok2 := seconds(a["Resource_List.walltime"])
	return ok1 && ok2 && limit > 0 && used >= limit
}

// seconds parses [[HH:]MM:]SS.
func seconds(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	total := 0
	for _, p := range strings.Split(s, ":") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, false
		}
		total = total*60 + n
	}
	return total, true
}

// Cancel runs qdel. A job the server no longer knows, or one that has
// completed (Torque: "invalid state for job - COMPLETE", exit 170), counts
// as canceled; so does any other failure after which State says the job
// has ended (slurm-wlm-torque's qdel exits 1, silent, for ended jobs).
func (s system) Cancel(ctx context.Context, run batch.Exec, id string) error {
	_, err := run(ctx, "qdel "+runner.Quote(id))
	if err == nil || unknownJob(err) || batch.ExitedWith(err, 170) || batch.Says(err, "invalid state for job") {
		return nil
	}
	if batch.Failure(err) != nil {
		err = batch.ConfirmEnded(ctx, s, run, id, err)
	}
	if err != nil {
		return fmt.Errorf("cancel pbs job %s: %w", id, err)
	}
	return nil
}
