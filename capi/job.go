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

func job(h C.pilot_job) (*core.Pilot, *entry, error) {
	return object[*core.Pilot](uint64(h), kindJob)
}

//export pilot_job_open
func pilot_job_open(pilotURL *C.pilot_cchar, optionsJSON *C.pilot_cchar, out *C.pilot_job) (st C.pilot_status) {
	defer guard("pilot_job_open", &st)
	if out == nil {
		return fail(nullArg("pilot_job_open", "out"))
	}
	url, err := goString("pilot_job_open", "pilot_url", pilotURL)
	if err != nil {
		return fail(err)
	}
	o, err := options("pilot_job_open", optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	p, err := core.OpenPilot(ctx, url, o)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_job(add(kindJob, p, nil, func() { p.Close() }))
	return ok()
}

//export pilot_job_free
func pilot_job_free(h C.pilot_job) (st C.pilot_status) {
	defer guard("pilot_job_free", &st)
	return free(uint64(h), kindJob)
}

//export pilot_job_id
func pilot_job_id(h C.pilot_job, out **C.char) (st C.pilot_status) {
	defer guard("pilot_job_id", &st)
	return stringOf("pilot_job_id", uint64(h), kindJob, out, (*core.Pilot).ID)
}

//export pilot_job_service_url
func pilot_job_service_url(h C.pilot_job, out **C.char) (st C.pilot_status) {
	defer guard("pilot_job_service_url", &st)
	return stringOf("pilot_job_service_url", uint64(h), kindJob, out, (*core.Pilot).ServiceURL)
}

//export pilot_job_url
func pilot_job_url(h C.pilot_job, out **C.char) (st C.pilot_status) {
	defer guard("pilot_job_url", &st)
	return stringOf("pilot_job_url", uint64(h), kindJob, out, (*core.Pilot).URL)
}

//export pilot_job_state
func pilot_job_state(h C.pilot_job, out *C.pilot_state) (st C.pilot_status) {
	defer guard("pilot_job_state", &st)
	return stateOut("pilot_job_state", uint64(h), kindJob, out, (*core.Pilot).State)
}

//export pilot_job_details
func pilot_job_details(h C.pilot_job, out **C.char) (st C.pilot_status) {
	defer guard("pilot_job_details", &st)
	return jsonOf("pilot_job_details", uint64(h), kindJob, out, (*core.Pilot).Details)
}

//export pilot_job_description
func pilot_job_description(h C.pilot_job, out **C.char) (st C.pilot_status) {
	defer guard("pilot_job_description", &st)
	return jsonOf("pilot_job_description", uint64(h), kindJob, out, (*core.Pilot).Description)
}

//export pilot_job_free_slots
func pilot_job_free_slots(h C.pilot_job, out *C.int32_t) (st C.pilot_status) {
	defer guard("pilot_job_free_slots", &st)
	p, _, err := job(h)
	if err != nil {
		return fail(err)
	}
	if out == nil {
		return fail(nullArg("pilot_job_free_slots", "out"))
	}
	ctx, cancel := opCtx()
	defer cancel()
	n, err := p.FreeSlots(ctx)
	if err != nil {
		return fail(err)
	}
	*out = C.int32_t(n)
	return ok()
}

//export pilot_job_wait
func pilot_job_wait(h C.pilot_job, timeoutMS C.int64_t) (st C.pilot_status) {
	defer guard("pilot_job_wait", &st)
	p, _, err := job(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_job_wait_state
func pilot_job_wait_state(h C.pilot_job, target C.pilot_state, timeoutMS C.int64_t, out *C.pilot_state) (st C.pilot_status) {
	defer guard("pilot_job_wait_state", &st)
	p, _, err := job(h)
	if err != nil {
		return fail(err)
	}
	want, known := stateOf(target)
	if !known {
		return fail(invalid("pilot_job_wait_state: %d is not a PILOT_STATE_* value", target))
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	s, err := p.WaitState(ctx, want)
	if out != nil && s != "" {
		*out = stateCode(s)
	}
	if err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_job_cancel
func pilot_job_cancel(h C.pilot_job) (st C.pilot_status) {
	defer guard("pilot_job_cancel", &st)
	return call(uint64(h), kindJob, (*core.Pilot).Cancel)
}

//export pilot_job_submit_unit
func pilot_job_submit_unit(h C.pilot_job, descriptionJSON *C.pilot_cchar, out *C.pilot_unit) (st C.pilot_status) {
	defer guard("pilot_job_submit_unit", &st)
	p, e, err := job(h)
	if err != nil {
		return fail(err)
	}
	return enqueue("pilot_job_submit_unit", p.Enqueue, e, descriptionJSON, out)
}

//export pilot_job_submit_units
func pilot_job_submit_units(h C.pilot_job, descriptionsJSON *C.pilot_cchar, out *C.pilot_unit, n C.size_t) (st C.pilot_status) {
	defer guard("pilot_job_submit_units", &st)
	p, e, err := job(h)
	if err != nil {
		return fail(err)
	}
	return submitBulk("pilot_job_submit_units", p.SubmitBulk, e, descriptionsJSON, out, n)
}

//export pilot_job_units
func pilot_job_units(h C.pilot_job, out **C.char) (st C.pilot_status) {
	defer guard("pilot_job_units", &st)
	p, _, err := job(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	us, err := p.Units(ctx)
	if err != nil {
		return fail(err)
	}
	urls := make([]string, len(us))
	for i, u := range us {
		urls[i] = u.URL()
	}
	return setJSON("pilot_job_units", out, urls)
}

//export pilot_job_set_callback
func pilot_job_set_callback(h C.pilot_job, fn C.pilot_state_fn, userData unsafe.Pointer) (st C.pilot_status) {
	defer guard("pilot_job_set_callback", &st)
	p, e, err := job(h)
	if err != nil {
		return fail(err)
	}
	return setCallback(e, p.Watch, fn, userData)
}
