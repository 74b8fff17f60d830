// Package build builds a plugin from its source folder: the module (Go
// with GOOS=wasip1, or C with clang --target=wasm32-wasi) and its sealed
// manifest, whose wasm and sha256 it fills in. `make plugins` and the tests
// build through it, so that both build plugins the same way.
//
// A source folder holds manifest.json (a manifest without wasm and sha256)
// and either a Go main package or *.c files.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Options say where the tools and the C kit are.
type Options struct {
	Go    string // default "go"
	Clang string // default "clang"
	// CKit is the folder of the C kit's header; default plugins/pdk/c
	// of the first parent of the source folder that has one.
	CKit string
}

// Build builds the plugin in src into out (created if needed) and returns
// the path of its sealed manifest, out/plugin.json, next to out/<name>.wasm.
func Build(ctx context.Context, src, out string, o Options) (string, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Clang == "" {
		o.Clang = "clang"
	}
	raw, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		return "", fmt.Errorf("build plugin %s: %w", src, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("build plugin %s: manifest.json: %w", src, err)
	}
	name, _ := m["name"].(string)
	if name == "" {
		return "", fmt.Errorf("build plugin %s: manifest.json has no name", src)
	}
	if out, err = filepath.Abs(out); err != nil {
		return "", fmt.Errorf("build plugin %s: %w", name, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("build plugin %s: %w", name, err)
	}
	wasm := filepath.Join(out, name+".wasm")
	cfiles, _ := filepath.Glob(filepath.Join(src, "*.c"))
	var cmd *exec.Cmd
	if len(cfiles) > 0 {
		if o.CKit == "" {
			if o.CKit, err = findCKit(src); err != nil {
				return "", fmt.Errorf("build plugin %s: %w", name, err)
			}
		}
		args := []string{"--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-mexec-model=reactor",
			"-Wall", "-Werror", "-I", o.CKit, "-o", wasm}
		for _, f := range cfiles {
			args = append(args, filepath.Base(f))
		}
		cmd = exec.CommandContext(ctx, o.Clang, args...)
	} else {
		cmd = exec.CommandContext(ctx, o.Go, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", wasm, ".")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	}
	cmd.Dir = src
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build plugin %s: %s: %w\n%s", name, strings.Join(cmd.Args, " "), err, stderr.String())
	}
	mod, err := os.ReadFile(wasm)
	if err != nil {
		return "", fmt.Errorf("build plugin %s: %w", name, err)
	}
	sum := sha256.Sum256(mod)
	m["wasm"] = name + ".wasm"
	m["sha256"] = hex.EncodeToString(sum[:])
	sealed, _ := json.MarshalIndent(m, "", "  ")
	manifest := filepath.Join(out, "plugin.json")
	if err := os.WriteFile(manifest, append(sealed, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("build plugin %s: %w", name, err)
	}
	return manifest, nil
}

// CKitHeader is the C kit's header, relative to the repository's root.
const CKitHeader = "plugins/pdk/c/pilot_plugin.h"

func findCKit(src string) (string, error) {
	dir, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, CKitHeader)); err == nil {
			return filepath.Join(dir, filepath.Dir(CKitHeader)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s above %s; give Options.CKit", CKitHeader, src)
		}
		dir = parent
	}
}
