package main

import (
	"fmt"
	"sync"
)

// kind is the type of object a handle names; it is the handle's top byte,
// so that a handle of one kind passed as another is detected.
type kind uint64

const (
	kindService  kind = 1
	kindJob      kind = 2
	kindUnit     kind = 3
	kindData     kind = 4
	kindPDS      kind = 5
	kindPD       kind = 6
	kindDU       kind = 7
	kindProgress kind = 8
)

var kindNames = map[kind]string{kindService: "pilot_service", kindJob: "pilot_job", kindUnit: "pilot_unit",
	kindData: "pilot_dataservice", kindPDS: "pilot_pds", kindPD: "pilot_pd", kindDU: "pilot_du",
	kindProgress: "pilot_progress"}

// entry is a live handle. An entry whose object depends on another (a unit
// on the service it came from) holds a reference to that parent: the
// parent's resources are released only when it is freed and no child is
// left, so handles may be freed in any order.
type entry struct {
	kind     kind
	obj      any
	parent   *entry
	children int
	freed    bool
	close    func()     // releases obj; nil if there is nothing to release
	cbStop   func()     // stops the callback registration, if any
	refs     []*entry   // other entries held alive (a data service's services)
	cbMu     sync.Mutex // serialises set_callback on this handle
}

// registry maps handles to entries. Handles are never reused: a counter
// starting at an unusual value, with the kind in the top byte.
var registry = struct {
	sync.Mutex
	m    map[uint64]*entry
	next uint64
}{m: map[uint64]*entry{}, next: 42<<16 + 1}

// add registers obj and returns its handle. parent (may be nil) is kept alive
// until the new handle is freed.
func add(k kind, obj any, parent *entry, close func()) uint64 {
	registry.Lock()
	defer registry.Unlock()
	h := uint64(k)<<56 | registry.next
	registry.next++
	registry.m[h] = &entry{kind: k, obj: obj, parent: parent, close: close}
	if parent != nil {
		parent.children++
	}
	return h
}

// lookup returns the entry of handle h, which must be of kind k.
func lookup(h uint64, k kind) (*entry, error) {
	registry.Lock()
	defer registry.Unlock()
	e := registry.m[h]
	switch {
	case h == 0:
		return nil, &apiError{statusBadHandle, fmt.Sprintf("%s handle is 0, which is never valid", kindNames[k])}
	case e == nil:
		return nil, &apiError{statusBadHandle, fmt.Sprintf("%s handle %#x is unknown or was freed", kindNames[k], h)}
	case e.kind != k:
		return nil, &apiError{statusBadHandle, fmt.Sprintf("handle %#x is a %s, not a %s", h, kindNames[e.kind], kindNames[k])}
	}
	return e, nil
}

// object returns the object of handle h, of kind k and Go type T.
func object[T any](h uint64, k kind) (T, *entry, error) {
	e, err := lookup(h, k)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	return e.obj.(T), e, nil
}

// addRef keeps to alive for as long as from is (a data service holds its
// services).
func addRef(from, to *entry) {
	registry.Lock()
	defer registry.Unlock()
	to.children++
	from.refs = append(from.refs, to)
}

// dropRef undoes one addRef(from, to); it reports whether there was one.
func dropRef(from, to *entry) bool {
	registry.Lock()
	var closers []func()
	found := false
	for i, r := range from.refs {
		if r == to {
			from.refs = append(from.refs[:i], from.refs[i+1:]...)
			to.children--
			closers = collect(to, nil)
			found = true
			break
		}
	}
	registry.Unlock()
	runAll(closers)
	return found
}

// remove frees handle h (of kind k). Its callbacks stop first; its object
// is released once no child needs it.
func remove(h uint64, k kind) error {
	e, err := lookup(h, k)
	if err != nil {
		return err
	}
	e.cbMu.Lock()
	if e.cbStop != nil {
		e.cbStop()
		e.cbStop = nil
	}
	e.cbMu.Unlock()
	registry.Lock()
	if registry.m[h] != e { // freed concurrently
		registry.Unlock()
		return &apiError{statusBadHandle, fmt.Sprintf("%s handle %#x is unknown or was freed", kindNames[k], h)}
	}
	delete(registry.m, h)
	e.freed = true
	closers := collect(e, nil)
	registry.Unlock()
	runAll(closers)
	return nil
}

// collect gathers the close functions of e and its ancestors that are now
// unneeded. Called with the registry locked; the closers run after unlocking
// (they may block, e.g. to flush).
func collect(e *entry, closers []func()) []func() {
	for e != nil && e.freed && e.children == 0 {
		if e.close != nil {
			closers = append(closers, e.close)
			e.close = nil
		}
		for _, r := range e.refs {
			r.children--
			closers = collect(r, closers)
		}
		e.refs = nil
		p := e.parent
		e.parent = nil
		if p == nil {
			break
		}
		p.children--
		e = p
	}
	return closers
}

func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}

// liveHandles counts registered handles (pilot_live_handles).
func liveHandles() int {
	registry.Lock()
	defer registry.Unlock()
	return len(registry.m)
}
