package core_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
)

// The Redis password of a real, password-protected redis-server appears
// nowhere a stranger could look: no process's command line (ps), not the
// agent's environment or its logs, not a unit's environment, not the
// library's logs (at debug level), not the agent's files on disk.
func TestPasswordNeverShown(t *testing.T) {
	const pw = "pw-9f3c1d7e"
	url := strings.Replace(testenvRedis(t, "--requirepass", pw), "redis://", "redis://"+pw+"@", 1)
	var logs bytes.Buffer
	s := newService(t, url, func(o *core.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	p, dir := newPilot(t, s, 1)
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/usr/bin/env", Output: "env.txt"})
	require.NoError(t, err)
	st, d := waitUnit(t, u)
	require.Equal(t, core.Done, st, d["reason"])

	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		require.NotContains(t, string(cmdline), pw, "process %s shows the password on its command line", e.Name())
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(agentPID(t, p)) + "/environ")
	require.NoError(t, err)
	require.NotContains(t, string(environ), pw, "the agent keeps the password in its environment")
	require.NotContains(t, string(environ), "BIGJOB_COORDINATION")
	unitEnv, err := os.ReadFile(filepath.Join(d["sandbox"], "env.txt"))
	require.NoError(t, err)
	require.Contains(t, string(unitEnv), "BIGJOB_PILOT_ID=", "the unit's environment was captured")
	require.NotContains(t, string(unitEnv), pw)
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			b, _ := os.ReadFile(path)
			require.NotContains(t, string(b), pw, "%s holds the password", path)
		}
		return err
	}))
	require.NotContains(t, logs.String(), pw)
	require.NotContains(t, agentLog(dir), pw)
}

// The pilot's sandbox, the units' sandboxes and the agent's log files are
// created owner-only; so is the service's signing key.
func TestPilotFilesAreOwnerOnly(t *testing.T) {
	s := newService(t, testenvRedis(t))
	p, dir := newPilot(t, s, 1)
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	_, d := waitUnit(t, u)
	mode := func(path string) os.FileMode {
		st, err := os.Stat(path)
		require.NoError(t, err)
		return st.Mode().Perm()
	}
	require.Equal(t, os.FileMode(0o700), mode(filepath.Dir(d["sandbox"])), "the pilot's sandbox")
	require.Equal(t, os.FileMode(0o700), mode(d["sandbox"]), "the unit's sandbox")
	for _, f := range []string{"stdout-", "stderr-"} {
		require.Equal(t, os.FileMode(0o600), mode(filepath.Join(dir, f+p.ID()+"-agent.txt")), f)
	}
	key := filepath.Join(os.Getenv("BIGJOB_HOME"), "keys", s.ID()+".key")
	require.Equal(t, os.FileMode(0o600), mode(key), "the signing key")
	require.Equal(t, os.FileMode(0o700), mode(filepath.Dir(key)))
}
