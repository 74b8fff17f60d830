package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/vocab"
)

// loadHooks loads the pilot's hook plugins from the coordination store:
// the bundles whose manifest digests the agent was started with, checked
// against those digests (the store is not trusted with what it returns).
func (a *agent) loadHooks(ctx context.Context) error {
	if len(a.c.Hooks) == 0 {
		return nil
	}
	a.plugins = plugins.NewHost(plugins.HostOptions{Logger: a.log})
	var list []*plugins.Plugin
	for _, digest := range a.c.Hooks {
		manifest, module, err := a.store.Plugin(ctx, a.keys, digest)
		if err != nil {
			return fmt.Errorf("hook plugin %.12s: %w", digest, err)
		}
		b := plugins.Bundle{Manifest: manifest, Module: module, Origin: "hook " + digest[:min(12, len(digest))] + " from the coordination store"}
		if got := b.Digest(); got != digest {
			return fmt.Errorf("hook plugin %.12s: the coordination store holds a manifest with sha256 %.12s; refusing it", digest, got)
		}
		p, err := a.plugins.LoadBundle(ctx, b)
		if err != nil {
			return err
		}
		list = append(list, p)
	}
	var err error
	a.hooks, err = plugins.NewHooks(list)
	return err
}

// hookUnit is the unit as hooks see it.
func (t *task) hookUnit(pilotID string) abi.Unit {
	env := make([]string, len(t.ud.Environment))
	for i, e := range t.ud.Environment {
		env[i] = e.Name + "=" + e.Value
	}
	if t.hookDesc == nil {
		json.Unmarshal(t.canonical, &t.hookDesc)
	}
	return abi.Unit{ID: t.id, PilotID: pilotID, Executable: t.ud.Executable, Arguments: t.ud.Arguments,
		Environment: env, WorkingDirectory: t.wd, Description: t.hookDesc}
}

// preHooks runs the pre_unit hooks on t (whose working directory exists)
// and applies what they rewrote, creating a working directory they moved
// it to; an error says why t must not run. What a hook wrote reaches the
// unit's program as it is: its arguments are quoted for the shell, its
// values exported without expansion.
func (a *agent) preHooks(t *task) error {
	if a.hooks.Len() == 0 {
		return nil
	}
	u, v := a.hooks.Pre(context.Background(), t.hookUnit(a.id))
	if v != nil {
		return fmt.Errorf("%s", v.Message)
	}
	t.ud.Arguments = make([]string, len(u.Arguments))
	for i, arg := range u.Arguments {
		if u.LiteralArgs[i] {
			arg = shell.Quote(arg)
		}
		t.ud.Arguments[i] = arg
	}
	t.ud.Environment = make([]vocab.EnvVar, len(u.Environment))
	for i, kv := range u.Environment {
		k, v, _ := strings.Cut(kv, "=")
		t.ud.Environment[i] = vocab.EnvVar{Name: k, Value: v}
	}
	t.literalEnv = u.LiteralEnv
	if u.WorkingDirectory != t.wd {
		t.wd = u.WorkingDirectory
		if !filepath.IsAbs(t.wd) {
			t.wd = filepath.Join(a.sandbox, t.wd)
		}
		if err := os.MkdirAll(t.wd, 0o700); err != nil {
			return fmt.Errorf("create the working directory a pre_unit hook chose: %w", err)
		}
	}
	return nil
}

// postHooks runs the post_unit hooks on a unit that ended Done or Failed
// and returns the final record, Failed if a hook says so.
func (a *agent) postHooks(t *task, up coord.Update, code int) coord.Update {
	st := vocab.State(up.State)
	if a.hooks.Len() == 0 || (st != vocab.Done && st != vocab.Failed) {
		return up
	}
	req := abi.PostUnitRequest{State: string(st), ExitCode: code, Runtime: time.Since(t.started).Seconds(),
		Reason: up.Field("reason"), Unit: t.hookUnit(a.id)}
	if v := a.hooks.Post(context.Background(), req); v != nil {
		return t.final(vocab.Failed, fmt.Sprint(code), v.Message)
	}
	return up
}

// closePlugins closes the hook plugins' host, if any.
func (a *agent) closePlugins() {
	if a.plugins != nil {
		a.plugins.Close(context.Background())
	}
}
