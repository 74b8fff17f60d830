package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/runner"
)

// Register makes sys available as scheme (e.g. slurm://localhost, run on
// this machine) and scheme+ssh (e.g. slurm+ssh://login.example.org, run
// through an SSH connection to that host).
func Register(scheme string, sys System) {
	RegisterLocal(scheme, sys)
	RegisterSSH(scheme+"+ssh", sys)
}

// RegisterLocal makes sys available as scheme, submitting on this machine.
func RegisterLocal(scheme string, sys System) {
	adaptors.Register(scheme, LocalFactory(scheme, Fixed(sys)))
}

// RegisterSSH makes sys available as scheme, submitting through SSH on the
// URL's host (scheme is e.g. "slurm+ssh", or a legacy alias such as
// "sge-ssh").
func RegisterSSH(scheme string, sys System) {
	adaptors.Register(scheme, SSHFactory(scheme, Fixed(sys)))
}

// Fixed is the NewSystem of a System that needs neither runner nor URL.
func Fixed(sys System) NewSystem {
	return func(runner.Runner, *url.URL) System { return sys }
}

// NewSystem makes the System of one adaptor, for the runner its commands
// run with and the resource URL it was opened for (adaptor plugins need
// both; Fixed serves the built-in systems).
type NewSystem func(r runner.Runner, resource *url.URL) System

// LocalFactory makes adaptors for scheme that submit on this machine.
func LocalFactory(scheme string, newSys NewSystem) adaptors.Factory {
	return func(u *url.URL) (adaptors.Adaptor, error) {
		if !adaptors.IsLocalHost(u.Hostname()) {
			return nil, fmt.Errorf("%s:// submits on this machine, but the URL names host %q; to submit through SSH use %s+ssh://%s", scheme, u.Hostname(), scheme, u.Host)
		}
		return &Adaptor{sys: newSys(runner.Local, u), scheme: scheme, runner: runner.Local}, nil
	}
}

// SSHFactory makes adaptors for scheme that submit through SSH on the URL's
// host.
func SSHFactory(scheme string, newSys NewSystem) adaptors.Factory {
	return func(u *url.URL) (adaptors.Adaptor, error) {
		if u.Hostname() == "" {
			return nil, fmt.Errorf("%s:// needs the host to submit on, e.g. %s://login.example.org", scheme, scheme)
		}
		r := remote.SSH(remote.TargetOf(u))
		return &Adaptor{sys: newSys(r, u), scheme: scheme, runner: r}, nil
	}
}

// Adaptor submits pilots as jobs of one batch system. The agent binary is
// taken from a shared file system when the commands run on this machine,
// and copied into <working directory>/.bigjob/ over SSH otherwise (or taken
// from the description's agent_path). The coordination URL reaches the agent
// in a file of mode 0600 that the agent removes once read, never on a
// command line or in the job script.
type Adaptor struct {
	sys    System
	scheme string
	runner runner.Runner
}

var (
	_ adaptors.Adaptor   = (*Adaptor)(nil)
	_ adaptors.PollHint  = (*Adaptor)(nil)
	_ adaptors.EndLagger = (*Adaptor)(nil)
)

// CommandTimeout bounds each batch command (a hung qstat must not hang a
// pilot's monitor); CancelWait bounds how long Cancel waits for the job to
// leave the queue.
var (
	CommandTimeout = time.Minute
	CancelWait     = 30 * time.Second
)

// EndLag is the System's EndLag if it has one (see adaptors.EndLagger).
func (a *Adaptor) EndLag() time.Duration {
	if l, ok := a.sys.(adaptors.EndLagger); ok {
		return l.EndLag()
	}
	return 0
}

// StatePollInterval: asking a batch system costs it a query; a running
// pilot's heartbeat says more, sooner.
func (a *Adaptor) StatePollInterval() time.Duration { return 10 * time.Second }

type handleData struct {
	Dir    string `json:"dir"`
	Script string `json:"script"`
	Coord  string `json:"coord"`
}

func (a *Adaptor) run(ctx context.Context, line string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	return a.runner.Run(ctx, line, nil)
}

func (a *Adaptor) where() string {
	return a.sys.Name() + " on " + a.runner.Host()
}

// Submit writes the job script and submits it, then asks for the job's
// state once: a job whose state cannot be read is removed again, so that
// nothing the caller cannot see stays queued.
func (a *Adaptor) Submit(ctx context.Context, r adaptors.Request) (h adaptors.Handle, err error) {
	dir, err := a.workingDirectory(ctx, r.WorkingDirectory)
	if err != nil {
		return h, fmt.Errorf("%s: working directory: %w", a.where(), err)
	}
	st, err := Stage(ctx, a.runner, r, dir)
	if err != nil {
		return h, fmt.Errorf("%s: %w", a.where(), err)
	}
	d := handleData{Dir: dir, Script: path.Join(st.Files, r.PilotID+".job"), Coord: st.Coord}
	defer func() {
		if err != nil {
			a.removeFiles(d, true)
		}
	}()
	job := Job{
		PilotID:          r.PilotID,
		Name:             "bj-" + strings.TrimPrefix(r.PilotID, "bj-")[:8],
		Dir:              dir,
		Stdout:           path.Join(dir, "stdout-"+r.PilotID+"-agent.txt"),
		Stderr:           path.Join(dir, "stderr-"+r.PilotID+"-agent.txt"),
		Agent:            st.Agent,
		AgentArgs:        append(append([]string(nil), r.Agent.Args...), "-walltime-margin", adaptors.WalltimeMargin(r.Walltime).String()),
		CoordinationFile: d.Coord,
		Slots:            r.Slots,
		ProcessesPerNode: r.ProcessesPerNode,
		Walltime:         r.Walltime,
		Queue:            r.Queue,
		Project:          r.Project,
		SPMDVariation:    r.SPMDVariation,
		CandidateHosts:   r.CandidateHosts,
	}
	script, err := a.sys.Script(job)
	if err != nil {
		return h, err
	}
	if err := runner.WriteFile(ctx, a.runner, d.Script, []byte(script), 0o700); err != nil {
		return h, fmt.Errorf("%s: write the job script: %w", a.where(), err)
	}
	id, err := a.sys.Submit(ctx, a.run, job, d.Script)
	if err != nil {
		return h, fmt.Errorf("%s: %w", a.where(), err)
	}
	if _, serr := a.sys.State(ctx, a.run, id); serr != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CancelWait)
		defer cancel()
		if cerr := a.sys.Cancel(cctx, a.run, id); cerr != nil {
			return h, fmt.Errorf("%s: job %s was submitted but its state cannot be read (%w), and removing it failed: %v", a.where(), id, serr, cerr)
		}
		return h, fmt.Errorf("%s: job %s was submitted but its state cannot be read, so it was removed again: %w", a.where(), id, serr)
	}
	data, _ := json.Marshal(d)
	return adaptors.Handle{Scheme: a.scheme, ID: id, URL: r.Resource.String(), Data: data}, nil
}

// workingDirectory creates the pilot's working directory and returns its
// absolute path on the resource. On this machine a relative path is taken
// from the current directory, as for fork://; over SSH from the home
// directory.
func (a *Adaptor) workingDirectory(ctx context.Context, wd string) (string, error) {
	if a.runner.Local() {
		var err error
		if wd, err = adaptors.LocalDirectory(wd); err != nil {
			return "", err
		}
	}
	return runner.MakeWorkDir(ctx, a.runner, wd)
}

// State asks the batch system about the job.
func (a *Adaptor) State(ctx context.Context, h adaptors.Handle) (adaptors.Status, error) {
	st, err := a.sys.State(ctx, a.run, h.ID)
	if err != nil {
		return st, fmt.Errorf("%s: %w", a.where(), err)
	}
	return st, nil
}

// Cancel removes the job and waits (up to CancelWait) until the batch
// system no longer runs it. A coordination file the agent never read is
// removed.
func (a *Adaptor) Cancel(ctx context.Context, h adaptors.Handle) error {
	if err := a.sys.Cancel(ctx, a.run, h.ID); err != nil {
		return fmt.Errorf("%s: %w", a.where(), err)
	}
	var d handleData
	if json.Unmarshal(h.Data, &d) == nil && d.Coord != "" {
		a.removeFiles(d, false)
	}
	wctx, cancel := context.WithTimeout(ctx, CancelWait)
	defer cancel()
	var st adaptors.Status
	for pause := 200 * time.Millisecond; ; pause = min(2*pause, 2*time.Second) {
		var err error
		st, err = a.sys.State(wctx, a.run, h.ID)
		if err == nil && st.State == adaptors.JobEnded {
			return nil
		}
		select {
		case <-wctx.Done():
			if err != nil {
				return fmt.Errorf("%s: job %s was canceled but its state cannot be read: %w", a.where(), h.ID, err)
			}
			return fmt.Errorf("%s: job %s is still %s %s after it was canceled", a.where(), h.ID, st.State, CancelWait)
		case <-time.After(pause):
		}
	}
}

// removeFiles removes the coordination file (and the job script).
func (a *Adaptor) removeFiles(d handleData, script bool) {
	files := []string{d.Coord}
	if script {
		files = append(files, d.Script)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.runner.Run(ctx, "rm -f "+runner.Join(files...), nil)
}
