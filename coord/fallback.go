package coord

import (
	"errors"
	"sync"
)

// ErrNoFallback: no in-process coordination server is linked into this
// program (see RegisterFallback).
var ErrNoFallback = errors.New(`no in-process coordination server is linked into this program (a Go program links it with: import _ "github.com/bigjob-go/bigjob/coord/embedded")`)

// FallbackServer is a running in-process coordination server.
type FallbackServer interface {
	// Close stops it; connected clients see their connections drop.
	Close()
}

// FallbackStarter starts an in-process coordination server listening on
// addr ("host:port"), requiring user and password when they are set.
type FallbackStarter func(addr, user, password string) (FallbackServer, error)

var fallback struct {
	sync.Mutex
	start FallbackStarter
}

// RegisterFallback makes start the in-process server that clients fall back
// to where no store listens. Package coord/embedded registers itself when a
// program imports it, as database/sql drivers do; the last registration wins.
func RegisterFallback(start FallbackStarter) {
	fallback.Lock()
	fallback.start = start
	fallback.Unlock()
}

// StartFallback starts the registered in-process server on addr, or returns
// ErrNoFallback if none is registered.
func StartFallback(addr, user, password string) (FallbackServer, error) {
	fallback.Lock()
	start := fallback.start
	fallback.Unlock()
	if start == nil {
		return nil, ErrNoFallback
	}
	return start(addr, user, password)
}
