// Package ssh starts pilot agents on a host reached over SSH
// (ssh://[user@]host[:port]).
//
// The agent binary is copied into <working directory>/.bigjob/ on the host
// (reused when the same binary is there already) unless the description's
// agent_path names one; the coordination URL goes into a file of mode 0600
// that the agent removes once read. The agent runs in a session of its own
// (setsid) with its output in stdout-bj-<uuid>-agent.txt and
// stderr-bj-<uuid>-agent.txt of the working directory, so that Cancel can
// remove every process the pilot started, as the fork adaptor does locally.
// A relative working_directory is relative to the remote home directory.
package ssh

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/runner"
)

// Scheme is the URL scheme of this adaptor.
const Scheme = "ssh"

// StopGrace is how long Cancel lets the agent stop by itself after SIGTERM
// before it kills the whole session.
var StopGrace = 5 * time.Second

func init() {
	adaptors.Register(Scheme, func(u *url.URL) (adaptors.Adaptor, error) {
		if u.Hostname() == "" {
			return nil, fmt.Errorf("ssh:// needs a host, e.g. ssh://user@host.example.org")
		}
		return &adaptor{runner: remote.SSH(remote.TargetOf(u))}, nil
	})
}

type adaptor struct{ runner runner.Runner }

var (
	_ adaptors.Adaptor  = (*adaptor)(nil)
	_ adaptors.PollHint = (*adaptor)(nil)
)

// StatePollInterval: one command on a pooled connection.
func (a *adaptor) StatePollInterval() time.Duration { return 5 * time.Second }

type handleData struct {
	PID   int    `json:"pid"`
	Start string `json:"start"` // /proc start time: guards against pid reuse
	Dir   string `json:"dir"`
	Coord string `json:"coord"`
}

// procStart prints the start time of process $p from /proc (field 22 of
// stat; the fields after the command name, which may hold spaces).
const procStart = `sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f20`

func (a *adaptor) Submit(ctx context.Context, r adaptors.Request) (adaptors.Handle, error) {
	fail := func(op string, err error) (adaptors.Handle, error) {
		return adaptors.Handle{}, fmt.Errorf("ssh %s: %s: %w", a.runner.Host(), op, err)
	}
	dir, err := runner.MakeWorkDir(ctx, a.runner, r.WorkingDirectory)
	if err != nil {
		return fail("create the working directory", err)
	}
	st, err := batch.Stage(ctx, a.runner, r, dir)
	if err != nil {
		return fail("prepare the pilot", err)
	}
	coord, agent, env := st.Coord, st.Agent, st.Env
	argv := append([]string{agent}, r.Agent.Args...)
	argv = append(argv, "-coordination-file", coord)
	stdout, stderr := runner.Quote("stdout-"+r.PilotID+"-agent.txt"), runner.Quote("stderr-"+r.PilotID+"-agent.txt")
	line := "cd " + runner.Quote(dir) + " || exit 1; " + // not cd && x &: that backgrounds a subshell holding the session open
		"(umask 077 && : >" + stdout + " && : >" + stderr + ") || exit 1; " + // the agent's logs are owner-only
		envPrefix(env) + "setsid " + runner.Join(argv...) +
		" </dev/null >" + stdout + " 2>" + stderr + " & p=$!; echo $p; " + procStart
	out, err := a.runner.Run(ctx, line, nil)
	pid, start := parseStarted(out)
	if err == nil && pid <= 0 {
		err = fmt.Errorf("the start command printed %q instead of a process id", strings.TrimSpace(string(out)))
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		a.runner.Run(cctx, "rm -f "+runner.Quote(coord), nil)
		return fail("start the agent", err)
	}
	d := handleData{PID: pid, Start: start, Dir: dir, Coord: coord}
	data, _ := json.Marshal(d)
	return adaptors.Handle{Scheme: Scheme, ID: strconv.Itoa(pid), URL: r.Resource.String(), Data: data}, nil
}

// parseStarted reads the agent's pid and /proc start time from the last two
// lines of the start command's output (login scripts may print first).
func parseStarted(out []byte) (pid int, start string) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if n := len(lines); n >= 2 {
		if pid, err := strconv.Atoi(strings.TrimSpace(lines[n-2])); err == nil {
			return pid, strings.TrimSpace(lines[n-1])
		}
	}
	pid, _ = strconv.Atoi(strings.TrimSpace(lines[len(lines)-1])) // no start time: the agent exited at once
	return pid, ""
}

// envPrefix exports extra agent variables (none today but future ones).
func envPrefix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return "env " + runner.Join(env...) + " "
}

func decode(h adaptors.Handle) (handleData, error) {
	var d handleData
	if err := json.Unmarshal(h.Data, &d); err != nil || d.PID <= 0 {
		return d, fmt.Errorf("ssh handle %q: no agent pid in it", h.ID)
	}
	return d, nil
}

// alive is a shell test that succeeds while the agent's process exists.
func alive(d handleData) string {
	return "p=" + strconv.Itoa(d.PID) + "; s=$(" + procStart + "); [ -n \"$s\" ] && [ \"$s\" = " + runner.Quote(d.Start) + " ]"
}

func (a *adaptor) State(ctx context.Context, h adaptors.Handle) (adaptors.Status, error) {
	d, err := decode(h)
	if err != nil {
		return adaptors.Status{}, err
	}
	out, err := a.runner.Run(ctx, "if "+alive(d)+"; then echo running; else echo ended; fi", nil)
	if err != nil {
		return adaptors.Status{}, fmt.Errorf("ssh %s: ask about agent %d: %w", a.runner.Host(), d.PID, err)
	}
	if strings.TrimSpace(string(out)) == "running" {
		return adaptors.Status{State: adaptors.JobRunning}, nil
	}
	return adaptors.Status{State: adaptors.JobEnded}, nil
}

// Cancel asks the agent to stop (SIGTERM), waits up to StopGrace, then
// kills every process left in its session, and removes the coordination
// file if the agent never read it. It returns when none is left.
func (a *adaptor) Cancel(ctx context.Context, h adaptors.Handle) error {
	d, err := decode(h)
	if err != nil {
		return err
	}
	steps := int(StopGrace / (100 * time.Millisecond))
	p := strconv.Itoa(d.PID)
	line := "if " + alive(d) + "; then kill -TERM " + p + "; i=0; while " + alive(d) + " && [ $i -lt " + strconv.Itoa(steps) + " ]; do sleep 0.1; i=$((i+1)); done; " +
		"pkill -KILL -s " + p + "; i=0; while pgrep -s " + p + " >/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; fi; rm -f " + runner.Quote(d.Coord)
	if _, err := a.runner.Run(ctx, line, nil); err != nil {
		return fmt.Errorf("ssh %s: cancel agent %d: %w", a.runner.Host(), d.PID, err)
	}
	return nil
}
