package agent

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/vocab"
)

// The launch methods (vocab.LaunchAuto ...), as the agent names them.
const (
	launchAuto  = vocab.LaunchAuto
	launchLocal = vocab.LaunchLocal
	launchSSH   = vocab.LaunchSSH
	launchSRun  = vocab.LaunchSRun
)

// placement carries units to the hosts of their slots. It is set up once
// from the pilot description (launch_method, remote_shell) and the
// environment.
type placement struct {
	method string
	self   []string // this host's names
	rsh    []string // remote shell command; default ssh in batch mode, host keys always checked
	srun   bool     // inside a SLURM allocation with srun at hand
}

func newPlacement(d vocab.PilotDescription) (placement, error) {
	p := placement{method: launchAuto, rsh: []string{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"}}
	switch d.LaunchMethod {
	case "":
	case launchAuto, launchLocal, launchSSH, launchSRun:
		p.method = d.LaunchMethod
	default: // the door refuses it: a description of another version
		return p, &vocab.DescriptionError{Description: vocab.PilotDescriptionName, Key: vocab.KeyLaunchMethod,
			Problem: fmt.Sprintf("%q is not a launch method this agent knows", d.LaunchMethod)}
	}
	if d.RemoteShell != nil {
		p.rsh = d.RemoteShell
	}
	if os.Getenv("SLURM_JOB_ID") != "" {
		_, err := exec.LookPath("srun")
		p.srun = err == nil
	}
	if p.method == launchSRun && !p.srun {
		return p, &vocab.DescriptionError{Description: vocab.PilotDescriptionName, Key: vocab.KeyLaunchMethod,
			Problem: "\"srun\" needs a SLURM allocation (SLURM_JOB_ID) and srun on PATH; use \"auto\" outside SLURM"}
	}
	host, _ := os.Hostname()
	p.self = []string{host}
	return p, nil
}

// via says how a unit whose first slot is on host is started: launchLocal,
// launchSSH or launchSRun.
func (p placement) via(host string, mpi bool) string {
	switch {
	case mpi || p.method == launchLocal:
		return launchLocal
	case p.method != launchAuto:
		return p.method
	case isLocalHost(host, p.self):
		return launchLocal
	case p.srun:
		return launchSRun
	}
	return launchSSH
}

// srunStep wraps c as a one-task SLURM job step on host. --overlap: the
// agent does its own slot accounting, so steps share the allocation.
func srunStep(c command, host string) command {
	argv := []string{"srun", "--overlap", "--nodes=1", "--ntasks=1", "--nodelist=" + host, "--", c.Path}
	return command{Path: mustLookPath("srun"), Args: append(argv, c.Args[1:]...), Env: c.Env}
}

// sshCommand runs a unit's bash line on host through the remote shell. The
// remote side runs it in a session of its own and kills that session when
// the connection's standard input closes, which happens when the agent
// kills the local ssh (cancel, walltime): no unit outlives its pilot on the
// other host. The unit's input file, if any, is read there.
func (p placement) sshCommand(line, host, dir, input string, env []string) command {
	var b strings.Builder
	b.WriteString("cd " + shell.Quote(dir) + " || exit 1; ")
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, "BIGJOB_") {
			b.WriteString("export " + k + "=" + shell.Quote(v) + "; ")
		}
	}
	in := "/dev/null"
	if input != "" {
		in = input
	}
	b.WriteString("setsid /bin/bash -c " + shell.Quote(line) + " <" + shell.Quote(in) + " & p=$!; ")
	// a background list's standard input is /dev/null unless redirected:
	// the watcher reads the connection through fd 3
	b.WriteString("exec 3<&0; { cat <&3 >/dev/null; kill -TERM -$p; } >/dev/null 2>&1 & w=$!; exec 3<&-; ")
	b.WriteString("wait $p; r=$?; kill $w 2>/dev/null; exit $r")
	argv := append(append([]string(nil), p.rsh...), host, b.String())
	return command{Path: mustLookPath(p.rsh[0]), Args: argv, Env: env}
}

// mustLookPath resolves a program on PATH; a missing one is left as it is
// and fails at start with "executable file not found".
func mustLookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}
