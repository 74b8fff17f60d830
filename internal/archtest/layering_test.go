package archtest_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/bigjob-go/bigjob/"

// deps lists what pkg links (go list -deps), the project's packages without
// the module prefix.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// forbid fails for every package pkg links whose import path starts with
// one of the prefixes (relative to the module, or a full path).
func forbid(t *testing.T, pkg string, prefixes ...string) {
	t.Helper()
	for _, d := range deps(t, pkg) {
		rel := strings.TrimPrefix(d, module)
		for _, p := range prefixes {
			if rel == p || strings.HasPrefix(rel, p+"/") {
				t.Errorf("%s links %s; the layering forbids it", pkg, d)
			}
		}
	}
}

func TestVocabularyIsALeaf(t *testing.T) {
	for _, d := range deps(t, "vocab") {
		rel, ours := strings.CutPrefix(d, module)
		if ours && rel != "vocab" && !strings.HasPrefix(rel, "internal/") {
			t.Errorf("vocab links %s: it may use only the standard library and internal helpers", d)
		}
		if !ours && strings.Contains(d, ".") {
			t.Errorf("vocab links %s: it may use only the standard library and internal helpers", d)
		}
	}
}

func TestAgentLinksNoClient(t *testing.T) {
	forbid(t, "cmd/pilot-agent", "core", "adaptors", "capi", "coord/embedded", "storage/sftpstore", "storage/pluginstore", "github.com/pkg/sftp",
		"golang.org/x/crypto/ssh", "github.com/alicebob/miniredis", "github.com/yuin/gopher-lua")
}

func TestPluginsKnowNoBatchSystemOrSSH(t *testing.T) {
	forbid(t, "plugins", "adaptors", "core", "golang.org/x/crypto/ssh")
}

func TestCoreChoosesNoAdaptorsOrServer(t *testing.T) {
	forbid(t, "core", "adaptors/builtin", "adaptors/fork", "adaptors/ssh", "adaptors/batch",
		"adaptors/pluginadaptor", "coord/embedded", "storage/sftpstore", "storage/pluginstore", "github.com/alicebob/miniredis")
}

// capi translates to core: besides the vocabulary, it imports only core
// and what libpilot links in (the adaptors, adaptor plugins' serving, the
// fallback store).
func TestCAPITranslatesToCoreOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"capi").Output()
	if err != nil {
		t.Fatalf("go list capi: %v", err)
	}
	allowed := map[string]bool{"core": true, "vocab": true, "adaptors/builtin": true,
		"adaptors/pluginadaptor": true, "coord/embedded": true, "storage/sftpstore": true, "storage/pluginstore": true}
	for _, imp := range strings.Fields(string(out)) {
		if rel, ours := strings.CutPrefix(imp, module); ours && !allowed[rel] {
			t.Errorf("capi imports %s; it translates to core only", imp)
		}
	}
}

// Pilot-Data's operations serve the client and the agent alike: they link
// neither.
func TestPilotDataKnowsNoClient(t *testing.T) {
	forbid(t, "pilotdata", "core", "agent", "adaptors", "capi", "plugins")
	forbid(t, "storage", "core", "agent", "adaptors", "capi", "plugins", "coord", "golang.org/x/crypto/ssh")
}

// The run report reads the store and writes a page: it knows no client
// objects, adaptors or agent.
func TestReportReadsOnlyTheStore(t *testing.T) {
	forbid(t, "report", "core", "agent", "adaptors", "capi", "plugins", "pilotdata", "storage")
}
