package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"github.com/bigjob-go/bigjob/core"
)

func dataService(h C.pilot_dataservice) (*core.DataService, *entry, error) {
	return object[*core.DataService](uint64(h), kindData)
}

//export pilot_dataservice_new
func pilot_dataservice_new(out *C.pilot_dataservice) (st C.pilot_status) {
	defer guard("pilot_dataservice_new", &st)
	if out == nil {
		return fail(nullArg("pilot_dataservice_new", "out"))
	}
	c := core.NewDataService()
	*out = C.pilot_dataservice(add(kindData, c, nil, c.Close))
	return ok()
}

//export pilot_dataservice_new_central
func pilot_dataservice_new_central(out *C.pilot_dataservice) (st C.pilot_status) {
	defer guard("pilot_dataservice_new_central", &st)
	if out == nil {
		return fail(nullArg("pilot_dataservice_new_central", "out"))
	}
	c := core.NewCentralDataService()
	*out = C.pilot_dataservice(add(kindData, c, nil, c.Close))
	return ok()
}

//export pilot_dataservice_free
func pilot_dataservice_free(h C.pilot_dataservice) (st C.pilot_status) {
	defer guard("pilot_dataservice_free", &st)
	return free(uint64(h), kindData)
}

//export pilot_dataservice_id
func pilot_dataservice_id(h C.pilot_dataservice, out **C.char) (st C.pilot_status) {
	defer guard("pilot_dataservice_id", &st)
	return stringOf("pilot_dataservice_id", uint64(h), kindData, out, (*core.DataService).ID)
}

//export pilot_dataservice_add_service
func pilot_dataservice_add_service(h C.pilot_dataservice, sh C.pilot_service) (st C.pilot_status) {
	defer guard("pilot_dataservice_add_service", &st)
	c, ce, err := dataService(h)
	if err != nil {
		return fail(err)
	}
	s, se, err := service(sh)
	if err != nil {
		return fail(err)
	}
	addRef(ce, se) // units submitted through c need s's connection
	c.AddService(s)
	return ok()
}

//export pilot_dataservice_remove_service
func pilot_dataservice_remove_service(h C.pilot_dataservice, sh C.pilot_service) (st C.pilot_status) {
	defer guard("pilot_dataservice_remove_service", &st)
	c, ce, err := dataService(h)
	if err != nil {
		return fail(err)
	}
	s, se, err := service(sh)
	if err != nil {
		return fail(err)
	}
	c.RemoveService(s)
	if !dropRef(ce, se) {
		return fail(invalid("pilot_dataservice_remove_service: the service was not added"))
	}
	return ok()
}

//export pilot_dataservice_submit_unit
func pilot_dataservice_submit_unit(h C.pilot_dataservice, descriptionJSON *C.pilot_cchar, out *C.pilot_unit) (st C.pilot_status) {
	defer guard("pilot_dataservice_submit_unit", &st)
	c, e, err := dataService(h)
	if err != nil {
		return fail(err)
	}
	return enqueue("pilot_dataservice_submit_unit", c.Enqueue, e, descriptionJSON, out)
}

//export pilot_dataservice_wait
func pilot_dataservice_wait(h C.pilot_dataservice, timeoutMS C.int64_t) (st C.pilot_status) {
	defer guard("pilot_dataservice_wait", &st)
	c, _, err := dataService(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_dataservice_details
func pilot_dataservice_details(h C.pilot_dataservice, out **C.char) (st C.pilot_status) {
	defer guard("pilot_dataservice_details", &st)
	c, _, err := dataService(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	d, err := c.Details(ctx)
	if err != nil {
		return fail(err)
	}
	if d == nil {
		d = []map[string]string{}
	}
	return setJSON("pilot_dataservice_details", out, d)
}
