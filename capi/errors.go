package main

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"syscall"

	"github.com/bigjob-go/bigjob/core"
)

const statusBadHandle C.pilot_status = C.PILOT_EBADHANDLE

// apiError is an error raised by this package with its own status.
type apiError struct {
	status C.pilot_status
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &apiError{C.PILOT_EINVAL, fmt.Sprintf(format, args...)}
}

func nullArg(fn, name string) error {
	return invalid("%s: %s is NULL", fn, name)
}

// statusOf maps an error to a status code.
func statusOf(err error) C.pilot_status {
	var ae *apiError
	var de *core.DescriptionError
	var ue *core.URLError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.As(err, &ue):
		return C.PILOT_EINVAL
	case errors.Is(err, core.ErrNoKey):
		return C.PILOT_ENOKEY
	case errors.Is(err, core.ErrStoreUnreachable):
		return C.PILOT_ESTORE
	case errors.Is(err, core.ErrNoAdaptor), errors.Is(err, core.ErrNotFound):
		return C.PILOT_ENOTFOUND
	case errors.As(err, &de), errors.Is(err, core.ErrAmbiguous):
		return C.PILOT_EINVAL
	case errors.Is(err, context.DeadlineExceeded):
		return C.PILOT_ETIMEOUT
	case errors.Is(err, core.ErrClosed):
		return C.PILOT_ECLOSED
	case errors.Is(err, core.ErrAdaptor):
		return C.PILOT_EADAPTOR
	case errors.Is(err, core.ErrNoPilots):
		return C.PILOT_ENOPILOTS
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &ne):
		return C.PILOT_ESTORE
	}
	return C.PILOT_ERROR
}

// fail records err as this thread's last error and returns its status.
func fail(err error) C.pilot_status {
	C.capi_set_error(C.CString(err.Error()))
	return statusOf(err)
}

// ok clears this thread's last error.
func ok() C.pilot_status {
	C.capi_set_error(nil)
	return C.PILOT_OK
}

// guard turns a panic in export fn into PILOT_EINTERNAL. Use it as
// defer guard("name", &st) with a named status result.
func guard(fn string, st *C.pilot_status) {
	if r := recover(); r != nil {
		msg := fmt.Sprintf("%s: internal error (a bug in libpilot; please report it): %v\n%s", fn, r, debug.Stack())
		C.capi_set_error(C.CString(msg))
		*st = C.PILOT_EINTERNAL
	}
}
