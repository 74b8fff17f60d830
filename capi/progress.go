package main

/*
#include "helpers.h"
*/
import "C"

import (
	"time"

	"github.com/bigjob-go/bigjob/core"
)

//export pilot_service_progress
func pilot_service_progress(h C.pilot_service, out **C.char) (st C.pilot_status) {
	const fn = "pilot_service_progress"
	defer guard(fn, &st)
	return jsonOf(fn, uint64(h), kindService, out, (*core.Service).Progress)
}

//export pilot_progress_open
func pilot_progress_open(h C.pilot_service, out *C.pilot_progress) (st C.pilot_status) {
	const fn = "pilot_progress_open"
	defer guard(fn, &st)
	if out == nil {
		return fail(nullArg(fn, "out"))
	}
	s, e, err := service(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	w, err := s.WatchProgress(ctx)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_progress(add(kindProgress, w, e, w.Close))
	return ok()
}

//export pilot_progress_next
func pilot_progress_next(h C.pilot_progress, everyMS, timeoutMS C.int64_t, out **C.char) (st C.pilot_status) {
	const fn = "pilot_progress_next"
	defer guard(fn, &st)
	if out == nil {
		return fail(nullArg(fn, "json_out"))
	}
	if everyMS <= 0 {
		return fail(invalid("%s: every_ms must be positive, not %d", fn, int64(everyMS)))
	}
	w, _, err := object[*core.ProgressWatch](uint64(h), kindProgress)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	p, err := w.Next(ctx, time.Duration(everyMS)*time.Millisecond)
	if err != nil {
		return fail(err)
	}
	return setJSON(fn, out, p)
}

//export pilot_progress_free
func pilot_progress_free(h C.pilot_progress) (st C.pilot_status) {
	defer guard("pilot_progress_free", &st)
	return free(uint64(h), kindProgress)
}
