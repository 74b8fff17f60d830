package main

/*
#include "helpers.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bigjob-go/bigjob/core"
)

//export pilot_service_report
func pilot_service_report(h C.pilot_service, path *C.pilot_cchar) (st C.pilot_status) {
	const fn = "pilot_service_report"
	defer guard(fn, &st)
	p, err := goString(fn, "path", path)
	if err != nil {
		return fail(err)
	}
	if p == "" {
		return fail(invalid("%s: path is empty", fn))
	}
	return call(uint64(h), kindService, func(s *core.Service, ctx context.Context) error {
		return writeReport(ctx, s, p)
	})
}

// writeReport writes the service's report to path through a temporary file
// in the same directory, renamed into place: a reader never sees half a
// page, and a failed report leaves what was there. The file's errors are
// PILOT_ERROR (an errno alone would read as a store error).
func writeReport(ctx context.Context, s *core.Service, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fileError(err)
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing left to remove
	err = s.Report(ctx, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return fileError(err)
	}
	return err
}

func fileError(err error) error {
	return &apiError{C.PILOT_ERROR, fmt.Sprintf("write report: %v", err)}
}
