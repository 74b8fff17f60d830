// Command capi is libpilot: the C ABI of the project, built with
// -buildmode=c-shared into libpilot.so. include/pilot.h, written by hand, is
// its contract; the build checks every export against it (the header is
// included where cgo declares the exports, so a mismatch does not compile).
//
// This package only translates: it checks arguments, resolves handles,
// calls package core, and maps errors to status codes with a message in the
// calling thread's last error. Every export recovers panics.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
*/
import "C"

func main() {}
