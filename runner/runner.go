// Package runner runs commands and places files on one host through a
// Runner: this machine (Local), or another host through an implementation
// elsewhere (adaptors/remote reaches one over SSH). Adaptors and plugins
// issue every command through a Runner (sbatch, qstat, mkdir, a plugin's
// exec), so that it runs the same way locally and through an SSH
// connection. It knows nothing of SSH or batch systems.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/bigjob-go/bigjob/internal/shell"
)

// Runner runs shell command lines on one host. Implementations are safe for
// concurrent use.
type Runner interface {
	// Run runs line on the host (locally with /bin/sh -c, over SSH with the
	// remote user's login shell, which must be a Bourne-family shell), with
	// stdin (nil: empty) as its standard input, and returns its standard
	// output. A command that
	// exits non-zero gives a *CommandError carrying its standard error; a
	// command that could not be run at all (no connection) gives an error
	// that names the host. ctx bounds the whole call: when it is done the
	// command is killed.
	Run(ctx context.Context, line string, stdin io.Reader) ([]byte, error)
	// Host names the host for messages: "localhost" or "user@host:port".
	Host() string
	// Local reports whether commands run on this machine, so that paths of
	// this machine are valid there.
	Local() bool
}

// CommandError is a command that ran and failed.
type CommandError struct {
	Host     string
	Line     string // the command line
	ExitCode int    // -1 when killed by a signal or ctx
	Stderr   string // its standard error, trimmed (at most 4 KiB)
	Stdout   string // its standard output, trimmed (at most 4 KiB)
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("on %s: command %q exited with status %d", e.Host, e.Line, e.ExitCode)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	} else if e.Stdout != "" {
		msg += ": " + e.Stdout
	}
	return msg
}

// maxOutput bounds what a CommandError keeps of a command's output.
const maxOutput = 4096

// TrimOutput is what a CommandError keeps of a command's output: trimmed of
// white space, and its last 4 KiB.
func TrimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxOutput {
		s = "..." + s[len(s)-maxOutput:]
	}
	return s
}

// Quote quotes s for a POSIX shell: the result is one word whose value is s.
func Quote(s string) string { return shell.Quote(s) }

// Join quotes each argument and joins them with spaces: a command line that
// runs argv as given.
func Join(argv ...string) string { return shell.Join(argv...) }

// Local is the Runner for this machine.
var Local Runner = local{}

type local struct{}

func (local) Host() string { return "localhost" }
func (local) Local() bool  { return true }

func (local) Run(ctx context.Context, line string, stdin io.Reader) ([]byte, error) {
	return runLocal(ctx, exec.Command("/bin/sh", "-c", line), line, stdin)
}

// RunProgram runs the program at path (absolute) on this machine with argv
// (argv[0] included) and the environment env, without a shell, and with an
// empty standard input; its result and errors are those of Local.Run.
func RunProgram(ctx context.Context, path string, argv, env []string) ([]byte, error) {
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env}
	return runLocal(ctx, cmd, Join(argv...), nil)
}

// runLocal runs cmd, which line describes in messages.
func runLocal(ctx context.Context, cmd *exec.Cmd, line string, stdin io.Reader) ([]byte, error) {
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so that a canceled ctx takes its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background child that keeps the output pipes open does not hold Run.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("on localhost: run %q: %w", line, err)
	}
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	stop()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ce := &CommandError{Host: "localhost", Line: line, ExitCode: exit.ExitCode(),
			Stderr: TrimOutput(stderr.Bytes()), Stdout: TrimOutput(stdout.Bytes())}
		if ctx.Err() != nil {
			ce.Stderr = strings.TrimSpace(ce.Stderr + " (" + ctx.Err().Error() + ")")
		}
		return stdout.Bytes(), ce
	}
	return nil, fmt.Errorf("on localhost: run %q: %w", line, err)
}
