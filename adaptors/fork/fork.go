// Package fork starts pilot agents on this machine (fork://localhost).
//
// The agent runs in a session of its own (setsid), detached from the caller,
// with its working directory set to the pilot's working_directory and its
// output in stdout-bj-<uuid>-agent.txt and stderr-bj-<uuid>-agent.txt there.
// Every process a unit starts stays in that session unless it calls setsid
// itself, so Cancel can remove them all, even when the agent was killed.
package fork

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/internal/proc"
	"github.com/bigjob-go/bigjob/runner"
)

// Scheme is the URL scheme of this adaptor.
const Scheme = "fork"

// StopGrace is how long Cancel lets the agent stop by itself after SIGTERM
// before it kills the whole session.
var StopGrace = 5 * time.Second

func init() {
	adaptors.Register(Scheme, func(u *url.URL) (adaptors.Adaptor, error) {
		if !adaptors.IsLocalHost(u.Hostname()) {
			return nil, fmt.Errorf("fork:// runs pilots on this machine only; for host %q use ssh://%s", u.Hostname(), u.Host)
		}
		return adaptor{}, nil
	})
}

type adaptor struct{}

var (
	_ adaptors.Adaptor  = adaptor{}
	_ adaptors.Notifier = adaptor{}
	_ adaptors.PollHint = adaptor{}
)

// StatePollInterval: State reads /proc, which is cheap.
func (adaptor) StatePollInterval() time.Duration { return 0 }

// children are the agents this process started, reaped by a goroutine each;
// the channel is closed when the agent has exited.
var children = struct {
	sync.Mutex
	m map[int]chan struct{}
}{m: map[int]chan struct{}{}}

type handleData struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // /proc start time: guards against pid reuse
	Host  string `json:"host"`
	Dir   string `json:"dir"`
}

func (adaptor) Submit(ctx context.Context, r adaptors.Request) (adaptors.Handle, error) {
	dir, err := adaptors.LocalDirectory(r.WorkingDirectory)
	if err != nil {
		return adaptors.Handle{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return adaptors.Handle{}, fmt.Errorf("create working directory: %w", err)
	}
	stdout, err := createPrivate(filepath.Join(dir, "stdout-"+r.PilotID+"-agent.txt"))
	if err != nil {
		return adaptors.Handle{}, fmt.Errorf("create agent log: %w", err)
	}
	defer stdout.Close()
	stderr, err := createPrivate(filepath.Join(dir, "stderr-"+r.PilotID+"-agent.txt"))
	if err != nil {
		return adaptors.Handle{}, fmt.Errorf("create agent log: %w", err)
	}
	defer stderr.Close()

	env, args, err := handOver(dir, r)
	if err != nil {
		return adaptors.Handle{}, err
	}
	cmd := exec.Command(r.Agent.Path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		os.Remove(filepath.Join(dir, runner.PrivateDir, r.PilotID+".coord"))
		return adaptors.Handle{}, fmt.Errorf("start agent %s: %w", r.Agent.Path, err)
	}
	pid := cmd.Process.Pid
	ended := make(chan struct{})
	children.Lock()
	children.m[pid] = ended
	children.Unlock()
	go func() {
		cmd.Wait()
		close(ended)
		// Keep the entry a while for late lookups, then let /proc answer.
		time.AfterFunc(time.Minute, func() {
			children.Lock()
			delete(children.m, pid)
			children.Unlock()
		})
	}()

	st, _ := proc.ReadStat(pid)
	host, _ := os.Hostname()
	data, _ := json.Marshal(handleData{PID: pid, Start: st.StartTime, Host: host, Dir: dir})
	return adaptors.Handle{Scheme: Scheme, ID: strconv.Itoa(pid), URL: r.Resource.String(), Data: data}, nil
}

func decode(h adaptors.Handle) (handleData, error) {
	var d handleData
	if err := json.Unmarshal(h.Data, &d); err != nil || d.PID <= 0 {
		return d, fmt.Errorf("fork handle %q: no agent pid in it", h.ID)
	}
	return d, nil
}

func (adaptor) State(ctx context.Context, h adaptors.Handle) (adaptors.Status, error) {
	d, err := decode(h)
	if err != nil {
		return adaptors.Status{}, err
	}
	if host, _ := os.Hostname(); d.Host != host {
		return adaptors.Status{}, nil
	}
	running, ended := adaptors.Status{State: adaptors.JobRunning}, adaptors.Status{State: adaptors.JobEnded}
	if ch := endedChan(d.PID); ch != nil {
		select {
		case <-ch:
			return ended, nil
		default:
			return running, nil
		}
	}
	if proc.Alive(d.PID, d.Start) {
		return running, nil
	}
	return ended, nil
}

// Cancel asks the agent to stop (SIGTERM), waits up to StopGrace, then kills
// every process left in its session. It returns when none is left.
func (adaptor) Cancel(ctx context.Context, h adaptors.Handle) error {
	d, err := decode(h)
	if err != nil {
		return err
	}
	if host, _ := os.Hostname(); d.Host != host {
		return fmt.Errorf("cancel fork pilot: its agent runs on host %s, not on this one", d.Host)
	}
	if proc.Alive(d.PID, d.Start) {
		syscall.Kill(d.PID, syscall.SIGTERM)
		deadline := time.Now().Add(StopGrace)
		for proc.Alive(d.PID, d.Start) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	proc.KillSession(ctx, d.PID, 500*time.Millisecond)
	if ended := endedChan(d.PID); ended != nil { // our child: gone only once reaped
		select {
		case <-ended:
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	return nil
}

func (adaptor) Ended(h adaptors.Handle) <-chan struct{} {
	d, err := decode(h)
	if err != nil {
		return nil
	}
	return endedChan(d.PID)
}

func endedChan(pid int) chan struct{} {
	children.Lock()
	defer children.Unlock()
	return children.m[pid]
}

// createPrivate creates (or truncates) a file only its owner may read.
func createPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

// handOver writes the agent's credentials (adaptors.EnvCoordination) into
// dir/.bigjob/<pilot>.coord, mode 0600, which the agent reads and removes:
// they never appear in its environment (/proc/<pid>/environ keeps the
// environment a process started with) or on its command line. It returns
// the agent's environment without them and its arguments.
func handOver(dir string, r adaptors.Request) (env, args []string, err error) {
	var cred string
	for _, e := range r.Agent.Env {
		if v, ok := strings.CutPrefix(e, adaptors.EnvCoordination+"="); ok {
			cred = v
		} else {
			env = append(env, e)
		}
	}
	args = r.Agent.Args
	if cred == "" {
		return env, args, nil
	}
	private := filepath.Join(dir, runner.PrivateDir)
	if err := os.MkdirAll(private, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", private, err)
	}
	file := filepath.Join(private, r.PilotID+".coord")
	if err := os.WriteFile(file, []byte(cred), 0o600); err != nil {
		return nil, nil, fmt.Errorf("write the agent's credentials: %w", err)
	}
	return env, append(append([]string(nil), args...), "-coordination-file", file), nil
}
