package pluginstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/storage"
	"github.com/bigjob-go/bigjob/storage/pluginstore"
)

// engines runs f on a host of each engine: the compiler (Go programs') and
// the interpreter (libpilot.so's).
func engines(t *testing.T, f func(t *testing.T, h *plugins.Host)) {
	for _, e := range []plugins.Engine{plugins.EngineCompiler, plugins.EngineInterpreter} {
		t.Run(e.String(), func(t *testing.T) {
			h := plugins.NewHost(plugins.HostOptions{Engine: e, CacheDir: "off"})
			t.Cleanup(func() { h.Close(context.Background()) })
			f(t, h)
		})
	}
}

// demo loads the demo example granted dir (its data_dirs).
func demo(t *testing.T, h *plugins.Host, dir string) *plugins.Plugin {
	t.Helper()
	m := testenv.PluginGranting(t, testenv.Plugin(t, "plugins/examples/demo"), map[string]any{"data_dirs": []string{dir}})
	p, err := h.Load(context.Background(), m)
	require.NoError(t, err)
	return p
}

func memdata(t *testing.T, h *plugins.Host) *plugins.Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), testenv.Plugin(t, "plugins/testdata/hostile/memdata"))
	require.NoError(t, err)
	return p
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.bin")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// partFiles lists the temporary files left under dir.
func partFiles(t *testing.T, dir string) []string {
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".part-") {
			left = append(left, p)
		}
		return nil
	})
	return left
}

// The demo plugin keeps a Pilot-Data's files in its granted directory: a
// file of several chunks and an empty one go in, come back checked, and
// are removed; the host's temporary names leave nothing behind.
func TestDemoKeepsFilesInItsGrantedDirectory(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		ctx := context.Background()
		granted := t.TempDir()
		p := demo(t, h, granted)
		loc, err := pluginstore.Open(ctx, p, "demo://"+granted+"/pd1")
		require.NoError(t, err)
		require.DirExists(t, filepath.Join(granted, "pd1"), "data_open made it")

		big := make([]byte, 2<<20+12345)
		rand.Read(big)
		for name, content := range map[string][]byte{"du-1/big.bin": big, "du-1/empty": {}} {
			f, err := loc.Put(ctx, writeFile(t, content), name)
			require.NoError(t, err)
			require.Equal(t, storage.File{Name: name, Size: int64(len(content)), SHA256: sum(content)}, f)
			onDisk, err := os.ReadFile(filepath.Join(granted, "pd1", name))
			require.NoError(t, err)
			require.True(t, bytes.Equal(content, onDisk), name)

			dst := filepath.Join(t.TempDir(), "out")
			require.NoError(t, loc.Get(ctx, f, dst))
			back, err := os.ReadFile(dst)
			require.NoError(t, err)
			require.True(t, bytes.Equal(content, back), name)
		}
		require.Empty(t, partFiles(t, granted))
		st, err := os.Stat(filepath.Join(granted, "pd1", "du-1", "big.bin"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "files the plugin makes are 0600")

		require.NoError(t, loc.Remove(ctx, "du-1"))
		require.NoDirExists(t, filepath.Join(granted, "pd1", "du-1"))
		require.NoError(t, loc.Remove(ctx, "du-1"), "removing nothing succeeds")
		_, err = loc.Put(ctx, writeFile(t, big), "../escape")
		require.ErrorContains(t, err, "is not a file name under it")
	})
}

// The plugin reaches only what data_dirs grants: a directory beside it,
// and one reached through a link planted in the granted directory, are
// refused, and nothing is written there.
func TestDemoReachesOnlyItsGrantedDirectory(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		ctx := context.Background()
		granted, outside := t.TempDir(), t.TempDir()
		secret := filepath.Join(outside, "secret")
		require.NoError(t, os.WriteFile(secret, []byte("not yours"), 0o600))
		require.NoError(t, os.Symlink(outside, filepath.Join(granted, "link")))
		p := demo(t, h, granted)

		_, err := pluginstore.Open(ctx, p, "demo://"+outside+"/pd")
		require.ErrorContains(t, err, "plugin demo: data_open")
		_, err = pluginstore.Open(ctx, p, "demo://"+granted+"/link/pd")
		require.ErrorContains(t, err, "plugin demo: data_open")

		// a location whose directory is a link that leads out
		_, err = pluginstore.Open(ctx, p, "demo://"+granted+"/link")
		require.ErrorContains(t, err, "plugin demo: data_open")
		// a location at the granted directory itself: the link's target
		// is not read through it
		loc, err := pluginstore.Open(ctx, p, "demo://"+granted)
		require.NoError(t, err)
		err = loc.Get(ctx, storage.File{Name: "link/secret", Size: 9, SHA256: sum([]byte("not yours"))}, filepath.Join(t.TempDir(), "got"))
		require.ErrorContains(t, err, "plugin demo: data_read")
		_, err = loc.Put(ctx, writeFile(t, []byte("x")), "link/f")
		require.ErrorContains(t, err, "plugin demo: data_write")
		entries, err := os.ReadDir(outside)
		require.NoError(t, err)
		require.Len(t, entries, 1, "nothing was written outside the grant")
	})
}

// A plugin that changes the bytes it stores is caught before the file
// takes its name; one that changes them when it reads them back later is
// caught on the way out, and the copy leaves nothing.
func TestCorruptingPluginIsCaughtByTheChecksum(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		ctx := context.Background()
		p := memdata(t, h)
		content := []byte("bytes the plugin must not change\n")

		loc, err := pluginstore.Open(ctx, p, "mem://flipwrite/pd")
		require.NoError(t, err)
		_, err = loc.Put(ctx, writeFile(t, content), "du/f")
		require.ErrorIs(t, err, storage.ErrChecksum)
		require.ErrorContains(t, err, "plugin memdata stored")
		err = loc.Get(ctx, storage.File{Name: "du/f", Size: int64(len(content)), SHA256: sum(content)}, filepath.Join(t.TempDir(), "f"))
		require.ErrorContains(t, err, "no file du/f", "nothing took the final name")

		loc, err = pluginstore.Open(ctx, p, "mem://rot/pd")
		require.NoError(t, err)
		f, err := loc.Put(ctx, writeFile(t, content), "du/f")
		require.NoError(t, err)
		out := t.TempDir()
		err = loc.Get(ctx, f, filepath.Join(out, "f"))
		require.ErrorIs(t, err, storage.ErrChecksum)
		left, _ := os.ReadDir(out)
		require.Empty(t, left, "no partial file is left")
	})
}

// A plugin that traps fails the operation with an error that names the
// plugin, its export and the Pilot-Data's URL (so its scheme); the next
// call gets a fresh instance.
func TestTrappingPluginFailsTheCopyNamingItself(t *testing.T) {
	engines(t, func(t *testing.T, h *plugins.Host) {
		ctx := context.Background()
		p := memdata(t, h)
		loc, err := pluginstore.Open(ctx, p, "mem://trap/pd")
		require.NoError(t, err)
		_, err = loc.Put(ctx, writeFile(t, []byte("x")), "du/f")
		var pe *plugins.Error
		require.ErrorAs(t, err, &pe)
		require.True(t, pe.Trapped)
		require.ErrorContains(t, err, "Pilot-Data mem://trap/pd: add ")
		require.ErrorContains(t, err, "plugin memdata: data_write: ")
		require.ErrorContains(t, err, "memdata: asked to write")

		ok, err := pluginstore.Open(ctx, p, "mem://ok/pd")
		require.NoError(t, err)
		_, err = ok.Put(ctx, writeFile(t, []byte("x")), "du/f")
		require.NoError(t, err)
	})
}

// A data plugin loaded into the process serves its scheme to storage.Open;
// built-in schemes cannot be taken; an unserved scheme names itself.
func TestLoadedDataPluginServesItsScheme(t *testing.T) {
	ctx := context.Background()
	_, err := storage.Open(ctx, "mem://ok/pd")
	require.ErrorIs(t, err, storage.ErrNoBackend)
	require.ErrorContains(t, err, "the mem:// scheme is not a Pilot-Data backend; use file:///path or ssh://host/path, or load a data plugin that serves mem://")

	_, err = plugins.Load(ctx, testenv.Plugin(t, "plugins/testdata/hostile/memdata"))
	require.NoError(t, err)
	loc, err := storage.Open(ctx, "mem://ok/pd")
	require.NoError(t, err)
	_, err = loc.Put(ctx, writeFile(t, []byte("served")), "du/f")
	require.NoError(t, err)

	require.ErrorContains(t, storage.Add("plugin other", nil, "mem"), "Pilot-Data scheme mem:// is already served by plugin memdata")
	require.ErrorContains(t, storage.Add("plugin other", nil, "ssh"), "Pilot-Data scheme ssh:// is served by this program itself")

	_, err = storage.Open(ctx, "s3://bucket/x")
	require.ErrorIs(t, err, storage.ErrNoBackend)
	require.ErrorContains(t, err, "the s3:// backend (Amazon S3) is not supported; keep the data on a file system: file:///path on this machine, or ssh://host/path on another; or load a data plugin that serves s3://")
}
