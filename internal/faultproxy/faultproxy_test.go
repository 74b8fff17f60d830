package faultproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
)

// echo starts a server that writes back what it reads until EOF, then
// closes. It stops when the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func start(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line through c and reads it back.
func roundTrip(c net.Conn, line string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return got[:max(len(got)-1, 0)], err
}

// readFails reports whether reading c ends in an error (EOF or a reset)
// rather than data; the deadline only bounds a broken proxy.
func readFails(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestRedisThroughProxy(t *testing.T) {
	srv := testenv.StartRedis(t)
	p := start(t, "127.0.0.1:"+strconv.Itoa(srv.Port))
	require.Equal(t, "127.0.0.1:"+strconv.Itoa(p.Port()), p.Addr())
	c := redis.NewClient(&redis.Options{
		Addr: p.Addr(), MaxRetries: 1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	defer c.Close()
	ctx := context.Background()

	require.NoError(t, c.Ping(ctx).Err())
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	require.GreaterOrEqual(t, p.Accepted(), 1)
	require.GreaterOrEqual(t, p.Active(), 1)

	p.Cut()
	require.Zero(t, p.Active())
	before := p.Accepted()
	require.Error(t, c.Ping(ctx).Err(), "PING through a cut proxy")
	require.Greater(t, p.Accepted(), before, "the client reconnected and was cut off")
	require.Zero(t, p.Active())

	p.Restore()
	require.NoError(t, c.Ping(ctx).Err())
	require.Equal(t, "v", c.Get(ctx, "k").Val())
}

func TestCutClosesBothSidesAndNewConnections(t *testing.T) {
	p := start(t, echo(t))
	a := dial(t, p)
	got, err := roundTrip(a, "one")
	require.NoError(t, err)
	require.Equal(t, "one", got)
	require.Equal(t, 1, p.Accepted())
	require.Equal(t, 1, p.Active())

	p.Cut()
	p.Cut() // already cut
	require.True(t, readFails(a), "an open connection survived Cut")
	b := dial(t, p) // accepted, then closed at once
	require.True(t, readFails(b), "a connection during Cut was forwarded")
	require.Equal(t, 2, p.Accepted())
	require.Zero(t, p.Active())

	p.Restore()
	p.Restore() // not cut
	c := dial(t, p)
	got, err = roundTrip(c, "two")
	require.NoError(t, err)
	require.Equal(t, "two", got)
	require.Equal(t, 3, p.Accepted())
	require.True(t, readFails(a), "Restore revived a cut connection")
}

func TestHalfClose(t *testing.T) {
	p := start(t, echo(t))
	c := dial(t, p)
	_, err := io.WriteString(c, "hello")
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	require.Eventually(t, func() bool { return p.Active() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := start(t, target)
	c := dial(t, p)
	require.True(t, readFails(c), "a connection to nowhere stayed open")
	require.Equal(t, 1, p.Accepted())
}

func TestCloseRefusesAndIsIdempotent(t *testing.T) {
	p, err := Start(echo(t))
	require.NoError(t, err)
	a := dial(t, p)
	_, err = roundTrip(a, "x")
	require.NoError(t, err)
	p.Close()
	p.Close()
	p.Cut()
	p.Restore()
	require.True(t, readFails(a), "a connection survived Close")
	_, err = net.Dial("tcp", p.Addr())
	require.Error(t, err, "a closed proxy accepted a connection")
	require.Zero(t, p.Active())
}

// waitGoroutines waits until there are at most n goroutines. It polls
// itself: require.Eventually runs its condition in another goroutine.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > n; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines left running (want at most %d):\n%s", n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	target := echo(t)
	// a target that accepts (in the kernel) and never answers
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer silent.Close()
	baseline := runtime.NumGoroutine()

	p, err := Start(target)
	require.NoError(t, err)
	q, err := Start(silent.Addr().String())
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		c := dial(t, p)
		_, err := roundTrip(c, "x")
		require.NoError(t, err)
	}
	half := dial(t, p)
	require.NoError(t, half.(*net.TCPConn).CloseWrite()) // one direction ended
	for i := 0; i < 3; i++ {
		dial(t, q)
	}
	p.Cut()
	dial(t, p)
	p.Restore()
	dial(t, p)
	require.Eventually(t, func() bool { return q.Accepted() == 3 }, 5*time.Second, 10*time.Millisecond)

	p.Close()
	q.Close()
	waitGoroutines(t, baseline)
}

// Clients, Cut and Restore at once, for the race detector; then Close ends
// everything.
func TestConcurrentUse(t *testing.T) {
	target := echo(t)
	baseline := runtime.NumGoroutine()
	p, err := Start(target)
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", p.Addr())
				if err != nil {
					continue
				}
				roundTrip(c, "ping") // fails when cut: expected
				c.Close()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			p.Cut()
			p.Accepted()
			p.Active()
			p.Restore()
		}
	}()
	// let the clients run until the toggling is over and some got through
	require.Eventually(t, func() bool { return p.Accepted() >= 100 }, 10*time.Second, 10*time.Millisecond)
	close(stop)
	wg.Wait()

	p.Close()
	assert.Zero(t, p.Active())
	waitGoroutines(t, baseline)
}
