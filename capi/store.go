package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"context"
	"unsafe"

	"github.com/bigjob-go/bigjob/core"
)

// What a store holds: the exports behind pilot-cli's listings and short ids.

// storeCall reads the URL argument (named arg) and the options of a store
// export, and runs f with them and an operation context; f's answer is
// stored in *out as JSON.
func storeCall[V any](fn, arg string, url, optionsJSON *C.pilot_cchar, out **C.char, f func(ctx context.Context, url string, o core.Options) (V, error)) C.pilot_status {
	if out == nil {
		return fail(nullArg(fn, "json_out"))
	}
	var v V
	if st := withURL(fn, arg, url, optionsJSON, func(ctx context.Context, u string, o core.Options) (err error) {
		v, err = f(ctx, u, o)
		return err
	}); st != C.PILOT_OK {
		return st
	}
	return setJSON(fn, out, v)
}

//export pilot_store_services
func pilot_store_services(coordinationURL, optionsJSON *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_store_services"
	defer guard(fn, &st)
	return storeCall(fn, "coordination_url", coordinationURL, optionsJSON, out, core.StoreServices)
}

//export pilot_store_pilots
func pilot_store_pilots(url, optionsJSON *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_store_pilots"
	defer guard(fn, &st)
	return storeCall(fn, "url", url, optionsJSON, out, core.StorePilotsAt)
}

//export pilot_resolve
func pilot_resolve(coordinationURL, ref, kind, optionsJSON *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_resolve"
	defer guard(fn, &st)
	if out == nil {
		return fail(nullArg(fn, "url_out"))
	}
	r, err := goString(fn, "ref", ref)
	if err != nil {
		return fail(err)
	}
	k := ""
	if kind != nil {
		k = C.GoString((*C.char)(unsafe.Pointer(kind)))
	}
	switch k {
	case "", core.KindService, core.KindPilot, core.KindUnit:
	default:
		return fail(invalid("%s: kind %q: expected \"service\", \"pilot\", \"unit\" or NULL", fn, k))
	}
	var url string
	if st := withURL(fn, "coordination_url", coordinationURL, optionsJSON, func(ctx context.Context, u string, o core.Options) (err error) {
		url, err = core.Resolve(ctx, u, r, k, o)
		return err
	}); st != C.PILOT_OK {
		return st
	}
	return setString(fn, out, url)
}

//export pilot_service_units
func pilot_service_units(h C.pilot_service, out **C.char) (st C.pilot_status) {
	const fn = "pilot_service_units"
	defer guard(fn, &st)
	return jsonOf(fn, uint64(h), kindService, out, (*core.Service).UnitInfos)
}
