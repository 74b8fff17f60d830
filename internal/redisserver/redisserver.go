// Package redisserver starts private, throw-away redis-server processes
// (loopback only) for tests and benchmarks. Start and StartTLS keep nothing
// on disk; StartPersistent keeps an append-only file, so a test can crash
// the server (Kill) and bring it back with its data (Restart).
//
// Every process is started with proc.StartBound, so it dies with the test
// process even when no cleanup runs.
package redisserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bigjob-go/bigjob/internal/ctxsleep"
	"github.com/bigjob-go/bigjob/internal/proc"
)

// ErrNotInstalled: there is no redis-server on PATH.
var ErrNotInstalled = errors.New("redis-server is not installed (run scripts/install-deps.sh)")

// ErrStopped is returned by Restart after Stop.
var ErrStopped = errors.New("redis-server was stopped")

// errExited: the process exited before it answered (it could not bind its
// port, for instance).
var errExited = errors.New("redis-server exited before it was ready")

const (
	// startTimeout bounds each attempt of Start to come up.
	startTimeout = 10 * time.Second
	// restartTimeout bounds Restart (on top of its context), including the
	// retries while the port cannot be bound yet.
	restartTimeout = 30 * time.Second
	// probeTimeout bounds one readiness check.
	probeTimeout = 500 * time.Millisecond
)

// Server is a redis-server of this process. URL and Port do not change
// across restarts.
//
// Its methods are safe for concurrent use: typically one test goroutine
// calls Kill and Restart while Stop runs from t.Cleanup. They serialize: a
// Stop during a Restart waits for it and then stops the new process.
type Server struct {
	URL  string
	Port int

	bin  string
	args []string    // the full command line, reused by Restart
	dir  string      // where its files and redis.log are
	tc   *tls.Config // to talk to it, if it accepts only TLS

	mu      sync.Mutex
	cmd     *exec.Cmd       // the current process; nil after Kill and Stop
	exited  <-chan struct{} // closed when cmd has exited
	stopped bool
}

// Stop kills the current process (SIGKILL) and waits for it. Afterwards
// there is no process of this Server left and Restart fails with
// ErrStopped. It may be called more than once, and after Kill.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.kill()
}

// Kill sends SIGKILL to the current process and waits until it has exited,
// modelling a crash: there is no graceful shutdown, so a persistent server
// keeps exactly what its append-only file holds (with StartPersistent's
// appendfsync always, every write it acknowledged). Kill does nothing if no
// process is running. Restart starts it again.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// kill kills and reaps the current process, if any. s.mu is held.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill() // fails only if it has exited already
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// PID returns the process id of the running redis-server, or 0 when none is
// running (after Kill or Stop, or if it died by itself). A test that wants
// to check a process has gone must read PID before killing it.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	select {
	case <-s.exited:
		return 0
	default:
		return s.cmd.Process.Pid
	}
}

// Restart starts redis-server again with the same arguments, on the same
// port and with the same directory; if the current process is still
// running it is killed first (SIGKILL, as Kill). It returns once the new
// process answers PING and has finished loading its data (INFO persistence
// reports loading:0), so a persistent server then holds what it held before.
//
// If the new process cannot bind the port yet (it exits at once), Restart
// tries again until ctx ends or 30 seconds have passed. On failure no
// process is left running; Restart can be called again. After Stop it
// fails with ErrStopped.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("restart redis-server: %w", ErrStopped)
	}
	s.kill()
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	for {
		err := s.launch(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errExited) || !ctxsleep.Sleep(ctx, 50*time.Millisecond) {
			return fmt.Errorf("restart redis-server on port %d: %w%s", s.Port, err, logTail(s.dir))
		}
	}
}

// launch starts the process and waits until it is ready; on failure it
// kills it. s.mu is held (or s is not shared yet).
func (s *Server) launch(ctx context.Context) error {
	cmd := exec.Command(s.bin, s.args...)
	exited, err := proc.StartBound(cmd)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	if err := waitReady(ctx, s.Port, s.tc, password(s.args), cmd.Process.Pid, exited); err != nil {
		cmd.Process.Kill()
		<-exited
		return err
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Start runs redis-server on a free loopback port with its files in dir,
// without persistence. extraArgs are appended to its command line.
func Start(dir string, extraArgs ...string) (*Server, error) {
	return start(dir, nil, []string{"--save", "", "--appendonly", "no"}, func(port int) []string {
		return append([]string{"--port", strconv.Itoa(port)}, extraArgs...)
	})
}

// StartPersistent is Start with an append-only file in dir (--appendonly
// yes --appendfsync always; no RDB snapshots): every write the server
// acknowledged survives Kill and is there again after Restart.
func StartPersistent(dir string, extraArgs ...string) (*Server, error) {
	return start(dir, nil, []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}, func(port int) []string {
		return append([]string{"--port", strconv.Itoa(port)}, extraArgs...)
	})
}

// start runs redis-server with the persistence arguments and those listen
// gives for a free port, and waits until it answers (over TLS if tc is set).
func start(dir string, tc *tls.Config, persistence []string, listen func(port int) []string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		args := append([]string{
			"--bind", "127.0.0.1", "--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"),
		}, persistence...)
		s := &Server{
			URL: fmt.Sprintf("redis://127.0.0.1:%d", port), Port: port,
			bin: bin, args: append(args, listen(port)...), dir: dir, tc: tc,
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		last = s.launch(ctx)
		cancel()
		if last == nil {
			return s, nil
		}
		if errors.Is(last, errExited) {
			continue // the port was taken in the meantime: another one
		}
		break
	}
	return nil, fmt.Errorf("redis-server did not come up: %w%s", last, logTail(dir))
}

// waitReady polls the server on port until it answers PING, has finished
// loading its data, and is the process pid (not another that took the
// port). It fails with errExited if the process exits first, or when ctx
// ends.
func waitReady(ctx context.Context, port int, tc *tls.Config, pw string, pid int, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{
		Addr: "127.0.0.1:" + strconv.Itoa(port), TLSConfig: tc, Password: pw,
		MaxRetries: -1, DialerRetries: 1, PoolSize: 1,
		// each probe is bounded, also when something else holds the port
		// and accepts without answering
		DialTimeout: probeTimeout, ReadTimeout: probeTimeout, WriteTimeout: probeTimeout,
		ContextTimeoutEnabled: true,
	})
	defer c.Close()
	var last error
	for {
		select {
		case <-exited:
			return errExited
		default:
		}
		last = probe(ctx, c, port, pid)
		if last == nil {
			return nil
		}
		if !ctxsleep.Sleep(ctx, 20*time.Millisecond) {
			return fmt.Errorf("redis-server not ready: %w (last: %v)", ctx.Err(), last)
		}
	}
}

// password is the value of --requirepass in args, or "".
func password(args []string) string {
	for i, a := range args {
		if a == "--requirepass" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// probe asks once whether the server is ready (see waitReady).
func probe(ctx context.Context, c *redis.Client, port, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// A plain connection first: the client logs its failures to dial.
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	conn.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	info, err := c.Info(ctx).Result() // the default sections hold both fields
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	fields := infoFields(info)
	if fields["process_id"] != strconv.Itoa(pid) {
		return fmt.Errorf("port answered by process %q, not %d", fields["process_id"], pid)
	}
	if fields["loading"] != "0" {
		return fmt.Errorf("still loading its data (loading:%q)", fields["loading"])
	}
	return nil
}

// infoFields parses the "name:value" lines of an INFO reply.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

// logTail returns the last lines of the server's log, to append to an error.
func logTail(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	if len(b) == 0 {
		return "; its log is empty"
	}
	return "; its log ends:\n" + string(bytes.Join(lines, []byte("\n")))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
