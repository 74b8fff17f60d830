package core

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/google/uuid"
)

// newID returns prefix + a version-1 (time-based) UUID, the shape BigJob's
// ids have: pcs-…, bj-…, cu-….
func newID(prefix string) string {
	u, err := uuid.NewUUID()
	if err != nil {
		u = uuid.New()
	}
	return prefix + u.String()
}

// resolvePilotDomain finds the service of pilot name ("bigjob:bj-…:host")
// and returns its domain.
func resolvePilotDomain(ctx context.Context, addr coord.Address, name string, o Options) (*domain, func(), error) {
	o = reconnectOptions(o)
	store, drop, err := acquireStore(ctx, addr, o)
	if err != nil {
		return nil, nil, reconnectError("pilot "+name, addr, err)
	}
	svc, err := store.ResolvePilot(ctx, name)
	drop()
	if err == coord.ErrNotFound {
		return nil, nil, fmt.Errorf("pilot %s at %s: %w (it never existed, or its records expired)", name, addr.Redacted(), ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up pilot %s: %w", name, err)
	}
	return acquireDomain(ctx, addr, svc, o)
}

// reconnectOptions are the options of a reconnection by URL: it may use a
// store this process already has, and the user's lasting local store (which
// it starts if it keeps data on disk), but never starts an empty store.
func reconnectOptions(o Options) Options {
	o = o.withDefaults()
	o.reconnect = true
	return o
}

// reconnectError explains that the store a URL names cannot be reached.
func reconnectError(what string, addr coord.Address, err error) error {
	if coord.IsRefused(err) {
		why := ""
		if addr.IsLoopback() && addr.Socket == "" {
			why = ", and no local coordination store of yours (running, or kept on disk) stands in for it"
		}
		return fmt.Errorf("%s: nothing listens at %s, the coordination store its URL names%s; start that Redis again: %w",
			what, addr.Redacted(), why, err)
	}
	return err
}

// findAgent locates the pilot-agent binary (see Options.AgentPath).
func findAgent(o Options) (string, error) {
	check := func(p, from string) (string, error) {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("pilot-agent binary %s (from %s) is missing or not executable", p, from)
		}
		return filepath.Abs(p)
	}
	if o.AgentPath != "" {
		return check(o.AgentPath, "Options.AgentPath")
	}
	if p := os.Getenv(EnvAgent); p != "" {
		return check(p, EnvAgent)
	}
	if exe, err := os.Executable(); err == nil {
		if p, err := check(filepath.Join(filepath.Dir(exe), "pilot-agent"), "the executable's directory"); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pilot-agent"); err == nil {
		return filepath.Abs(p)
	}
	return "", fmt.Errorf("cannot find the pilot-agent binary: set %s or Options.AgentPath, put it next to the program, or on PATH (make builds it into bin/)", EnvAgent)
}
