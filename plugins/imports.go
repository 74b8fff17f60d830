package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
)

// Scope is what one call may reach besides its own sandbox, within what the
// manifest grants.
type Scope struct {
	// Runner runs the commands exec asks for and writes the files
	// write_file asks for: this machine, or the pilot's SSH connection. Nil:
	// exec and write_file are unavailable.
	Runner runner.Runner
	// WorkDir is $WORKDIR: the pilot's working directory (adaptor calls) or
	// the unit's (hook calls), on the Runner's host. stat answers only for
	// paths under it, and only when the Runner is this machine.
	WorkDir string
}

// callState is one call's scope and what its host functions left behind.
type callState struct {
	p       *Plugin
	scope   *Scope
	result  []byte          // the last exec result, for result
	denied  []string        // what the host refused, for the error message
	written map[string]bool // the files write_file wrote in this call
	dataIn  []byte          // what data_in gives (data_write)
	dataOut []byte          // what data_out was given (data_read)
	dataMax int             // the most data_out may be given
}

type callKey struct{}

func withCall(ctx context.Context, cs *callState) context.Context {
	return context.WithValue(ctx, callKey{}, cs)
}

func callOf(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

func (cs *callState) deny(msg string) {
	cs.denied = append(cs.denied, msg)
	cs.p.log.Warn("plugin denied", "what", msg)
}

// hostFunctions are the imports of module "pilot" and their signatures.
var hostFunctions = map[string]signature{
	abi.ImportLog:     {[]api.ValueType{i32, i32, i32}, nil},
	abi.ImportConfig:  {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	abi.ImportExec:    {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	abi.ImportResult:  {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	abi.ImportStat:    {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
	abi.ImportWrite:   {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportDataIn:  {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	abi.ImportDataOut: {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
}

// maxLogMessage bounds one log message of a plugin.
const maxLogMessage = 4096

// instantiateHostModule provides module "pilot" to p's runtime.
func (p *Plugin) instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.HostModule)
	fns := map[string]api.GoModuleFunc{
		abi.ImportLog:     p.hostLog,
		abi.ImportConfig:  p.hostConfig,
		abi.ImportExec:    p.hostExec,
		abi.ImportResult:  hostResult,
		abi.ImportStat:    hostStat,
		abi.ImportWrite:   p.hostWrite,
		abi.ImportDataIn:  hostDataIn,
		abi.ImportDataOut: hostDataOut,
	}
	for _, name := range sortedKeys(fns) {
		sig := hostFunctions[name]
		b.NewFunctionBuilder().WithGoModuleFunction(fns[name], sig.params, sig.results).Export(name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("provide module %q: %w", abi.HostModule, err)
	}
	return nil
}

// readGuest reads a guest buffer; ok is false when it lies outside memory
// or exceeds limit.
func readGuest(m api.Module, ptr, n uint32, limit int) ([]byte, bool) {
	if int64(n) > int64(limit) {
		return nil, false
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// writeGuest writes v into the guest's buffer if it fits and returns v's
// length either way (ABI.md: buf/limit).
func writeGuest(m api.Module, buf, limit uint32, v []byte) uint64 {
	if uint32(len(v)) <= limit && len(v) > 0 {
		m.Memory().Write(buf, v)
	}
	return uint64(uint32(len(v)))
}

func (p *Plugin) hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	msg, ok := readGuest(m, ptr, min(n, maxLogMessage), maxLogMessage)
	if !ok {
		return
	}
	p.log.Log(ctx, slog.Level(4*level), string(msg))
}

func (p *Plugin) hostConfig(ctx context.Context, m api.Module, stack []uint64) {
	cfg := []byte(p.m.Config)
	if len(cfg) == 0 {
		cfg = []byte("{}")
	}
	stack[0] = writeGuest(m, uint32(stack[0]), uint32(stack[1]), cfg)
}

func hostResult(ctx context.Context, m api.Module, stack []uint64) {
	var res []byte
	if cs := callOf(ctx); cs != nil {
		res = cs.result
	}
	stack[0] = writeGuest(m, uint32(stack[0]), uint32(stack[1]), res)
}

// hostDataIn gives the bytes of a data_write call (buf/limit).
func hostDataIn(ctx context.Context, m api.Module, stack []uint64) {
	var data []byte
	if cs := callOf(ctx); cs != nil {
		data = cs.dataIn
	}
	stack[0] = writeGuest(m, uint32(stack[0]), uint32(stack[1]), data)
}

// hostDataOut takes bytes of a data_read call, up to the read's size.
func hostDataOut(ctx context.Context, m api.Module, stack []uint64) {
	cs := callOf(ctx)
	n := uint32(stack[1])
	if cs == nil || int64(len(cs.dataOut))+int64(n) > int64(cs.dataMax) {
		stack[0] = api.EncodeI32(abi.DataOutDenied)
		return
	}
	b, ok := m.Memory().Read(uint32(stack[0]), n)
	if !ok {
		stack[0] = api.EncodeI32(abi.DataOutDenied)
		return
	}
	cs.dataOut = append(cs.dataOut, b...)
	stack[0] = 0
}

func (p *Plugin) hostExec(ctx context.Context, m api.Module, stack []uint64) {
	req, ok := readGuest(m, uint32(stack[0]), uint32(stack[1]), p.m.Limits.OutputBytes)
	if !ok {
		stack[0] = api.EncodeI32(abi.ExecBadMemory)
		return
	}
	cs := callOf(ctx)
	var res abi.ExecResult
	if cs == nil {
		res = abi.ExecResult{ExitCode: -1, Error: "exec is not available outside a call"}
	} else {
		res = cs.exec(ctx, req)
	}
	out, _ := json.Marshal(res)
	if cs != nil {
		cs.result = out
	}
	stack[0] = uint64(uint32(len(out)))
}

// exec runs what a plugin asked for, if its manifest grants the command
// and every variable it sets: the program the command was resolved to,
// with the plugin's variables added to the host's environment, directly on
// this machine, through the shell of the SSH connection elsewhere.
func (cs *callState) exec(ctx context.Context, raw []byte) abi.ExecResult {
	fail := func(msg string) abi.ExecResult { return abi.ExecResult{ExitCode: -1, Error: msg} }
	deny := func(msg string) abi.ExecResult {
		cs.deny(msg)
		return fail(msg)
	}
	var req abi.ExecRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return fail("the exec request is not valid JSON: " + err.Error())
	}
	if len(req.Argv) == 0 {
		return fail("the exec request has an empty argv")
	}
	grant := cs.p.m.Capabilities
	if !slices.Contains(grant.Commands, req.Argv[0]) {
		return deny(fmt.Sprintf("command %q is not in the manifest's capabilities.commands %q, so it was not run", req.Argv[0], grant.Commands))
	}
	if cs.scope == nil || cs.scope.Runner == nil {
		return fail("exec is not available in this call")
	}
	for _, kv := range req.Env {
		k, _, ok := shell.Assignment(kv)
		switch {
		case !ok:
			return fail(fmt.Sprintf("env entry %q is not NAME=value", kv))
		case EnvDenied(k):
			return deny("exec env " + deniedWhy(k) + "; the command was not run")
		case !slices.Contains(grant.ExecEnv, k):
			return deny(fmt.Sprintf("exec env %q is not in the manifest's capabilities.exec_env %q, so the command was not run", k, grant.ExecEnv))
		}
	}
	path, err := cs.p.cmds.path(ctx, cs.scope, req.Argv[0])
	if err != nil {
		return fail(err.Error())
	}
	if d := programIn(path, cs.scope.writeDirs(grant.writable()), cs.scope.Runner.Local()); d != "" {
		return deny(fmt.Sprintf("command %q is %s, under %s, where the plugin may write (%s), so it was not run", req.Argv[0], path, d, grantOf(grant, d)))
	}
	if req.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeMS(req.TimeoutMS))
		defer cancel()
	}
	var out []byte
	if cs.scope.Runner.Local() {
		out, err = runner.RunProgram(ctx, path, req.Argv, append(os.Environ(), req.Env...))
	} else {
		var line strings.Builder
		for _, kv := range req.Env {
			k, v, _ := strings.Cut(kv, "=")
			line.WriteString(k + "=" + runner.Quote(v) + " ")
		}
		line.WriteString(runner.Join(append([]string{path}, req.Argv[1:]...)...))
		out, err = cs.scope.Runner.Run(ctx, line.String(), nil)
	}
	limit := cs.p.m.Limits.OutputBytes
	var ce *runner.CommandError
	switch {
	case err == nil:
		return abi.ExecResult{Stdout: clip(string(out), limit)}
	case errors.As(err, &ce):
		stdout := ce.Stdout
		if out != nil {
			stdout = string(out)
		}
		return abi.ExecResult{ExitCode: ce.ExitCode, Stdout: clip(stdout, limit), Stderr: clip(ce.Stderr, limit)}
	default:
		return fail(err.Error())
	}
}

func clip(s string, limit int) string {
	if len(s) > limit {
		return s[:limit]
	}
	return s
}

// within reports whether path lies in dir (both clean and absolute).
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// resolve makes p absolute against the call's working directory.
func (sc *Scope) resolve(p string) string {
	if !filepath.IsAbs(p) && sc.WorkDir != "" {
		p = filepath.Join(sc.WorkDir, p)
	}
	return filepath.Clean(p)
}

func hostStat(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = api.EncodeI64(statAnswer(ctx, m, uint32(stack[0]), uint32(stack[1])))
}

func statAnswer(ctx context.Context, m api.Module, ptr, n uint32) int64 {
	cs := callOf(ctx)
	raw, ok := readGuest(m, ptr, n, 4096)
	if !ok || cs == nil || cs.scope == nil || cs.scope.WorkDir == "" || cs.scope.Runner == nil || !cs.scope.Runner.Local() {
		return abi.StatDenied
	}
	path := cs.scope.resolve(string(raw))
	dir := filepath.Clean(cs.scope.WorkDir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	} else if !filepath.IsAbs(path) {
		return abi.StatDenied
	}
	if !within(path, dir) && !within(path, filepath.Clean(cs.scope.WorkDir)) {
		cs.deny(fmt.Sprintf("stat of %q, outside the call's working directory %s", raw, cs.scope.WorkDir))
		return abi.StatDenied
	}
	st, err := os.Stat(path)
	if err != nil {
		return abi.StatMissing
	}
	return st.Size()
}

func (p *Plugin) hostWrite(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = api.EncodeI32(p.writeAnswer(ctx, m, stack))
}

func (p *Plugin) writeAnswer(ctx context.Context, m api.Module, stack []uint64) int32 {
	cs := callOf(ctx)
	rawPath, ok := readGuest(m, uint32(stack[0]), uint32(stack[1]), 4096)
	if !ok || cs == nil || cs.scope == nil || cs.scope.Runner == nil {
		return abi.WriteDenied
	}
	data, ok := readGuest(m, uint32(stack[2]), uint32(stack[3]), p.m.Limits.OutputBytes)
	if !ok {
		cs.deny(fmt.Sprintf("write_file of %d bytes, more than limits.output_bytes (%d)", stack[3], p.m.Limits.OutputBytes))
		return abi.WriteDenied
	}
	grant := p.m.Capabilities
	path := cs.scope.resolve(string(rawPath))
	if cs.scope.Runner.Local() {
		// A link in a granted directory must not lead the write out of it.
		if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
			path = filepath.Join(dir, filepath.Base(path))
		}
	}
	if d := dirOf(path, cs.scope.writeDirs(grant.WriteDirs)); d == "" || d == path {
		cs.deny(fmt.Sprintf("write_file of %q, which is not under the manifest's capabilities.write_dirs %q", path, grant.WriteDirs))
		return abi.WriteDenied
	}
	// Files are never executable, and replace only what this call wrote
	// unless the manifest grants more.
	var err error
	if grant.WriteReplace || cs.written[path] {
		err = runner.WriteFile(ctx, cs.scope.Runner, path, data, 0o600)
	} else {
		err = runner.CreateFile(ctx, cs.scope.Runner, path, data, 0o600)
	}
	if errors.Is(err, runner.ErrExist) {
		cs.deny(fmt.Sprintf("write_file of %q, which exists and was not written by the plugin in this call (capabilities.write_replace is not granted)", path))
		return abi.WriteDenied
	}
	if err != nil {
		p.log.Warn("write_file failed", "path", path, "err", err)
		return abi.WriteFailed
	}
	if cs.written == nil {
		cs.written = map[string]bool{}
	}
	cs.written[path] = true
	return 0
}

// guestOutput receives an instance's stdout and stderr: each line goes to
// the log, and the first bytes written since the call began are kept for
// error messages (a Go guest that runs out of memory says so on stderr
// before it exits).
type guestOutput struct {
	log  *slog.Logger
	mu   sync.Mutex
	line []byte
	head []byte
}

const guestHead = 512

func newGuestOutput(log *slog.Logger) *guestOutput { return &guestOutput{log: log} }

func (g *guestOutput) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := min(len(b), guestHead-len(g.head)); n > 0 {
		g.head = append(g.head, b[:n]...)
	}
	for _, c := range b {
		if c == '\n' || len(g.line) >= maxLogMessage {
			g.log.Info("plugin output", "line", string(g.line))
			g.line = g.line[:0]
			if c == '\n' {
				continue
			}
		}
		g.line = append(g.line, c)
	}
	return len(b), nil
}

// reset forgets what was written before a call.
func (g *guestOutput) reset() {
	g.mu.Lock()
	g.head = g.head[:0]
	g.mu.Unlock()
}

// guestError is a failure together with what the guest wrote first.
type guestError struct {
	err    error
	output string
}

func (e *guestError) Error() string { return e.err.Error() }
func (e *guestError) Unwrap() error { return e.err }

// wrap adds the first lines the guest wrote in this call to err.
func (g *guestOutput) wrap(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(g.head), "\n") {
		if l = strings.TrimSpace(l); l != "" && len(lines) < 2 {
			lines = append(lines, l)
		}
	}
	return &guestError{err: err, output: strings.Join(lines, " | ")}
}

func timeMS(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
