package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"unsafe"

	"github.com/bigjob-go/bigjob/core"
)

// setCallback replaces e's callback registration: the old one is stopped
// (after any call in progress), then fn (if not NULL) gets every event that
// watch delivers, in order, from one goroutine.
func setCallback(e *entry, watch func(func(core.Event)) (func(), error), fn C.pilot_state_fn, userData unsafe.Pointer) C.pilot_status {
	e.cbMu.Lock()
	defer e.cbMu.Unlock()
	if e.cbStop != nil {
		e.cbStop()
		e.cbStop = nil
	}
	if fn == nil {
		return ok()
	}
	stop, err := watch(func(ev core.Event) { deliver(fn, userData, ev) })
	if err != nil {
		return fail(err)
	}
	e.cbStop = stop
	return ok()
}

// deliver calls fn for one event. A panic here (it would be in this
// package) must not take the host process down: it is logged and dropped.
func deliver(fn C.pilot_state_fn, userData unsafe.Pointer, ev core.Event) {
	defer func() {
		if r := recover(); r != nil {
			logger.Error("state callback failed", "panic", r)
		}
	}()
	kind := C.int32_t(C.PILOT_KIND_UNIT)
	if ev.Pilot {
		kind = C.PILOT_KIND_JOB
	}
	id, name, pilot := C.CString(ev.ID), C.CString(string(ev.State)), C.CString(ev.PilotID)
	defer C.free(unsafe.Pointer(id))
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(pilot))
	C.capi_call_state(fn, userData, kind, id, stateCode(ev.State), name, pilot)
}
