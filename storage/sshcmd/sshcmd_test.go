package sshcmd_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
	_ "github.com/bigjob-go/bigjob/storage/sshcmd"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

// file_transfer sources on another host (the private sshd on loopback,
// reached with a user and port, so not taken for this machine).
func TestHostGlobAndFetch(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.txt"), "a over ssh\n", 0o644)
	write(t, filepath.Join(dir, "b c.txt"), "b", 0o644)
	write(t, filepath.Join(dir, ".hidden.txt"), "h", 0o644)
	write(t, filepath.Join(dir, "run.sh"), "#!/bin/sh\n", 0o755)

	h, p, err := storage.OpenSource(ctx, s.URL("ssh")+dir+"/*.txt")
	require.NoError(t, err)
	require.NotEqual(t, "localhost", h.Name())
	found, err := h.Glob(ctx, p)
	require.NoError(t, err)
	require.Equal(t, []string{dir + "/a.txt", dir + "/b c.txt"}, found)
	found, err = h.Glob(ctx, dir+"/.*")
	require.NoError(t, err)
	require.Equal(t, []string{dir + "/.hidden.txt"}, found)
	found, err = h.Glob(ctx, dir+"/nowhere/*")
	require.NoError(t, err)
	require.Empty(t, found, "a missing directory matches nothing")
	_, err = h.Glob(ctx, dir+"/*/a.txt")
	require.ErrorContains(t, err, "in the file name only")

	out := t.TempDir()
	require.NoError(t, h.Fetch(ctx, dir+"/a.txt", filepath.Join(out, "a.txt")))
	b, err := os.ReadFile(filepath.Join(out, "a.txt"))
	require.NoError(t, err)
	require.Equal(t, "a over ssh\n", string(b))
	require.NoError(t, h.Fetch(ctx, dir+"/run.sh", filepath.Join(out, "run.sh")))
	st, err := os.Stat(filepath.Join(out, "run.sh"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "an executable stays executable")
	st, err = os.Stat(filepath.Join(out, "a.txt"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	err = h.Fetch(ctx, dir+"/missing.txt", filepath.Join(out, "missing.txt"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "missing.txt")
	require.ErrorIs(t, h.Fetch(ctx, dir, filepath.Join(out, "dir")), storage.ErrIsDir)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Len(t, entries, 2, "only the two files fetched")
}

// A copy cut half way (the sshd and its sessions stop while the source
// still sends) fails and leaves neither the final name nor a temporary file.
func TestHostFetchCutHalfWayLeavesNothing(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, out := t.TempDir(), t.TempDir()
	fifo := testenv.CutHalfWay(t, dir, out, s.Stop) // the remote cat reads a part, then the server goes
	h, p, err := storage.OpenSource(ctx, s.URL("ssh")+fifo)
	require.NoError(t, err)
	err = h.Fetch(ctx, p, filepath.Join(out, "f"))
	require.Error(t, err)
	entries, rerr := os.ReadDir(out)
	require.NoError(t, rerr)
	require.Empty(t, entries, "no final name, no temporary file: %v", err)
}

// Many files of a directory come in one session, each whole, executables
// executable, a link followed, a second hard link copied; a directory or a
// missing file among them fails at that file (a *storage.FetchError naming
// it) with the files before it in place.
func TestHostFetchAll(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx := context.Background()
	dir := t.TempDir()
	var paths []string
	for i := range 40 {
		p := filepath.Join(dir, fmt.Sprintf("f%02d -x.txt", i))
		write(t, p, strings.Repeat(fmt.Sprintf("file %d\n", i), i+1), 0o644)
		paths = append(paths, p)
	}
	write(t, filepath.Join(dir, "run.sh"), "#!/bin/sh\n", 0o755)
	require.NoError(t, os.Symlink(paths[3], filepath.Join(dir, "soft")))
	require.NoError(t, os.Link(paths[5], filepath.Join(dir, "hard")))
	paths = append(paths, filepath.Join(dir, "run.sh"), filepath.Join(dir, "soft"), filepath.Join(dir, "hard"))

	h, _, err := storage.OpenSource(ctx, s.URL("ssh")+dir+"/*")
	require.NoError(t, err)
	require.Implements(t, (*storage.BatchFetcher)(nil), h)
	out := t.TempDir()
	into := func(p string) string { return filepath.Join(out, filepath.Base(p)) }
	require.NoError(t, storage.FetchAll(ctx, h, paths, into))
	for i, p := range paths[:40] {
		b, err := os.ReadFile(into(p))
		require.NoError(t, err)
		require.Equal(t, strings.Repeat(fmt.Sprintf("file %d\n", i), i+1), string(b))
		st, err := os.Stat(into(p))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	st, err := os.Stat(filepath.Join(out, "run.sh"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "an executable stays executable")
	for name, from := range map[string]int{"soft": 3, "hard": 5} {
		b, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		require.Equal(t, strings.Repeat(fmt.Sprintf("file %d\n", from), from+1), string(b), name)
		st, err := os.Lstat(filepath.Join(out, name))
		require.NoError(t, err)
		require.True(t, st.Mode().IsRegular(), name)
	}
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Len(t, entries, len(paths), "no temporary file left")

	for _, c := range []struct {
		bad  string
		is   error
		make func(string) error
	}{
		{"missing.txt", fs.ErrNotExist, func(string) error { return nil }},
		{"sub", storage.ErrIsDir, func(p string) error { return os.Mkdir(p, 0o700) }},
	} {
		bad := filepath.Join(dir, c.bad)
		require.NoError(t, c.make(bad))
		out := t.TempDir()
		into := func(p string) string { return filepath.Join(out, filepath.Base(p)) }
		err := storage.FetchAll(ctx, h, []string{paths[0], paths[1], bad, paths[2]}, into)
		require.ErrorIs(t, err, c.is)
		var fe *storage.FetchError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, bad, fe.Path)
		require.ErrorContains(t, err, c.bad)
		entries, err := os.ReadDir(out)
		require.NoError(t, err)
		require.Len(t, entries, 0, "the host tests every file before it sends any")
	}
}
