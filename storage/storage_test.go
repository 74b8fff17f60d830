package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
	"github.com/stretchr/testify/require"
)

// localUnit puts n files of different sizes into a Pilot-Data directory of
// this machine and returns the location and their records.
func localUnit(t *testing.T, n int) (storage.Location, []storage.File) {
	t.Helper()
	ctx := context.Background()
	loc, err := storage.Open(ctx, "file://"+t.TempDir())
	require.NoError(t, err)
	src := t.TempDir()
	var files []storage.File
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("f%03d", i))
		write(t, p, strings.Repeat(fmt.Sprintf("file %d\n", i), i+1), 0o600)
		f, err := loc.Put(ctx, p, "du-1/"+filepath.Base(p))
		require.NoError(t, err)
		files = append(files, f)
	}
	return loc, files
}

func inDirOf(dir string) func(storage.File) string {
	return func(f storage.File) string { return filepath.Join(dir, filepath.Base(f.Name)) }
}

// GetAll from a directory copies every file (several at once), each whole.
func TestGetAllLocal(t *testing.T) {
	loc, files := localUnit(t, 50)
	out := t.TempDir()
	require.NoError(t, storage.GetAll(context.Background(), loc, files, inDirOf(out)))
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(f.Name)))
		require.NoError(t, err)
		require.Equal(t, strings.Repeat(fmt.Sprintf("file %d\n", i), i+1), string(b))
	}
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Len(t, entries, len(files), "no temporary file left")
	require.NoError(t, storage.GetAll(context.Background(), loc, nil, inDirOf(out)), "no files: nothing to do")
}

// A stored file whose bytes changed fails GetAll with ErrChecksum naming
// it; it is not placed, every file that is placed is whole, and no
// temporary file is left.
func TestGetAllLocalChangedFile(t *testing.T) {
	loc, files := localUnit(t, 50)
	bad := files[23]
	p := strings.TrimPrefix(loc.URL(), "file://") + "/" + bad.Name
	require.NoError(t, os.WriteFile(p, []byte("changed\n"), 0o600))
	out := t.TempDir()
	err := storage.GetAll(context.Background(), loc, files, inDirOf(out))
	require.ErrorIs(t, err, storage.ErrChecksum)
	require.ErrorContains(t, err, bad.Name)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".part-", "no temporary file left")
		require.NotEqual(t, filepath.Base(bad.Name), e.Name(), "the changed file is not placed")
		var i int
		_, err := fmt.Sscanf(e.Name(), "f%03d", &i)
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(out, e.Name()))
		require.NoError(t, err)
		require.Equal(t, strings.Repeat(fmt.Sprintf("file %d\n", i), i+1), string(b), "a placed file is whole")
	}
	require.Less(t, len(entries), len(files))
}

// A canceled context ends GetAll with its error.
func TestGetAllLocalCanceled(t *testing.T) {
	loc, files := localUnit(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, storage.GetAll(ctx, loc, files, inDirOf(t.TempDir())), context.Canceled)
}

// PutAll into a directory places every file (several at once) with its
// record, in order; a source that cannot be read fails it, naming the
// source.
func TestPutAllLocal(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	loc, err := storage.Open(ctx, "file://"+root)
	require.NoError(t, err)
	puts := testenv.Puts(t, "du-1", 40)
	files, err := storage.PutAll(ctx, loc, puts)
	require.NoError(t, err)
	require.Len(t, files, len(puts))
	for i, f := range files {
		require.Equal(t, puts[i].Name, f.Name, "records in order")
		require.Equal(t, int64(len(testenv.Content(i))), f.Size)
	}
	out := t.TempDir()
	require.NoError(t, storage.GetAll(ctx, loc, files, inDirOf(out)), "each file matches its record")

	require.NoError(t, os.Remove(puts[17].Src))
	_, err = storage.PutAll(ctx, loc, puts)
	require.ErrorContains(t, err, puts[17].Src)
}
