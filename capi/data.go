package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"context"
	"encoding/json"

	"github.com/bigjob-go/bigjob/core"
)

// Pilot-Data: pilot_pds (PilotDataService), pilot_pd (PilotData), pilot_du
// (DataUnit). A Pilot-Data made by a service, and a data unit made by a
// Pilot-Data, keep their parent's handle alive until they are freed.

// openData is the body of the pilot_*_open exports of Pilot-Data objects.
func openData[T any](fn, urlName string, k kind, rawURL, optionsJSON *C.pilot_cchar, out *C.uint64_t,
	open func(context.Context, string, core.Options) (T, error), closeObj func(T)) C.pilot_status {
	if out == nil {
		return fail(nullArg(fn, "out"))
	}
	return withURL(fn, urlName, rawURL, optionsJSON, func(ctx context.Context, url string, o core.Options) error {
		obj, err := open(ctx, url, o)
		if err == nil {
			*out = C.uint64_t(add(k, obj, nil, func() { closeObj(obj) }))
		}
		return err
	})
}

// withURL reads an export's URL argument (named urlName) and its options,
// and runs f with them and an operation context.
func withURL(fn, urlName string, rawURL, optionsJSON *C.pilot_cchar, f func(context.Context, string, core.Options) error) C.pilot_status {
	url, err := goString(fn, urlName, rawURL)
	if err != nil {
		return fail(err)
	}
	o, err := options(fn, optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	if err := f(ctx, url, o); err != nil {
		return fail(err)
	}
	return ok()
}

// description reads a description's JSON argument into v (whose
// UnmarshalJSON accepts the loose BigJob forms).
func description(fn string, raw *C.pilot_cchar, v any) error {
	s, err := goString(fn, "description_json", raw)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return invalid("%s: %v", fn, err)
	}
	return nil
}

//export pilot_pds_new
func pilot_pds_new(optionsJSON *C.pilot_cchar, out *C.pilot_pds) (st C.pilot_status) {
	const fn = "pilot_pds_new"
	defer guard(fn, &st)
	if out == nil {
		return fail(nullArg(fn, "out"))
	}
	o, err := options(fn, optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	s, err := core.NewPilotDataService(ctx, o)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_pds(add(kindPDS, s, nil, s.Close))
	return ok()
}

//export pilot_pds_open
func pilot_pds_open(pdsURL, optionsJSON *C.pilot_cchar, out *C.pilot_pds) (st C.pilot_status) {
	defer guard("pilot_pds_open", &st)
	return openData("pilot_pds_open", "pds_url", kindPDS, pdsURL, optionsJSON, (*C.uint64_t)(out),
		core.OpenPilotDataService, (*core.PilotDataService).Close)
}

//export pilot_pds_free
func pilot_pds_free(h C.pilot_pds) (st C.pilot_status) {
	defer guard("pilot_pds_free", &st)
	return free(uint64(h), kindPDS)
}

//export pilot_pds_url
func pilot_pds_url(h C.pilot_pds, out **C.char) (st C.pilot_status) {
	defer guard("pilot_pds_url", &st)
	return stringOf("pilot_pds_url", uint64(h), kindPDS, out, (*core.PilotDataService).URL)
}

// makeChild is the body of the exports that make an object from a
// description (D) through the object behind handle h (P); the child (K) is
// given a handle of kind ck that keeps h's alive. A child made despite an
// error (a data unit whose files could not be placed) is returned with it.
func makeChild[P, D, K any](fn string, h uint64, k kind, descriptionJSON *C.pilot_cchar, out *C.uint64_t,
	ck kind, make func(P, context.Context, D) (K, error), made func(K) bool) C.pilot_status {
	parent, e, err := object[P](h, k)
	if err != nil {
		return fail(err)
	}
	if out == nil {
		return fail(nullArg(fn, "out"))
	}
	var d D
	if err := description(fn, descriptionJSON, &d); err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	child, err := make(parent, ctx, d)
	if made(child) {
		*out = C.uint64_t(add(ck, child, e, nil))
	}
	if err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_pds_create_pilot_data
func pilot_pds_create_pilot_data(h C.pilot_pds, descriptionJSON *C.pilot_cchar, out *C.pilot_pd) (st C.pilot_status) {
	defer guard("pilot_pds_create_pilot_data", &st)
	return makeChild("pilot_pds_create_pilot_data", uint64(h), kindPDS, descriptionJSON, (*C.uint64_t)(out), kindPD,
		(*core.PilotDataService).CreatePilotData, func(pd *core.PilotData) bool { return pd != nil })
}

//export pilot_pds_pilot_data
func pilot_pds_pilot_data(h C.pilot_pds, out **C.char) (st C.pilot_status) {
	defer guard("pilot_pds_pilot_data", &st)
	return jsonOf("pilot_pds_pilot_data", uint64(h), kindPDS, out, func(s *core.PilotDataService, ctx context.Context) ([]string, error) {
		pds, err := s.PilotData(ctx)
		urls := []string{}
		for _, pd := range pds {
			urls = append(urls, pd.URL())
		}
		return urls, err
	})
}

//export pilot_pd_open
func pilot_pd_open(pdURL, optionsJSON *C.pilot_cchar, out *C.pilot_pd) (st C.pilot_status) {
	defer guard("pilot_pd_open", &st)
	return openData("pilot_pd_open", "pd_url", kindPD, pdURL, optionsJSON, (*C.uint64_t)(out),
		core.OpenPilotData, (*core.PilotData).Close)
}

//export pilot_pd_free
func pilot_pd_free(h C.pilot_pd) (st C.pilot_status) {
	defer guard("pilot_pd_free", &st)
	return free(uint64(h), kindPD)
}

//export pilot_pd_url
func pilot_pd_url(h C.pilot_pd, out **C.char) (st C.pilot_status) {
	defer guard("pilot_pd_url", &st)
	return stringOf("pilot_pd_url", uint64(h), kindPD, out, (*core.PilotData).URL)
}

//export pilot_pd_description
func pilot_pd_description(h C.pilot_pd, out **C.char) (st C.pilot_status) {
	defer guard("pilot_pd_description", &st)
	return jsonOf("pilot_pd_description", uint64(h), kindPD, out, func(pd *core.PilotData, _ context.Context) (core.PilotDataDescription, error) {
		return pd.Description(), nil
	})
}

//export pilot_pd_submit_data_unit
func pilot_pd_submit_data_unit(h C.pilot_pd, descriptionJSON *C.pilot_cchar, out *C.pilot_du) (st C.pilot_status) {
	defer guard("pilot_pd_submit_data_unit", &st)
	return makeChild("pilot_pd_submit_data_unit", uint64(h), kindPD, descriptionJSON, (*C.uint64_t)(out), kindDU,
		(*core.PilotData).SubmitDataUnit, func(du *core.DataUnit) bool { return du != nil })
}

//export pilot_pd_add_data_unit
func pilot_pd_add_data_unit(h C.pilot_pd, d C.pilot_du) (st C.pilot_status) {
	defer guard("pilot_pd_add_data_unit", &st)
	du, _, err := object[*core.DataUnit](uint64(d), kindDU)
	if err != nil {
		return fail(err)
	}
	return call(uint64(h), kindPD, func(pd *core.PilotData, ctx context.Context) error { return pd.Add(ctx, du) })
}

//export pilot_pd_data_units
func pilot_pd_data_units(h C.pilot_pd, out **C.char) (st C.pilot_status) {
	defer guard("pilot_pd_data_units", &st)
	return jsonOf("pilot_pd_data_units", uint64(h), kindPD, out, (*core.PilotData).DataUnits)
}

//export pilot_du_open
func pilot_du_open(duURL, optionsJSON *C.pilot_cchar, out *C.pilot_du) (st C.pilot_status) {
	defer guard("pilot_du_open", &st)
	return openData("pilot_du_open", "du_url", kindDU, duURL, optionsJSON, (*C.uint64_t)(out),
		core.OpenDataUnit, (*core.DataUnit).Close)
}

//export pilot_du_free
func pilot_du_free(h C.pilot_du) (st C.pilot_status) {
	defer guard("pilot_du_free", &st)
	return free(uint64(h), kindDU)
}

//export pilot_du_url
func pilot_du_url(h C.pilot_du, out **C.char) (st C.pilot_status) {
	defer guard("pilot_du_url", &st)
	return stringOf("pilot_du_url", uint64(h), kindDU, out, (*core.DataUnit).URL)
}

//export pilot_du_state
func pilot_du_state(h C.pilot_du, out *C.pilot_state) (st C.pilot_status) {
	defer guard("pilot_du_state", &st)
	return stateOut("pilot_du_state", uint64(h), kindDU, out, (*core.DataUnit).State)
}

//export pilot_du_wait
func pilot_du_wait(h C.pilot_du, timeoutMS C.int64_t) (st C.pilot_status) {
	defer guard("pilot_du_wait", &st)
	du, _, err := object[*core.DataUnit](uint64(h), kindDU)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	if err := du.Wait(ctx); err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_du_files
func pilot_du_files(h C.pilot_du, out **C.char) (st C.pilot_status) {
	defer guard("pilot_du_files", &st)
	return jsonOf("pilot_du_files", uint64(h), kindDU, out, (*core.DataUnit).Files)
}

//export pilot_du_pilot_data
func pilot_du_pilot_data(h C.pilot_du, out **C.char) (st C.pilot_status) {
	defer guard("pilot_du_pilot_data", &st)
	return jsonOf("pilot_du_pilot_data", uint64(h), kindDU, out, (*core.DataUnit).PilotData)
}

//export pilot_du_add_files
func pilot_du_add_files(h C.pilot_du, pathsJSON *C.pilot_cchar) (st C.pilot_status) {
	const fn = "pilot_du_add_files"
	defer guard(fn, &st)
	s, err := goString(fn, "paths_json", pathsJSON)
	if err != nil {
		return fail(err)
	}
	var paths []string
	if err := json.Unmarshal([]byte(s), &paths); err != nil {
		return fail(invalid("%s: paths_json: give a JSON list of file paths: %v", fn, err))
	}
	return call(uint64(h), kindDU, func(du *core.DataUnit, ctx context.Context) error { return du.AddFiles(ctx, paths) })
}

//export pilot_du_export
func pilot_du_export(h C.pilot_du, dir *C.pilot_cchar) (st C.pilot_status) {
	const fn = "pilot_du_export"
	defer guard(fn, &st)
	d, err := goString(fn, "dir", dir)
	if err != nil {
		return fail(err)
	}
	return call(uint64(h), kindDU, func(du *core.DataUnit, ctx context.Context) error { return du.Export(ctx, d) })
}
