package sshcmd_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
	_ "github.com/bigjob-go/bigjob/storage/sshcmd"
)

// remote opens a location on a private sshd (ssh://user@127.0.0.1:port/dir)
// holding n files put there one by one, and returns it, its directory and
// the files as recorded.
func remote(t *testing.T, n int) (storage.Location, string, []storage.File) {
	t.Helper()
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dir := filepath.Join(t.TempDir(), "remote")
	loc, err := storage.Open(ctx, s.URL("ssh")+dir)
	require.NoError(t, err)
	src := t.TempDir()
	var files []storage.File
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("f%02d", i))
		require.NoError(t, os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), i+1)), 0o600))
		f, err := loc.Put(ctx, p, "du-1/"+filepath.Base(p))
		require.NoError(t, err)
		files = append(files, f)
	}
	return loc, dir, files
}

// inDir maps a file to its base name in dir.
func inDir(dir string) func(storage.File) string {
	return func(f storage.File) string { return filepath.Join(dir, filepath.Base(f.Name)) }
}

// names lists what is in dir, temporary names included.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Many files come in one session, each whole and under its name.
func TestGetAll(t *testing.T) {
	loc, _, files := remote(t, 20)
	require.Implements(t, (*storage.BatchGetter)(nil), loc)
	out := t.TempDir()
	require.NoError(t, storage.GetAll(context.Background(), loc, files, inDir(out)))
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(f.Name)))
		require.NoError(t, err)
		require.Equal(t, strings.Repeat(fmt.Sprintf("file %d\n", i), i+1), string(b))
	}
	require.Len(t, names(t, out), len(files), "no temporary file left")
	require.NoError(t, storage.GetAll(context.Background(), loc, nil, inDir(out)), "no files: nothing to do")
}

// A file changed on the host fails the check of the first file whose bytes
// no longer match its record: the files before it are in place, it and the
// ones after it are not, and no temporary file is left. (A file that grew
// yields its recorded bytes first, a whole copy of what was recorded: the
// file after it fails.)
func TestGetAllChangedFile(t *testing.T) {
	for _, c := range []struct {
		name    string
		change  func(path string) error
		problem string
		placed  []string
	}{
		{"same size", func(p string) error {
			b, err := os.ReadFile(p)
			if err == nil {
				b[0]++
				err = os.WriteFile(p, b, 0o600)
			}
			return err
		}, storage.ErrChecksum.Error(), []string{"f00", "f01", "f02"}},
		{"shorter", func(p string) error { return os.Truncate(p, 3) }, storage.ErrChecksum.Error(), []string{"f00", "f01", "f02"}},
		{"longer", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteString("more")
				f.Close()
			}
			return err
		}, storage.ErrChecksum.Error(), []string{"f00", "f01", "f02", "f03"}},
		{"missing", os.Remove, "No such file", []string{"f00", "f01", "f02"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			loc, dir, files := remote(t, 6)
			require.NoError(t, c.change(filepath.Join(dir, files[3].Name)))
			out := t.TempDir()
			err := storage.GetAll(context.Background(), loc, files, inDir(out))
			require.ErrorContains(t, err, c.problem)
			require.Equal(t, c.placed, names(t, out))
		})
	}
}

// Bytes past the last file (it grew) are refused, the file itself having
// matched its record.
func TestGetAllLastFileLonger(t *testing.T) {
	loc, dir, files := remote(t, 3)
	f, err := os.OpenFile(filepath.Join(dir, files[2].Name), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("more")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	err = storage.GetAll(context.Background(), loc, files, inDir(t.TempDir()))
	require.ErrorIs(t, err, storage.ErrChecksum)
	require.ErrorContains(t, err, "longer than recorded")
}

// sha is the hex sha256 of b.
func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sources is testenv.Puts with the first file large enough to span many
// reads, and the files' contents.
func sources(t *testing.T, du string, n int) ([]storage.Put, []string) {
	t.Helper()
	puts := testenv.Puts(t, du, n)
	contents := make([]string, n)
	for i := range n {
		contents[i] = testenv.Content(i)
	}
	contents[0] = strings.Repeat("a large file\n", 100_000)
	require.NoError(t, os.WriteFile(puts[0].Src, []byte(contents[0]), 0o600))
	return puts, contents
}

// Many files go in one session, each under its name with its record, and
// no temporary file or directory is left: into a new directory, into one
// that exists (a name already there replaced), and into several.
func TestPutAll(t *testing.T) {
	loc, dir, old := remote(t, 2)
	require.Implements(t, (*storage.BatchPutter)(nil), loc)
	check := func(puts []storage.Put, contents []string, files []storage.File) {
		t.Helper()
		require.Len(t, files, len(puts))
		for i, f := range files {
			require.Equal(t, puts[i].Name, f.Name)
			b, err := os.ReadFile(filepath.Join(dir, f.Name))
			require.NoError(t, err)
			require.Equal(t, contents[i], string(b))
			require.Equal(t, int64(len(b)), f.Size)
			require.Equal(t, sha(b), f.SHA256)
			st, err := os.Stat(filepath.Join(dir, f.Name))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		}
	}
	puts, contents := sources(t, "du-2", 30)
	files, err := storage.PutAll(context.Background(), loc, puts)
	require.NoError(t, err)
	check(puts, contents, files)
	require.Len(t, names(t, filepath.Join(dir, "du-2")), 30, "a new directory holds the files only")

	puts, contents = sources(t, "du-1", 3)
	puts[1].Name = old[0].Name // du-1/f00, replaced
	files, err = storage.PutAll(context.Background(), loc, puts)
	require.NoError(t, err)
	check(puts, contents, files)
	require.Equal(t, []string{"f00", "f01", "p00", "p02"}, names(t, filepath.Join(dir, "du-1")))

	puts, contents = sources(t, "du-3", 2)
	puts[1].Name = "du-4/p01" // several directories: a Put each
	files, err = storage.PutAll(context.Background(), loc, puts)
	require.NoError(t, err)
	check(puts, contents, files)
	require.Equal(t, []string{"du-1", "du-2", "du-3", "du-4"}, names(t, dir), "no temporary directory left")

	got, err := storage.PutAll(context.Background(), loc, nil)
	require.NoError(t, err)
	require.Empty(t, got, "no files: nothing to do")
}

// A source that cannot be read, or a host that cannot move the files into
// place, fails PutAll naming the problem; nothing is left.
func TestPutAllFailureLeavesNothing(t *testing.T) {
	loc, dir, _ := remote(t, 1)
	puts, _ := sources(t, "du-2", 6)
	require.NoError(t, os.Remove(puts[3].Src))
	_, err := storage.PutAll(context.Background(), loc, puts)
	require.ErrorContains(t, err, puts[3].Src)
	require.Equal(t, []string{"du-1"}, names(t, dir), "files sent before the failure are removed")

	puts, _ = sources(t, "du-3", 3)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "du-3"), nil, 0o600)) // the host cannot move files into a file
	_, err = storage.PutAll(context.Background(), loc, puts)
	require.ErrorContains(t, err, "add files")
	require.Equal(t, []string{"du-1", "du-3"}, names(t, dir), "no temporary directory left")

	puts, _ = sources(t, "du-5", 3)
	puts[2].Name = "du-5/" + strings.Repeat("n", 300) // longer than a file name may be: the host's tar fails
	_, err = storage.PutAll(context.Background(), loc, puts)
	require.ErrorContains(t, err, "add files")
	require.Equal(t, []string{"du-1", "du-3"}, names(t, dir), "no file and no temporary directory left")
}
