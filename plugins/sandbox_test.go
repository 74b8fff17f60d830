package plugins_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
)

// The hostile plugin "escape" (plugins/testdata/hostile/escape) tries to
// run native code of its own through each power a plugin has, under the
// grants each test gives it. Every test checks first that its payload is
// live (it does run when started by hand), then that through the plugin
// it never runs, on both engines.

// escapeHooks is the escape plugin loaded under caps.
func escapeHooks(t *testing.T, h *plugins.Host, caps map[string]any) *plugins.Hooks {
	return hooks(t, load(t, h, testenv.PluginGranting(t, hostile(t, "escape"), caps)))
}

// escapeUnit is a /bin/true unit whose description scripts the escape
// plugin (escape.c); its working directory has a folder out/.
func escapeUnit(t *testing.T, script map[string]any) abi.Unit {
	u := unit(t, "/bin/true")
	require.NoError(t, os.Mkdir(filepath.Join(u.WorkingDirectory, "out"), 0o700))
	u.Description = script
	return u
}

// outcome is what the escape plugin says when it refuses a unit: the
// status of its write_file and the result of its exec.
type outcome struct {
	Write *int            `json:"write"`
	Exec  *abi.ExecResult `json:"exec"`
}

func refusal(t *testing.T, v *plugins.Verdict) outcome {
	t.Helper()
	require.NotNil(t, v)
	msg, ok := strings.CutPrefix(v.Message, "refused by pre_unit hook escape: ")
	require.True(t, ok, v.Message)
	var o outcome
	require.NoError(t, json.Unmarshal([]byte(msg), &o), msg)
	return o
}

// payloads are the native code an attacker brings: a shared object whose
// constructor creates marker, and a shell script that does.
func payloads(t *testing.T) (marker, so, script string) {
	marker = filepath.Join(t.TempDir(), "pwned")
	return marker, hex.EncodeToString(testenv.PreloadLibrary(t, marker)), "#!/bin/sh\ntouch " + marker + "\n"
}

// live runs argv with env added, as a site's program would be run, and
// checks that the payload does create marker that way; it removes marker.
func live(t *testing.T, marker string, env []string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.FileExists(t, marker, "the payload is live when run by hand")
	require.NoError(t, os.Remove(marker))
}

func TestExecCannotPreloadALibrary(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		marker, so, _ := payloads(t)
		hk := escapeHooks(t, h, map[string]any{"commands": []string{"date"}, "exec_env": []string{"TZ"}, "write_dirs": []string{"$WORKDIR/out"}})
		u := escapeUnit(t, map[string]any{"escape_write": "out/evil.so", "escape_hex": so,
			"escape_exec": map[string]any{"argv": []string{"date"}, "env": []string{"LD_PRELOAD=@WD@/out/evil.so"}}})
		_, v := hk.Pre(context.Background(), u)
		o := refusal(t, v)
		require.NotNil(t, o.Write)
		assert.Equal(t, 0, *o.Write, "the plugin wrote its library")
		evil := filepath.Join(u.WorkingDirectory, "out", "evil.so")
		st, err := os.Stat(evil)
		require.NoError(t, err)
		assert.Zero(t, st.Mode().Perm()&0o111, "written files are never executable")
		require.NotNil(t, o.Exec)
		assert.Equal(t, -1, o.Exec.ExitCode)
		assert.Contains(t, o.Exec.Error, `exec env "LD_PRELOAD", which changes how programs are loaded or started`)
		assert.Contains(t, v.Message, "the command was not run")
		assert.NoFileExists(t, marker)
		live(t, marker, []string{"LD_PRELOAD=" + evil}, "date")

		// A granted variable is set; the command runs.
		u = escapeUnit(t, map[string]any{"escape_exec": map[string]any{"argv": []string{"date", "+%Z"}, "env": []string{"TZ=UTC"}}})
		_, v = hk.Pre(context.Background(), u)
		o = refusal(t, v)
		require.NotNil(t, o.Exec)
		assert.Equal(t, abi.ExecResult{Stdout: "UTC\n"}, *o.Exec)
	})
}

func TestUnitEnvironmentCannotPreloadALibrary(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		marker, so, _ := payloads(t)
		hk := escapeHooks(t, h, map[string]any{"write_dirs": []string{"$WORKDIR/out"}, "rewrite": map[string]any{"environment": []string{"SITE"}}})
		answer := func(env ...string) map[string]any {
			return map[string]any{"action": "continue", "unit": map[string]any{"environment": env}}
		}
		for _, name := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "PATH", "BASH_ENV", "ENV", "IFS", "PYTHONPATH", "PERL5LIB", "NODE_OPTIONS", "GCONV_PATH"} {
			u := escapeUnit(t, map[string]any{"escape_write": "out/evil.so", "escape_hex": so,
				"escape_answer": answer("A=1", name+"=@WD@/out/evil.so")})
			_, v := hk.Pre(context.Background(), u)
			require.NotNil(t, v, name)
			assert.Contains(t, v.Message, "pre_unit hook escape rewrote the unit beyond its grants, so the unit was not run: it changed environment variable \""+name+"\", which changes how programs are loaded or started", name)
			assert.FileExists(t, filepath.Join(u.WorkingDirectory, "out", "evil.so"), "the plugin wrote its library")
		}
		assert.NoFileExists(t, marker)

		// Variables the manifest does not name stay as they were, in order.
		for _, c := range []struct {
			before, after []string
			want          string
		}{
			{[]string{"A=1"}, []string{"A=1", "OTHER=x"}, `changed environment variable "OTHER", which capabilities.rewrite.environment ["SITE"] does not grant`},
			{[]string{"A=1"}, []string{}, `changed environment variable "A"`},
			{[]string{"A=1"}, []string{"A=2"}, `changed environment variable "A"`},
			{[]string{"A=1", "B=2"}, []string{"B=2", "A=1"}, `reordered environment variables it may not change`},
		} {
			u := escapeUnit(t, map[string]any{"escape_answer": answer(c.after...)})
			u.Environment = c.before
			_, v := hk.Pre(context.Background(), u)
			require.NotNil(t, v, c.after)
			assert.Contains(t, v.Message, c.want)
		}

		// A granted variable is set; what the hook wrote is marked literal.
		u := escapeUnit(t, map[string]any{"escape_answer": answer("A=1", "SITE=$(touch "+marker+")")})
		r, v := hk.Pre(context.Background(), u)
		require.Nil(t, v)
		assert.Equal(t, []string{"A=1", "SITE=$(touch " + marker + ")"}, r.Environment)
		assert.Equal(t, []bool{false, true}, r.LiteralEnv)
	})
}

func TestPathCannotShadowAGrantedCommand(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		marker, _, script := payloads(t)
		shared := t.TempDir() // a directory the plugin may write, early on the site's PATH
		t.Setenv("PATH", shared+":"+os.Getenv("PATH"))
		caps := map[string]any{"commands": []string{"date"}, "write_dirs": []string{shared, "$WORKDIR/out"}}
		hk := escapeHooks(t, h, caps) // date is /usr/bin/date (or /bin/date), resolved now

		// Through the request's environment: PATH is never the plugin's.
		u := escapeUnit(t, map[string]any{"escape_write": "out/date", "escape_hex": hex.EncodeToString([]byte(script)),
			"escape_exec": map[string]any{"argv": []string{"date"}, "env": []string{"PATH=@WD@/out"}}})
		_, v := hk.Pre(context.Background(), u)
		o := refusal(t, v)
		assert.Equal(t, 0, *o.Write)
		assert.Contains(t, o.Exec.Error, `exec env "PATH", which changes how programs are loaded or started`)

		// Through the site's PATH: a date the plugin drops into a directory
		// it may write, even one made executable, is not the date it runs.
		u = escapeUnit(t, map[string]any{"escape_write": filepath.Join(shared, "date"), "escape_hex": hex.EncodeToString([]byte(script)),
			"escape_exec": map[string]any{"argv": []string{"date", "+%Y"}}})
		_, v = hk.Pre(context.Background(), u)
		o = refusal(t, v)
		assert.Equal(t, 0, *o.Write)
		require.NoError(t, os.Chmod(filepath.Join(shared, "date"), 0o755))
		live(t, marker, nil, "sh", "-c", "date")
		_, v = hk.Pre(context.Background(), escapeUnit(t, map[string]any{"escape_exec": map[string]any{"argv": []string{"date", "+%Y"}}}))
		o = refusal(t, v)
		assert.Equal(t, 0, o.Exec.ExitCode, o.Exec.Error)
		assert.Regexp(t, `^\d{4}\n$`, o.Exec.Stdout, "the real date ran")
		assert.NoFileExists(t, marker)

		// Loaded now, date would be the plugin's own file: refused.
		other := plugins.NewHost(plugins.HostOptions{Engine: h.Engine(), CacheDir: "off"})
		defer other.Close(context.Background())
		_, err := other.Load(context.Background(), testenv.PluginGranting(t, hostile(t, "escape"), caps))
		assert.ErrorContains(t, err, `"capabilities.commands" entry "date" is `+filepath.Join(shared, "date")+`, under "capabilities.write_dirs" entry "`+shared+`", where the plugin itself may write`)
	})
}

func TestBashEnvCannotRunCodeInAGrantedScript(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		marker, _, script := payloads(t)
		tool := filepath.Join(t.TempDir(), "tool.sh")
		require.NoError(t, os.WriteFile(tool, []byte("#!/bin/bash\necho tool\n"), 0o755))
		hk := escapeHooks(t, h, map[string]any{"commands": []string{tool}, "write_dirs": []string{"$WORKDIR/out"}})
		for _, name := range []string{"BASH_ENV", "ENV"} {
			u := escapeUnit(t, map[string]any{"escape_write": "out/start.sh", "escape_hex": hex.EncodeToString([]byte(script)),
				"escape_exec": map[string]any{"argv": []string{tool}, "env": []string{name + "=@WD@/out/start.sh"}}})
			_, v := hk.Pre(context.Background(), u)
			o := refusal(t, v)
			assert.Equal(t, 0, *o.Write)
			assert.Contains(t, o.Exec.Error, `exec env "`+name+`", which changes how programs are loaded or started`)
			assert.NoFileExists(t, marker)
			if name == "BASH_ENV" {
				live(t, marker, []string{"BASH_ENV=" + filepath.Join(u.WorkingDirectory, "out", "start.sh")}, tool)
			}
		}
		_, v := hk.Pre(context.Background(), escapeUnit(t, map[string]any{"escape_exec": map[string]any{"argv": []string{tool}}}))
		assert.Equal(t, abi.ExecResult{Stdout: "tool\n"}, *refusal(t, v).Exec, "the granted script itself runs")
	})
}

func TestCommandInsideAWritableDirectoryIsRefused(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		marker, _, script := payloads(t)
		dir := t.TempDir()
		tool := filepath.Join(dir, "tool")
		require.NoError(t, os.WriteFile(tool, []byte(script), 0o755))
		escape := hostile(t, "escape")

		_, err := h.Load(context.Background(), testenv.PluginGranting(t, escape, map[string]any{"commands": []string{tool}, "write_dirs": []string{dir}}))
		assert.ErrorContains(t, err, `"capabilities.commands" entry "`+tool+`" is `+tool+`, under "capabilities.write_dirs" entry "`+dir+`"`)
		t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
		_, err = h.Load(context.Background(), testenv.PluginGranting(t, escape, map[string]any{"commands": []string{"tool"}, "write_dirs": []string{dir + "/"}}))
		assert.ErrorContains(t, err, `"capabilities.commands" entry "tool" is `+tool+`, under`)

		// Under $WORKDIR, known only per call: refused when it is called.
		u := escapeUnit(t, nil)
		inWork := filepath.Join(u.WorkingDirectory, "out", "tool")
		require.NoError(t, os.WriteFile(inWork, []byte(script), 0o755))
		u.Description = map[string]any{"escape_exec": map[string]any{"argv": []string{inWork}}}
		hk := escapeHooks(t, h, map[string]any{"commands": []string{inWork}, "write_dirs": []string{"$WORKDIR/out"}})
		_, v := hk.Pre(context.Background(), u)
		o := refusal(t, v)
		assert.Contains(t, o.Exec.Error, `command "`+inWork+`" is `+inWork+`, under `+filepath.Join(u.WorkingDirectory, "out")+`, where the plugin may write (capabilities.write_dirs), so it was not run`)
		assert.NoFileExists(t, marker)
		live(t, marker, nil, inWork)
	})
}

func TestHookCannotChangeTheExecutableOrUngrantedParts(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		marker, _, _ := payloads(t)
		continueWith := func(u map[string]any) map[string]any {
			return map[string]any{"escape_answer": map[string]any{"action": "continue", "unit": u}}
		}
		evil := []string{"-c", "touch " + marker}
		none := escapeHooks(t, h, map[string]any{})
		all := escapeHooks(t, h, map[string]any{"rewrite": map[string]any{"arguments": true, "working_directory": true, "environment": []string{"SITE"}}})
		for _, c := range []struct {
			hk     *plugins.Hooks
			answer map[string]any
			want   string
		}{
			{all, map[string]any{"executable": "/bin/sh", "arguments": evil}, `it changed the executable from "/bin/true" to "/bin/sh"; no plugin may change what a unit runs`},
			{none, map[string]any{"arguments": evil}, "it changed the arguments, which capabilities.rewrite.arguments does not grant"},
			{none, map[string]any{"working_directory": "/tmp"}, `it moved the working directory to "/tmp", which capabilities.rewrite.working_directory does not grant`},
			{none, map[string]any{"environment": []string{"A=1", "SITE=1"}}, `it changed environment variable "SITE", which capabilities.rewrite.environment [] does not grant`},
		} {
			_, v := c.hk.Pre(context.Background(), escapeUnit(t, continueWith(c.answer)))
			require.NotNil(t, v, c.want)
			assert.Contains(t, v.Message, c.want)
		}
		// Unchanged parts need no grant.
		u := escapeUnit(t, nil)
		u.Description = continueWith(map[string]any{"executable": u.Executable, "arguments": []string{}, "environment": u.Environment,
			"working_directory": u.WorkingDirectory})
		_, v := none.Pre(context.Background(), u)
		assert.Nil(t, v)

		// Granted arguments are the hook's words, each passed literally.
		u = escapeUnit(t, continueWith(map[string]any{"arguments": []string{"keep", "; touch " + marker}}))
		u.Arguments = []string{"keep", "$HOME"}
		r, v := all.Pre(context.Background(), u)
		require.Nil(t, v)
		assert.Equal(t, []string{"keep", "; touch " + marker}, r.Arguments)
		assert.Equal(t, []bool{false, true}, r.LiteralArgs)
		assert.NoFileExists(t, marker)
	})
}

func TestWriteFileCreatesPlainFilesAndKeepsOthersFiles(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		write := func(hk *plugins.Hooks, u abi.Unit, name, data string, again bool) int {
			u.Description = map[string]any{"escape_write": "out/" + name, "escape_hex": hex.EncodeToString([]byte(data))}
			if again {
				u.Description["escape_again"] = true
			}
			_, v := hk.Pre(context.Background(), u)
			return *refusal(t, v).Write
		}
		read := func(u abi.Unit, name string) (string, os.FileMode) {
			path := filepath.Join(u.WorkingDirectory, "out", name)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			st, err := os.Stat(path)
			require.NoError(t, err)
			return string(b), st.Mode().Perm()
		}
		u := escapeUnit(t, nil)
		require.NoError(t, os.WriteFile(filepath.Join(u.WorkingDirectory, "out", "mine.sh"), []byte("mine"), 0o755))
		hk := escapeHooks(t, h, map[string]any{"write_dirs": []string{"$WORKDIR/out"}})

		assert.Equal(t, abi.WriteDenied, write(hk, u, "mine.sh", "theirs", false), "a file the plugin did not write is left alone")
		data, mode := read(u, "mine.sh")
		assert.Equal(t, "mine", data)
		assert.Equal(t, os.FileMode(0o755), mode)

		assert.Equal(t, 0, write(hk, u, "new.txt", "one", false))
		data, mode = read(u, "new.txt")
		assert.Equal(t, "one", data)
		assert.Equal(t, os.FileMode(0o600), mode, "never executable")
		assert.Equal(t, abi.WriteDenied, write(hk, u, "new.txt", "two", false), "not even its own file of an earlier call")
		assert.Equal(t, 0, write(hk, u, "twice.txt", "x", true), "its own file of this call it may write again")

		replacing := escapeHooks(t, h, map[string]any{"write_dirs": []string{"$WORKDIR/out"}, "write_replace": true})
		assert.Equal(t, 0, write(replacing, u, "mine.sh", "theirs", false))
		data, mode = read(u, "mine.sh")
		assert.Equal(t, "theirs", data)
		assert.Equal(t, os.FileMode(0o600), mode, "the replacement is not executable")

		// A link outside write_dirs that leads into them is still outside.
		link := filepath.Join(u.WorkingDirectory, "link")
		require.NoError(t, os.Symlink(filepath.Join(u.WorkingDirectory, "out", "new.txt"), link))
		assert.Equal(t, abi.WriteDenied, write(replacing, u, "../link", "x", false))
		st, err := os.Lstat(link)
		require.NoError(t, err)
		assert.Equal(t, os.ModeSymlink, st.Mode().Type(), "the link is left as it was")
	})
}

func TestGrantsNoPluginMayHaveAreRefusedAtLoad(t *testing.T) {
	sum := `"wasm": "x.wasm", "sha256": "` + strings.Repeat("0", 64) + `"`
	for _, c := range []struct{ caps, want string }{
		{`{"commands": ["date"], "exec_env": ["LD_PRELOAD"]}`, `"capabilities.exec_env" holds "LD_PRELOAD", which changes how programs are loaded or started`},
		{`{"commands": ["date"], "exec_env": ["PATH"]}`, `"capabilities.exec_env" holds "PATH", which changes`},
		{`{"rewrite": {"environment": ["BASH_ENV"]}}`, `"capabilities.rewrite.environment" holds "BASH_ENV", which changes`},
		{`{"rewrite": {"environment": ["PYTHONSTARTUP"]}}`, `"capabilities.rewrite.environment" holds "PYTHONSTARTUP", which changes`},
		{`{"rewrite": {"environment": ["A-B"]}}`, `holds "A-B", which is not a variable name`},
		{`{"exec_env": ["TS_SOCKET"]}`, `"capabilities.exec_env" grants nothing without capabilities.commands`},
		{`{"commands": ["bin/tool"]}`, `"capabilities.commands" holds "bin/tool": give a bare name`},
		{`{"write_replace": true}`, `"capabilities.write_replace" grants nothing without capabilities.write_dirs`},
		{`{"rewrite": {"executable": true}}`, `unknown field "executable"`},
	} {
		_, err := plugins.ParseManifest("m.json", []byte(`{"abi": 1, "name": "x", "version": "1", `+sum+`, "capabilities": `+c.caps+`}`))
		assert.ErrorContains(t, err, c.want, c.caps)
	}
	for _, name := range []string{"LD_PRELOAD", "LD_FOO", "DYLD_INSERT_LIBRARIES", "PATH", "IFS", "ENV", "BASH_ENV", "BASH_FUNC_x", "PYTHONPATH",
		"PYTHONSTARTUP", "PERL5LIB", "PERL5OPT", "RUBYOPT", "NODE_OPTIONS", "GCONV_PATH", "GLIBC_TUNABLES", "HOME", "JAVA_TOOL_OPTIONS"} {
		assert.True(t, plugins.EnvDenied(name), name)
	}
	for _, name := range []string{"TS_SOCKET", "TMPDIR", "OMP_NUM_THREADS", "SITE_POLICY", "TZ"} {
		assert.False(t, plugins.EnvDenied(name), name)
	}

	// A rewrite grant on a plugin that is not a pre_unit hook means nothing.
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	_, err := h.Load(context.Background(), testenv.PluginGranting(t, example(t, "outputs"), map[string]any{"rewrite": map[string]any{"arguments": true}}))
	assert.ErrorContains(t, err, "its manifest grants capabilities.rewrite, but it is a post_unit plugin")
}

// Over an SSH connection (an adaptor's +ssh scheme) the same grants hold:
// the command is resolved on that host, the deny list and write_dirs apply
// there, and write_file leaves existing files alone.
func TestGrantsHoldOverSSH(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ssh := remote.SSH(remote.Target{User: s.User, Host: s.Host, Port: s.Port})
	marker, so, script := payloads(t)
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	u := escapeUnit(t, nil)
	inWork := filepath.Join(u.WorkingDirectory, "out", "tool")
	p := load(t, h, testenv.PluginGranting(t, hostile(t, "escape"), map[string]any{
		"commands": []string{"date", inWork}, "exec_env": []string{"TZ"}, "write_dirs": []string{"$WORKDIR/out"}}))
	call := func(script map[string]any) outcome {
		t.Helper()
		u.Description = script
		var res abi.PreUnitResponse
		require.NoError(t, p.Call(context.Background(), &plugins.Scope{Runner: ssh, WorkDir: u.WorkingDirectory}, abi.ExportPreUnit, abi.PreUnitRequest{Unit: u}, &res))
		return refusal(t, &plugins.Verdict{Message: "refused by pre_unit hook escape: " + res.Message})
	}
	o := call(map[string]any{"escape_write": "out/evil.so", "escape_hex": so,
		"escape_exec": map[string]any{"argv": []string{"date"}, "env": []string{"LD_PRELOAD=@WD@/out/evil.so"}}})
	assert.Equal(t, 0, *o.Write)
	assert.Contains(t, o.Exec.Error, `exec env "LD_PRELOAD", which changes how programs are loaded or started`)
	o = call(map[string]any{"escape_write": "out/evil.so", "escape_hex": so, "escape_exec": map[string]any{"argv": []string{"date", "+%Z"}, "env": []string{"TZ=UTC"}}})
	assert.Equal(t, abi.WriteDenied, *o.Write, "the file exists: it is left alone")
	assert.Equal(t, abi.ExecResult{Stdout: "UTC\n"}, *o.Exec, "date, found on the SSH host's PATH, runs")

	require.NoError(t, os.WriteFile(inWork, []byte(script), 0o755))
	o = call(map[string]any{"escape_exec": map[string]any{"argv": []string{inWork}}})
	assert.Contains(t, o.Exec.Error, "under "+filepath.Join(u.WorkingDirectory, "out")+", where the plugin may write")
	assert.NoFileExists(t, marker)
}
