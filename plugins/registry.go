package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// The process's plugins: one Host, and the plugins loaded into it by name.
// Adaptor plugins loaded here serve their URL schemes to every Service of
// the process, data plugins their Pilot-Data schemes.
var process = struct {
	sync.Mutex
	engine Engine
	logger *slog.Logger
	host   *Host
	byName map[string]*Plugin
	serve  map[string]func(*Plugin) error // by kind: serves its schemes; see ServeAdaptors, ServeData
}{byName: map[string]*Plugin{}, serve: map[string]func(*Plugin) error{}}

// ServeAdaptors makes serve the way adaptor plugins loaded into the process
// have their URL schemes served. Package adaptors/pluginadaptor registers it
// when a program imports it; without it, loading an adaptor plugin is an
// error that says so.
func ServeAdaptors(serve func(*Plugin) error) { serveKind(abi.KindAdaptor, serve) }

// ServeData makes serve the way data plugins loaded into the process have
// their Pilot-Data schemes served. Package storage/pluginstore registers it
// when a program imports it; without it, loading a data plugin is an
// error that says so.
func ServeData(serve func(*Plugin) error) { serveKind(abi.KindData, serve) }

func serveKind(kind string, serve func(*Plugin) error) {
	process.Lock()
	defer process.Unlock()
	process.serve[kind] = serve
}

// SetEngine sets the engine of the process's host; it has effect only
// before the first plugin is loaded. libpilot.so sets EngineInterpreter:
// inside a c-shared library the compiler's code would run without the
// alternate signal stack it needs.
func SetEngine(e Engine) {
	process.Lock()
	defer process.Unlock()
	process.engine = e
}

// SetLogger sets the logger of the process's host (before the first load).
func SetLogger(l *slog.Logger) {
	process.Lock()
	defer process.Unlock()
	process.logger = l
}

func processHost() *Host {
	if process.host == nil {
		process.host = NewHost(HostOptions{Engine: process.engine, Logger: process.logger})
	}
	return process.host
}

// Load loads the plugin whose manifest is at path into the process, under
// its name. Loading the same plugin again returns it; loading another
// build of a plugin whose name is taken is an error. An adaptor plugin's
// schemes (and their +ssh forms) are served from then on, as are a data
// plugin's Pilot-Data schemes.
func Load(ctx context.Context, path string) (*Plugin, error) {
	b, err := ReadBundle(path)
	if err != nil {
		return nil, err
	}
	return LoadBundle(ctx, b)
}

// LoadBundle is Load for a bundle in memory.
func LoadBundle(ctx context.Context, b Bundle) (*Plugin, error) {
	process.Lock()
	defer process.Unlock()
	// Another build under a taken name is refused before it is compiled,
	// once what is wrong with the bundle itself has been said.
	m, _, err := checkBundle(b)
	if err != nil {
		return nil, err
	}
	if old := process.byName[m.Name]; old != nil && old.digest != b.Digest() {
		return nil, fmt.Errorf("load plugin %s (%s): a plugin of that name is already loaded from %s (another build, manifest sha256 %.12s); a process holds one build of each plugin",
			m.Name, b.Origin, old.origin, old.digest)
	}
	h := processHost()
	p, err := h.LoadBundle(ctx, b)
	if err != nil {
		return nil, err
	}
	if process.byName[p.Name()] == p {
		return p, nil
	}
	// A plugin is an adaptor or a data plugin, not both (checkInfo), so
	// at most one of them serves it.
	for _, kind := range []string{abi.KindAdaptor, abi.KindData} {
		if !p.Is(kind) {
			continue
		}
		err := notServed[kind]
		if serve := process.serve[kind]; serve != nil {
			err = serve(p)
		}
		if err != nil {
			h.unload(ctx, p)
			return nil, fmt.Errorf("load plugin %s (%s): %w", p.Name(), b.Origin, err)
		}
	}
	process.byName[p.Name()] = p
	return p, nil
}

var notServed = map[string]error{
	abi.KindAdaptor: errors.New(`this program serves no adaptor plugins (a Go program serves them with: import _ "github.com/bigjob-go/bigjob/adaptors/pluginadaptor")`),
	abi.KindData:    errors.New(`this program serves no data plugins (a Go program serves them with: import _ "github.com/bigjob-go/bigjob/storage/pluginstore")`),
}

// Lookup returns the loaded plugin of that name, or nil.
func Lookup(name string) *Plugin {
	process.Lock()
	defer process.Unlock()
	return process.byName[name]
}

// Loaded lists the loaded plugins by name.
func Loaded() []*Plugin {
	process.Lock()
	defer process.Unlock()
	out := make([]*Plugin, 0, len(process.byName))
	for _, p := range process.byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Resolve finds the plugin a description names: a loaded plugin's name,
// or the path of a manifest (anything with a slash or ending in .json),
// which is loaded.
func Resolve(ctx context.Context, ref string) (*Plugin, error) {
	if p := Lookup(ref); p != nil {
		return p, nil
	}
	if strings.Contains(ref, "/") || strings.HasSuffix(ref, ".json") {
		return Load(ctx, ref)
	}
	var names []string
	for _, p := range Loaded() {
		names = append(names, p.Name())
	}
	loaded := "none is loaded"
	if len(names) > 0 {
		loaded = "loaded: " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("no plugin named %q (%s); load it first (plugins.Load, pilot_plugin_load, pilot.load_plugin) or give the path of its plugin.json", ref, loaded)
}
