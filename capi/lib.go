package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"sync/atomic"
	"unsafe"

	"github.com/bigjob-go/bigjob/core"
)

var versionString = C.CString(core.Version) // static: lives as long as the library

//export pilot_abi_version
func pilot_abi_version() C.int32_t { return 1 }

//export pilot_version
func pilot_version() *C.pilot_cchar { return (*C.pilot_cchar)(unsafe.Pointer(versionString)) }

//export pilot_coordination_url
func pilot_coordination_url(url *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_coordination_url"
	defer guard(fn, &st)
	if out == nil {
		return fail(nullArg(fn, "url_out"))
	}
	raw := ""
	if url != nil {
		raw = C.GoString((*C.char)(unsafe.Pointer(url)))
	}
	return setString(fn, out, core.CoordinationURL(core.Options{CoordinationURL: raw}))
}

// logSink is where library logs go: a C callback, or nowhere.
type logSink struct {
	fn    C.pilot_log_fn
	ud    unsafe.Pointer
	level slog.Level
}

var sink atomic.Pointer[logSink]

// logHandler is a slog.Handler that forwards to the current sink.
type logHandler struct{ attrs []slog.Attr }

func (h logHandler) Enabled(_ context.Context, l slog.Level) bool {
	s := sink.Load()
	return s != nil && l >= s.level
}

func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	s := sink.Load()
	if s == nil {
		return nil
	}
	msg := r.Message
	add := func(a slog.Attr) bool { msg += " " + a.String(); return true }
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	C.capi_call_log(s.fn, s.ud, C.int32_t(r.Level), cs)
	return nil
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h logHandler) WithGroup(string) slog.Handler { return h }

var logger = slog.New(logHandler{})

//export pilot_set_log_handler
func pilot_set_log_handler(fn C.pilot_log_fn, userData unsafe.Pointer, minLevel C.int32_t) (st C.pilot_status) {
	defer guard("pilot_set_log_handler", &st)
	if fn == nil {
		sink.Store(nil)
	} else {
		sink.Store(&logSink{fn: fn, ud: userData, level: slog.Level(minLevel)})
	}
	return ok()
}

//export pilot_live_handles
func pilot_live_handles() C.int64_t {
	return C.int64_t(liveHandles()) // cannot panic: a map's length under its lock
}

//export pilot_flush_all
func pilot_flush_all(timeoutMS C.int64_t) (st C.pilot_status) {
	defer guard("pilot_flush_all", &st)
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	if err := core.FlushAll(ctx); err != nil {
		return fail(err)
	}
	return ok()
}
