package core

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotFound: the pilot or unit named by a URL or id does not exist (or
	// its records expired).
	ErrNotFound = errors.New("not found")
	// ErrClosed: the Service (or reconnected object) was closed.
	ErrClosed = errors.New("closed")
	// ErrNoPilots: a wait cannot finish because no live pilot is left to run
	// the remaining units.
	ErrNoPilots = errors.New("no live pilot left to run the remaining units")
)
