package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// maxSessions bounds the sessions of Runs open at once on one
	// connection; maxKillSessions more may kill commands whose ctx ended.
	// Together they stay within OpenSSH's MaxSessions default of 10.
	maxSessions     = 8
	maxKillSessions = 2
	// dialTimeout caps connecting and authenticating, whatever ctx allows.
	dialTimeout = 20 * time.Second
	// defaultIdle is how long a connection may stay unused before it closes.
	defaultIdle = 30 * time.Second
)

// sshPool holds one endpoint per target while some Run uses it or its
// connection is open. One mutex guards the pool and all its endpoints: it
// is never held while talking to the network.
type sshPool struct {
	mu   sync.Mutex
	eps  map[Target]*endpoint
	idle time.Duration
}

var pool = &sshPool{eps: make(map[Target]*endpoint), idle: defaultIdle}

// endpoint is the shared connection to one target.
type endpoint struct {
	target   Target
	refs     int         // Runs using the endpoint
	client   *ssh.Client // nil: not connected
	dial     *dialCall   // the dial in progress, if any
	gen      int         // counts the times refs fell to 0: the idle timer's ticket
	timer    *time.Timer // closes the idle connection
	sessions chan struct{}
	killers  chan struct{}
}

// dialCall is one dial shared by the Runs that wait for it. It is canceled
// when the last of them gives up.
type dialCall struct {
	done      chan struct{}
	cancel    context.CancelFunc
	waiters   int
	abandoned bool // canceled because no Run waited any more
	client    *ssh.Client
	err       error
}

// acquire returns the target's endpoint, holding it in the pool until
// release.
func (p *sshPool) acquire(t Target) *endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep := p.eps[t]
	if ep == nil {
		ep = &endpoint{target: t, sessions: make(chan struct{}, maxSessions), killers: make(chan struct{}, maxKillSessions)}
		p.eps[t] = ep
	}
	ep.refs++
	if ep.timer != nil {
		ep.timer.Stop()
		ep.timer = nil
	}
	return ep
}

func (p *sshPool) release(ep *endpoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep.refs--
	p.settle(ep)
}

// settle, with p.mu held, lets an endpoint that no Run uses close its
// connection after the idle time, or leave the pool if it has none.
func (p *sshPool) settle(ep *endpoint) {
	if ep.refs > 0 || ep.dial != nil {
		return
	}
	if ep.client == nil {
		if p.eps[ep.target] == ep {
			delete(p.eps, ep.target)
		}
		return
	}
	ep.gen++
	gen := ep.gen
	if ep.timer != nil {
		ep.timer.Stop()
	}
	ep.timer = time.AfterFunc(p.idle, func() { p.expire(ep, gen) })
}

// expire closes the connection of an endpoint still unused since ticket gen.
func (p *sshPool) expire(ep *endpoint, gen int) {
	p.mu.Lock()
	if ep.gen != gen || ep.refs > 0 || ep.dial != nil {
		p.mu.Unlock()
		return
	}
	c := ep.client
	ep.client, ep.timer = nil, nil
	if p.eps[ep.target] == ep {
		delete(p.eps, ep.target)
	}
	p.mu.Unlock()
	if c != nil {
		slog.Debug("ssh: closing idle connection", "target", ep.target.String())
		c.Close()
	}
}

func (ep *endpoint) acquireSession(ctx context.Context) error {
	select {
	case ep.sessions <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (ep *endpoint) releaseSession() { <-ep.sessions }

// session opens a session on the endpoint's connection, dialing if there is
// none, and returns it with its connection. A connection that fails to open
// a session for another reason than the server's refusal is taken as broken
// and redialed once.
func (p *sshPool) session(ctx context.Context, ep *endpoint) (*ssh.Client, *ssh.Session, error) {
	for attempt := 0; ; attempt++ {
		c, err := p.connect(ctx, ep)
		if err != nil {
			return nil, nil, err
		}
		s, err := c.NewSession()
		if err == nil {
			return c, s, nil
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) || attempt > 0 {
			return nil, nil, fmt.Errorf("ssh %s: open session: %w", ep.target, err)
		}
		slog.Debug("ssh: connection broken, redialing", "target", ep.target.String(), "err", err)
		p.drop(ep, c)
	}
}

// drop forgets and closes a broken connection.
func (p *sshPool) drop(ep *endpoint, c *ssh.Client) {
	p.mu.Lock()
	if ep.client == c {
		ep.client = nil
	}
	p.mu.Unlock()
	c.Close()
}

// connect returns the endpoint's connection, joining the dial in progress or
// starting one. It returns when ctx ends, even while the dial goes on for
// other Runs.
func (p *sshPool) connect(ctx context.Context, ep *endpoint) (*ssh.Client, error) {
	for {
		p.mu.Lock()
		if c := ep.client; c != nil {
			p.mu.Unlock()
			return c, nil
		}
		d := ep.dial
		if d == nil {
			d = p.startDial(ep)
		}
		d.waiters++
		p.mu.Unlock()

		select {
		case <-d.done:
			p.mu.Lock()
			d.waiters--
			c, err, abandoned := d.client, d.err, d.abandoned
			p.mu.Unlock()
			if abandoned && err != nil && ctx.Err() == nil {
				continue // the Runs that started it gave up: dial for this one
			}
			return c, err
		case <-ctx.Done():
			p.mu.Lock()
			d.waiters--
			if d.waiters == 0 && ep.dial == d {
				d.abandoned = true
				d.cancel()
			}
			p.mu.Unlock()
			return nil, fmt.Errorf("ssh %s: connect: %w", ep.target, ctx.Err())
		}
	}
}

// startDial, with p.mu held, starts dialing ep's target.
func (p *sshPool) startDial(ep *endpoint) *dialCall {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	d := &dialCall{done: make(chan struct{}), cancel: cancel}
	ep.dial = d
	go func() {
		c, err := dial(ctx, ep.target)
		cancel()
		p.mu.Lock()
		ep.dial = nil
		d.client, d.err = c, err
		if err == nil {
			ep.client = c
			go p.watch(ep, c)
		}
		p.settle(ep)
		p.mu.Unlock()
		close(d.done)
	}()
	return d
}

// watch forgets c when its connection ends, so that the next Run dials.
func (p *sshPool) watch(ep *endpoint, c *ssh.Client) {
	err := c.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if ep.client == c {
		slog.Debug("ssh: connection ended", "target", ep.target.String(), "err", err)
		ep.client = nil
		p.settle(ep)
	}
}

// killGroup kills process group pgid on the host of c from a session of its
// own, giving up after killGrace.
func (ep *endpoint) killGroup(c *ssh.Client, pgid int) {
	timeout := time.NewTimer(killGrace)
	defer timeout.Stop()
	select {
	case ep.killers <- struct{}{}:
		defer func() { <-ep.killers }()
	case <-timeout.C:
		return
	}
	s, err := c.NewSession()
	if err != nil {
		slog.Debug("ssh: cannot open a session to kill a command", "target", ep.target.String(), "err", err)
		return
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.Run(fmt.Sprintf("kill -KILL -- -%d 2>/dev/null", pgid)) }()
	select {
	case err = <-done:
		slog.Debug("ssh: killed a command's process group", "target", ep.target.String(), "pgid", pgid, "err", err)
	case <-timeout.C:
	}
}

// Client returns the pooled connection to t, dialing it if there is none
// (as an SSH Runner does: known_hosts checked, ~/.ssh/config read), with
// one of its sessions reserved for the caller (an SFTP client, say). The
// connection stays open until release, which must be called once.
func Client(ctx context.Context, t Target) (*ssh.Client, func(), error) {
	t = completeTarget(t)
	ep := pool.acquire(t)
	if err := ep.acquireSession(ctx); err != nil {
		pool.release(ep)
		return nil, nil, err
	}
	c, err := pool.connect(ctx, ep)
	if err != nil {
		ep.releaseSession()
		pool.release(ep)
		return nil, nil, err
	}
	var once sync.Once
	return c, func() {
		once.Do(func() {
			ep.releaseSession()
			pool.release(ep)
		})
	}, nil
}
