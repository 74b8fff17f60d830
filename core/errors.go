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
	// ErrNoAdaptor: no adaptor handles the scheme of a resource URL.
	ErrNoAdaptor = errors.New("no adaptor for the resource URL's scheme")
	// ErrAdaptor: the resource refused or failed to start a pilot.
	ErrAdaptor = errors.New("the resource could not start the pilot")
	// ErrNoKey: this process does not have the service's signing key, so it
	// cannot add units or pilots to it (waits, details and cancel work).
	ErrNoKey = errors.New("no signing key for the service")
	// ErrStoreUnreachable: the coordination store could not be reached for
	// longer than Options.StoreGrace while waiting.
	ErrStoreUnreachable = errors.New("the coordination store is unreachable")
	// ErrAmbiguous: a short id names more than one object of the store.
	ErrAmbiguous = errors.New("the short id is ambiguous")
)

// Version is the library version.
const Version = "0.1.0"
