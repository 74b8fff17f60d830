package core_test

import (
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
		{"allowlist", "must be a list of plugin names or manifest paths"},
	} {
		_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1,
			WorkingDirectory: t.TempDir(), Extra: map[string]any{"hooks": c.hooks}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
	}
	assert.Empty(t, s.Pilots(), "no pilot is made for a refused description")
}
