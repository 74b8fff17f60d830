// Package faultproxy is a TCP proxy for tests that cut a client's
// connection to a server: the client talks to the proxy, the proxy
// forwards to the server, and the test cuts and restores the link.
//
// The package never prints or logs; errors of forwarding only end the
// connection they happened on.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds the proxy's connection to the target.
const dialTimeout = 5 * time.Second

// Proxy forwards the TCP connections it accepts on a loopback port to a
// target address. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	done   chan struct{}  // closed by Close
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu       sync.Mutex
	links    map[*link]struct{} // open connections
	cutCtx   context.Context    // cancelled by Cut and Close: ends dials in progress
	cancel   context.CancelFunc
	cut      bool
	closed   bool
	accepted int
}

// link is one client connection and, once dialled, its connection to the
// target.
type link struct {
	client, server net.Conn
}

// close closes both sides.
func (l *link) close() {
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
}

// Start listens on 127.0.0.1 on a free port and forwards every connection it
// accepts to target (host:port), in both directions. The end of one
// direction is passed on as a half-close (CloseWrite); the connection is
// closed on both sides when both directions have ended, on an error in
// either, or by Cut or Close. Start does not check that target is
// reachable: a connection the proxy cannot forward (dial fails within 5
// seconds) is closed.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start fault proxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, done: make(chan struct{}), links: map[*link]struct{}{}, cutCtx: ctx, cancel: cancel}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address clients connect to, as 127.0.0.1:port. It does
// not change across Cut and Restore.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port returns the port of Addr.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted returns how many connections the proxy has accepted so far,
// including those it closed at once because it was cut.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Active returns how many connections are open (accepted, not yet closed).
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Cut closes every open connection, both the client's side and the
// target's, and abandons connections to the target still being dialled.
// Until Restore, the proxy keeps listening, but closes each connection it
// accepts at once: a client connects, then reads EOF or gets a reset (not
// "connection refused"). When Cut returns, no byte is forwarded any more.
// Cut after Close does nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cut {
		return
	}
	p.cut = true
	p.cancel()
	p.closeLinks()
}

// Restore undoes Cut: connections accepted from now on are forwarded
// again. Connections Cut closed stay closed. Restore when not cut, or after
// Close, does nothing.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || !p.cut {
		return
	}
	p.cut = false
	p.cutCtx, p.cancel = context.WithCancel(context.Background())
}

// Close stops the proxy for good: it closes the listener (new connections
// are refused) and every open connection, and returns once all of the
// proxy's goroutines have ended. It may be called more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
		p.cancel()
		p.ln.Close()
		p.closeLinks()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// closeLinks closes and forgets every open connection. p.mu is held.
func (p *Proxy) closeLinks() {
	for l := range p.links {
		l.close()
		delete(p.links, l)
	}
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait a little, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-p.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		p.mu.Lock()
		p.accepted++
		if p.cut || p.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		l := &link{client: c}
		p.links[l] = struct{}{}
		ctx := p.cutCtx
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(ctx, l)
	}
}

// forward dials the target for l and copies both ways until both
// directions have ended. ctx ends when the proxy is cut or closed.
func (p *Proxy) forward(ctx context.Context, l *link) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: dialTimeout}
	s, err := d.DialContext(ctx, "tcp", p.target)
	p.mu.Lock()
	if _, open := p.links[l]; !open || err != nil {
		// cut or closed meanwhile (l is closed already), or no target
		delete(p.links, l)
		p.mu.Unlock()
		l.client.Close()
		if s != nil {
			s.Close()
		}
		return
	}
	l.server = s
	p.mu.Unlock()

	done := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		pipe(l.server, l.client, l)
	}()
	pipe(l.client, l.server, l)
	<-done

	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	l.close()
}

// pipe copies from src to dst. At the end of src it half-closes dst, so the
// other direction can finish; on an error it closes both sides of l, which
// ends the other direction too.
func pipe(dst, src net.Conn, l *link) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	l.close()
}

// String describes the proxy, for test messages.
func (p *Proxy) String() string { return "fault proxy " + p.Addr() + " -> " + p.target }
