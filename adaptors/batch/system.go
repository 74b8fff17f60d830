// Package batch submits pilots to batch queues (SLURM, PBS/Torque, SGE,
// HTCondor), locally or through an SSH connection to a login node. The
// adaptor here does what all of them share (working directory, agent
// placement, job script file, submit-then-confirm, cancel-then-wait); a
// System in a subpackage knows one batch system's dialect: how its job
// script looks and how its commands answer.
package batch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/runner"
)

// Job is a pilot's batch job.
type Job struct {
	PilotID          string        // bj-<uuid>
	Name             string        // job name, "bj-" and 8 hex digits
	Dir              string        // working directory on the resource, absolute
	Stdout, Stderr   string        // absolute paths of the agent's log files
	Agent            string        // path of the agent binary on the resource
	AgentArgs        []string      // its arguments, -coordination-file not included
	CoordinationFile string        // absolute path of the file holding the coordination URL (mode 0600)
	Slots            int           // number_of_processes
	ProcessesPerNode int           // processes_per_node; 0: unset
	Walltime         time.Duration // walltime; 0: the queue's default
	Queue            string        // queue (partition); "": the default
	Project          string        // project (allocation, account) to charge; "": none
	SPMDVariation    string        // spmd_variation: SGE parallel environment or wayness ("12way")
	CandidateHosts   []string      // candidate_hosts: hosts the job may run on (Condor)
}

// AgentLine is the shell line that runs the agent in a job script on a
// shared file system: exec, so that signals the batch system sends to the
// job reach the agent.
func (j Job) AgentLine() string {
	argv := append([]string{j.Agent}, j.AgentArgs...)
	argv = append(argv, "-coordination-file", j.CoordinationFile)
	return "exec " + runner.Join(argv...)
}

// WalltimeMinutes is the walltime in whole minutes, rounded up.
func (j Job) WalltimeMinutes() int {
	return int((j.Walltime + time.Minute - 1) / time.Minute)
}

// HMS formats the walltime as HH:MM:SS, as PBS and SGE take it.
func (j Job) HMS() string {
	s := int(j.Walltime.Round(time.Second) / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// Exec runs a command line on the resource's host and returns its standard
// output; a command that exits non-zero gives a *runner.CommandError.
type Exec func(ctx context.Context, line string) ([]byte, error)

// System is one batch system's dialect. Implementations are stateless and
// safe for concurrent use; they only render text, run commands through the
// Exec they are given and parse what comes back.
type System interface {
	// Name is the system's name in messages: "slurm", "pbs", "sge", "condor".
	Name() string
	// Script renders the job script (for Condor, the submit description)
	// for j. It fails on descriptions the system cannot express, naming the
	// description key.
	Script(j Job) (string, error)
	// Submit submits j's script, stored at path, and returns the job id.
	Submit(ctx context.Context, run Exec, j Job, path string) (string, error)
	// State asks about job id. A job the system no longer knows has ended
	// (the adaptor never asks about a job before its submission returned).
	// Output that cannot be parsed is an error that quotes it.
	State(ctx context.Context, run Exec, id string) (adaptors.Status, error)
	// Cancel removes job id. It succeeds on jobs that have ended.
	Cancel(ctx context.Context, run Exec, id string) error
}

// Tail is the last line of command output, for messages.
func Tail(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
