package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bigjob-go/bigjob/core"
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

// run runs a compiled program with the test environment (env entries
// override it) and returns its standard output.
func run(t *testing.T, exe, url string, env ...string) string {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PILOT_TEST_URL="+url, "PILOT_TEST_DIR="+t.TempDir(),
		"BIGJOB_AGENT="+testenv.AgentBinary(t))
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s:\nstdout:\n%s\nstderr:\n%s", exe, &stdout, &stderr)
	return stdout.String()
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

// TestServiceOpenFromC reconnects services by URL, waits for them and
// explains their units (testdata/service_open_test.c), with the service keys
// in a scratch BIGJOB_HOME.
func TestServiceOpenFromC(t *testing.T) {
	exe := compile(t, "gcc", "testdata/service_open_test.c")
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			home := t.TempDir()
			require.Contains(t, run(t, exe, b.URL, core.EnvHome+"="+home), "all checks passed")
			keys, err := filepath.Glob(filepath.Join(home, "keys", "*.key"))
			require.NoError(t, err)
			require.Empty(t, keys, "canceled services leave no key behind")
		})
	}
}

// TestReportFromC writes the report of a run from C
// (testdata/report_test.c).
func TestReportFromC(t *testing.T) {
	exe := compile(t, "gcc", "testdata/report_test.c")
	require.Contains(t, run(t, exe, testenv.RedisServer(t)), "all checks passed")
}

// TestPilotDataFromC runs the Pilot-Data API from C (testdata/data_test.c).
func TestPilotDataFromC(t *testing.T) {
	exe := compile(t, "gcc", "testdata/data_test.c")
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			require.Contains(t, run(t, exe, b.URL), "all checks passed")
		})
	}
}

func TestPluginsFromC(t *testing.T) {
	exe := compile(t, "gcc", "testdata/plugins_test.c")
	out := run(t, exe, testenv.RedisServer(t),
		"PILOT_TEST_ALLOWLIST="+testenv.Plugin(t, "plugins/examples/allowlist"),
		"PILOT_TEST_LOOP="+testenv.Plugin(t, "plugins/testdata/hostile/loop"),
		"PILOT_TEST_TRAP="+testenv.Plugin(t, "plugins/testdata/hostile/trap"))
	require.Contains(t, out, "all checks passed")
}

// The examples run the seed example's workload (examples/example.py) from C
// and C++: both print the seed's three lines and leave four unit outputs.

func TestCExample(t *testing.T) {
	testHello(t, compile(t, "gcc", "../examples/c/hello.c"))
}

func TestCppExample(t *testing.T) {
	testHello(t, compile(t, "g++", "../examples/cpp/hello.cpp", "-std=c++17"))
}

// testHello runs a compiled hello example on every backend.
func testHello(t *testing.T, exe string, env ...string) {
	t.Helper()
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			runHello(t, exe, b.URL, env...)
		})
	}
}

// runHello runs a hello example with a fresh HOME and checks its output and
// the files its units wrote.
func runHello(t *testing.T, exe, url string, env ...string) {
	t.Helper()
	home := t.TempDir()
	env = append([]string{"HOME=" + home, "PILOT_COORDINATION_URL=" + url}, env...)
	out := run(t, exe, url, env...)

	requireLines(t, out,
		"Finished Pilot-Job setup. Submitting compute units\n",
		"Waiting for compute units to complete\n",
		"Terminate Pilot Jobs\n")

	files, err := filepath.Glob(filepath.Join(home, "agent", "bj-*", "sj-*", "stdout.txt"))
	require.NoError(t, err)
	require.Len(t, files, 4, "unit outputs: %v", files)
	var got []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		got = append(got, string(b))
	}
	sort.Strings(got)
	require.Equal(t, []string{
		"Hello World I am CU number 0\n",
		"Hello World I am CU number 1\n",
		"Hello World I am CU number 2\n",
		"Hello World I am CU number 3\n",
	}, got)
}

// requireLines checks that out has lines in this order (others may come
// between them).
func requireLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, line := range lines {
		i := strings.Index(rest, line)
		require.GreaterOrEqual(t, i, 0, "stdout should have %q after the lines before it:\n%s", line, out)
		rest = rest[i+len(line):]
	}
}

// TestCDataExample runs examples/c/data.c, the Pilot-Data pattern from C, on
// every backend: its unit's output comes back through the output data unit,
// the input is replicated, and the program removes everything it wrote.
func TestCDataExample(t *testing.T) {
	exe := compile(t, "gcc", "../examples/c/data.c")
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			tmp := t.TempDir()
			out := run(t, exe, b.URL, "HOME="+t.TempDir(), "TMPDIR="+tmp, "PILOT_COORDINATION_URL="+b.URL)
			requireLines(t, out,
				"Input data unit: Running\n",
				"Compute unit: Done\n",
				"Output files: stderr.txt, stdout.txt\n",
				"Exported: Hello World!\n",
				"Replicas: 2\n",
				"Terminate Pilot Jobs\n")
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left, "the example removes its directory")
		})
	}
}

// TestInstall installs into a temporary prefix and builds the C example with
// nothing but what pkg-config says; the program then runs against the
// installed library and agent.
func TestInstall(t *testing.T) {
	if _, err := exec.LookPath("pkg-config"); err != nil {
		t.Skip("pkg-config is not installed (scripts/install-deps.sh installs it)")
	}
	prefix := t.TempDir()
	cmd := exec.Command("make", "install", "PREFIX="+prefix)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make install:\n%s", out)
	for _, f := range []string{"include/pilot.h", "lib/libpilot.so", "lib/pkgconfig/pilot.pc", "bin/pilot-agent"} {
		require.FileExists(t, filepath.Join(prefix, f))
	}
	require.NoFileExists(t, "../build/libpilot.h", "cgo's header must not be left next to the library")

	pkgConfig := func(args ...string) string {
		cmd := exec.Command("pkg-config", args...)
		cmd.Env = append(os.Environ(), "PKG_CONFIG_PATH="+filepath.Join(prefix, "lib", "pkgconfig"))
		out, err := cmd.Output()
		require.NoError(t, err, "pkg-config %v", args)
		return strings.TrimSpace(string(out))
	}
	require.Equal(t, core.Version, pkgConfig("--modversion", "pilot"))
	flags := strings.Fields(pkgConfig("--cflags", "--libs", "pilot"))

	exe := filepath.Join(t.TempDir(), "hello")
	args := append([]string{"-Wall", "-Wextra", "-Werror", "-o", exe, "../examples/c/hello.c"}, flags...)
	out, err = exec.Command("gcc", args...).CombinedOutput()
	require.NoError(t, err, "gcc %v:\n%s", args, out)

	runHello(t, exe, testenv.Embedded(t), "BIGJOB_AGENT="+filepath.Join(prefix, "bin", "pilot-agent"))
}
