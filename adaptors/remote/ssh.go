// Package remote reaches the host where a resource lives over SSH: a
// runner.Runner on an x/crypto/ssh connection (pooled, checked against
// known_hosts, configured from ~/.ssh/config), and the staging of the agent
// binary onto a host. Adaptors issue their commands through a runner.Runner,
// so that a batch system is driven the same way locally and over SSH.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bigjob-go/bigjob/runner"
	"golang.org/x/crypto/ssh"
)

// Target is an SSH destination. Host may be an alias of ~/.ssh/config.
type Target struct {
	User string
	Host string
	Port int
}

// String gives "user@host:port", the form errors and Host() use.
func (t Target) String() string {
	return t.User + "@" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// TargetOf gives the target of a resource URL such as ssh://user@host:port.
// What the URL leaves out is taken, as ssh(1) does, from the User and Port of
// the host's entry in ~/.ssh/config, else it is the current user and port 22.
func TargetOf(u *url.URL) Target {
	t := Target{Host: u.Hostname()}
	if u.User != nil {
		t.User = u.User.Username()
	}
	t.Port, _ = strconv.Atoi(u.Port())
	return completeTarget(t)
}

// SSH returns a Runner for the host t names (empty User and zero Port are
// completed as TargetOf does). It does not connect: the first Run does.
//
// Commands run as with `ssh host 'line'`: the remote user's login shell
// interprets line, so lines must be POSIX sh that any login shell of the
// Bourne family accepts; quote arguments with Quote or Join.
//
// Connections are shared by every Runner of the same target, closed after
// 30 s without a Run, and redialed once when found broken. At most 8
// sessions run at once on a connection (OpenSSH allows 10 by default);
// further Runs wait for a free one.
//
// Authentication offers the keys of ssh-agent (SSH_AUTH_SOCK) and the private
// keys named by BIGJOB_SSH_IDENTITY (paths separated by ':'), else those of
// the host's IdentityFile lines in ~/.ssh/config, else those of
// ~/.ssh/id_ed25519, id_ecdsa and id_rsa that exist. Passphrase-protected
// keys are used only through the agent.
//
// The host key is always checked against known_hosts: the files named by
// BIGJOB_SSH_KNOWN_HOSTS (':'-separated) if it is set, else the host's
// UserKnownHostsFile of ~/.ssh/config (default ~/.ssh/known_hosts) and
// /etc/ssh/ssh_known_hosts. An unknown or changed key is an error that says
// how to fix it; there is no accept-new mode. The client asks for a host key
// of the types on record for the host, so that a server that also has keys
// of other types is not taken for one whose key changed.
//
// ~/.ssh/config is read by a small parser of this package, which knows Host
// (patterns with *, ? and !), Include, and the keywords HostName, User, Port,
// IdentityFile and UserKnownHostsFile with the tokens %h %p %r %u %d %n and
// ~; Match blocks are skipped. That covers the aliases users write for login
// nodes, without a dependency for the rest of ssh_config(5).
//
// Before line, the shell runs a printf that tells Run the command's process
// group, and Run removes that line from the standard error it returns. When
// ctx ends during Run, the group is killed (a signal request, and kill from
// a second session for servers that refuse the request: older OpenSSH, or
// root logins) and the session closed. A command that leaves a background
// child holding its output open keeps Run waiting until ctx ends: redirect
// such a child's output.
func SSH(t Target) runner.Runner {
	return &sshRunner{target: completeTarget(t)}
}

// completeTarget fills the user and port that t leaves out.
func completeTarget(t Target) Target {
	if t.User != "" && t.Port != 0 {
		return t
	}
	var hc hostConfig
	if home := homeDir(); home != "" {
		// A broken config is reported by the first Run, which reads it again.
		hc, _ = readHostConfig(home, t.Host)
	}
	if t.User == "" {
		t.User = hc.User
	}
	if t.User == "" {
		t.User = localUser()
	}
	if t.Port == 0 {
		t.Port, _ = strconv.Atoi(hc.Port)
	}
	if t.Port == 0 {
		t.Port = 22
	}
	return t
}

func homeDir() string {
	h, _ := os.UserHomeDir()
	return h
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

type sshRunner struct {
	target Target
}

func (r *sshRunner) Host() string { return r.target.String() }
func (r *sshRunner) Local() bool  { return false }

func (r *sshRunner) Run(ctx context.Context, line string, stdin io.Reader) ([]byte, error) {
	ep := pool.acquire(r.target)
	defer pool.release(ep)
	if err := ep.acquireSession(ctx); err != nil {
		return nil, fmt.Errorf("ssh %s: run %q: wait for a free session: %w", r.target, line, err)
	}
	defer ep.releaseSession()
	c, s, err := pool.session(ctx, ep)
	if err != nil {
		return nil, err
	}
	return runSession(ctx, s, r.target.String(), line, stdin, func(pgid int) { ep.killGroup(c, pgid) })
}

// killGrace bounds each step of stopping a command whose ctx ended: killing
// it from another session, then waiting for its session to close.
const killGrace = 2 * time.Second

// pgidPrefix runs before each command line and tells, on standard error,
// the command's process group: sshd makes the shell that runs the line the
// leader of a session of its own.
const (
	pgidMarker = "bigjob-remote-pgid="
	pgidPrefix = `printf '%s\n' "` + pgidMarker + `$$" >&2` + "\n"
)

// runSession runs line on s and closes s. When ctx ends it kills the
// command's process group: with a signal request, which recent OpenSSH
// servers honour for unprivileged users, and with kill from another
// session, which works everywhere.
func runSession(ctx context.Context, s *ssh.Session, host, line string, stdin io.Reader, kill func(pgid int)) ([]byte, error) {
	defer s.Close()
	var stdout, stderr syncBuffer
	errw := newPgidWriter(&stderr)
	s.Stdout, s.Stderr = &stdout, errw
	if stdin != nil {
		s.Stdin = stdin
	}
	if err := s.Start(pgidPrefix + line); err != nil {
		return nil, fmt.Errorf("ssh %s: run %q: %w", host, line, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	var err error
	select {
	case err = <-done:
		errw.flush()
	case <-ctx.Done():
		s.Signal(ssh.SIGKILL)
		wait := time.NewTimer(killGrace)
		defer wait.Stop()
		finished := false
		select {
		case <-errw.known:
			if pgid := errw.group(); pgid > 0 {
				kill(pgid)
			}
		case <-done:
			finished = true
		case <-wait.C:
		}
		s.Close()
		note := " (" + ctx.Err().Error() + ")"
		if !finished {
			wait.Reset(killGrace)
			select {
			case <-done:
			case <-wait.C:
				note = " (" + ctx.Err().Error() + "; the session did not close)"
			}
		}
		errw.flush()
		return stdout.Bytes(), &runner.CommandError{Host: host, Line: line, ExitCode: -1,
			Stderr: strings.TrimSpace(runner.TrimOutput(stderr.Bytes()) + note), Stdout: runner.TrimOutput(stdout.Bytes())}
	}
	out := stdout.Bytes()
	if err == nil {
		return out, nil
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitStatus()
		if exit.Signal() != "" {
			code = -1
		}
		return out, &runner.CommandError{Host: host, Line: line, ExitCode: code,
			Stderr: runner.TrimOutput(stderr.Bytes()), Stdout: runner.TrimOutput(out)}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return out, fmt.Errorf("ssh %s: run %q: the connection closed before the command's exit status came: %w", host, line, err)
	}
	return out, fmt.Errorf("ssh %s: run %q: %w", host, line, err)
}

// pgidWriter passes a command's standard error on to w, less the line that
// pgidPrefix writes, whose process group it keeps. Output that login
// scripts write before that line passes too.
type pgidWriter struct {
	w       io.Writer
	mu      sync.Mutex
	pgid    int
	done    bool          // the line was found, or looked for long enough
	known   chan struct{} // closed when done
	pending []byte        // an incomplete line, while not done
}

func newPgidWriter(w io.Writer) *pgidWriter {
	return &pgidWriter{w: w, known: make(chan struct{})}
}

// maxPgidScan bounds the output searched for the pgid line.
const maxPgidScan = 64 << 10

func (p *pgidWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.w.Write(b)
	}
	p.pending = append(p.pending, b...)
	for !p.done {
		i := bytes.IndexByte(p.pending, '\n')
		if i < 0 {
			break
		}
		l := p.pending[:i+1]
		p.pending = p.pending[i+1:]
		if v, ok := bytes.CutPrefix(l[:i], []byte(pgidMarker)); ok {
			p.pgid, _ = strconv.Atoi(string(v))
			p.done = true
		} else {
			p.w.Write(l)
		}
	}
	if p.done || len(p.pending) > maxPgidScan {
		p.done = true
		close(p.known)
		p.w.Write(p.pending)
		p.pending = nil
	}
	return len(b), nil
}

// flush passes on what is left of an incomplete line.
func (p *pgidWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(p.pending)
	p.pending = nil
}

// group returns the command's process group, 0 if not known yet.
func (p *pgidWriter) group() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pgid
}

// syncBuffer is a bytes.Buffer that the session's copying goroutines may
// write while a Run that gave up reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
