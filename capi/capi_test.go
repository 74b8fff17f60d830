package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// The C ABI is tested from C: the library is built with -buildmode=c-shared,
// C and C++ programs are compiled against include/pilot.h with the system's
// compiler and run against a real redis-server and the embedded server.

var libBuild struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// library builds libpilot.so once per test binary and returns its directory.
func library(t *testing.T) string {
	t.Helper()
	libBuild.once.Do(func() {
		libBuild.dir, libBuild.err = os.MkdirTemp("", "libpilot-test-*")
		if libBuild.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(libBuild.dir, "libpilot.so"), ".")
		libBuild.out, libBuild.err = cmd.CombinedOutput()
	})
	if libBuild.err != nil {
		t.Fatalf("build libpilot.so: %v\n%s", libBuild.err, libBuild.out)
	}
	return libBuild.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if libBuild.dir != "" {
		os.RemoveAll(libBuild.dir)
	}
	os.Exit(code)
}

// compile builds a C or C++ program against the library.
func compile(t *testing.T, compiler, src string, extra ...string) string {
	t.Helper()
	lib := library(t)
	exe := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)))
	args := append([]string{"-Wall", "-Wextra", "-Werror", "-I../include", "-o", exe, src,
		"-L" + lib, "-lpilot", "-Wl,-rpath," + lib}, extra...)
	out, err := exec.Command(compiler, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", compiler, src, out)
	return exe
}

// run runs a compiled program with the test environment.
func run(t *testing.T, exe, url string, env ...string) string {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PILOT_TEST_URL="+url, "PILOT_TEST_DIR="+t.TempDir(),
		"BIGJOB_AGENT="+testenv.AgentBinary(t))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", exe, out)
	return string(out)
}

func TestSymbolsMatchHeader(t *testing.T) {
	out, err := exec.Command("bash", "../scripts/check-symbols.sh", filepath.Join(library(t), "libpilot.so")).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

func TestABIFromC(t *testing.T) {
	exe := compile(t, "gcc", "testdata/abi_test.c", "-pthread")
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			require.Contains(t, run(t, exe, b.URL), "all checks passed")
		})
	}
}
