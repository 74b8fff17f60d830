package storage_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

func TestOpenSourceForms(t *testing.T) {
	ctx := context.Background()
	me, err := os.Hostname()
	require.NoError(t, err)
	for _, src := range []string{"/d/f", "file:///d/f", "file://localhost/d/f", "ssh:///d/f", "ssh://localhost/d/f",
		"sftp://127.0.0.1/d/f", "scp://" + me + "/d/f", "ssh://localhost//d/./f"} {
		h, p, err := storage.OpenSource(ctx, src)
		require.NoError(t, err, src)
		require.Equal(t, "localhost", h.Name(), src)
		require.Equal(t, "/d/f", p, src)
	}
	for src, msg := range map[string]string{
		"in.txt":                 "give an absolute path",
		"go://ep/d/f":            "Globus Online",
		"http://host/f":          "not supported",
		"ftp://host/f":           "give file:///path or ssh://host/path",
		"ssh://otherhost":        "names no file",
		"file://otherhost/d/f":   "use ssh://otherhost/d/f",
		"ssh://user@otherhost/f": "no way to copy from other hosts", // this test binary links no ssh
	} {
		_, _, err := storage.OpenSource(ctx, src)
		require.ErrorContains(t, err, msg, src)
	}
}

func TestLocalGlobAndFetch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.txt"), "a", 0o644)
	write(t, filepath.Join(dir, "b.txt"), "b", 0o644)
	write(t, filepath.Join(dir, ".hidden.txt"), "h", 0o644)
	write(t, filepath.Join(dir, "run.sh"), "#!/bin/sh\n", 0o755)
	h, p, err := storage.OpenSource(ctx, "file://"+dir+"/*.txt")
	require.NoError(t, err)
	require.True(t, storage.HasMeta(p))
	found, err := h.Glob(ctx, p)
	require.NoError(t, err)
	require.Equal(t, []string{dir + "/a.txt", dir + "/b.txt"}, found, "a hidden file is matched by '.*' only")
	found, err = h.Glob(ctx, dir+"/.*.txt")
	require.NoError(t, err)
	require.Equal(t, []string{dir + "/.hidden.txt"}, found)
	found, err = h.Glob(ctx, dir+"/*.none")
	require.NoError(t, err)
	require.Empty(t, found)

	out := t.TempDir()
	require.NoError(t, h.Fetch(ctx, dir+"/a.txt", filepath.Join(out, "a.txt")))
	require.NoError(t, h.Fetch(ctx, dir+"/run.sh", filepath.Join(out, "run.sh")))
	b, err := os.ReadFile(filepath.Join(out, "a.txt"))
	require.NoError(t, err)
	require.Equal(t, "a", string(b))
	st, err := os.Stat(filepath.Join(out, "a.txt"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(filepath.Join(out, "run.sh"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "an executable stays executable")

	require.ErrorIs(t, h.Fetch(ctx, dir+"/missing", filepath.Join(out, "missing")), fs.ErrNotExist)
	require.ErrorIs(t, h.Fetch(ctx, dir, filepath.Join(out, "dir")), storage.ErrIsDir)
	require.NoFileExists(t, filepath.Join(out, "dir"))
}

// A copy that stops half way (its context ends while the source still
// sends) leaves nothing: neither the final name nor its temporary file.
func TestLocalFetchCutHalfWayLeavesNothing(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fifo := testenv.CutHalfWay(t, dir, out, cancel) // the copy's context ends while the writer still holds the pipe open
	h, p, err := storage.OpenSource(ctx, fifo)
	require.NoError(t, err)
	err = h.Fetch(ctx, p, filepath.Join(out, "f"))
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Empty(t, entries, "no final name, no temporary file")
}
