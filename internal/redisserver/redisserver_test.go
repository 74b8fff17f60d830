package redisserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/proc"
)

// started (with mustStart) fails the test if s did not start (or skips it, as testenv does,
// when redis-server is missing and BIGJOB_TEST_NO_REDIS=1), and stops s
// when the test ends.
func started(t *testing.T) func(*Server, error) *Server {
	return func(s *Server, err error) *Server {
		t.Helper()
		return mustStart(t, s, err)
	}
}

func mustStart(t *testing.T, s *Server, err error) *Server {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("BIGJOB_TEST_NO_REDIS") == "1" {
		t.Skip("redis-server not installed and BIGJOB_TEST_NO_REDIS=1")
	}
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	return s
}

func client(t *testing.T, s *Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port), TLSConfig: s.tc})
	t.Cleanup(func() { c.Close() })
	return c
}

// ours lists the live redis-server processes of this test process that
// serve port (redis-server sets its command line to "redis-server
// 127.0.0.1:<port>").
func ours(port int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := proc.ReadStat(pid)
		if err != nil || st.PPID != os.Getpid() || !proc.Alive(pid, st.StartTime) {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if string(bytes.TrimSpace(comm)) == "redis-server" && bytes.Contains(cmdline, []byte("127.0.0.1:"+strconv.Itoa(port))) {
			out = append(out, pid)
		}
	}
	return out
}

func TestKillRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := started(t)(StartPersistent(dir))
	ctx := context.Background()
	c := client(t, s)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, c.RPush(ctx, "l", "a", "b").Err())

	first := s.PID()
	require.NotZero(t, first)
	s.Kill()
	require.Zero(t, s.PID())
	require.False(t, proc.Alive(first, 0), "redis-server %d outlived Kill", first)
	_, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.Port))
	require.Error(t, err, "a killed server accepted a connection")
	s.Kill() // no process: nothing to do

	require.NoError(t, s.Restart(ctx))
	second := s.PID()
	require.NotZero(t, second)
	require.NotEqual(t, first, second)
	require.Equal(t, "v", c.Get(ctx, "k").Val())
	require.Equal(t, []string{"a", "b"}, c.LRange(ctx, "l", 0, -1).Val())
	require.Equal(t, "loading:0", infoLine(t, c, "loading"))

	// Restart of a running server kills it first, and keeps the data too.
	require.NoError(t, c.Set(ctx, "k2", "v2", 0).Err())
	require.NoError(t, s.Restart(ctx))
	require.False(t, proc.Alive(second, 0))
	require.Equal(t, "v2", c.Get(ctx, "k2").Val())
	require.Equal(t, []int{s.PID()}, ours(s.Port))
}

func TestStopAfterRestartLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := started(t)(StartPersistent(dir))
	pids := []int{s.PID()}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		s.Kill()
		require.NoError(t, s.Restart(ctx))
		pids = append(pids, s.PID())
	}
	require.Len(t, ours(s.Port), 1)

	s.Stop()
	s.Stop() // idempotent
	require.Zero(t, s.PID())
	for _, pid := range pids {
		require.False(t, proc.Alive(pid, 0), "redis-server %d outlived Stop", pid)
	}
	require.Empty(t, ours(s.Port))
	require.ErrorIs(t, s.Restart(ctx), ErrStopped)
	require.Empty(t, ours(s.Port))
}

func TestRestartWithoutPersistenceStartsEmpty(t *testing.T) {
	s := started(t)(Start(t.TempDir()))
	ctx := context.Background()
	c := client(t, s)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, s.Restart(ctx))
	require.Equal(t, redis.Nil, c.Get(ctx, "k").Err())
}

func TestRestartTLS(t *testing.T) {
	s := started(t)(StartTLS(t.TempDir()))
	ctx := context.Background()
	c := client(t, s)
	require.NoError(t, c.Ping(ctx).Err())
	s.Kill()
	require.NoError(t, s.Restart(ctx))
	require.NoError(t, c.Ping(ctx).Err())
}

// Restart gives up when its context ends, and leaves no process behind.
func TestRestartHonoursContext(t *testing.T) {
	dir := t.TempDir()
	s := started(t)(StartPersistent(dir))
	pid := s.PID()
	s.Kill()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Restart(ctx), context.Canceled)
	require.Zero(t, s.PID())
	require.False(t, proc.Alive(pid, 0))
	require.Empty(t, ours(s.Port))
	require.NoError(t, s.Restart(context.Background()))
}

// Restart keeps trying while another socket holds the port, and fails
// (leaving nothing running) if it never becomes free.
func TestRestartPortTaken(t *testing.T) {
	dir := t.TempDir()
	s := started(t)(StartPersistent(dir))
	s.Kill()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.Port))
	require.NoError(t, err)
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = s.Restart(ctx)
	require.Error(t, err)
	require.Contains(t, err.Error(), "restart redis-server")
	require.Zero(t, s.PID())
	require.Empty(t, ours(s.Port))

	l.Close()
	require.NoError(t, s.Restart(context.Background()))
	require.NotZero(t, s.PID())
}

// Kill, Restart and PID from one goroutine while Stop runs from another.
func TestConcurrentStop(t *testing.T) {
	dir := t.TempDir()
	s := started(t)(StartPersistent(dir))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3; i++ {
			s.Kill()
			if err := s.Restart(context.Background()); err != nil {
				assert.ErrorIs(t, err, ErrStopped)
				return
			}
			s.PID()
		}
	}()
	s.Stop()
	<-done
	require.Empty(t, ours(s.Port))
}

func infoLine(t *testing.T, c *redis.Client, name string) string {
	v, ok := infoFields(c.Info(context.Background(), "persistence").Val())[name]
	require.True(t, ok, "INFO has no %s", name)
	return name + ":" + v
}
