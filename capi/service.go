package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/bigjob-go/bigjob/core"
)

// serviceOptions is the JSON of pilot_service_new (see pilot.h).
type serviceOptions struct {
	CoordinationURL     string   `json:"coordination_url"`
	AgentPath           string   `json:"agent_path"`
	NoEmbedded          bool     `json:"no_embedded"`
	Quiet               bool     `json:"quiet"`
	HeartbeatIntervalMS int64    `json:"heartbeat_interval_ms"`
	HeartbeatTimeoutMS  int64    `json:"heartbeat_timeout_ms"`
	StoreGraceMS        int64    `json:"store_grace_ms"`
	StopTimeoutMS       int64    `json:"stop_timeout_ms"`
	RecordTTLS          int64    `json:"record_ttl_s"`
	Hooks               []string `json:"hooks"`
	// Checked by hand, so that a bad value is an error naming the key and
	// saying what is expected (null means the default).
	MaxAttempts json.RawMessage `json:"max_attempts"`
	FinishedTTL json.RawMessage `json:"finished_ttl"`
}

// knownOptions lists the option names, from serviceOptions' own tags.
var knownOptions = func() string {
	t := reflect.TypeFor[serviceOptions]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return strings.Join(names, ", ")
}()

// maxFinishedTTL keeps finished_ttl within a time.Duration (about 292 years).
const maxFinishedTTL = float64(math.MaxInt64/int64(time.Second)) - 1

// optionNumber reads a number option; ok is false when it is absent or null.
func optionNumber(fn, key, want string, raw json.RawMessage) (n json.Number, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false, invalid("%s: options_json: %q: %v", fn, key, err)
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return "", false, invalid("%s: options_json: %q must be %s, not %s", fn, key, want, raw)
	}
	return n, true, nil
}

// maxAttempts reads "max_attempts": a whole number >= 1 (0: the default).
func maxAttempts(fn string, raw json.RawMessage) (int, error) {
	const want = "a whole number of at least 1 (how often a unit of the service queue may be started)"
	n, ok, err := optionNumber(fn, "max_attempts", want, raw)
	if !ok || err != nil {
		return 0, err
	}
	v, err := n.Int64()
	if err != nil || v < 1 || v > math.MaxInt32 {
		return 0, invalid("%s: options_json: \"max_attempts\" must be %s, not %s", fn, want, n)
	}
	return int(v), nil
}

// finishedTTL reads "finished_ttl": seconds > 0 (0: the default). The store
// keeps whole seconds, so a fraction is rounded up.
func finishedTTL(fn string, raw json.RawMessage) (time.Duration, error) {
	const want = "a number of seconds greater than 0 (how long finished records are kept)"
	n, ok, err := optionNumber(fn, "finished_ttl", want, raw)
	if !ok || err != nil {
		return 0, err
	}
	v, err := n.Float64()
	if err != nil || !(v > 0) || v > maxFinishedTTL {
		return 0, invalid("%s: options_json: \"finished_ttl\" must be %s, not %s", fn, want, n)
	}
	return time.Duration(math.Ceil(v)) * time.Second, nil
}

// options parses options_json (NULL: defaults) into core.Options.
func options(fn string, p *C.pilot_cchar) (core.Options, error) {
	var so serviceOptions
	if p != nil {
		dec := json.NewDecoder(bytes.NewReader([]byte(C.GoString((*C.char)(unsafe.Pointer(p))))))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&so); err != nil {
			return core.Options{}, invalid("%s: options_json: %v (known keys: %s)", fn, err, knownOptions)
		}
		if _, err := dec.Token(); err != io.EOF {
			return core.Options{}, invalid("%s: options_json: data after the object", fn)
		}
	}
	attempts, err := maxAttempts(fn, so.MaxAttempts)
	if err != nil {
		return core.Options{}, err
	}
	ttl, err := finishedTTL(fn, so.FinishedTTL)
	if err != nil {
		return core.Options{}, err
	}
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	o := core.Options{
		CoordinationURL:   so.CoordinationURL,
		AgentPath:         so.AgentPath,
		NoEmbedded:        so.NoEmbedded,
		Logger:            logger,
		HeartbeatInterval: ms(so.HeartbeatIntervalMS),
		HeartbeatTimeout:  ms(so.HeartbeatTimeoutMS),
		StoreGrace:        ms(so.StoreGraceMS),
		StopTimeout:       ms(so.StopTimeoutMS),
		RecordTTL:         time.Duration(so.RecordTTLS) * time.Second,
		Hooks:             so.Hooks,
		MaxAttempts:       attempts,
		FinishedTTL:       ttl,
	}
	var w io.Writer = os.Stderr
	if so.Quiet {
		w = io.Discard
	}
	o.Warnings = w
	return o, nil
}

//export pilot_service_new
func pilot_service_new(optionsJSON *C.pilot_cchar, out *C.pilot_service) (st C.pilot_status) {
	defer guard("pilot_service_new", &st)
	if out == nil {
		return fail(nullArg("pilot_service_new", "out"))
	}
	o, err := options("pilot_service_new", optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	s, err := core.NewService(ctx, o)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_service(add(kindService, s, nil, func() { s.Close() }))
	return ok()
}

//export pilot_service_open
func pilot_service_open(serviceURL *C.pilot_cchar, optionsJSON *C.pilot_cchar, out *C.pilot_service) (st C.pilot_status) {
	defer guard("pilot_service_open", &st)
	if out == nil {
		return fail(nullArg("pilot_service_open", "out"))
	}
	url, err := goString("pilot_service_open", "service_url", serviceURL)
	if err != nil {
		return fail(err)
	}
	o, err := options("pilot_service_open", optionsJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	s, err := core.OpenService(ctx, url, o)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_service(add(kindService, s, nil, func() { s.Close() }))
	return ok()
}

//export pilot_service_free
func pilot_service_free(h C.pilot_service) (st C.pilot_status) {
	defer guard("pilot_service_free", &st)
	return free(uint64(h), kindService)
}

func service(h C.pilot_service) (*core.Service, *entry, error) {
	return object[*core.Service](uint64(h), kindService)
}

//export pilot_service_id
func pilot_service_id(h C.pilot_service, out **C.char) (st C.pilot_status) {
	defer guard("pilot_service_id", &st)
	return stringOf("pilot_service_id", uint64(h), kindService, out, (*core.Service).ID)
}

//export pilot_service_url
func pilot_service_url(h C.pilot_service, out **C.char) (st C.pilot_status) {
	defer guard("pilot_service_url", &st)
	return stringOf("pilot_service_url", uint64(h), kindService, out, (*core.Service).URL)
}

//export pilot_service_create_pilot
func pilot_service_create_pilot(h C.pilot_service, descriptionJSON *C.pilot_cchar, out *C.pilot_job) (st C.pilot_status) {
	defer guard("pilot_service_create_pilot", &st)
	s, e, err := service(h)
	if err != nil {
		return fail(err)
	}
	if out == nil {
		return fail(nullArg("pilot_service_create_pilot", "out"))
	}
	pd, err := pilotDescription("pilot_service_create_pilot", descriptionJSON)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	p, err := s.CreatePilot(ctx, pd)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_job(add(kindJob, p, e, nil))
	return ok()
}

//export pilot_service_pilots
func pilot_service_pilots(h C.pilot_service, out **C.char) (st C.pilot_status) {
	defer guard("pilot_service_pilots", &st)
	s, _, err := service(h)
	if err != nil {
		return fail(err)
	}
	urls := []string{}
	for _, p := range s.Pilots() {
		urls = append(urls, p.URL())
	}
	return setJSON("pilot_service_pilots", out, urls)
}

//export pilot_service_submit_unit
func pilot_service_submit_unit(h C.pilot_service, descriptionJSON *C.pilot_cchar, out *C.pilot_unit) (st C.pilot_status) {
	defer guard("pilot_service_submit_unit", &st)
	s, e, err := service(h)
	if err != nil {
		return fail(err)
	}
	return enqueue("pilot_service_submit_unit", s.Enqueue, e, descriptionJSON, out)
}

// enqueue is the body of the submit_unit exports.
func enqueue(fn string, enq func(core.UnitDescription) (*core.Unit, error), parent *entry, descriptionJSON *C.pilot_cchar, out *C.pilot_unit) C.pilot_status {
	if out == nil {
		return fail(nullArg(fn, "out"))
	}
	ud, err := unitDescription(fn, descriptionJSON)
	if err != nil {
		return fail(err)
	}
	u, err := enq(ud)
	if err != nil {
		return fail(err)
	}
	*out = C.pilot_unit(add(kindUnit, u, parent, nil))
	return ok()
}

//export pilot_service_submit_units
func pilot_service_submit_units(h C.pilot_service, descriptionsJSON *C.pilot_cchar, out *C.pilot_unit, n C.size_t) (st C.pilot_status) {
	defer guard("pilot_service_submit_units", &st)
	s, e, err := service(h)
	if err != nil {
		return fail(err)
	}
	return submitBulk("pilot_service_submit_units", s.SubmitBulk, e, descriptionsJSON, out, n)
}

// submitBulk is the body of the submit_units exports.
func submitBulk(fn string, submit func(ctx context.Context, uds []core.UnitDescription) ([]*core.Unit, error), parent *entry, descriptionsJSON *C.pilot_cchar, out *C.pilot_unit, n C.size_t) C.pilot_status {
	uds, err := unitDescriptions(fn, descriptionsJSON, out, n)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	units, err := submit(ctx, uds)
	if err != nil {
		if len(units) > 0 {
			unitHandles(units, parent, out)
			err = fmt.Errorf("%w (the first %d units were submitted; their handles are in out)", err, len(units))
		}
		return fail(err)
	}
	unitHandles(units, parent, out)
	return ok()
}

//export pilot_service_flush
func pilot_service_flush(h C.pilot_service, timeoutMS C.int64_t) (st C.pilot_status) {
	defer guard("pilot_service_flush", &st)
	s, _, err := service(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_service_wait
func pilot_service_wait(h C.pilot_service, timeoutMS C.int64_t) (st C.pilot_status) {
	defer guard("pilot_service_wait", &st)
	s, _, err := service(h)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := waitCtx(timeoutMS)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		return fail(err)
	}
	return ok()
}

//export pilot_service_cancel
func pilot_service_cancel(h C.pilot_service) (st C.pilot_status) {
	defer guard("pilot_service_cancel", &st)
	return call(uint64(h), kindService, (*core.Service).Cancel)
}

//export pilot_service_set_callback
func pilot_service_set_callback(h C.pilot_service, fn C.pilot_state_fn, userData unsafe.Pointer) (st C.pilot_status) {
	defer guard("pilot_service_set_callback", &st)
	s, e, err := service(h)
	if err != nil {
		return fail(err)
	}
	return setCallback(e, s.Watch, fn, userData)
}
