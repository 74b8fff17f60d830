// Package redisserver starts private, throw-away redis-server processes (no
// persistence, loopback only) for tests and benchmarks.
package redisserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bigjob-go/bigjob/internal/proc"
)

// ErrNotInstalled: there is no redis-server on PATH.
var ErrNotInstalled = errors.New("redis-server is not installed (run scripts/install-deps.sh)")

// Server is a running redis-server.
type Server struct {
	URL  string
	Port int
	stop func()
}

// Stop kills the server and waits for it. It may be called more than once.
func (s *Server) Stop() { s.stop() }

// Start runs redis-server on a free loopback port with its files in dir.
func Start(dir string, extraArgs ...string) (*Server, error) {
	return start(dir, nil, func(port int) []string {
		return append([]string{"--port", strconv.Itoa(port)}, extraArgs...)
	})
}

// start runs redis-server with the arguments listen gives for a free port,
// and waits until it answers (over TLS if tc is set).
func start(dir string, tc *tls.Config, listen func(port int) []string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		args := append([]string{
			"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"),
		}, listen(port)...)
		cmd := exec.Command(bin, args...)
		exited, err := proc.StartBound(cmd)
		if err != nil {
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		if waitPing(port, tc, exited) {
			var once sync.Once
			stop := func() {
				once.Do(func() {
					cmd.Process.Kill()
					<-exited
				})
			}
			return &Server{URL: fmt.Sprintf("redis://127.0.0.1:%d", port), Port: port, stop: stop}, nil
		}
		cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	return nil, fmt.Errorf("redis-server did not come up; its log:\n%s", log)
}

func waitPing(port int, tc *tls.Config, exited <-chan struct{}) bool {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialerRetries: 1, TLSConfig: tc})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
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
