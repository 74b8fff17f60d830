package core

import (
	"context"
	"fmt"

	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/vocab"
)

// HooksKey is the pilot description key that names its hook plugins, in
// the order they run: loaded plugins' names or manifest paths.
const HooksKey = vocab.KeyHooks

// pilotHooks resolves the hooks of a pilot: its description's "hooks" if
// given (an empty list turns the service's off), else Options.Hooks.
func (s *Service) pilotHooks(ctx context.Context, pd PilotDescription) ([]*plugins.Plugin, error) {
	refs := s.d.opts.Hooks
	if pd.Hooks != nil {
		refs = pd.Hooks
	}
	var out []*plugins.Plugin
	for _, ref := range refs {
		p, err := plugins.Resolve(ctx, ref)
		if err != nil {
			return nil, &DescriptionError{Description: PilotDescriptionName, Key: HooksKey, Problem: err.Error()}
		}
		out = append(out, p)
	}
	if _, err := plugins.NewHooks(out); err != nil { // all hooks, none an adaptor
		return nil, &DescriptionError{Description: PilotDescriptionName, Key: HooksKey, Problem: err.Error()}
	}
	return out, nil
}

// shipHooks puts the hooks' bundles where the agent finds them (the
// coordination store, by digest) and returns the agent's arguments that
// name them: the digests travel through the submission channel, so the
// agent loads only what this process chose.
func (s *Service) shipHooks(ctx context.Context, hooks []*plugins.Plugin) ([]string, error) {
	var args []string
	for _, p := range hooks {
		b := p.Bundle()
		if err := s.d.store.PutPlugin(ctx, s.d.keys, p.Digest(), b.Manifest, b.Module); err != nil {
			return nil, fmt.Errorf("hook %s: %w", p.Name(), err)
		}
		args = append(args, "-hook", p.Digest())
	}
	return args, nil
}
