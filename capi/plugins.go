package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"io/fs"
	"unsafe"

	"github.com/bigjob-go/bigjob/core"
)

// Inside a c-shared library wazero's compiler would run guest code without
// the alternate signal stack it needs: plugins are interpreted here.
func init() {
	core.InterpretPlugins()
	core.SetLogger(logger)
}

//export pilot_plugin_load
func pilot_plugin_load(manifestPath *C.pilot_cchar, info **C.char) (st C.pilot_status) {
	const fn = "pilot_plugin_load"
	defer guard(fn, &st)
	path, err := goString(fn, "manifest_path", manifestPath)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	p, err := core.LoadPlugin(ctx, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(&apiError{C.PILOT_ENOTFOUND, fn + ": " + err.Error()})
		}
		return fail(&apiError{C.PILOT_EINVAL, fn + ": " + err.Error()})
	}
	if info == nil {
		return ok()
	}
	return setJSON(fn, info, p)
}

//export pilot_plugins
func pilot_plugins(out **C.char) (st C.pilot_status) {
	defer guard("pilot_plugins", &st)
	return setJSON("pilot_plugins", out, core.Plugins())
}

//export pilot_plugin_call
func pilot_plugin_call(name, export, request, workDir *C.pilot_cchar, out **C.char) (st C.pilot_status) {
	const fn = "pilot_plugin_call"
	defer guard(fn, &st)
	if out == nil {
		return fail(nullArg(fn, "answer_json"))
	}
	n, err := goString(fn, "name", name)
	if err != nil {
		return fail(err)
	}
	e, err := goString(fn, "export_name", export)
	if err != nil {
		return fail(err)
	}
	req, err := goString(fn, "request_json", request)
	if err != nil {
		return fail(err)
	}
	if !json.Valid([]byte(req)) {
		return fail(invalid("%s: request_json is not valid JSON", fn))
	}
	dir := ""
	if workDir != nil {
		dir = C.GoString((*C.char)(unsafe.Pointer(workDir)))
	}
	ctx, cancel := opCtx()
	defer cancel()
	answer, err := core.CallPlugin(ctx, n, e, []byte(req), dir)
	switch {
	case errors.Is(err, core.ErrNotFound):
		return fail(&apiError{C.PILOT_ENOTFOUND, fn + ": " + err.Error() + " with pilot_plugin_load"})
	case errors.Is(err, core.ErrNoExport):
		return fail(invalid("%s: %v", fn, err))
	case errors.Is(err, core.ErrPluginFailed):
		return fail(&apiError{C.PILOT_EADAPTOR, err.Error()})
	case err != nil:
		return fail(err)
	}
	return setString(fn, out, string(answer))
}
