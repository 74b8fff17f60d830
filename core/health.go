package core

import (
	"sync"
	"time"
)

// storeHealth is since when a domain's store has been unreachable (zero:
// it answered last time), as seen by waits, probes and the event watcher.
type storeHealth struct {
	mu      sync.Mutex
	downAt  time.Time
	probing bool
}

// down records a failure to reach the store.
func (h *storeHealth) down() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.downAt.IsZero() {
		h.downAt = time.Now()
	}
}

// up records that the store answered.
func (h *storeHealth) up() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.downAt = time.Time{}
}

// since is when the current outage began, or zero.
func (h *storeHealth) since() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.downAt
}

// startProbe reports whether the caller may probe (no probe runs).
func (h *storeHealth) startProbe() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probing {
		return false
	}
	h.probing = true
	return true
}

func (h *storeHealth) endProbe() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
}
