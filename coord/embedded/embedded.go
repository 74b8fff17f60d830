// Package embedded runs the in-process Redis-protocol server (miniredis) that
// the library falls back to when no Redis listens on a loopback coordination
// address. Agents reach it over TCP like any Redis. Nothing is persisted; it
// stops with the process (or Close).
//
// A program links it by importing it (its init registers it with
// coord.RegisterFallback); the agent does not.
package embedded

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/bigjob-go/bigjob/coord"
)

func init() {
	coord.RegisterFallback(func(addr, user, password string) (coord.FallbackServer, error) {
		return Start(addr, user, password)
	})
}

// expiryTick is how often key TTLs advance. miniredis only expires keys when
// told how much time passed.
const expiryTick = 10 * time.Second

// Server is a running embedded server.
type Server struct {
	m     *miniredis.Miniredis
	stop  chan struct{}
	done  chan struct{}
	close sync.Once
}

// Start listens on addr ("host:port"). If user or password is set, clients
// must authenticate with them.
func Start(addr, user, password string) (*Server, error) {
	m := miniredis.NewMiniRedis()
	switch {
	case user != "":
		m.RequireUserAuth(user, password)
	case password != "":
		m.RequireAuth(password)
	}
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded coordination server on %s: %w", addr, err)
	}
	s := &Server{m: m, stop: make(chan struct{}), done: make(chan struct{})}
	go s.expire()
	return s, nil
}

func (s *Server) expire() {
	defer close(s.done)
	t := time.NewTicker(expiryTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.m.Addr() }

// Close stops the server; connected clients see their connections drop.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.stop)
		<-s.done
		s.m.Close()
	})
}
