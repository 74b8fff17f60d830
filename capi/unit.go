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

func unit(h C.pilot_unit) (*core.Unit, *entry, error) {
	return object[*core.Unit](uint64(h), kindUnit)
}

//export pilot_unit_open
func pilot_unit_open(unitURL *C.pilot_cchar, optionsJSON *C.pilot_cchar, out *C.pilot_unit) (st C.pilot_status) {
	defer guard("pilot_unit_open", &st)
	if out == nil {
		return fail(nullArg("pilot_unit_open", "out"))
	}
	url, err := goString("pilot_unit_open", "unit_url", unitURL)
	if err != nil {
		return fail(err)
	}
	o, err := options("pilot_unit_open", optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	u, err := core.OpenUnit(ctx, url, o)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_unit(add(kindUnit, u, nil, func() { u.Close() }))
	return ok()
}

//export pilot_unit_free
func pilot_unit_free(h C.pilot_unit) (st C.pilot_status) {
	defer guard("pilot_unit_free", &st)
	return free(uint64(h), kindUnit)
}

//export pilot_unit_id
func pilot_unit_id(h C.pilot_unit, out **C.char) (st C.pilot_status) {
	defer guard("pilot_unit_id", &st)
	return stringOf("pilot_unit_id", uint64(h), kindUnit, out, (*core.Unit).ID)
}

//export pilot_unit_url
func pilot_unit_url(h C.pilot_unit, out **C.char) (st C.pilot_status) {
	defer guard("pilot_unit_url", &st)
	return stringOf("pilot_unit_url", uint64(h), kindUnit, out, (*core.Unit).URL)
}

//export pilot_unit_state
func pilot_unit_state(h C.pilot_unit, out *C.pilot_state) (st C.pilot_status) {
	defer guard("pilot_unit_state", &st)
	return stateOut("pilot_unit_state", uint64(h), kindUnit, out, (*core.Unit).State)
}

//export pilot_unit_wait
func pilot_unit_wait(h C.pilot_unit, timeoutMS C.int64_t, out *C.pilot_state) (st C.pilot_status) {
	defer guard("pilot_unit_wait", &st)
	u, _, err := unit(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	s, err := u.Wait(ctx)
	if out != nil && s != "" {
		*out = stateCode(s)
	}
	if err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_unit_details
func pilot_unit_details(h C.pilot_unit, out **C.char) (st C.pilot_status) {
	defer guard("pilot_unit_details", &st)
	return jsonOf("pilot_unit_details", uint64(h), kindUnit, out, (*core.Unit).Details)
}

//export pilot_unit_description
func pilot_unit_description(h C.pilot_unit, out **C.char) (st C.pilot_status) {
	defer guard("pilot_unit_description", &st)
	return jsonOf("pilot_unit_description", uint64(h), kindUnit, out, (*core.Unit).Description)
}

//export pilot_unit_explain
func pilot_unit_explain(h C.pilot_unit, out **C.char) (st C.pilot_status) {
	defer guard("pilot_unit_explain", &st)
	u, _, err := unit(h)
	if err != nil {
		return fail(err)
	}
	if out == nil {
		return fail(nullArg("pilot_unit_explain", "json_out"))
	}
	ctx, cancel := opCtx()
	defer cancel()
	e, err := u.Explain(ctx)
	if err != nil {
		return fail(err)
	}
	if e.Pilots == nil {
		e.Pilots = []core.PilotOutlook{} // always an array
	}
	return setJSON("pilot_unit_explain", out, e)
}

//export pilot_unit_sandbox
func pilot_unit_sandbox(h C.pilot_unit, out **C.char) (st C.pilot_status) {
	defer guard("pilot_unit_sandbox", &st)
	u, _, err := unit(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	s, err := u.Sandbox(ctx)
	if err != nil {
		return fail(err)
	}
	return setString("pilot_unit_sandbox", out, s)
}

//export pilot_unit_cancel
func pilot_unit_cancel(h C.pilot_unit) (st C.pilot_status) {
	defer guard("pilot_unit_cancel", &st)
	return call(uint64(h), kindUnit, (*core.Unit).Cancel)
}

//export pilot_unit_set_callback
func pilot_unit_set_callback(h C.pilot_unit, fn C.pilot_state_fn, userData unsafe.Pointer) (st C.pilot_status) {
	defer guard("pilot_unit_set_callback", &st)
	u, e, err := unit(h)
	if err != nil {
		return fail(err)
	}
	return setCallback(e, u.Watch, fn, userData)
}
