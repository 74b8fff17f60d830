package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/plugins/build"
)

var pluginBuilds sync.Map // src -> *pluginBuild

type pluginBuild struct {
	once     sync.Once
	manifest string
	err      error
}

// Plugin builds the plugin whose source folder is src (relative to the
// module root, e.g. "plugins/examples/allowlist") and returns the path of
// its sealed manifest. Builds land in build/test/plugins/<name>-<hash of
// the sources and the C kit>/, so test binaries share them and rebuild
// only what changed; a build is renamed into place whole.
func Plugin(t testing.TB, src string) string {
	t.Helper()
	v, _ := pluginBuilds.LoadOrStore(src, &pluginBuild{})
	b := v.(*pluginBuild)
	b.once.Do(func() { b.manifest, b.err = buildPlugin(src) })
	if b.err != nil {
		t.Fatalf("build plugin %s: %v", src, b.err)
	}
	return b.manifest
}

func buildPlugin(src string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, src)
	sum, err := hashSources(dir, filepath.Join(root, build.CKitHeader), filepath.Join(root, "plugins", "pdk", "go"), filepath.Join(root, "plugins", "abi"))
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "build", "test", "plugins", filepath.Base(src)+"-"+sum[:16])
	manifest := filepath.Join(out, "plugin.json")
	if _, err := os.Stat(manifest); err == nil {
		return manifest, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := build.Build(ctx, dir, tmp, build.Options{}); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		if _, serr := os.Stat(manifest); serr == nil {
			return manifest, nil // another test binary built it first
		}
		return "", err
	}
	return manifest, nil
}

// hashSources hashes the files under the given paths (files or folders).
func hashSources(paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		var files []string
		err := filepath.WalkDir(p, func(f string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, f)
			}
			return err
		})
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			h.Write([]byte(f))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
