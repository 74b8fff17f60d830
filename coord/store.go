// Package coord is the coordination protocol between the pilot manager
// (package core) and the agents (package agent): the Redis key layout
// (keys.go), the Lua scripts that make every state change atomic (lua/), the
// queues the agents pull from and the event stream that replaces polling.
//
// A Store is safe for concurrent use. Every method that talks to Redis takes a
// context; deadlines and cancellation reach the socket.
package coord

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of Config.
const (
	DefaultTTL       = 7 * 24 * time.Hour
	DefaultMaxEvents = 10000
	// EventsPerEntry is the most events one entry of the event stream holds
	// (the Lua prelude keeps the same number).
	EventsPerEntry = 32
)

// Config tunes a Store. The zero value gives the defaults.
type Config struct {
	// TTL is how long a record lives after its last change (refreshed by
	// heartbeats while a pilot runs). 0 means DefaultTTL; negative: forever.
	TTL time.Duration
	// MaxEvents bounds the event stream of a service (approximately), in
	// entries of at most EventsPerEntry events each. 0 means
	// DefaultMaxEvents.
	MaxEvents int64
	// DialTimeout bounds connecting; 0 means 2 s.
	DialTimeout time.Duration
	// PoolSize is the number of connections; 0 means go-redis's default.
	PoolSize int
}

// Store is a connection to the coordination Redis.
type Store struct {
	rdb       *redis.Client
	addr      Address
	ttl       time.Duration
	maxEvents int64
}

// Dial connects to the Redis at a and checks it answers. A server that is not
// listening gives an error for which IsRefused is true, at once (go-redis
// would retry the refused connection with backoff for about 100 ms).
func Dial(ctx context.Context, a Address, cfg Config) (*Store, error) {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if err := probe(ctx, a, cfg.DialTimeout); err != nil {
		return nil, fmt.Errorf("connect to Redis at %s: %w", a.Redacted(), err)
	}
	opt := &redis.Options{
		Network:               a.Network(),
		Addr:                  a.HostPort(),
		Username:              a.Username,
		Password:              a.Password,
		DB:                    a.DB,
		Protocol:              2,
		DisableIdentity:       true,
		ContextTimeoutEnabled: true,
		DialTimeout:           cfg.DialTimeout,
		DialerRetries:         1, // callers retry at their own pace
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		PoolSize:              cfg.PoolSize,
	}
	if a.TLS {
		tc, err := tlsConfig(a)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig = tc
	}
	s := &Store{rdb: redis.NewClient(opt), addr: a, ttl: cfg.TTL, maxEvents: cfg.MaxEvents}
	s.rdb.AddHook(ctxDeadlines{})
	switch {
	case s.ttl == 0:
		s.ttl = DefaultTTL
	case s.ttl < 0:
		s.ttl = 0
	}
	if s.maxEvents <= 0 {
		s.maxEvents = DefaultMaxEvents
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", a.Redacted(), err)
	}
	return s, nil
}

// ctxDeadlines makes a command that its context's deadline cut fail with
// the context's error. The client gives the connection ctx's deadline
// (ContextTimeoutEnabled) and reports the network's "i/o timeout" when it
// passes mid-read, which callers would take for a store that does not
// answer rather than for the end of their own wait.
type ctxDeadlines struct{}

func (ctxDeadlines) DialHook(next redis.DialHook) redis.DialHook { return next }

func (ctxDeadlines) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return ctxError(ctx, next(ctx, cmd))
	}
}

func (ctxDeadlines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if e := c.Err(); e != nil {
				c.SetErr(ctxError(ctx, e))
			}
		}
		return ctxError(ctx, err)
	}
}

// ctxError is err, or, if err is the connection's deadline and ctx's has
// passed, ctx's error (with err). The deadline is compared, not ctx.Err():
// the connection's timer may fire before ctx's.
func ctxError(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

// probe connects to a's address and hangs up: whether anything listens.
func probe(ctx context.Context, a Address, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, a.Network(), a.HostPort())
	if err != nil {
		return err
	}
	return c.Close()
}

func tlsConfig(a Address) (*tls.Config, error) {
	tc := &tls.Config{ServerName: a.Host, MinVersion: tls.VersionTLS12}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, fmt.Errorf("coordination URL %s: read CA file: %w", a.Redacted(), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("coordination URL %s: CA file %s holds no PEM certificate", a.Redacted(), a.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// IsRefused reports whether err means that nothing listens at the address.
func IsRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Address is where the store is.
func (s *Store) Address() Address { return s.addr }

// Client is the underlying go-redis client, for inspection in tests and tools.
func (s *Store) Client() *redis.Client { return s.rdb }

// IsTransient reports whether err is the store being unreachable or busy
// for the moment (connection refused, reset or closed, a timeout, a server
// still loading its data) rather than an answer: the call may be retried.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, redis.ErrPoolTimeout)
}
