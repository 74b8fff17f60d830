package remote

import (
	"sync"
	"testing"
	"time"
)

// Counters the tests read, fed by the package's hooks.
var (
	hookMu sync.Mutex
	dials  = map[Target]int{}
	copies = map[string]int{}
)

func init() {
	onDial = func(t Target) {
		hookMu.Lock()
		dials[t]++
		hookMu.Unlock()
	}
	onCopy = func(host, path string) {
		hookMu.Lock()
		copies[host+" "+path]++
		hookMu.Unlock()
	}
}

// Dials returns how many times a connection to t was attempted.
func Dials(t Target) int {
	hookMu.Lock()
	defer hookMu.Unlock()
	return dials[t]
}

// Copies returns how many times StageAgent copied a binary to path on host.
func Copies(host, path string) int {
	hookMu.Lock()
	defer hookMu.Unlock()
	return copies[host+" "+path]
}

// Connected reports whether the pool holds an open connection to t.
func Connected(t Target) bool {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	ep := pool.eps[t]
	return ep != nil && ep.client != nil
}

// SetIdleTimeout changes the idle time of pooled connections for the rest of
// the test.
func SetIdleTimeout(t testing.TB, d time.Duration) {
	pool.mu.Lock()
	old := pool.idle
	pool.idle = d
	pool.mu.Unlock()
	t.Cleanup(func() {
		pool.mu.Lock()
		pool.idle = old
		pool.mu.Unlock()
	})
}

var (
	CheckArch       = checkArch
	ReadHostConfig  = readHostConfig
	ExpandTokens    = expandTokens
	WildcardMatches = matchHostPatterns
)

type HostConfig = hostConfig

var ParseProbe = parseProbe
