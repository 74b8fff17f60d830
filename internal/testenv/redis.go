// Package testenv starts the real components that tests talk to: a private
// redis-server per test, the embedded server, and the agent binary.
//
// A missing redis-server fails the test: the project's install script
// (scripts/install-deps.sh, run by make test and .ci/run) provides it. To run
// tests without it on purpose, set BIGJOB_TEST_NO_REDIS=1; the tests that need
// it are then skipped with a message saying so.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend is a coordination store a test runs against.
type Backend struct {
	Name string // "redis-server" or "embedded"
	URL  string
}

// Backends returns a fresh real redis-server and a fresh embedded
// (in-process) server, for tests that must pass on both.
func Backends(t testing.TB) []Backend {
	return []Backend{
		{Name: "redis-server", URL: RedisServer(t)},
		{Name: "embedded", URL: Embedded(t)},
	}
}

// Embedded starts an in-process Redis-protocol server (the one the library
// falls back to) and returns its URL. It stops when the test ends.
func Embedded(t testing.TB) string {
	t.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatalf("start embedded server: %v", err)
	}
	t.Cleanup(m.Close)
	return "redis://" + m.Addr()
}

// RedisServer starts a private redis-server on a free loopback port, with no
// persistence, and returns its URL. It is killed when the test ends.
func RedisServer(t testing.TB, extraArgs ...string) string {
	t.Helper()
	return StartRedis(t, extraArgs...).URL
}

// RedisProc is a running private redis-server.
type RedisProc struct {
	URL  string
	stop func()
}

// Stop kills the server now (it is also killed when the test ends).
func (r *RedisProc) Stop() { r.stop() }

// StartRedis is RedisServer for tests that stop the server themselves.
func StartRedis(t testing.TB, extraArgs ...string) *RedisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("BIGJOB_TEST_NO_REDIS") == "1" {
			t.Skip("redis-server not installed and BIGJOB_TEST_NO_REDIS=1: skipping the real-Redis half of this test")
		}
		t.Fatalf("redis-server is not installed: run scripts/install-deps.sh (or set BIGJOB_TEST_NO_REDIS=1 to skip real-Redis tests on purpose)")
	}
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		port := FreePort(t)
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", filepath.Join(dir, "redis.log"),
		}, extraArgs...)
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		url := fmt.Sprintf("redis://127.0.0.1:%d", port)
		if waitPing(port, exited) {
			var once sync.Once
			stop := func() {
				once.Do(func() {
					cmd.Process.Kill()
					<-exited
				})
			}
			t.Cleanup(stop)
			return &RedisProc{URL: url, stop: stop}
		}
		cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	t.Fatalf("redis-server did not come up; its log:\n%s", log)
	return nil
}

func waitPing(port int, exited <-chan struct{}) bool {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
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
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
