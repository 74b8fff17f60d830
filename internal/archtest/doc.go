// Package archtest holds the tests that keep the project's shape: what each
// layer may link (docs/ARCHITECTURE.md, "Layers"), and the copies of the
// vocabulary in C and Python equal to Go's (package vocab).
package archtest
