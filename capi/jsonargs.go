package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// The JSON arguments of the exports, parsed with Go strings the way the
// exports parse them: passed as C strings, under guard, with fail and ok
// setting the thread's last error. Test files cannot use cgo, so
// jsonargs_fuzz_test.go reaches the exports' parsing through this file.

// jsonArg is a JSON argument of the exports.
type jsonArg int

const (
	argOptions          jsonArg = iota // options_json of pilot_service_new, pilot_job_open, pilot_unit_open
	argPilotDescription                // description_json of pilot_service_create_pilot
	argUnitDescription                 // description_json of pilot_{service,job,dataservice}_submit_unit
	argUnitDescriptions                // descriptions_json of pilot_{service,job}_submit_units
	argPluginRequest                   // request_json of pilot_plugin_call (the export itself)
)

// exportOf is the export whose parsing parseJSONArg runs for arg.
var exportOf = map[jsonArg]string{
	argOptions:          "pilot_service_new",
	argPilotDescription: "pilot_service_create_pilot",
	argUnitDescription:  "pilot_service_submit_unit",
	argUnitDescriptions: "pilot_service_submit_units",
	argPluginRequest:    "pilot_plugin_call",
}

// Status codes, for tests, which cannot name C's.
const (
	statusOK       = int32(C.PILOT_OK)
	statusInvalid  = int32(C.PILOT_EINVAL)
	statusNotFound = int32(C.PILOT_ENOTFOUND)
	statusInternal = int32(C.PILOT_EINTERNAL)
)

// noPlugin is the plugin argPluginRequest calls; it is never loaded.
const noPlugin = "capi-test-no-such-plugin"

// parseJSONArg parses s as arg (n is the count given to submit_units) and
// returns the status and this thread's last error as the export leaves them.
// s goes through a C string, so it ends at its first NUL byte.
func parseJSONArg(arg jsonArg, s string, n int) (status int32, lastError string) {
	runtime.LockOSThread() // the last error belongs to the thread
	defer runtime.UnlockOSThread()
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	st := parseStep(arg, (*C.pilot_cchar)(cs), n)
	return int32(st), C.GoString((*C.char)(unsafe.Pointer(C.pilot_last_error())))
}

// parseStep is the parsing step of arg's export, with the export's guard.
func parseStep(arg jsonArg, p *C.pilot_cchar, n int) (st C.pilot_status) {
	fn := exportOf[arg]
	defer guard(fn, &st)
	var err error
	switch arg {
	case argOptions:
		_, err = options(fn, p)
	case argPilotDescription:
		_, err = pilotDescription(fn, p)
	case argUnitDescription:
		_, err = unitDescription(fn, p)
	case argUnitDescriptions:
		out := make([]C.pilot_unit, n+1) // never written: parsing only
		_, err = unitDescriptions(fn, p, &out[0], C.size_t(n))
	case argPluginRequest:
		name, export := C.CString(noPlugin), C.CString("adaptor_state")
		defer C.free(unsafe.Pointer(name))
		defer C.free(unsafe.Pointer(export))
		var answer *C.char
		st := pilot_plugin_call((*C.pilot_cchar)(name), (*C.pilot_cchar)(export), p, nil, &answer)
		C.free(unsafe.Pointer(answer))
		return st
	default:
		err = invalid("%s: unknown argument %d", fn, arg)
	}
	if err != nil {
		return fail(err)
	}
	return ok()
}
