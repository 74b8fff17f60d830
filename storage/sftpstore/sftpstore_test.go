package sftpstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
	_ "github.com/bigjob-go/bigjob/storage/sftpstore"
)

// Many files go out and come back over one SFTP client (several at once),
// each under its name with its record, checked; a file changed on the host
// fails the copy naming it, and a source that cannot be read fails placing.
func TestPutAllAndGetAll(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "remote")
	loc, err := storage.Open(ctx, s.URL("ssh")+dir)
	require.NoError(t, err)
	require.Implements(t, (*storage.BatchPutter)(nil), loc)
	require.Implements(t, (*storage.BatchGetter)(nil), loc)

	puts := testenv.Puts(t, "du-1", 40)
	files, err := storage.PutAll(ctx, loc, puts)
	require.NoError(t, err)
	require.Len(t, files, len(puts))
	for i, f := range files {
		require.Equal(t, puts[i].Name, f.Name, "records in order")
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		require.Equal(t, testenv.Content(i), string(b))
	}
	entries, err := os.ReadDir(filepath.Join(dir, "du-1"))
	require.NoError(t, err)
	require.Len(t, entries, len(files), "no temporary file left")

	out := t.TempDir()
	require.NoError(t, storage.GetAll(ctx, loc, files, func(f storage.File) string { return filepath.Join(out, filepath.Base(f.Name)) }))
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(f.Name)))
		require.NoError(t, err)
		require.Equal(t, testenv.Content(i), string(b))
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, files[7].Name), []byte("changed\n"), 0o600))
	err = storage.GetAll(ctx, loc, files, func(f storage.File) string { return filepath.Join(t.TempDir(), filepath.Base(f.Name)) })
	require.ErrorIs(t, err, storage.ErrChecksum)
	require.ErrorContains(t, err, files[7].Name)

	require.NoError(t, os.Remove(puts[5].Src))
	_, err = storage.PutAll(ctx, loc, puts)
	require.ErrorContains(t, err, puts[5].Src)
}
