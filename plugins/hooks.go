package plugins

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/plugins/abi"
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

// Pre runs the pre_unit hooks on u and returns the unit to launch, or a
// verdict that it must not run.
func (h *Hooks) Pre(ctx context.Context, u abi.Unit) (abi.Unit, *Verdict) {
	if h == nil {
		return u, nil
	}
	for _, p := range h.list {
		if !p.Is(abi.KindPreUnit) {
			continue
		}
		var res abi.PreUnitResponse
		sc := &Scope{Runner: remote.Local, WorkDir: u.WorkingDirectory}
		if err := p.Call(ctx, sc, abi.ExportPreUnit, abi.PreUnitRequest{Unit: u}, &res); err != nil {
			return u, &Verdict{Hook: p.Name(), Message: "pre_unit hook failed, so the unit was not run: " + err.Error()}
		}
		switch res.Action {
		case abi.ActionContinue:
			if res.Unit != nil {
				if err := rewrite(&u, res.Unit); err != nil {
					return u, &Verdict{Hook: p.Name(), Message: fmt.Sprintf("pre_unit hook %s rewrote the unit badly: %v", p.Name(), err)}
				}
			}
		case abi.ActionRefuse:
			msg := res.Message
			if msg == "" {
				msg = "no reason given"
			}
			return u, &Verdict{Hook: p.Name(), Message: fmt.Sprintf("refused by pre_unit hook %s: %s", p.Name(), msg)}
		default:
			return u, &Verdict{Hook: p.Name(), Message: fmt.Sprintf("pre_unit hook %s answered action %q; it must be %q or %q", p.Name(), res.Action, abi.ActionContinue, abi.ActionRefuse)}
		}
	}
	return u, nil
}

// rewrite applies what a pre_unit hook may change: arguments, environment
// and working directory.
func rewrite(u, by *abi.Unit) error {
	for _, kv := range by.Environment {
		if _, _, ok := shell.Assignment(kv); !ok {
			return fmt.Errorf("environment entry %q is not NAME=value", kv)
		}
	}
	// A list the answer leaves out (null) is kept; an empty one empties it.
	if by.Arguments != nil {
		u.Arguments = slices.Clone(by.Arguments)
	}
	if by.Environment != nil {
		u.Environment = slices.Clone(by.Environment)
	}
	if by.WorkingDirectory != "" {
		u.WorkingDirectory = by.WorkingDirectory
	}
	return nil
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
		sc := &Scope{Runner: remote.Local, WorkDir: req.Unit.WorkingDirectory}
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
