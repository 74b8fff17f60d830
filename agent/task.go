package agent

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/proc"
	"golang.org/x/sys/unix"
)

// task is a unit the agent owns.
type task struct {
	id          string
	ud          core.UnitDescription
	service     bool     // from the service queue (goes back there if not started)
	hosts       []string // its slots
	wd          string
	stderr      string // path of its stderr file
	machinefile string
	via         string      // launch method: launchLocal, launchSSH or launchSRun
	keepalive   *os.File    // for ssh units: closing it ends the remote side
	limit       *time.Timer // kills it at its wall_time_limit

	mu         sync.Mutex // guards the fields below against the kill timer
	proc       *os.Process
	reaped     bool // the process group is gone (or about to be): never signal it again
	killState  core.State
	killReason string
	killTimer  *time.Timer

	started    time.Time      // when its process started
	hookDesc   map[string]any // its description as hooks see it
	literalEnv []bool         // entries of ud.Environment a hook wrote: exported as they are
}

// exit is a reaped unit: its final record, post_unit hooks applied.
type exit struct {
	t      *task
	update coord.Update
}

// start runs a unit whose slots are taken. Failures to start are recorded
// as Failed; the slots are then freed at once.
func (a *agent) start(t *task) {
	now := coord.Timestamp(time.Now())
	running := coord.Update{UnitID: t.id, State: string(core.Running),
		Fields: []string{"agent_start_time", now, "end_queue_time", now, "run_host", a.host}}
	if a.noExec {
		a.pool.release(t.hosts)
		delete(a.tasks, t.id)
		a.w.add(!a.busy(), running, coord.Update{UnitID: t.id, State: string(core.Done),
			Fields: []string{"end_time", now, "exit_code", "0"}})
		return
	}
	if err := a.spawn(t); err != nil {
		a.pool.release(t.hosts)
		delete(a.tasks, t.id)
		a.w.add(!a.busy(), t.final(core.Failed, "", err.Error()))
		return
	}
	a.running[t.id] = t
	if n := t.ud.WallTimeLimit; n > 0 {
		t.limit = time.AfterFunc(time.Duration(n)*a.c.minute, func() {
			t.kill(core.Failed, fmt.Sprintf("killed: it ran longer than its wall_time_limit of %d min", n), a.c.KillGrace)
		})
	}
	if t.service {
		a.svcPause = 0
	}
	running.Fields = append(running.Fields, "sandbox", t.wd, "pid", strconv.Itoa(t.proc.Pid), "launch", t.via)
	a.w.add(false, running)
	go a.reap(t)
}

// spawn prepares the unit's directory, stages its files, opens its
// input/output and starts its process in a process group of its own.
func (a *agent) spawn(t *task) error {
	ud := t.ud
	t.wd = filepath.Join(a.sandbox, "sj-"+strings.TrimPrefix(t.id, "cu-"))
	if ud.WorkingDirectory != "" {
		t.wd = expandHome(ud.WorkingDirectory)
		if !filepath.IsAbs(t.wd) {
			t.wd = filepath.Join(a.sandbox, t.wd)
		}
	}
	if err := os.MkdirAll(t.wd, 0o700); err != nil {
		return fmt.Errorf("create working directory: %w", err)
	}
	if err := a.preHooks(t); err != nil {
		return err
	}
	ud = t.ud
	if len(ud.FileTransfer) > 0 {
		a.w.add(false, coord.Update{UnitID: t.id, State: string(core.Staging),
			Fields: []string{"start_staging_time", coord.Timestamp(time.Now())}})
		if err := stage(ud.FileTransfer, t.wd); err != nil {
			return err
		}
	}
	if ud.MPI() {
		t.machinefile = filepath.Join(a.sandbox, "machinefile-sj-"+strings.TrimPrefix(t.id, "cu-"))
		if err := os.WriteFile(t.machinefile, []byte(strings.Join(t.hosts, "\n")+"\n"), 0o600); err != nil {
			return fmt.Errorf("write machinefile: %w", err)
		}
	}
	at := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(t.wd, p)
	}
	t.stderr = at(ud.Error)
	stdin := a.devnull
	if ud.Input != "" {
		f, err := os.Open(at(ud.Input))
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		stdin = f
	}
	stdout, err := os.Create(at(ud.Output))
	if err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	defer stdout.Close()
	stderr := stdout
	if at(ud.Error) != at(ud.Output) {
		if stderr, err = os.Create(t.stderr); err != nil {
			return fmt.Errorf("open error file: %w", err)
		}
		defer stderr.Close()
	}
	env := append(a.env[:len(a.env):len(a.env)], "BIGJOB_UNIT_ID="+t.id)
	if t.machinefile != "" {
		env = append(env, "BIGJOB_MACHINEFILE="+t.machinefile)
	}
	t.via = a.place.via(t.hosts[0], ud.MPI())
	c := a.launch.build(ud, t.literalEnv, t.wd, env, t.machinefile, t.via == launchSSH)
	switch t.via {
	case launchSRun:
		c = srunStep(c, t.hosts[0])
	case launchSSH:
		input := ""
		if ud.Input != "" {
			input = at(ud.Input)
		}
		c = a.place.sshCommand(c.Args[2], t.hosts[0], t.wd, input, env)
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("start %s on %s: %w", ud.Executable, t.hosts[0], err)
		}
		defer r.Close()
		stdin, t.keepalive = r, w
	}
	cmd := &exec.Cmd{Path: c.Path, Args: c.Args, Env: c.Env, Dir: t.wd,
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	if err := cmd.Start(); err != nil {
		t.release()
		return fmt.Errorf("start %s: %w", ud.Executable, err)
	}
	t.proc = cmd.Process
	t.started = time.Now()
	return nil
}

// release frees what a unit holds besides its slots: the keep-alive pipe
// of an ssh unit and its wall_time_limit timer.
func (t *task) release() {
	if t.keepalive != nil {
		t.keepalive.Close()
		t.keepalive = nil
	}
	if t.limit != nil {
		t.limit.Stop()
	}
}

// groupGoneBound is how long a reaped unit's final state waits for the
// rest of its killed process group to vanish.
const groupGoneBound = 2 * time.Second

// reap waits for the unit's process. Once it has exited (still unreaped, so
// its process group id cannot be reused), whatever it left running in its
// group is killed; then it is reaped and handed to the loop.
func (a *agent) reap(t *task) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, t.proc.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != syscall.EINTR {
			break
		}
	}
	t.mu.Lock()
	syscall.Kill(-t.proc.Pid, syscall.SIGKILL)
	t.reaped = true
	if t.killTimer != nil {
		t.killTimer.Stop()
	}
	t.mu.Unlock()
	st, _ := t.proc.Wait()
	// A final state promises that nothing of the unit runs any more.
	if !proc.AwaitGroupGone(t.proc.Pid, groupGoneBound) {
		a.log.Warn("unit processes still alive after SIGKILL", "unit", t.id, "pgid", t.proc.Pid)
	}
	up, code := t.outcome(st)
	a.exits <- exit{t: t, update: a.postHooks(t, up, code)}
}

// kill terminates the unit's process group: SIGTERM now, SIGKILL after
// grace. The unit then ends in state st with reason why.
func (t *task) kill(st core.State, why string, grace time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.killState == "" {
		t.killState, t.killReason = st, why
	}
	if t.reaped || t.killTimer != nil {
		return
	}
	pgid := t.proc.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	t.killTimer = time.AfterFunc(grace, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.reaped {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
	})
}

// outcome is the final record of a reaped unit, and its exit code.
func (t *task) outcome(state *os.ProcessState) (coord.Update, int) {
	code, why := exitCode(state)
	t.mu.Lock()
	killState, killReason := t.killState, t.killReason
	t.mu.Unlock()
	switch {
	case killState != "":
		return t.final(killState, strconv.Itoa(code), killReason), code
	case code == 0:
		return t.final(core.Done, "0", ""), code
	case code == 127:
		why = fmt.Sprintf("exit code 127: command not found (executable %q)", t.ud.Executable)
	case code == 126:
		why = fmt.Sprintf("exit code 126: %q is not executable", t.ud.Executable)
	case code == 255 && t.via == launchSSH:
		why = fmt.Sprintf("exit code 255: the unit or the remote shell to %s failed", t.hosts[0])
	}
	if tail := lastLine(t.stderr); tail != "" {
		why += "; stderr ends with: " + tail
	}
	return t.final(core.Failed, strconv.Itoa(code), why), code
}

// final is the record update that ends a unit.
func (t *task) final(st core.State, code, reason string) coord.Update {
	f := []string{"end_time", coord.Timestamp(time.Now())}
	if code != "" {
		f = append(f, "exit_code", code)
	}
	if reason != "" {
		f = append(f, "reason", reason)
	}
	return coord.Update{UnitID: t.id, State: string(st), Fields: f}
}

// exitCode follows the shell: the exit status, or 128+n for death by signal n.
func exitCode(st *os.ProcessState) (int, string) {
	if st == nil {
		return -1, "the process could not be waited for"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), "killed by signal " + unix.SignalName(ws.Signal())
	}
	return st.ExitCode(), fmt.Sprintf("exit code %d", st.ExitCode())
}

// lastLine returns the last non-empty line of a file's last 1 KiB.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 1024 {
		f.Seek(-1024, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	b = bytes.TrimRight(b, "\r\n\t ")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// expandHome expands a leading ~ or $HOME.
func expandHome(p string) string {
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	switch {
	case p == "~":
		return home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[2:])
	case strings.HasPrefix(p, "$HOME"):
		return home + p[len("$HOME"):]
	case strings.HasPrefix(p, "${HOME}"):
		return home + p[len("${HOME}"):]
	}
	return p
}
