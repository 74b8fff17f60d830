package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/proc"
	"github.com/bigjob-go/bigjob/vocab"
	"golang.org/x/sys/unix"
)

// task is a unit the agent owns.
type task struct {
	id          string
	ud          vocab.UnitDescription
	service     bool     // from the service queue (goes back there if not started)
	hosts       []string // its slots
	wd          string
	stderr      string // path of its stderr file
	machinefile string
	via         string      // launch method: launchLocal, launchSSH or launchSRun
	keepalive   *os.File    // for ssh units: closing it ends the remote side
	limit       *time.Timer // kills it at its wall_time_limit

	mu         sync.Mutex  // guards the fields below against the kill timer
	proc       *os.Process // its process, whose pid is its process group's; nil until it started
	reaped     bool        // the process group is gone (or about to be): never signal it again
	killState  vocab.State
	killReason string
	killTimer  *time.Timer

	started time.Time // when its process started
	// stopStaging cancels its staging (set while it stages; the loop's)
	stopStaging context.CancelFunc
	canonical   []byte         // its description as stored (vocab.EncodeUnit)
	hookDesc    map[string]any // its description as hooks see it: canonical, decoded
	literalEnv  []bool         // entries of ud.Environment a hook wrote: exported as they are
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
	running := coord.Update{UnitID: t.id, State: string(vocab.Running),
		Fields: []string{"agent_start_time", now, "end_queue_time", now, "run_host", a.host}}
	if a.noExec {
		a.pool.release(t.hosts)
		delete(a.tasks, t.id)
		a.w.add(!a.busy(), running, coord.Update{UnitID: t.id, State: string(vocab.Done),
			Fields: []string{"end_time", now, "exit_code", "0"}})
		return
	}
	if err := a.prepare(t); err != nil {
		a.notStarted(t, vocab.Failed, err.Error())
		return
	}
	if ud := t.ud; len(ud.FileTransfer) > 0 || len(ud.InputData) > 0 {
		a.stage(t)
		return
	}
	a.execute(t)
}

// notStarted ends a unit whose slots are taken but that did not start, and
// frees its slots.
func (a *agent) notStarted(t *task, st vocab.State, why string) {
	a.pool.release(t.hosts)
	delete(a.tasks, t.id)
	a.w.add(!a.busy(), t.final(st, "", why))
}

// stage copies a unit's file_transfer entries and input_data into its
// working directory in the background (state Staging), so that a large
// input delays no other unit; staged hands it back to the loop. Its slots
// stay taken meanwhile.
func (a *agent) stage(t *task) {
	a.w.add(false, coord.Update{UnitID: t.id, State: string(vocab.Staging),
		Fields: []string{"start_staging_time", coord.Timestamp(time.Now())}})
	ctx, cancel := context.WithTimeout(context.Background(), dataTimeout)
	t.stopStaging = cancel
	a.staging[t.id] = t
	go func() {
		defer cancel()
		err := transfer(ctx, t.ud.FileTransfer, t.wd)
		if err == nil {
			err = a.stageIn(ctx, t.ud.InputData, t.wd)
		}
		a.stageDone <- stagedUnit{t, err}
	}()
}

// stagedUnit is a unit whose staging ended, and how.
type stagedUnit struct {
	t   *task
	err error
}

// staged starts a unit whose staging ended, or ends it if its staging
// failed, or frees its slots if it was canceled meanwhile.
func (a *agent) staged(s stagedUnit) {
	t := s.t
	delete(a.staging, t.id)
	t.mu.Lock()
	killState := t.killState
	t.mu.Unlock()
	switch {
	case killState != "": // canceled while it staged, and recorded then
		a.pool.release(t.hosts)
		delete(a.tasks, t.id)
	case s.err != nil:
		a.notStarted(t, vocab.Failed, s.err.Error())
	default:
		a.execute(t)
	}
}

// execute starts a prepared unit's process and has it reaped.
func (a *agent) execute(t *task) {
	now := coord.Timestamp(time.Now())
	running := coord.Update{UnitID: t.id, State: string(vocab.Running),
		Fields: []string{"agent_start_time", now, "end_queue_time", now, "run_host", a.host}}
	if err := a.spawn(t); err != nil {
		a.notStarted(t, vocab.Failed, err.Error())
		return
	}
	a.running[t.id] = t
	if n := t.ud.WallTimeLimit; n > 0 {
		t.limit = time.AfterFunc(time.Duration(n)*a.c.minute, func() {
			t.kill(vocab.Failed, fmt.Sprintf("killed: it ran longer than its wall_time_limit of %d min", n), a.c.KillGrace)
		})
	}
	if t.service {
		a.svcPause = 0
	}
	running.Fields = append(running.Fields, "sandbox", t.wd, "pid", strconv.Itoa(t.proc.Pid), "launch", t.via)
	a.w.add(false, running)
	go a.reap(t)
}

// prepare makes the unit's working directory and applies the pre_unit
// hooks (which may change its description).
func (a *agent) prepare(t *task) error {
	ud := t.ud
	t.wd = filepath.Join(a.sandbox, "sj-"+strings.TrimPrefix(t.id, "cu-"))
	if ud.WorkingDirectory != "" {
		t.wd = expandHome(ud.WorkingDirectory)
		if !filepath.IsAbs(t.wd) {
			t.wd = filepath.Join(a.sandbox, t.wd)
		}
	}
	if err := makeDir(t.wd); err != nil {
		return fmt.Errorf("create working directory: %w", err)
	}
	return a.preHooks(t)
}

// spawn opens a prepared unit's input and output and starts its process in
// a process group of its own.
func (a *agent) spawn(t *task) error {
	ud := t.ud
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
	var files fileSet
	defer files.close()
	stdin := a.devnull
	if ud.Input != "" {
		f, err := files.open(at(ud.Input), syscall.O_RDONLY)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		stdin = f
	}
	stdout, err := files.open(at(ud.Output), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC)
	if err != nil {
		return fmt.Errorf("open output: %w", err)
	}
	stderr := stdout
	if at(ud.Error) != at(ud.Output) {
		if stderr, err = files.open(t.stderr, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC); err != nil {
			return fmt.Errorf("open error file: %w", err)
		}
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
	p, err := os.StartProcess(c.Path, c.Args, &os.ProcAttr{Dir: t.wd, Env: a.environ.dedup(c.Env),
		Files: []*os.File{stdin, stdout, stderr}, Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}})
	if err != nil {
		t.release()
		return fmt.Errorf("start %s: %w", ud.Executable, err)
	}
	t.proc = p
	t.started = time.Now()
	return nil
}

// makeDir makes the directory dir (mode 0700) and its parents, as
// os.MkdirAll does, with one system call when its parent exists.
func makeDir(dir string) error {
	err := syscall.Mkdir(dir, 0o700)
	if err == nil || err == syscall.EEXIST {
		if err == syscall.EEXIST {
			if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
				return os.MkdirAll(dir, 0o700) // says what is there
			}
		}
		return nil
	}
	return os.MkdirAll(dir, 0o700)
}

// fileSet is the files a unit's process is started with, closed (in this
// process) once it has started.
type fileSet []*os.File

// open opens path with flags (and mode 0666, less the umask, when it
// creates it), close-on-exec, and keeps it for close. Unlike os.OpenFile it
// does not try to make the file pollable: one system call.
func (s *fileSet) open(path string, flags int) (*os.File, error) {
	fd, err := syscall.Open(path, flags|syscall.O_CLOEXEC, 0o666)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	*s = append(*s, f)
	return f, nil
}

func (s fileSet) close() {
	for _, f := range s {
		f.Close()
	}
}

// environ is the agent's base environment for units, with the index of its
// names, so that a unit's own entries replace same-named ones cheaply.
type environ struct {
	base  []string
	index map[string]int
}

func newEnviron(base []string) environ {
	e := environ{base: base, index: make(map[string]int, len(base))}
	for i, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		e.index[k] = i
	}
	return e
}

// dedup returns env, which starts with the base environment, with one entry
// per name: the last one, as exec.Cmd does (a C program's getenv would see
// the first). Only the entries after the base are compared with each other.
func (e environ) dedup(env []string) []string {
	var out []string // a copy, made at the first change; "" marks a dropped entry
	change := func(i int, kv string) {
		if out == nil {
			out = append(make([]string, 0, len(env)), env...)
		}
		out[i] = kv
	}
	for i := len(e.base); i < len(env); i++ {
		k, _, _ := strings.Cut(env[i], "=")
		if setLater(env[i+1:], k) {
			change(i, "")
		} else if j, ok := e.index[k]; ok {
			change(j, env[i])
			change(i, "")
		}
	}
	if out == nil {
		return env
	}
	kept := out[:0]
	for _, kv := range out {
		if kv != "" {
			kept = append(kept, kv)
		}
	}
	return kept
}

// setLater reports whether env sets name.
func setLater(env []string, name string) bool {
	for _, kv := range env {
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return true
		}
	}
	return false
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
	st, err := t.proc.Wait()
	// A final state promises that nothing of the unit runs any more.
	if !proc.AwaitGroupGone(t.proc.Pid, groupGoneBound) {
		a.log.Warn("unit processes still alive after SIGKILL", "unit", t.id, "pgid", t.proc.Pid)
	}
	var ws syscall.WaitStatus
	if st != nil {
		ws, _ = st.Sys().(syscall.WaitStatus)
	}
	up, code := t.outcome(ws, err)
	if up.State == string(vocab.Done) && len(t.ud.OutputData) > 0 {
		if err := a.stageOut(t.ud.OutputData, t.wd); err != nil {
			up = t.final(vocab.Failed, "0", "the unit ran, but its output could not be kept: "+err.Error())
		}
	}
	a.exits <- exit{t: t, update: a.postHooks(t, up, code)}
}

// kill terminates the unit's process group: SIGTERM now, SIGKILL after
// grace. The unit then ends in state st with reason why.
func (t *task) kill(st vocab.State, why string, grace time.Duration) {
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

// outcome is the final record of a unit reaped with status ws (err: it
// could not be waited for), and its exit code.
func (t *task) outcome(ws syscall.WaitStatus, err error) (coord.Update, int) {
	code, why := exitCode(ws, err)
	t.mu.Lock()
	killState, killReason := t.killState, t.killReason
	t.mu.Unlock()
	switch {
	case killState != "":
		return t.final(killState, strconv.Itoa(code), killReason), code
	case code == 0:
		return t.final(vocab.Done, "0", ""), code
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
	return t.final(vocab.Failed, strconv.Itoa(code), why), code
}

// final is the record update that ends a unit.
func (t *task) final(st vocab.State, code, reason string) coord.Update {
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
func exitCode(ws syscall.WaitStatus, err error) (int, string) {
	if err != nil {
		return -1, "the process could not be waited for: " + err.Error()
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), "killed by signal " + unix.SignalName(ws.Signal())
	}
	return ws.ExitStatus(), fmt.Sprintf("exit code %d", ws.ExitStatus())
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
