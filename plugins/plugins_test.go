package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
)

func example(t *testing.T, name string) string {
	return testenv.Plugin(t, "plugins/examples/"+name)
}

func hostile(t *testing.T, name string) string {
	return testenv.Plugin(t, "plugins/testdata/hostile/"+name)
}

// engines runs f on a host of each engine: the compiler (the agent's) and
// the interpreter (libpilot.so's).
func engines(t *testing.T, f func(t *testing.T, h *plugins.Host)) {
	for _, e := range []plugins.Engine{plugins.EngineCompiler, plugins.EngineInterpreter} {
		t.Run(e.String(), func(t *testing.T) {
			h := plugins.NewHost(plugins.HostOptions{Engine: e, CacheDir: "off"})
			t.Cleanup(func() { h.Close(context.Background()) })
			f(t, h)
		})
	}
}

func load(t *testing.T, h *plugins.Host, manifest string) *plugins.Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), manifest)
	require.NoError(t, err)
	return p
}

func unit(t *testing.T, exe string, args ...string) abi.Unit {
	return abi.Unit{ID: "cu-1", PilotID: "bj-1", Executable: exe, Arguments: args,
		Environment: []string{"A=1"}, WorkingDirectory: t.TempDir()}
}

func hooks(t *testing.T, ps ...*plugins.Plugin) *plugins.Hooks {
	h, err := plugins.NewHooks(ps)
	require.NoError(t, err)
	return h
}

func TestAllowlistRewritesAndRefuses(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		p := load(t, h, example(t, "allowlist"))
		assert.Equal(t, []string{abi.KindPreUnit}, p.Info().Kinds)
		hk := hooks(t, p)

		u, v := hk.Pre(context.Background(), unit(t, "/bin/echo", "hi"))
		require.Nil(t, v)
		assert.Equal(t, []string{"A=1", "SITE_POLICY=allowlist-1.0"}, u.Environment)
		assert.Equal(t, []string{"hi"}, u.Arguments)

		_, v = hk.Pre(context.Background(), unit(t, "/tmp/evil/echo"))
		require.NotNil(t, v)
		assert.Contains(t, v.Message, `refused by pre_unit hook allowlist: executable "/tmp/evil/echo" is not on this site's allowlist`)
	})
}

func TestOutputsFailsDoneUnitsWithMissingOutputs(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		hk := hooks(t, load(t, h, example(t, "outputs")))
		u := unit(t, "/bin/true")
		u.Description = map[string]any{"expected_outputs": []string{"result.dat", "sub/b.txt", "../escape"}}
		require.NoError(t, os.WriteFile(filepath.Join(u.WorkingDirectory, "result.dat"), []byte("x"), 0o644))

		v := hk.Post(context.Background(), abi.PostUnitRequest{Unit: u, State: "Done"})
		require.NotNil(t, v)
		assert.Equal(t, "failed by post_unit hook outputs: expected outputs missing: sub/b.txt, ../escape (outside the working directory)", v.Message)

		require.NoError(t, os.Mkdir(filepath.Join(u.WorkingDirectory, "sub"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(u.WorkingDirectory, "sub", "b.txt"), nil, 0o644))
		u.Description["expected_outputs"] = []string{"result.dat", "sub/b.txt"}
		assert.Nil(t, hk.Post(context.Background(), abi.PostUnitRequest{Unit: u, State: "Done"}))

		u.Description["expected_outputs"] = []string{"nothing"}
		assert.Nil(t, hk.Post(context.Background(), abi.PostUnitRequest{Unit: u, State: "Failed", ExitCode: 1}),
			"a Failed unit stays as it is")
	})
}

func TestHooksRunInOrderAndStopAtTheFirstRefusal(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	allow, exec := load(t, h, example(t, "allowlist")), load(t, h, hostile(t, "execer"))
	// allowlist first: it refuses rm, so execer never sees it.
	_, v := hooks(t, allow, exec).Pre(context.Background(), unit(t, "rm", "echo", "x"))
	require.NotNil(t, v)
	assert.Equal(t, "allowlist", v.Hook)
	// execer first: it refuses everything, with what echo printed.
	_, v = hooks(t, exec, allow).Pre(context.Background(), unit(t, "rm", "echo", "x"))
	require.NotNil(t, v)
	assert.Equal(t, "execer", v.Hook)
	assert.Contains(t, v.Message, `"stdout":"x\n"`)
}

func TestEndlessLoopIsStoppedAtItsTimeout(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		p := load(t, h, hostile(t, "loop"))
		for i := 0; i < 2; i++ { // the discarded instance frees its place in the pool
			err := p.Call(context.Background(), nil, abi.ExportPreUnit, abi.PreUnitRequest{}, nil)
			var pe *plugins.Error
			require.ErrorAs(t, err, &pe)
			assert.True(t, pe.Trapped)
			assert.Contains(t, err.Error(), "plugin loop: hook_pre_unit: did not return within its timeout of 300ms (limits.timeout_ms in ")
		}
		_, v := hooks(t, p).Pre(context.Background(), unit(t, "/bin/true"))
		require.NotNil(t, v)
		assert.Contains(t, v.Message, "pre_unit hook failed, so the unit was not run")
	})
}

func TestMemoryBombHitsItsLimit(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		p := load(t, h, hostile(t, "membomb"))
		err := p.Call(context.Background(), nil, abi.ExportPreUnit, abi.PreUnitRequest{}, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "its memory is limited to 64 pages of 64 KiB, limits.memory_pages")
		// The next call gets a fresh instance and works.
		var res abi.PreUnitResponse
		require.NoError(t, p.Call(context.Background(), nil, abi.ExportPreUnit, map[string]any{"small": true}, &res))
		assert.Equal(t, abi.ActionContinue, res.Action)
	})
}

func TestGoMemoryBombHitsItsLimit(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	p := load(t, h, hostile(t, "gobomb"))
	err := p.Call(context.Background(), nil, abi.ExportPreUnit, abi.PreUnitRequest{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "out of memory")
	assert.Contains(t, err.Error(), "its memory is limited to 200 pages")
}

func TestTrapLeavesTheNextCallWorking(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		hk := hooks(t, load(t, h, hostile(t, "trap")))
		_, v := hk.Pre(context.Background(), unit(t, "trap"))
		require.NotNil(t, v)
		assert.Contains(t, v.Message, "plugin trap: hook_pre_unit: the instance failed: wasm error: unreachable")
		for i := 0; i < 5; i++ {
			_, v = hk.Pre(context.Background(), unit(t, "/bin/true"))
			assert.Nil(t, v)
		}
	})
}

func TestCommandNotInTheManifestIsDenied(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		hk := hooks(t, load(t, h, hostile(t, "execer")))
		marker := filepath.Join(t.TempDir(), "pwned")
		_, v := hk.Pre(context.Background(), unit(t, "x", "touch", marker))
		require.NotNil(t, v)
		assert.Contains(t, v.Message, `command \"touch\" is not in the manifest's capabilities.commands [\"echo\"], so it was not run`)
		assert.NoFileExists(t, marker)

		_, v = hk.Pre(context.Background(), unit(t, "x", "echo", "it's", "fine"))
		require.NotNil(t, v)
		assert.Contains(t, v.Message, `"exit_code":0,"stdout":"it's fine\n"`)
	})
}

func TestWriteFileStaysInItsDirectories(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	hk := hooks(t, load(t, h, hostile(t, "writer")))
	u := unit(t, "out/result.txt")
	require.NoError(t, os.Mkdir(filepath.Join(u.WorkingDirectory, "out"), 0o755))
	_, v := hk.Pre(context.Background(), u)
	assert.Contains(t, v.Message, ": written")
	assert.FileExists(t, filepath.Join(u.WorkingDirectory, "out", "result.txt"))

	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(u.WorkingDirectory, "out", "link")))
	for _, bad := range []string{"elsewhere.txt", "out/../../x", "/etc/x", "out/link/x"} {
		u.Executable = bad
		_, v = hk.Pre(context.Background(), u)
		assert.Contains(t, v.Message, ": denied", bad)
	}
	assert.NoFileExists(t, filepath.Join(u.WorkingDirectory, "elsewhere.txt"))
	assert.NoFileExists(t, filepath.Join(outside, "x"), "a link does not lead the write out")
}

func TestRefusedAtLoad(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	ctx := context.Background()

	b, err := plugins.ReadBundle(example(t, "outputs"))
	require.NoError(t, err)
	_, err = h.LoadBundle(ctx, b)
	require.NoError(t, err, "the genuine module loads; its impostor under the same manifest must not")
	b.Module = append([]byte(nil), b.Module...)
	b.Module[len(b.Module)-1] ^= 1
	_, err = h.LoadBundle(ctx, b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"sha256" is `)
	assert.Contains(t, err.Error(), "the module is not the one the manifest vouches for")

	_, err = h.Load(ctx, hostile(t, "noexport"))
	assert.ErrorContains(t, err, "load plugin noexport (")
	assert.ErrorContains(t, err, "the module lacks export hook_post_unit (i32, i32) -> (i64) (ABI.md, Exports), which kind post_unit needs")

	_, err = h.Load(ctx, hostile(t, "badabi"))
	assert.ErrorContains(t, err, "the module speaks plugin ABI version 2 (its pilot_abi_version), but this host speaks version 1")

	for _, c := range []struct{ manifest, want string }{
		{`{"abi": 2, "name": "x", "version": "1", "wasm": "x.wasm", "sha256": "` + strings.Repeat("0", 64) + `"}`, `"abi" is 2, but this host speaks plugin ABI version 1`},
		{`{"abi": 1, "name": "x", "version": "1", "wasm": "x.wasm", "sha256": "` + strings.Repeat("0", 64) + `", "limits": {"timeout": 5}}`, `unknown field "timeout"`},
		{`{"abi": 1, "name": "X Y", "version": "1"}`, `"name" "X Y" must be`},
		{`{"abi": 1, "name": "x", "version": "1", "wasm": "x.wasm", "sha256": "` + strings.Repeat("0", 64) + `"} {"abi": 2}`, `has data after its JSON object`},
		{`{"abi": 1, "name": "x", "version": "1", "wasm": "x.wasm", "sha256": "abc"}`, `"sha256" "abc" is not a hex sha256`},
		{`{"abi": 1, "name": "x", "version": "1", "wasm": "x.wasm", "sha256": "` + strings.Repeat("0", 64) + `", "capabilities": {"write_dirs": ["tmp"]}}`, `give absolute directories or $WORKDIR`},
	} {
		_, err := plugins.ParseManifest("m.json", []byte(c.manifest))
		assert.ErrorContains(t, err, c.want)
	}
}

func TestCompiledModulesAreCachedOnDisk(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		h := plugins.NewHost(plugins.HostOptions{Engine: plugins.EngineCompiler, CacheDir: dir})
		load(t, h, example(t, "allowlist"))
		require.NoError(t, h.Close(context.Background()))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.NotEmpty(t, entries, "the compiled module is in the cache directory")
	}
}

func TestConcurrentCallsShareABoundedPool(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	hk := hooks(t, load(t, h, example(t, "allowlist"))) // 2 instances
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, v := hk.Pre(context.Background(), unit(t, "echo", fmt.Sprint(i)))
			if v != nil || u.Arguments[0] != fmt.Sprint(i) {
				errs <- fmt.Errorf("unit %d: %v %v", i, v, u.Arguments)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAdaptorExportsOnlyOnAdaptors(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	p := load(t, h, example(t, "allowlist"))
	err := p.Call(context.Background(), &plugins.Scope{Runner: runner.Local}, abi.ExportSubmit, abi.SubmitRequest{}, nil)
	var pe *plugins.Error
	require.True(t, errors.As(err, &pe))
	assert.False(t, pe.Trapped)
	assert.Contains(t, err.Error(), "adaptor_submit: not an export of a pre_unit plugin")
}

// An adaptor plugin loaded into a program that does not serve adaptor
// plugins (no import of adaptors/pluginadaptor) is refused at load, with
// the import that serves them.
func TestAdaptorPluginNotServedIsRefused(t *testing.T) {
	_, err := plugins.Load(context.Background(), example(t, "tsp"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "load plugin tsp")
	assert.Contains(t, err.Error(), `import _ "github.com/bigjob-go/bigjob/adaptors/pluginadaptor"`)
	assert.Nil(t, plugins.Lookup("tsp"), "a refused plugin is not loaded")
}
