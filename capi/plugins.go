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

	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
)

// Inside a c-shared library wazero's compiler would run guest code without
// the alternate signal stack it needs: plugins are interpreted here.
func init() {
	plugins.SetEngine(plugins.EngineInterpreter)
	plugins.SetLogger(logger)
}

// pluginInfo is a loaded plugin as pilot_plugin_load describes it.
type pluginInfo struct {
	abi.Info
	Digest string   `json:"digest"`
	Engine string   `json:"engine"`
	Grants []string `json:"grants"` // what it may do outside its sandbox, in plain words
}

func infoOf(p *plugins.Plugin) pluginInfo {
	return pluginInfo{Info: p.Info(), Digest: p.Digest(), Engine: p.Engine().String(), Grants: p.Grants()}
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
	p, err := plugins.Load(ctx, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(&apiError{C.PILOT_ENOTFOUND, fn + ": " + err.Error()})
		}
		return fail(&apiError{C.PILOT_EINVAL, fn + ": " + err.Error()})
	}
	if info == nil {
		return ok()
	}
	return setJSON(fn, info, infoOf(p))
}

//export pilot_plugins
func pilot_plugins(out **C.char) (st C.pilot_status) {
	defer guard("pilot_plugins", &st)
	list := []pluginInfo{}
	for _, p := range plugins.Loaded() {
		list = append(list, infoOf(p))
	}
	return setJSON("pilot_plugins", out, list)
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
	p := plugins.Lookup(n)
	if p == nil {
		return fail(&apiError{C.PILOT_ENOTFOUND, fn + ": no plugin named " + n + " is loaded; load it with pilot_plugin_load"})
	}
	sc := &plugins.Scope{Runner: runner.Local}
	if workDir != nil {
		sc.WorkDir = C.GoString((*C.char)(unsafe.Pointer(workDir)))
	}
	ctx, cancel := opCtx()
	defer cancel()
	answer, err := p.CallJSON(ctx, sc, e, []byte(req))
	if err != nil {
		var pe *plugins.Error
		if errors.As(err, &pe) && !pe.Trapped && !p.Exports(e) {
			return fail(invalid("%s: %v", fn, err))
		}
		return fail(&apiError{C.PILOT_EADAPTOR, err.Error()})
	}
	if e == abi.ExportPreUnit {
		// The agent would not run a unit rewritten beyond the plugin's grants.
		var pre abi.PreUnitRequest
		if json.Unmarshal([]byte(req), &pre) == nil {
			if err := p.CheckPreUnitAnswer(pre.Unit, answer); err != nil {
				return fail(&apiError{C.PILOT_EADAPTOR, fn + ": " + err.Error()})
			}
		}
	}
	return setString(fn, out, string(answer))
}
