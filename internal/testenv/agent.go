package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var agentBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// AgentBinary builds cmd/pilot-agent (static, CGO_ENABLED=0) once per test
// binary into build/test/ of the module (ignored by git) and returns its path.
// Test binaries of several packages may build at once: each writes a file of
// its own and renames it into place.
func AgentBinary(t testing.TB) string {
	t.Helper()
	agentBuild.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			agentBuild.err = err
			return
		}
		dir := filepath.Join(root, "build", "test")
		if agentBuild.err = os.MkdirAll(dir, 0o755); agentBuild.err != nil {
			return
		}
		tmp, err := os.CreateTemp(dir, "pilot-agent-*")
		if err != nil {
			agentBuild.err = err
			return
		}
		tmp.Close()
		cmd := exec.Command("go", "build", "-o", tmp.Name(), "github.com/bigjob-go/bigjob/cmd/pilot-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if agentBuild.out, agentBuild.err = cmd.CombinedOutput(); agentBuild.err != nil {
			os.Remove(tmp.Name())
			return
		}
		agentBuild.path = filepath.Join(dir, "pilot-agent")
		agentBuild.err = os.Rename(tmp.Name(), agentBuild.path)
	})
	if agentBuild.err != nil {
		t.Fatalf("build pilot-agent: %v\n%s", agentBuild.err, agentBuild.out)
	}
	return agentBuild.path
}

// ModuleRoot is the folder of the module's go.mod.
func ModuleRoot() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(gomod))), nil
}
