package plugins

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bigjob-go/bigjob/runner"
)

// commands are the programs a plugin's exec may run (its manifest's
// capabilities.commands), resolved to absolute paths once: on this machine
// when the plugin is loaded, on an SSH host at the first exec there. A
// program found later on PATH, in a directory the plugin can write to, is
// never run in its place.
type commands struct {
	local map[string]string // entry -> absolute path on this machine; "" if not found at load

	mu     sync.Mutex
	remote map[remoteCommand]string // resolved on SSH hosts
}

type remoteCommand struct{ host, name string }

// resolveCommands resolves m's commands on this machine. A command that
// lies in one of m's absolute write_dirs is an error: the plugin could
// replace the program it runs. A command that is not found is left
// unresolved (an adaptor may use it only over SSH); exec then says so.
func resolveCommands(m Manifest) (*commands, error) {
	c := &commands{local: map[string]string{}, remote: map[remoteCommand]string{}}
	for _, name := range m.Capabilities.Commands {
		path := name
		if !filepath.IsAbs(name) {
			p, err := exec.LookPath(name)
			if err != nil || !filepath.IsAbs(p) {
				c.local[name] = ""
				continue
			}
			path = p
		}
		path = filepath.Clean(path)
		if d := programIn(path, loadScope.writeDirs(m.Capabilities.writable()), true); d != "" {
			return nil, fmt.Errorf("%q entry %q is %s, under %q entry %q, where the plugin itself may write: it could replace the program it runs; grant a command that lies elsewhere, or let the plugin write elsewhere",
				"capabilities.commands", name, path, grantOf(m.Capabilities, d), d)
		}
		c.local[name] = path
	}
	return c, nil
}

// grantOf names the grant that lets the plugin write under dir.
func grantOf(c Capabilities, dir string) string {
	if dirOf(dir, c.DataDirs) != "" {
		return "capabilities.data_dirs"
	}
	return "capabilities.write_dirs"
}

// loadScope is where commands are resolved at load: this machine, with no
// working directory (write_dirs under $WORKDIR are checked per call).
var loadScope = &Scope{Runner: runner.Local}

// path is the absolute path of the command name (an entry of the
// manifest's commands) on the scope's host.
func (c *commands) path(ctx context.Context, sc *Scope, name string) (string, error) {
	if sc.Runner.Local() {
		if p := c.local[name]; p != "" {
			return p, nil
		}
		return "", fmt.Errorf("command %q was not found on this machine's PATH when the plugin was loaded; install it there, or grant its absolute path in capabilities.commands", name)
	}
	if filepath.IsAbs(name) {
		return filepath.Clean(name), nil
	}
	key := remoteCommand{sc.Runner.Host(), name}
	c.mu.Lock()
	p, ok := c.remote[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	line := "p=$(command -v -- " + runner.Quote(name) + `) && case $p in /*) printf '%s\n' "$p";; *) exit 3;; esac`
	out, err := sc.Runner.Run(ctx, line, nil)
	p = strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(p) || strings.Contains(p, "\n") {
		return "", fmt.Errorf("command %q is not a program on the PATH of %s", name, sc.Runner.Host())
	}
	c.mu.Lock()
	c.remote[key] = p
	c.mu.Unlock()
	return p, nil
}

// programIn returns the directory of dirs that the program at path lies
// under, or "": the path as given or, on this machine (local), the file
// its links lead to.
func programIn(path string, dirs []string, local bool) string {
	if d := dirOf(path, dirs); d != "" || !local {
		return d
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return dirOf(real, dirs)
	}
	return ""
}

// dirOf returns the directory of dirs that path lies under, or "".
func dirOf(path string, dirs []string) string {
	for _, d := range dirs {
		if within(path, d) {
			return d
		}
	}
	return ""
}

// writeDirs are the manifest's write_dirs as directories of the scope's
// host: $WORKDIR made the call's working directory (entries under it left
// out in calls without one), cleaned, and on this machine each also with
// its links resolved.
func (sc *Scope) writeDirs(granted []string) []string {
	var out []string
	for _, d := range granted {
		if rest, ok := strings.CutPrefix(d, workdirToken); ok {
			if sc.WorkDir == "" {
				continue
			}
			d = sc.WorkDir + rest
		}
		d = filepath.Clean(d)
		out = append(out, d)
		if sc.Runner.Local() {
			if real, err := filepath.EvalSymlinks(d); err == nil && real != d {
				out = append(out, real)
			}
		}
	}
	return out
}
