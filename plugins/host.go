// Package plugins hosts WASM plugins with wazero: third-party resource
// adaptors and unit hooks, sandboxed and loaded at run time. ABI.md is the
// contract between the host and a plugin.
//
// A plugin is a module plus its manifest (Manifest). A Host verifies the
// module against the manifest's sha256, compiles it once (through the
// Host's compilation cache, which the compiler engine keeps on disk, so
// that the next process finds the module compiled), checks its ABI version
// and exports, and runs calls in a bounded
// pool of instances. Each call has the manifest's timeout and each instance
// its memory limit; an instance that traps or times out is closed and never
// used again. A plugin reaches outside its sandbox only through the host
// imports, which allow what the manifest grants and nothing else.
package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Engine selects how modules run.
type Engine int

const (
	// EngineAuto is the compiler where wazero supports it, else the
	// interpreter.
	EngineAuto Engine = iota
	// EngineCompiler compiles to machine code: fastest calls, but it runs
	// guest code on a stack of its own, which needs the alternate signal
	// stack that Go does not set up in c-shared libraries.
	EngineCompiler
	// EngineInterpreter interprets: slower calls, safe in any process,
	// including libpilot.so inside Python.
	EngineInterpreter
)

func (e Engine) String() string {
	return [...]string{"auto", "compiler", "interpreter"}[e]
}

// EnvCacheDir overrides where compiled modules are cached on disk; "off"
// keeps them in memory only.
const EnvCacheDir = "BIGJOB_WASM_CACHE"

// HostOptions configure a Host. The zero value is usable.
type HostOptions struct {
	Engine Engine
	// CacheDir is the on-disk compilation cache (compiler engine only).
	// Default $BIGJOB_WASM_CACHE, else <user cache dir>/bigjob/wasm; "off"
	// for none. A cache that cannot be created is skipped with a warning.
	CacheDir string
	Logger   *slog.Logger // default: discarded
}

// Host compiles and runs plugins. It is safe for concurrent use.
type Host struct {
	engine Engine
	cache  wazero.CompilationCache
	log    *slog.Logger

	mu      sync.Mutex
	plugins map[string]*Plugin // by digest
}

// NewHost makes a Host.
func NewHost(o HostOptions) *Host {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Engine == EngineAuto {
		o.Engine = EngineInterpreter
		if compilerSupported() {
			o.Engine = EngineCompiler
		}
	}
	h := &Host{engine: o.Engine, log: o.Logger, plugins: map[string]*Plugin{}}
	h.cache = wazero.NewCompilationCache()
	if o.Engine == EngineCompiler {
		dir, err := cacheDir(o.CacheDir)
		if err == nil && dir != "" {
			var c wazero.CompilationCache
			if c, err = wazero.NewCompilationCacheWithDir(dir); err == nil {
				h.cache = c
			}
		}
		if err != nil {
			h.log.Warn("plugins: compiled modules are not cached on disk", "dir", dir, "err", err)
		}
	}
	return h
}

// Engine is the engine h runs modules with.
func (h *Host) Engine() Engine { return h.engine }

// compilerSupported follows wazero's own rule for its compiler: amd64 and
// arm64 on the common operating systems.
func compilerSupported() bool {
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "windows":
		return runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"
	}
	return false
}

// cacheDir is the on-disk compilation cache ("" for none), created owner-only:
// wazero trusts what it finds there.
func cacheDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv(EnvCacheDir)
	}
	if dir == "off" {
		return "", nil
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(base, "bigjob", "wasm")
	}
	return dir, os.MkdirAll(dir, 0o700)
}

// Load loads the plugin whose manifest is at path (see LoadBundle).
func (h *Host) Load(ctx context.Context, path string) (*Plugin, error) {
	b, err := ReadBundle(path)
	if err != nil {
		return nil, err
	}
	return h.LoadBundle(ctx, b)
}

// LoadBundle verifies, compiles and checks a plugin, and returns it ready
// for calls. Loading the same bundle again returns the same Plugin. Errors
// name the plugin and the problem: a module that does not match the
// manifest's sha256, a missing or mistyped export, an ABI version other
// than abi.Version, an import the host does not provide, a plugin_info that
// contradicts the manifest.
func (h *Host) LoadBundle(ctx context.Context, b Bundle) (*Plugin, error) {
	m, cmds, err := checkBundle(b)
	if err != nil {
		return nil, err
	}
	digest := b.Digest()
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.plugins[digest]; p != nil {
		return p, nil
	}
	p, err := h.compile(ctx, b, m, cmds)
	if err != nil {
		return nil, fmt.Errorf("load plugin %s (%s): %w", m.Name, b.Origin, err)
	}
	p.digest = digest
	h.plugins[digest] = p
	return p, nil
}

// checkBundle checks what can be checked of a plugin before it is
// compiled: its manifest, its module against the manifest's sha256 (the
// digest pins the manifest, and only this check pins the module), and the
// commands it may run, which it resolves.
func checkBundle(b Bundle) (Manifest, *commands, error) {
	m, err := b.verify()
	if err != nil {
		return m, nil, err
	}
	cmds, err := resolveCommands(m)
	if err != nil {
		return m, nil, fmt.Errorf("load plugin %s (%s): %w", m.Name, b.Origin, err)
	}
	return m, cmds, nil
}

// unload closes p and forgets it, for a plugin loaded but then not used.
func (h *Host) unload(ctx context.Context, p *Plugin) {
	h.mu.Lock()
	delete(h.plugins, p.digest)
	h.mu.Unlock()
	p.close(ctx)
}

// Close closes every plugin h loaded.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for d, p := range h.plugins {
		errs = append(errs, p.close(ctx))
		delete(h.plugins, d)
	}
	errs = append(errs, h.cache.Close(ctx))
	return errors.Join(errs...)
}

func (h *Host) compile(ctx context.Context, b Bundle, m Manifest, cmds *commands) (*Plugin, error) {
	cfg := wazero.NewRuntimeConfigCompiler()
	if h.engine == EngineInterpreter {
		cfg = wazero.NewRuntimeConfigInterpreter()
	}
	cfg = cfg.WithCompilationCache(h.cache).
		WithMemoryLimitPages(m.Limits.MemoryPages).
		WithCloseOnContextDone(true)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	p := &Plugin{m: m, origin: b.Origin, bundle: b, rt: rt, host: h, cmds: cmds,
		log: h.log.With("plugin", m.Name)}
	ok := false
	defer func() {
		if !ok {
			rt.Close(context.WithoutCancel(ctx))
		}
	}()
	cm, err := rt.CompileModule(ctx, b.Module)
	if err != nil {
		return nil, fmt.Errorf("the module does not compile: %w", err)
	}
	if err := checkModule(cm); err != nil {
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := p.instantiateHostModule(ctx, rt); err != nil {
		return nil, err
	}
	p.cm = cm
	if p.roots, err = openRoots(m.Capabilities.DataDirs); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			closeRoots(p.roots)
		}
	}()
	p.pool = newPool(m.Limits.Instances, p.instantiate)
	if err := p.handshake(ctx); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// signature is a function's parameter and result types.
type signature struct{ params, results []api.ValueType }

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64

	baseExports = map[string]signature{
		abi.ExportVersion: {nil, []api.ValueType{i32}},
		abi.ExportAlloc:   {[]api.ValueType{i32}, []api.ValueType{i32}},
		abi.ExportFree:    {[]api.ValueType{i32}, nil},
		abi.ExportInfo:    {nil, []api.ValueType{i64}},
	}
	callSignature = signature{[]api.ValueType{i32, i32}, []api.ValueType{i64}}
)

func (s signature) String() string {
	str := func(ts []api.ValueType) string {
		out := "("
		for i, t := range ts {
			if i > 0 {
				out += ", "
			}
			out += api.ValueTypeName(t)
		}
		return out + ")"
	}
	return str(s.params) + " -> " + str(s.results)
}

func (s signature) matches(d api.FunctionDefinition) bool {
	return sameTypes(d.ParamTypes(), s.params) && sameTypes(d.ResultTypes(), s.results)
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkModule checks what a compiled module exports and imports before
// anything of it runs.
func checkModule(cm wazero.CompiledModule) error {
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("the module exports no memory named %q (ABI.md, Exports)", abi.ExportMemory)
	}
	if err := checkExports(cm, baseExports); err != nil {
		return err
	}
	if d, ok := cm.ExportedFunctions()[abi.ExportInitialize]; ok && (len(d.ParamTypes()) > 0 || len(d.ResultTypes()) > 0) {
		return fmt.Errorf("export %s must take and return nothing", abi.ExportInitialize)
	}
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		switch mod {
		case abi.WASIModule:
			continue
		case abi.HostModule:
			want, ok := hostFunctions[name]
			if !ok {
				return fmt.Errorf("the module imports %s.%s, which this host does not provide (ABI.md, Imports)", mod, name)
			}
			if !want.matches(d) {
				return fmt.Errorf("the module imports %s.%s with signature %s; the host's is %s", mod, name,
					signature{d.ParamTypes(), d.ResultTypes()}, want)
			}
		default:
			return fmt.Errorf("the module imports %s.%s; plugins may import only module %q and WASI preview 1", mod, name, abi.HostModule)
		}
	}
	return nil
}

func checkExports(cm wazero.CompiledModule, want map[string]signature) error {
	have := cm.ExportedFunctions()
	for _, name := range sortedKeys(want) {
		sig := want[name]
		d, ok := have[name]
		if !ok {
			return fmt.Errorf("the module lacks export %s %s (ABI.md, Exports)", name, sig)
		}
		if !sig.matches(d) {
			return fmt.Errorf("export %s has signature %s; ABI %d needs %s", name,
				signature{d.ParamTypes(), d.ResultTypes()}, abi.Version, sig)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
