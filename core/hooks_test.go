package core_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

// Hooks named in the service's options run in the agent: the allowlist
// refuses and rewrites, the outputs hook fails Done units that lack their
// declared outputs.
func TestHooksRewriteRefuseAndFailUnits(t *testing.T) {
	allow := testenv.Plugin(t, "plugins/examples/allowlist")
	outputs := testenv.Plugin(t, "plugins/examples/outputs")
	s := newService(t, testenv.RedisServer(t), func(o *core.Options) { o.Hooks = []string{allow, outputs} })
	p, _ := newPilot(t, s, 2)

	ok, err := core.ParseUnitDescription(map[string]any{
		"executable": "/bin/sh", "arguments": []any{"-c", `'echo $SITE_POLICY > out.txt'`},
		"expected_outputs": []any{"out.txt"},
	})
	require.NoError(t, err)
	missing, err := core.ParseUnitDescription(map[string]any{
		"executable": "/bin/true", "expected_outputs": []any{"never.txt"},
	})
	require.NoError(t, err)
	refused := core.UnitDescription{Executable: "/usr/bin/id"}
	us, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{ok, missing, refused})
	require.NoError(t, err)

	st, d := waitUnit(t, us[0])
	require.Equal(t, core.Done, st, d["reason"])
	assert.Equal(t, "allowlist-1.0\n", readFile(t, d["sandbox"], "out.txt"), "the allowlist injected SITE_POLICY")

	st, d = waitUnit(t, us[1])
	assert.Equal(t, core.Failed, st)
	assert.Equal(t, "failed by post_unit hook outputs: expected outputs missing: never.txt", d["reason"])
	assert.Equal(t, "0", d["exit_code"])

	st, d = waitUnit(t, us[2])
	assert.Equal(t, core.Failed, st)
	assert.Contains(t, d["reason"], `refused by pre_unit hook allowlist: executable "/usr/bin/id" is not on this site's allowlist`)
	assert.Empty(t, d["pid"], "a refused unit never starts")
}

// A hook that never returns costs each unit its timeout; the agent goes on.
func TestEndlessHookDoesNotStopTheAgent(t *testing.T) {
	loop := testenv.Plugin(t, "plugins/testdata/hostile/loop")
	s := newService(t, testenv.RedisServer(t))
	p, dir := newPilot(t, s, 1, func(pd *core.PilotDescription) { pd.Extra = map[string]any{"hooks": []any{loop}} })
	us, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{{Executable: "/bin/true"}, {Executable: "/bin/true"}})
	require.NoError(t, err)
	for _, u := range us {
		st, d := waitUnit(t, u)
		assert.Equal(t, core.Failed, st)
		assert.Contains(t, d["reason"], "pre_unit hook failed, so the unit was not run: plugin loop: hook_pre_unit: did not return within its timeout of 300ms")
	}
	st, err := p.State(ctxT(t))
	require.NoError(t, err)
	assert.Equal(t, core.Running, st, agentLog(dir))
}

func TestBadHooksAreRefusedAtCreatePilot(t *testing.T) {
	s := newService(t, testenv.RedisServer(t))
	tsp := testenv.Plugin(t, "plugins/examples/tsp")
	for _, c := range []struct {
		hooks any
		want  string
	}{
		{[]any{"nosuch"}, `pilot compute description: key "hooks": no plugin named "nosuch"`},
		{[]any{filepath.Join(t.TempDir(), "plugin.json")}, "read plugin manifest: open "},
		{[]any{tsp}, "plugin tsp is adaptor, not a hook (pre_unit or post_unit)"},
		{map[string]any{"allowlist": true}, `key "hooks": a dict with keys allowlist is not a list; give a list of strings`},
	} {
		_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1,
			WorkingDirectory: t.TempDir(), Extra: map[string]any{"hooks": c.hooks}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
	}
	assert.Empty(t, s.Pilots(), "no pilot is made for a refused description")
}

// This project's pilot keys are checked at create_pilot, whether given as
// typed fields or loosely in Extra, before anything is submitted: not hours
// later by an agent inside a batch job.
func TestBadPilotExtensionsAreRefusedAtCreatePilot(t *testing.T) {
	s := newService(t, testenv.RedisServer(t))
	for _, c := range []struct {
		pd   core.PilotDescription
		key  string
		want string
	}{
		{core.PilotDescription{Extra: map[string]any{"launch_method": "teleport"}}, "launch_method", `"teleport" is not a launch method`},
		{core.PilotDescription{LaunchMethod: "teleport"}, "launch_method", `"teleport" is not a launch method`},
		{core.PilotDescription{Extra: map[string]any{"mpi_launcher": ""}}, "mpi_launcher", "empty"},
		{core.PilotDescription{MPILauncher: []string{}}, "mpi_launcher", "empty"},
		{core.PilotDescription{Extra: map[string]any{"remote_shell": 3}}, "remote_shell", "give a command line"},
		{core.PilotDescription{Extra: map[string]any{"agent_path": []any{1}}}, "agent_path", "give a string"},
	} {
		pd := c.pd
		pd.ServiceURL, pd.NumberOfProcesses, pd.WorkingDirectory = "fork://localhost", 1, t.TempDir()
		_, err := s.CreatePilot(ctxT(t), pd)
		var de *core.DescriptionError
		require.ErrorAs(t, err, &de, "%+v", c.pd)
		assert.Equal(t, c.key, de.Key)
		assert.Contains(t, err.Error(), c.want)
	}
	assert.Empty(t, s.Pilots(), "no pilot is made for a refused description")
}

// A hostile hook in the agent (compiled there) tries each way to run
// native code of its own that its grants seem to leave open: the units it
// attacks fail, or run exactly what their descriptions say, and its code
// never runs.
func TestHostileHookRunsNoNativeCodeInTheAgent(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pwned")
	so := hex.EncodeToString(testenv.PreloadLibrary(t, marker))
	script := hex.EncodeToString([]byte("#!/bin/sh\ntouch " + marker + "\n"))
	tool := filepath.Join(t.TempDir(), "tool.sh")
	require.NoError(t, os.WriteFile(tool, []byte("#!/bin/bash\necho tool\n"), 0o755))
	escape := testenv.PluginGranting(t, testenv.Plugin(t, "plugins/testdata/hostile/escape"), map[string]any{
		"commands": []string{"date", tool}, "exec_env": []string{"SITE_X"}, "write_dirs": []string{"$WORKDIR"},
		"rewrite": map[string]any{"environment": []string{"SITE"}, "arguments": true}})
	s := newService(t, testenv.RedisServer(t))
	p, _ := newPilot(t, s, 2, func(pd *core.PilotDescription) { pd.Extra = map[string]any{"hooks": []any{escape}} })

	exec := func(argv []string, env string) map[string]any {
		return map[string]any{"argv": argv, "env": []string{env}}
	}
	answer := func(u map[string]any) map[string]any { return map[string]any{"action": "continue", "unit": u} }
	evil := "$(touch " + marker + ") ; touch " + marker + " `touch " + marker + "`"
	cases := []struct {
		desc   map[string]any
		state  core.State
		reason []string // in the unit's reason
		output string   // of a Done unit: its file "out" (or stdout)
	}{
		{map[string]any{"escape_write": "evil.so", "escape_hex": so, "escape_exec": exec([]string{"date"}, "LD_PRELOAD=@WD@/evil.so")},
			core.Failed, []string{"refused by pre_unit hook escape", `exec env \"LD_PRELOAD\", which changes how programs are loaded or started`}, ""},
		{map[string]any{"escape_write": "evil.so", "escape_hex": so, "escape_answer": answer(map[string]any{"environment": []string{"LD_PRELOAD=@WD@/evil.so"}})},
			core.Failed, []string{`pre_unit hook escape rewrote the unit beyond its grants, so the unit was not run: it changed environment variable "LD_PRELOAD", which changes how programs`}, ""},
		{map[string]any{"escape_write": "date", "escape_hex": script, "escape_exec": exec([]string{"date"}, "PATH=@WD@")},
			core.Failed, []string{`exec env \"PATH\", which changes how programs`}, ""},
		{map[string]any{"escape_write": "start.sh", "escape_hex": script, "escape_exec": exec([]string{tool}, "BASH_ENV=@WD@/start.sh")},
			core.Failed, []string{`exec env \"BASH_ENV\", which changes how programs`}, ""},
		{map[string]any{"escape_answer": answer(map[string]any{"executable": "/bin/sh", "arguments": []string{"-c", "touch " + marker}})},
			core.Failed, []string{`it changed the executable from "/bin/true" to "/bin/sh"; no plugin may change what a unit runs`}, ""},
		{map[string]any{"executable": "/bin/echo", "arguments": []any{"kept"}, "output": "out",
			"escape_answer": answer(map[string]any{"arguments": []string{"kept", evil}})},
			core.Done, nil, "kept " + evil + "\n"},
		{map[string]any{"executable": "/bin/sh", "arguments": []any{"-c", `'echo "$SITE" > out'`},
			"escape_answer": answer(map[string]any{"environment": []string{"SITE=" + evil}})},
			core.Done, nil, evil + "\n"},
	}
	var descs []core.UnitDescription
	for _, c := range cases {
		if c.desc["executable"] == nil {
			c.desc["executable"] = "/bin/true"
		}
		d, err := core.ParseUnitDescription(c.desc)
		require.NoError(t, err)
		descs = append(descs, d)
	}
	us, err := p.SubmitBulk(ctxT(t), descs)
	require.NoError(t, err)
	for i, c := range cases {
		st, d := waitUnit(t, us[i])
		require.Equal(t, c.state, st, "case %d: %s", i, d["reason"])
		for _, r := range c.reason {
			assert.Contains(t, d["reason"], r, "case %d", i)
		}
		if c.output != "" {
			assert.Equal(t, c.output, readFile(t, d["sandbox"], "out"), "case %d: the hook's words reached the program as they are", i)
		}
	}
	assert.NoFileExists(t, marker, "no code of the plugin's ran")
}
