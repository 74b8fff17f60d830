package testenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PluginGranting writes a manifest for the module of the sealed manifest
// at sealed (see Plugin) whose capabilities are caps instead of its own,
// and returns its path: one hostile module tried under the grants of each
// test. The module's sha256 is unchanged, so the manifest stays valid.
func PluginGranting(t testing.TB, sealed string, caps map[string]any) string {
	t.Helper()
	raw, err := os.ReadFile(sealed)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["wasm"] = filepath.Join(filepath.Dir(sealed), m["wasm"].(string))
	m["capabilities"] = caps
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plugin.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// PreloadLibrary builds, with the system's C compiler, a shared object
// whose constructor creates the file marker: the native code a hostile
// plugin would like a program to load. It checks that LD_PRELOAD of it
// does create marker for /bin/true, then removes marker, so that a test
// that finds no marker afterwards shows a defence held, not a dud payload.
func PreloadLibrary(t testing.TB, marker string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, so := filepath.Join(dir, "evil.c"), filepath.Join(dir, "evil.so")
	code := "#include <fcntl.h>\n#include <unistd.h>\n" +
		"__attribute__((constructor)) static void pwn(void) {\n" +
		"  int fd = open(MARKER, O_WRONLY | O_CREAT, 0600);\n  if (fd >= 0) close(fd);\n}\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	def, _ := json.Marshal(marker)
	cc := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-s", "-Wl,-z,noseparate-code", "-Wl,--build-id=none",
		"-DMARKER="+string(def), "-o", so, src)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("build the preload library: %v\n%s", err, out)
	}
	check := exec.Command("/bin/true")
	check.Env = append(os.Environ(), "LD_PRELOAD="+so)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("LD_PRELOAD=%s /bin/true: %v\n%s", so, err, out)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the preload library did not run its constructor: %v", err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
