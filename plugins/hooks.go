package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
)

// Hooks are a pilot's hook plugins, in the order the pilot names them.
// pre_unit hooks run in that order and post_unit hooks in the reverse
// order, so that the first-named hook wraps the others (it is the first to
// see a unit and the last to judge it); the first hook that refuses or
// fails a unit ends the chain.
//
// Hooks fail closed: a hook that traps, times out or answers an error
// makes the unit Failed with that error, rather than letting it pass
// unchecked.
type Hooks struct {
	list []*Plugin
}

// NewHooks checks that every plugin is a hook plugin.
func NewHooks(ps []*Plugin) (*Hooks, error) {
	for _, p := range ps {
		if !p.Is(abi.KindPreUnit) && !p.Is(abi.KindPostUnit) {
			return nil, fmt.Errorf("plugin %s is %s, not a hook (pre_unit or post_unit)", p.Name(), strings.Join(p.info.Kinds, ", "))
		}
	}
	return &Hooks{list: ps}, nil
}

// Len is the number of hook plugins.
func (h *Hooks) Len() int {
	if h == nil {
		return 0
	}
	return len(h.list)
}

// Verdict is why a hook stopped a unit: Refused (pre_unit) or Failed
// (post_unit, or a hook that broke) with a message that names the hook.
type Verdict struct {
	Hook    string
	Message string
}

func (v *Verdict) String() string { return v.Message }

// Rewritten is a unit as the pre_unit hooks left it. The entries of its
// Arguments and Environment that a hook wrote, rather than kept from the
// unit it was given, are marked literal: they must reach the program as
// they are, never through a shell that would expand them ($VAR, `cmd`, ;).
type Rewritten struct {
	abi.Unit
	LiteralArgs []bool // parallel to Unit.Arguments
	LiteralEnv  []bool // parallel to Unit.Environment
}

// Pre runs the pre_unit hooks on u and returns the unit to launch, or a
// verdict that it must not run. Each hook may change only what its
// manifest's capabilities.rewrite grants; a hook that changes more stops
// the unit (it fails closed).
func (h *Hooks) Pre(ctx context.Context, u abi.Unit) (Rewritten, *Verdict) {
	r := unwritten(u)
	if h == nil {
		return r, nil
	}
	for _, p := range h.list {
		if !p.Is(abi.KindPreUnit) {
			continue
		}
		var res abi.PreUnitResponse
		sc := &Scope{Runner: runner.Local, WorkDir: r.WorkingDirectory}
		if err := p.Call(ctx, sc, abi.ExportPreUnit, abi.PreUnitRequest{Unit: r.Unit}, &res); err != nil {
			return r, &Verdict{Hook: p.Name(), Message: "pre_unit hook failed, so the unit was not run: " + err.Error()}
		}
		switch res.Action {
		case abi.ActionContinue:
			if res.Unit != nil {
				next, err := p.rewrite(r, res.Unit)
				if err != nil {
					return r, &Verdict{Hook: p.Name(), Message: err.Error()}
				}
				r = next
			}
		case abi.ActionRefuse:
			msg := res.Message
			if msg == "" {
				msg = "no reason given"
			}
			return r, &Verdict{Hook: p.Name(), Message: fmt.Sprintf("refused by pre_unit hook %s: %s", p.Name(), msg)}
		default:
			return r, &Verdict{Hook: p.Name(), Message: fmt.Sprintf("pre_unit hook %s answered action %q; it must be %q or %q", p.Name(), res.Action, abi.ActionContinue, abi.ActionRefuse)}
		}
	}
	return r, nil
}

// CheckPreUnitAnswer checks p's JSON answer to hook_pre_unit for unit u as
// Pre would, and returns the error that would stop the unit when the
// answer rewrites it beyond the plugin's grants. Other answers (a refusal,
// an error, a continue without a unit) pass: they are the plugin's to give.
func (p *Plugin) CheckPreUnitAnswer(u abi.Unit, answer []byte) error {
	var res abi.PreUnitResponse
	if json.Unmarshal(answer, &res) != nil || res.Action != abi.ActionContinue || res.Unit == nil {
		return nil
	}
	_, err := p.rewrite(unwritten(u), res.Unit)
	return err
}

// unwritten is u as no hook has written it: nothing of it is literal.
func unwritten(u abi.Unit) Rewritten {
	return Rewritten{Unit: u, LiteralArgs: make([]bool, len(u.Arguments)), LiteralEnv: make([]bool, len(u.Environment))}
}

// rewrite applies what p's answer changed in r, if its manifest grants
// each change: the arguments, the variables of the environment it names,
// the working directory. The executable is never a hook's to change; the
// answer's other fields are ignored. A list the answer leaves out (null)
// is kept, an empty one empties it.
func (p *Plugin) rewrite(r Rewritten, by *abi.Unit) (Rewritten, error) {
	g := p.m.Capabilities.Rewrite
	beyond := func(format string, args ...any) (Rewritten, error) {
		return r, fmt.Errorf("pre_unit hook %s rewrote the unit beyond its grants, so the unit was not run: it %s", p.Name(), fmt.Sprintf(format, args...))
	}
	if by.Executable != "" && by.Executable != r.Executable {
		return beyond("changed the executable from %q to %q; no plugin may change what a unit runs", r.Executable, by.Executable)
	}
	out := r
	if by.Arguments != nil && !slices.Equal(by.Arguments, r.Arguments) {
		if !g.Arguments {
			return beyond("changed the arguments, which capabilities.rewrite.arguments does not grant")
		}
		out.Arguments = slices.Clone(by.Arguments)
		out.LiteralArgs = carry(r.Arguments, r.LiteralArgs, by.Arguments)
	}
	if by.Environment != nil && !slices.Equal(by.Environment, r.Environment) {
		for _, kv := range by.Environment {
			if _, _, ok := shell.Assignment(kv); !ok {
				return beyond("wrote the environment entry %q, which is not NAME=value", kv)
			}
		}
		if name, reordered := envChange(r.Environment, by.Environment, g.Environment); name != "" {
			switch {
			case EnvDenied(name):
				return beyond("changed environment variable %s", deniedWhy(name))
			case reordered:
				return beyond("reordered environment variables it may not change (%q among them), which capabilities.rewrite.environment %q does not grant", name, g.Environment)
			default:
				return beyond("changed environment variable %q, which capabilities.rewrite.environment %q does not grant", name, g.Environment)
			}
		}
		out.Environment = slices.Clone(by.Environment)
		out.LiteralEnv = carry(r.Environment, r.LiteralEnv, by.Environment)
	}
	if by.WorkingDirectory != "" && by.WorkingDirectory != r.WorkingDirectory {
		if !g.WorkingDirectory {
			return beyond("moved the working directory to %q, which capabilities.rewrite.working_directory does not grant", by.WorkingDirectory)
		}
		out.WorkingDirectory = by.WorkingDirectory
	}
	return out, nil
}

// envChange finds a variable whose entries differ between before and after
// although granted does not name it, or "". reordered says that every such
// variable kept its entries, but their order changed.
func envChange(before, after, granted []string) (name string, reordered bool) {
	others := func(env []string) (seq []string, byName map[string][]string) {
		byName = map[string][]string{}
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(granted, k) {
				seq = append(seq, kv)
				byName[k] = append(byName[k], kv)
			}
		}
		return seq, byName
	}
	seqB, b := others(before)
	seqA, a := others(after)
	for _, kv := range append(seqB, seqA...) {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Equal(b[k], a[k]) {
			return k, false
		}
	}
	if !slices.Equal(seqB, seqA) {
		k, _, _ := strings.Cut(seqA[0], "=")
		for i := range seqA {
			if seqA[i] != seqB[i] {
				k, _, _ = strings.Cut(seqA[i], "=")
				break
			}
		}
		return k, true
	}
	return "", false
}

// carry marks which entries of after are literal: one kept from before
// (the same text, each entry of before matched once) stays as it was
// there; one the hook wrote is literal.
func carry(before []string, literal []bool, after []string) []bool {
	unused := map[string][]int{}
	for i, v := range before {
		unused[v] = append(unused[v], i)
	}
	out := make([]bool, len(after))
	for i, v := range after {
		if idx := unused[v]; len(idx) > 0 {
			out[i] = literal[idx[0]]
			unused[v] = idx[1:]
		} else {
			out[i] = true
		}
	}
	return out
}

// Post runs the post_unit hooks on a unit that ended, in reverse order,
// and returns a verdict when a Done unit must become Failed. Hooks see
// Failed units too, but cannot change them.
func (h *Hooks) Post(ctx context.Context, req abi.PostUnitRequest) *Verdict {
	if h == nil {
		return nil
	}
	for _, p := range slices.Backward(h.list) {
		if !p.Is(abi.KindPostUnit) {
			continue
		}
		var res abi.PostUnitResponse
		sc := &Scope{Runner: runner.Local, WorkDir: req.Unit.WorkingDirectory}
		if err := p.Call(ctx, sc, abi.ExportPostUnit, req, &res); err != nil {
			if req.State != "Done" {
				continue
			}
			return &Verdict{Hook: p.Name(), Message: "post_unit hook failed, so the unit's result is not trusted: " + err.Error()}
		}
		switch {
		case res.Action == abi.ActionContinue, req.State != "Done":
			// a Failed unit stays as it is, whatever the hook says
		case res.Action == abi.ActionFail:
			msg := res.Message
			if msg == "" {
				msg = "no reason given"
			}
			return &Verdict{Hook: p.Name(), Message: fmt.Sprintf("failed by post_unit hook %s: %s", p.Name(), msg)}
		default:
			return &Verdict{Hook: p.Name(), Message: fmt.Sprintf("post_unit hook %s answered action %q; it must be %q or %q", p.Name(), res.Action, abi.ActionContinue, abi.ActionFail)}
		}
	}
	return nil
}
