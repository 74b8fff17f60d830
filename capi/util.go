package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/vocab"
)

// opTimeout bounds calls that have no timeout parameter (create, submit,
// cancel), so that none can hang for ever.
const opTimeout = 10 * time.Minute

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// waitCtx is the context of a wait with timeout in milliseconds: negative
// waits for ever, 0 only looks.
func waitCtx(timeoutMS C.int64_t) (context.Context, context.CancelFunc) {
	if timeoutMS < 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), time.Duration(timeoutMS)*time.Millisecond)
}

// goString reads an input string; NULL is an error naming the argument.
func goString(fn, name string, p *C.pilot_cchar) (string, error) {
	if p == nil {
		return "", nullArg(fn, name)
	}
	return C.GoString((*C.char)(unsafe.Pointer(p))), nil
}

// setString stores a new C string in *out (the caller frees it).
func setString(fn string, out **C.char, s string) C.pilot_status {
	if out == nil {
		return fail(nullArg(fn, "out"))
	}
	*out = C.CString(s)
	return ok()
}

// stringOf is the body of the exports that return one string of an object.
func stringOf[T any](fn string, h uint64, k kind, out **C.char, get func(T) string) C.pilot_status {
	obj, _, err := object[T](h, k)
	if err != nil {
		return fail(err)
	}
	return setString(fn, out, get(obj))
}

// call is the body of the exports that call one method of the object behind
// a handle: it resolves the handle, calls f with an operation context and
// maps its error.
func call[T any](h uint64, k kind, f func(T, context.Context) error) C.pilot_status {
	obj, _, err := object[T](h, k)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := opCtx()
	defer cancel()
	if err := f(obj, ctx); err != nil {
		return fail(err)
	}
	return ok()
}

// jsonOf is the body of the exports that return, as JSON in *out, what one
// method of the object behind a handle returns.
func jsonOf[T, V any](fn string, h uint64, k kind, out **C.char, get func(T, context.Context) (V, error)) C.pilot_status {
	var v V
	st := call(h, k, func(obj T, ctx context.Context) (err error) {
		if out == nil {
			return nullArg(fn, "out")
		}
		v, err = get(obj, ctx)
		return err
	})
	if st != C.PILOT_OK {
		return st
	}
	return setJSON(fn, out, v)
}

// stateOut is the body of the exports that return a state in *out.
func stateOut[T any](fn string, h uint64, k kind, out *C.pilot_state, get func(T, context.Context) (core.State, error)) C.pilot_status {
	return call(h, k, func(obj T, ctx context.Context) error {
		if out == nil {
			return nullArg(fn, "out")
		}
		s, err := get(obj, ctx)
		if err == nil {
			*out = stateCode(s)
		}
		return err
	})
}

// free is the body of the pilot_*_free exports.
func free(h uint64, k kind) C.pilot_status {
	if err := remove(h, k); err != nil {
		return fail(err)
	}
	return ok()
}

// setJSON stores v as a JSON C string in *out.
func setJSON(fn string, out **C.char, v any) C.pilot_status {
	b, err := json.Marshal(v)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", fn, err))
	}
	return setString(fn, out, string(b))
}

// stateCode is the C code of s: its index in vocab.States.
func stateCode(s core.State) C.pilot_state {
	if i := slices.Index(vocab.States[:], s); i >= 0 {
		return C.pilot_state(i)
	}
	return C.PILOT_STATE_UNKNOWN
}

// stateOf is the state whose C code is c.
func stateOf(c C.pilot_state) (core.State, bool) {
	if c < 0 || int(c) >= len(vocab.States) {
		return "", false
	}
	return vocab.States[c], true
}

// unitDescription parses a compute unit description.
func unitDescription(fn string, p *C.pilot_cchar) (core.UnitDescription, error) {
	s, err := goString(fn, "description_json", p)
	if err != nil {
		return core.UnitDescription{}, err
	}
	ud, err := core.ParseUnitDescriptionJSON([]byte(s))
	if err != nil {
		return ud, decodeError(fn, "description_json", err)
	}
	return ud, nil
}

// pilotDescription parses a pilot compute description.
func pilotDescription(fn string, p *C.pilot_cchar) (core.PilotDescription, error) {
	var pd core.PilotDescription
	s, err := goString(fn, "description_json", p)
	if err != nil {
		return pd, err
	}
	err = decode(fn, "description_json", []byte(s), &pd)
	return pd, err
}

// decode unmarshals a JSON argument; malformed JSON is an error that says
// so and names the argument.
func decode(fn, arg string, b []byte, v any) error {
	return decodeError(fn, arg, json.Unmarshal(b, v))
}

// decodeError explains a decoding error of argument arg of fn.
func decodeError(fn, arg string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return invalid("%s: %s is not valid JSON: %v (at byte %d)", fn, arg, err, se.Offset)
	case errors.As(err, &te):
		return invalid("%s: %s: %v", fn, arg, err)
	}
	return invalid("%s: %v", fn, err)
}

// unitDescriptions parses a JSON array of exactly n descriptions.
func unitDescriptions(fn string, p *C.pilot_cchar, out *C.pilot_unit, n C.size_t) ([]core.UnitDescription, error) {
	if out == nil && n > 0 {
		return nil, nullArg(fn, "out")
	}
	s, err := goString(fn, "descriptions_json", p)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := decode(fn, "descriptions_json (a JSON array)", []byte(s), &raw); err != nil {
		return nil, err
	}
	if len(raw) != int(n) {
		return nil, invalid("%s: descriptions_json has %d descriptions but n is %d", fn, len(raw), n)
	}
	uds := make([]core.UnitDescription, len(raw))
	for i, r := range raw {
		ud, err := core.ParseUnitDescriptionJSON(r)
		if err != nil {
			return nil, decodeError(fn, fmt.Sprintf("description %d", i), err)
		}
		uds[i] = ud
	}
	return uds, nil
}

// unitHandles registers units (children of parent) into out[0..len-1].
func unitHandles(units []*core.Unit, parent *entry, out *C.pilot_unit) {
	if len(units) == 0 {
		return
	}
	dst := unsafe.Slice(out, len(units))
	for i, u := range units {
		dst[i] = C.pilot_unit(add(kindUnit, u, parent, nil))
	}
}
