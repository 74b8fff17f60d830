package sftpstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
	_ "github.com/bigjob-go/bigjob/storage/sftpstore"
)

// content is what the i-th test file holds.
func content(i int) string { return strings.Repeat(fmt.Sprintf("file %d\n", i), i+1) }

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

	src := t.TempDir()
	var puts []storage.Put
	for i := range 40 {
		p := filepath.Join(src, fmt.Sprintf("f%02d", i))
		require.NoError(t, os.WriteFile(p, []byte(content(i)), 0o600))
		puts = append(puts, storage.Put{Src: p, Name: "du-1/" + filepath.Base(p)})
	}
	files, err := storage.PutAll(ctx, loc, puts)
	require.NoError(t, err)
	require.Len(t, files, len(puts))
	for i, f := range files {
		require.Equal(t, puts[i].Name, f.Name, "records in order")
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		require.Equal(t, content(i), string(b))
	}
	entries, err := os.ReadDir(filepath.Join(dir, "du-1"))
	require.NoError(t, err)
	require.Len(t, entries, len(files), "no temporary file left")

	out := t.TempDir()
	require.NoError(t, storage.GetAll(ctx, loc, files, func(f storage.File) string { return filepath.Join(out, filepath.Base(f.Name)) }))
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(f.Name)))
		require.NoError(t, err)
		require.Equal(t, content(i), string(b))
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, files[7].Name), []byte("changed\n"), 0o600))
	err = storage.GetAll(ctx, loc, files, func(f storage.File) string { return filepath.Join(t.TempDir(), filepath.Base(f.Name)) })
	require.ErrorIs(t, err, storage.ErrChecksum)
	require.ErrorContains(t, err, files[7].Name)

	require.NoError(t, os.Remove(puts[5].Src))
	_, err = storage.PutAll(ctx, loc, puts)
	require.ErrorContains(t, err, puts[5].Src)
}
