package plugins

import (
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// A data_dirs file system reaches nothing outside its directory, by ".."
// or through a link, and makes no links; what it creates is 0600.
func TestRootFSStaysInItsDirectory(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	roots, err := openRoots([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeRoots(roots)
	fs := rootFS{root: roots[0]}

	for _, p := range []string{"../" + filepath.Base(outside) + "/secret", "link/secret", "/../secret"} {
		if f, e := fs.OpenFile(p, experimentalsys.O_RDONLY, 0); e == 0 {
			f.Close()
			t.Errorf("OpenFile(%q) reached outside the directory", p)
		}
		if _, e := fs.Stat(p); e == 0 {
			t.Errorf("Stat(%q) reached outside the directory", p)
		}
	}
	if e := fs.Rename("link/secret", "mine"); e == 0 {
		t.Error("Rename moved a file from outside the directory in")
	}
	if e := fs.Symlink("/etc", "etc"); e == 0 {
		t.Error("Symlink made a link")
	}
	if e := fs.Link("link/secret", "hard"); e == 0 {
		t.Error("Link made a hard link")
	}
	f, e := fs.OpenFile("new", experimentalsys.O_WRONLY|experimentalsys.O_CREAT, 0o777)
	if e != 0 {
		t.Fatalf("OpenFile(new): %v", e)
	}
	f.Close()
	if st, err := os.Stat(filepath.Join(dir, "new")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("a created file is %v (%v), not 0600", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("the file outside is gone: %v", err)
	}
}
