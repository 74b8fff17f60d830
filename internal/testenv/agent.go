package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
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
// binary and returns its path.
func AgentBinary(t testing.TB) string {
	t.Helper()
	agentBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "pilot-agent-*")
		if err != nil {
			agentBuild.err = err
			return
		}
		agentBuild.path = filepath.Join(dir, "pilot-agent")
		cmd := exec.Command("go", "build", "-o", agentBuild.path, "github.com/bigjob-go/bigjob/cmd/pilot-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		agentBuild.out, agentBuild.err = cmd.CombinedOutput()
	})
	if agentBuild.err != nil {
		t.Fatalf("build pilot-agent: %v\n%s", agentBuild.err, agentBuild.out)
	}
	return agentBuild.path
}
