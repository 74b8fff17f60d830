package plugins

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Plugin is a loaded plugin. Its methods are safe for concurrent use; each
// call runs on an instance of its own.
type Plugin struct {
	m      Manifest
	digest string
	origin string
	bundle Bundle
	info   abi.Info
	host   *Host
	rt     wazero.Runtime
	cm     wazero.CompiledModule
	pool   *pool
	cmds   *commands  // the commands exec may run, resolved
	roots  []*os.Root // the data_dirs, opened at load, in their order
	log    *slog.Logger

	closeOnce sync.Once
}

// Name is the plugin's name (manifest and plugin_info agree on it).
func (p *Plugin) Name() string { return p.m.Name }

// Info is what the plugin's plugin_info said.
func (p *Plugin) Info() abi.Info { return p.info }

// Manifest is the plugin's manifest, with defaults applied.
func (p *Plugin) Manifest() Manifest { return p.m }

// Digest is the sha256 of the plugin's manifest (Bundle.Digest).
func (p *Plugin) Digest() string { return p.digest }

// Bundle is the plugin's manifest and module as loaded.
func (p *Plugin) Bundle() Bundle { return p.bundle }

// Engine is the engine the plugin runs on (its host's).
func (p *Plugin) Engine() Engine { return p.host.engine }

// Is reports whether the plugin is of kind (abi.KindAdaptor, ...).
func (p *Plugin) Is(kind string) bool { return slices.Contains(p.info.Kinds, kind) }

func (p *Plugin) close(ctx context.Context) error {
	var err error
	p.closeOnce.Do(func() {
		if p.pool != nil {
			p.pool.drain()
		}
		err = p.rt.Close(ctx)
		closeRoots(p.roots)
	})
	return err
}

// Error is a failed plugin call. Trapped is set when the instance failed
// (a trap, a timeout, memory exhausted, an answer outside its memory or
// over its size limit) rather than the plugin answering with an error or
// with JSON that does not fit the ABI; that instance has been discarded.
type Error struct {
	Plugin, Export string
	Message        string
	Trapped        bool
	Err            error // the cause of a trap, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("plugin %s: %s: %s", e.Plugin, e.Export, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Call calls export with in, marshalled to JSON, and unmarshals the answer
// into out. sc grants the call its capabilities (nil: none). An answer
// whose "error" is set gives an *Error with that message.
func (p *Plugin) Call(ctx context.Context, sc *Scope, export string, in, out any) error {
	return p.call(ctx, &callState{p: p, scope: sc}, export, in, out)
}

// CallBytes is Call with bytes beside the request (the data exports,
// ABI.md §13): the guest reads data with the data_in import, and what it
// hands over with data_out, at most max bytes, is returned.
func (p *Plugin) CallBytes(ctx context.Context, sc *Scope, export string, in any, data []byte, max int) ([]byte, error) {
	cs := &callState{p: p, scope: sc, dataIn: data, dataMax: max}
	if err := p.call(ctx, cs, export, in, nil); err != nil {
		return nil, err
	}
	return cs.dataOut, nil
}

func (p *Plugin) call(ctx context.Context, cs *callState, export string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("plugin %s: %s: encode the request: %w", p.m.Name, export, err)
	}
	answer, err := p.callJSON(ctx, cs, export, data)
	if err != nil {
		return err
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(answer, &e); err != nil {
		return &Error{Plugin: p.m.Name, Export: export, Message: "its answer is not a JSON object: " + quoteSnippet(answer)}
	}
	if e.Error != "" {
		return &Error{Plugin: p.m.Name, Export: export, Message: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return &Error{Plugin: p.m.Name, Export: export, Message: fmt.Sprintf("its answer does not fit ABI %d: %v", abi.Version, err)}
		}
	}
	return nil
}

// CallJSON calls export with the JSON request in and returns the plugin's
// JSON answer as it is. The call runs under the manifest's timeout on an
// instance from the pool; an instance that fails is discarded, so the
// next call gets a fresh one.
func (p *Plugin) CallJSON(ctx context.Context, sc *Scope, export string, in []byte) ([]byte, error) {
	return p.callJSON(ctx, &callState{p: p, scope: sc}, export, in)
}

func (p *Plugin) callJSON(ctx context.Context, cs *callState, export string, in []byte) ([]byte, error) {
	if !p.Exports(export) {
		return nil, &Error{Plugin: p.m.Name, Export: export, Message: fmt.Sprintf("not an export of a %s plugin", strings.Join(p.info.Kinds, "/"))}
	}
	ctx, cancel := p.withTimeout(ctx)
	defer cancel()
	inst, err := p.pool.get(ctx)
	if err != nil {
		return nil, p.busy(ctx, export, err)
	}
	out, err := inst.invoke(withCall(ctx, cs), export, in, p.m.Limits.OutputBytes)
	if err != nil {
		full := inst.nearMemoryLimit(p.m.Limits.MemoryPages)
		p.pool.discard(inst)
		if full {
			err = &memoryError{err}
		}
		return nil, p.failure(ctx, export, err, cs.denied)
	}
	p.pool.put(inst)
	return out, nil
}

// Exports reports whether export is an entry point of one of the plugin's kinds.
func (p *Plugin) Exports(export string) bool {
	for _, k := range p.info.Kinds {
		if slices.Contains(abi.KindExports[k], export) {
			return true
		}
	}
	return false
}

// failure turns what went wrong in a call into an *Error that says why in
// terms of the manifest.
func (p *Plugin) failure(ctx context.Context, export string, err error, denied []string) error {
	e := &Error{Plugin: p.m.Name, Export: export, Trapped: true, Err: err}
	var exit *sys.ExitError
	switch {
	case context.Cause(ctx) == errTimeout:
		e.Message = fmt.Sprintf("did not return within its timeout of %s (limits.timeout_ms in %s); the instance was stopped and discarded", p.m.Limits.Timeout(), p.origin)
	case ctx.Err() != nil:
		e.Message = "canceled: " + ctx.Err().Error()
	case errors.As(err, &exit):
		e.Message = fmt.Sprintf("the instance exited with status %d", exit.ExitCode())
	default:
		msg, _, _ := strings.Cut(err.Error(), "\n") // not wazero's wasm stack trace
		e.Message = "the instance failed: " + msg
	}
	var ge *guestError
	if errors.As(err, &ge) && ge.output != "" {
		e.Message += "; it wrote: " + ge.output
	}
	var me *memoryError
	if errors.As(err, &me) || strings.Contains(e.Message, "out of memory") {
		e.Message += fmt.Sprintf(" (its memory is limited to %d pages of 64 KiB, limits.memory_pages)", p.m.Limits.MemoryPages)
	}
	if len(denied) > 0 {
		e.Message += "; the host denied: " + strings.Join(denied, "; ")
	}
	return e
}

// busy is the error of a call that found no free instance in time: every
// one of the plugin's instances was in use until the call's timeout.
func (p *Plugin) busy(ctx context.Context, export string, err error) error {
	if context.Cause(ctx) != errTimeout {
		return p.failure(ctx, export, err, nil)
	}
	return &Error{Plugin: p.m.Name, Export: export, Err: err, Message: fmt.Sprintf(
		"no instance became free within its timeout of %s: all %d (limits.instances) were busy", p.m.Limits.Timeout(), p.m.Limits.Instances)}
}

// errTimeout is the cause of a call's context that reached the plugin's
// timeout (rather than the caller's deadline).
var errTimeout = errors.New("plugin call timed out")

// withTimeout bounds a call by the plugin's timeout.
func (p *Plugin) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, p.m.Limits.Timeout(), errTimeout)
}

// memoryError marks a failure of an instance whose memory had grown to
// its limit: the likely cause.
type memoryError struct{ error }

func (e *memoryError) Unwrap() error { return e.error }

// handshake checks what only a running instance can tell: the ABI
// version it speaks and its plugin_info.
func (p *Plugin) handshake(ctx context.Context) error {
	ctx, cancel := p.withTimeout(ctx)
	defer cancel()
	inst, err := p.pool.get(ctx)
	if err != nil {
		return p.failure(ctx, "instantiate", err, nil)
	}
	defer func() {
		if inst != nil {
			p.pool.put(inst)
		}
	}()
	fail := func(export string, err error) error {
		p.pool.discard(inst)
		inst = nil
		return p.failure(ctx, export, err, nil)
	}
	v, err := inst.mod.ExportedFunction(abi.ExportVersion).Call(ctx)
	if err != nil {
		return fail(abi.ExportVersion, err)
	}
	if got := int32(v[0]); got != abi.Version {
		return fmt.Errorf("the module speaks plugin ABI version %d (its %s), but this host speaks version %d; rebuild it with a plugin kit for ABI %d",
			got, abi.ExportVersion, abi.Version, abi.Version)
	}
	raw, err := inst.invoke(ctx, abi.ExportInfo, nil, p.m.Limits.OutputBytes)
	if err != nil {
		return fail(abi.ExportInfo, err)
	}
	if err := json.Unmarshal(raw, &p.info); err != nil {
		return fmt.Errorf("%s answered %s, which is not an info object: %v", abi.ExportInfo, quoteSnippet(raw), err)
	}
	return p.checkInfo()
}

var kindList = strings.Join([]string{abi.KindAdaptor, abi.KindPreUnit, abi.KindPostUnit, abi.KindData}, ", ")

func (p *Plugin) checkInfo() error {
	i := p.info
	switch {
	case i.Name != p.m.Name:
		return fmt.Errorf("the module calls itself %q but its manifest says %q; the manifest belongs to another plugin", i.Name, p.m.Name)
	case i.Version != p.m.Version:
		return fmt.Errorf("the module is version %q but its manifest says %q; update the manifest (make plugins does)", i.Version, p.m.Version)
	case len(i.Kinds) == 0:
		return fmt.Errorf("%s lists no kinds; give one or more of %s", abi.ExportInfo, kindList)
	}
	exports := map[string]signature{}
	for _, k := range i.Kinds {
		names, ok := abi.KindExports[k]
		if !ok {
			return fmt.Errorf("%s lists kind %q; known kinds: %s", abi.ExportInfo, k, kindList)
		}
		for _, n := range names {
			exports[n] = callSignature
		}
	}
	if err := checkExports(p.cm, exports); err != nil {
		return fmt.Errorf("%w, which kind %s needs", err, strings.Join(i.Kinds, "/"))
	}
	if p.m.Capabilities.Rewrite.any() && !p.Is(abi.KindPreUnit) {
		return fmt.Errorf("its manifest grants capabilities.rewrite, but it is a %s plugin: only pre_unit hooks rewrite units; remove the grant", strings.Join(i.Kinds, "/"))
	}
	if len(p.m.Capabilities.DataDirs) > 0 && !p.Is(abi.KindData) {
		return fmt.Errorf("its manifest grants capabilities.data_dirs, but it is a %s plugin: only data plugins get a file system; remove the grant", strings.Join(i.Kinds, "/"))
	}
	if p.Is(abi.KindData) {
		if p.Is(abi.KindAdaptor) {
			return fmt.Errorf("%s lists kinds adaptor and data: make them two plugins", abi.ExportInfo)
		}
		if len(i.DataSchemes) == 0 {
			return fmt.Errorf("a data plugin must list the Pilot-Data URL schemes it serves in %s (data_schemes)", abi.ExportInfo)
		}
		for _, s := range i.DataSchemes {
			if !schemeRE.MatchString(s) || builtinData[s] {
				return fmt.Errorf("%s lists data scheme %q: give lower-case URL schemes of a-z 0-9 . - other than file, ssh and sftp, which the host serves itself", abi.ExportInfo, s)
			}
		}
	}
	if p.Is(abi.KindAdaptor) {
		if len(i.Schemes) == 0 {
			return fmt.Errorf("an adaptor plugin must list the URL schemes it serves in %s", abi.ExportInfo)
		}
		for _, s := range i.Schemes {
			if !schemeRE.MatchString(s) {
				return fmt.Errorf("%s lists scheme %q: give lower-case URL schemes of a-z 0-9 . - without +ssh (the host adds scheme+ssh itself)", abi.ExportInfo, s)
			}
		}
	}
	return nil
}

var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)

// builtinData are the Pilot-Data schemes the host serves itself.
var builtinData = map[string]bool{"file": true, "ssh": true, "sftp": true}

// instance is one instantiation of a plugin's module, used by one call at
// a time.
type instance struct {
	mod         api.Module
	alloc, free api.Function
	out         *guestOutput
}

func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	out := newGuestOutput(p.log)
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStdout(out).WithStderr(out).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	if len(p.roots) > 0 {
		cfg = cfg.WithFSConfig(fsConfig(p.m.Capabilities.DataDirs, p.roots))
	}
	mod, err := p.rt.InstantiateModule(ctx, p.cm, cfg)
	if err != nil {
		return nil, err
	}
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := init.Call(ctx); err != nil {
			mod.Close(context.WithoutCancel(ctx))
			return nil, out.wrap(fmt.Errorf("%s: %w", abi.ExportInitialize, err))
		}
	}
	return &instance{mod: mod, out: out,
		alloc: mod.ExportedFunction(abi.ExportAlloc), free: mod.ExportedFunction(abi.ExportFree)}, nil
}

func (in *instance) close() { in.mod.Close(context.Background()) }

// nearMemoryLimit reports whether the instance's memory is within an
// eighth of limit pages (a failed grow leaves it a little short).
func (in *instance) nearMemoryLimit(limit uint32) bool {
	m := in.mod.Memory()
	if m == nil {
		return false
	}
	pages := m.Size() / 65536
	return pages+max(limit/8, 1) >= limit
}

// invoke passes input to export and returns a copy of its answer. The
// host frees both buffers afterwards (ABI.md, Passing data).
func (in *instance) invoke(ctx context.Context, export string, input []byte, limit int) ([]byte, error) {
	fn := in.mod.ExportedFunction(export)
	mem := in.mod.Memory()
	in.out.reset()
	var ptr uint64
	if len(input) > 0 {
		r, err := in.alloc.Call(ctx, uint64(len(input)))
		if err != nil {
			return nil, in.out.wrap(fmt.Errorf("%s(%d): %w", abi.ExportAlloc, len(input), err))
		}
		ptr = r[0]
		if uint32(ptr) == 0 || !mem.Write(uint32(ptr), input) {
			return nil, fmt.Errorf("%s(%d) returned %d, which is not a buffer of that size in its memory", abi.ExportAlloc, len(input), uint32(ptr))
		}
	}
	args := []uint64{ptr, uint64(len(input))}
	if len(fn.Definition().ParamTypes()) == 0 { // plugin_info
		args = nil
	}
	r, err := fn.Call(ctx, args...)
	if err != nil {
		return nil, in.out.wrap(err)
	}
	outPtr, outLen := uint32(r[0]>>32), uint32(r[0])
	if int64(outLen) > int64(limit) {
		return nil, fmt.Errorf("its answer is %d bytes, more than its limit of %d (limits.output_bytes)", outLen, limit)
	}
	view, ok := mem.Read(outPtr, outLen)
	if !ok {
		return nil, fmt.Errorf("its answer (%d bytes at %d) lies outside its memory", outLen, outPtr)
	}
	answer := bytes.Clone(view)
	for _, b := range []uint64{uint64(outPtr), ptr} {
		if uint32(b) == 0 || (b == ptr && uint32(ptr) == outPtr) {
			continue
		}
		if _, err := in.free.Call(ctx, b); err != nil {
			return nil, in.out.wrap(fmt.Errorf("%s: %w", abi.ExportFree, err))
		}
	}
	return answer, nil
}

// quoteSnippet quotes the start of b for messages.
func quoteSnippet(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q...", b[:200])
	}
	return fmt.Sprintf("%q", b)
}
