//go:build wasip1

// Command tsp is an adaptor plugin for task-spooler (Debian's tsp) as a
// batch queue: tsp://localhost runs pilots as tsp jobs on this machine,
// tsp+ssh://host on another host's queue. The queue's socket may be given as
// tsp://localhost?socket=/path (else tsp's default, $TS_SOCKET or
// /tmp/socket-ts.<uid>). A pilot asks for number_of_processes of the
// queue's slots (tsp -N); tsp -S sets how many the queue has. The agent's
// output stays in tsp's output file (tsp -o <id>), which is kept in the
// pilot's working directory.
//
// Its manifest allows it one command, tsp.
package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/bigjob-go/bigjob/plugins/abi"
	pdk "github.com/bigjob-go/bigjob/plugins/pdk/go"
)

func init() {
	pdk.Register(pdk.Plugin{Name: "tsp", Version: "1.0.0", Schemes: []string{"tsp"}, Adaptor: adaptor{}})
}

type adaptor struct{}

// env gives the command environment for a resource URL: its socket.
func env(resource string) ([]string, error) {
	u, err := url.Parse(resource)
	if err != nil {
		return nil, err
	}
	if s := u.Query().Get("socket"); s != "" {
		return []string{"TS_SOCKET=" + s}, nil
	}
	return nil, nil
}

// tsp runs tsp with args and extra environment; a non-zero exit is an
// error quoting its stderr.
func tsp(resource string, extra []string, args ...string) (string, error) {
	e, err := env(resource)
	if err != nil {
		return "", err
	}
	e = append(e, extra...)
	res, err := pdk.Exec(append([]string{"tsp"}, args...), e...)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		msg := strings.TrimSpace(res.Stderr + " " + res.Stdout)
		return "", &exitError{args: args, code: res.ExitCode, msg: msg}
	}
	return strings.TrimSpace(res.Stdout), nil
}

type exitError struct {
	args []string
	code int
	msg  string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("tsp %s exited with status %d: %s", strings.Join(e.args, " "), e.code, e.msg)
}

func (adaptor) Script(j abi.Job) (string, error) {
	if j.WalltimeSeconds > 0 {
		pdk.Log(pdk.Debug, "tsp has no walltime; the agent ends pilot %s at its walltime itself", j.PilotID)
	}
	return fmt.Sprintf("#!/bin/sh\n# pilot %s, run by task-spooler\ncd %s || exit 1\n%s\n", j.PilotID, quote(j.Dir), j.AgentLine), nil
}

func (adaptor) Submit(j abi.Job, script string) (string, error) {
	args := []string{"-L", j.Name}
	if j.Slots > 1 {
		args = append(args, "-N", strconv.Itoa(j.Slots))
	}
	// The tsp client that submits runs the job, and keeps its output in
	// its TMPDIR: the pilot's working directory.
	id, err := tsp(j.Resource, []string{"TMPDIR=" + j.Dir}, append(args, "sh", script)...)
	if err != nil {
		return "", err
	}
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("tsp answered %q instead of a job id", id)
	}
	return id, nil
}

var exitRE = regexp.MustCompile(`(?m)^Exit status: (.*)$`)

func (adaptor) State(id, resource string) (abi.StateResponse, error) {
	out, err := tsp(resource, nil, "-s", id)
	if err != nil {
		if _, gone := err.(*exitError); gone {
			// tsp no longer lists the job: removed (tsp -r) or cleared.
			return abi.StateResponse{State: abi.StateEnded, End: abi.EndUnknown, Reason: "tsp no longer lists the job"}, nil
		}
		return abi.StateResponse{}, err
	}
	switch out {
	case "queued", "allocating":
		return abi.StateResponse{State: abi.StateQueued, Reason: out}, nil
	case "running":
		return abi.StateResponse{State: abi.StateRunning}, nil
	case "skipped":
		return abi.StateResponse{State: abi.StateEnded, End: abi.EndFailed, Reason: "skipped by tsp"}, nil
	case "finished":
		info, err := tsp(resource, nil, "-i", id)
		if err != nil {
			return abi.StateResponse{}, err
		}
		return finished(info), nil
	}
	return abi.StateResponse{}, fmt.Errorf("tsp -s %s answered %q, which this plugin does not know", id, out)
}

// finished reads how a job ended from tsp -i.
func finished(info string) abi.StateResponse {
	st := abi.StateResponse{State: abi.StateEnded, End: abi.EndUnknown}
	m := exitRE.FindStringSubmatch(info)
	if m == nil {
		return st
	}
	st.Reason = m[1]
	switch {
	case strings.HasSuffix(m[1], "exit code 0"):
		st.End = abi.EndCompleted
	case strings.Contains(m[1], "killed by signal 15"), strings.Contains(m[1], "killed by signal 9"):
		st.End = abi.EndCanceled
	default:
		st.End = abi.EndFailed
	}
	return st
}

func (a adaptor) Cancel(id, resource string) error {
	st, err := a.State(id, resource)
	if err != nil {
		return err
	}
	switch st.State {
	case abi.StateEnded:
		return nil
	case abi.StateQueued:
		if _, err := tsp(resource, nil, "-r", id); err == nil {
			return nil
		}
		// it may have started meanwhile: kill it below
	}
	if _, err := tsp(resource, nil, "-k", id); err != nil {
		if st, serr := a.State(id, resource); serr == nil && st.State == abi.StateEnded {
			return nil
		}
		return err
	}
	return nil
}

// quote quotes s for a POSIX shell.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func main() {}
