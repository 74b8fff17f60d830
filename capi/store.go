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
	u, err := goString(fn, arg, url)
	if err != nil {
		return fail(err)
	}
	o, err := options(fn, optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	v, err := f(ctx, u, o)
	if err != nil {
		return fail(err)
	}
	return setJSON(fn, out, v)
}

//export pilot_store_services
func pilot_store_services(coordinationURL, optionsJSON *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_store_services"
	defer guard(fn, &st)
	return storeCall(fn, "coordination_url", coordinationURL, optionsJSON, out,
		func(ctx context.Context, url string, o core.Options) ([]core.ServiceInfo, error) {
			s, err := core.StoreServices(ctx, url, o)
			if s == nil {
				s = []core.ServiceInfo{}
			}
			return s, err
		})
}

//export pilot_store_pilots
func pilot_store_pilots(url, optionsJSON *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_store_pilots"
	defer guard(fn, &st)
	return storeCall(fn, "url", url, optionsJSON, out,
		func(ctx context.Context, url string, o core.Options) ([]core.PilotInfo, error) {
			p, err := core.StorePilotsAt(ctx, url, o)
			if p == nil {
				p = []core.PilotInfo{}
			}
			return p, err
		})
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
	u, err := goString(fn, "coordination_url", coordinationURL)
	if err != nil {
		return fail(err)
	}
	o, err := options(fn, optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	url, err := core.Resolve(ctx, u, r, k, o)
	if err != nil {
		return fail(err)
	}
	return setString(fn, out, url)
}

//export pilot_service_units
func pilot_service_units(h C.pilot_service, out **C.char) (st C.pilot_status) {
	const fn = "pilot_service_units"
	defer guard(fn, &st)
	return jsonOf(fn, uint64(h), kindService, out, func(s *core.Service, ctx context.Context) ([]core.UnitInfo, error) {
		us, err := s.UnitInfos(ctx)
		if us == nil {
			us = []core.UnitInfo{}
		}
		return us, err
	})
}
