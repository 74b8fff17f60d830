package core

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
)

// URLError is a coordination, service, pilot or unit URL that cannot be
// used; its message says what is wrong with it.
type URLError = coord.URLError

// Errors of the plugin calls; match them with errors.Is.
var (
	// ErrNoExport: the plugin has no such export (or not for its kind).
	ErrNoExport = errors.New("not an export of the plugin")
	// ErrPluginFailed: the plugin's export failed, trapped, ran past its
	// limits, or answered beyond its grants.
	ErrPluginFailed = errors.New("the plugin failed")
)

// SetLogger routes the library's own messages (the coordination client's
// and the plugin host's) to l; a library never prints. Call it before the
// first plugin is loaded.
func SetLogger(l *slog.Logger) {
	coord.SetLogger(l)
	plugins.SetLogger(l)
}

// InterpretPlugins makes this process run plugins on wazero's interpreter
// instead of its compiler; it has effect before the first plugin is loaded.
// A c-shared library needs it: there the compiler's code would run without
// the alternate signal stack it needs.
func InterpretPlugins() { plugins.SetEngine(plugins.EngineInterpreter) }

// PluginInfo is a loaded plugin: what it says of itself, its manifest's
// sha256, the engine that runs it, and what its grants let it do outside
// its sandbox, in plain words.
type PluginInfo struct {
	abi.Info
	Digest string   `json:"digest"`
	Engine string   `json:"engine"`
	Grants []string `json:"grants"`
}

func infoOf(p *plugins.Plugin) PluginInfo {
	return PluginInfo{Info: p.Info(), Digest: p.Digest(), Engine: p.Engine().String(), Grants: p.Grants()}
}

// LoadPlugin loads the plugin whose manifest is at path into this process
// (see plugins.Load). A missing manifest is an error matching
// fs.ErrNotExist.
func LoadPlugin(ctx context.Context, path string) (PluginInfo, error) {
	p, err := plugins.Load(ctx, path)
	if err != nil {
		return PluginInfo{}, err
	}
	return infoOf(p), nil
}

// Plugins lists the plugins loaded into this process, by name.
func Plugins() []PluginInfo {
	list := []PluginInfo{}
	for _, p := range plugins.Loaded() {
		list = append(list, infoOf(p))
	}
	return list
}

// CallPlugin calls export of the loaded plugin name with request (JSON) on
// this machine, in workDir ("" for none), and returns its answer. A name not
// loaded is ErrNotFound; an export the plugin does not have is ErrNoExport;
// any other failure is ErrPluginFailed, as is a hook_pre_unit answer that
// the agent would refuse (a rewrite beyond the plugin's grants).
func CallPlugin(ctx context.Context, name, export string, request []byte, workDir string) ([]byte, error) {
	p := plugins.Lookup(name)
	if p == nil {
		return nil, &kindError{errors.New("no plugin named " + name + " is loaded; load it first"), ErrNotFound}
	}
	answer, err := p.CallJSON(ctx, &plugins.Scope{Runner: runner.Local, WorkDir: workDir}, export, request)
	if err != nil {
		var pe *plugins.Error
		if errors.As(err, &pe) && !pe.Trapped && !p.Exports(export) {
			return nil, &kindError{err, ErrNoExport}
		}
		return nil, &kindError{err, ErrPluginFailed}
	}
	if export == abi.ExportPreUnit {
		var pre abi.PreUnitRequest
		if json.Unmarshal(request, &pre) == nil {
			if err := p.CheckPreUnitAnswer(pre.Unit, answer); err != nil {
				return nil, &kindError{err, ErrPluginFailed}
			}
		}
	}
	return answer, nil
}

// kindError is err, with its message, that also matches the sentinel kind.
type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }
