// Package testenv starts the real components that tests talk to: a private
// redis-server per test, the embedded server, and the agent binary.
//
// A missing redis-server fails the test: the project's install script
// (scripts/install-deps.sh, run by make test and .ci/run) provides it. To run
// tests without it on purpose, set BIGJOB_TEST_NO_REDIS=1; the tests that need
// it are then skipped with a message saying so.
package testenv

import (
	"errors"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/bigjob-go/bigjob/internal/redisserver"
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

// RedisServer starts a private redis-server and returns its URL. It is
// killed when the test ends.
func RedisServer(t testing.TB, extraArgs ...string) string {
	t.Helper()
	return StartRedis(t, extraArgs...).URL
}

// StartRedis is RedisServer for tests that stop the server themselves.
func StartRedis(t testing.TB, extraArgs ...string) *redisserver.Server {
	t.Helper()
	s, err := redisserver.Start(t.TempDir(), extraArgs...)
	return checkStarted(t, s, err)
}

// RedisServerTLS starts a private redis-server that accepts only TLS and
// returns its rediss:// URL, which names the CA file.
func RedisServerTLS(t testing.TB) string {
	t.Helper()
	s, err := redisserver.StartTLS(t.TempDir())
	return checkStarted(t, s, err).URL
}

func checkStarted(t testing.TB, s *redisserver.Server, err error) *redisserver.Server {
	t.Helper()
	if errors.Is(err, redisserver.ErrNotInstalled) && os.Getenv("BIGJOB_TEST_NO_REDIS") == "1" {
		t.Skip("redis-server not installed and BIGJOB_TEST_NO_REDIS=1: skipping the real-Redis part of this test")
	}
	if err != nil {
		t.Fatalf("%v (or set BIGJOB_TEST_NO_REDIS=1 to skip real-Redis tests on purpose)", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := redisserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
