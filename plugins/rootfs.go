package plugins

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// rootFS is a directory of this machine as a WASI file system (a
// capabilities.data_dirs entry), jailed by an os.Root: a path that leaves
// the directory, by ".." or through a symbolic link, fails (wazero's own
// directory mounts let a guest out by "../", so the host never uses them).
// Files are created 0600 and directories 0700; links, hard links, modes and
// times cannot be made or changed, and files are read and written at
// offsets (pread, pwrite) or in sequence, not sought.
type rootFS struct {
	experimentalsys.UnimplementedFS
	root *os.Root
}

// openRoots makes (0700) and opens the directories of a data_dirs grant.
func openRoots(dirs []string) ([]*os.Root, error) {
	var roots []*os.Root
	for _, d := range dirs {
		err := os.MkdirAll(d, 0o700)
		var r *os.Root
		if err == nil {
			r, err = os.OpenRoot(d)
		}
		if err != nil {
			closeRoots(roots)
			return nil, fmt.Errorf("%q entry %q cannot be opened: %w", "capabilities.data_dirs", d, err)
		}
		roots = append(roots, r)
	}
	return roots, nil
}

// fsConfig mounts each root at its own path in the guest.
func fsConfig(dirs []string, roots []*os.Root) wazero.FSConfig {
	c := wazero.NewFSConfig()
	for i, r := range roots {
		c = c.(sysfs.FSConfig).WithSysFSMount(rootFS{root: r}, dirs[i])
	}
	return c
}

func closeRoots(roots []*os.Root) {
	for _, r := range roots {
		r.Close()
	}
}

// name is the path wazero gives (relative to the mount) as os.Root takes it.
func name(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if e := experimentalsys.UnwrapOSError(err); e != experimentalsys.EIO || errors.Is(err, syscall.EIO) {
		return e
	}
	// os.Root's "path escapes from parent" and the like.
	return experimentalsys.EPERM
}

func osFlag(f experimentalsys.Oflag) int {
	var flag int
	switch f & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		flag = os.O_RDWR
	case experimentalsys.O_WRONLY:
		flag = os.O_WRONLY
	}
	for _, m := range []struct {
		w  experimentalsys.Oflag
		os int
	}{{experimentalsys.O_APPEND, os.O_APPEND}, {experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL}, {experimentalsys.O_SYNC, os.O_SYNC}, {experimentalsys.O_TRUNC, os.O_TRUNC}} {
		if f&m.w != 0 {
			flag |= m.os
		}
	}
	return flag
}

func (r rootFS) OpenFile(p string, flag experimentalsys.Oflag, _ fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	f, err := r.root.OpenFile(name(p), osFlag(flag), 0o600)
	if err != nil {
		return nil, errno(err)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		if st, err := f.Stat(); err != nil || !st.IsDir() {
			f.Close()
			return nil, experimentalsys.ENOTDIR
		}
	}
	return &rootFile{f: f, append: flag&experimentalsys.O_APPEND != 0}, 0
}

func (r rootFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	st, err := r.root.Lstat(name(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(st), 0
}

func (r rootFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	st, err := r.root.Stat(name(p))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(st), 0
}

func (r rootFS) Mkdir(p string, _ fs.FileMode) experimentalsys.Errno {
	e := errno(r.root.Mkdir(name(p), 0o700))
	if e == experimentalsys.ENOTDIR {
		e = experimentalsys.ENOENT
	}
	return e
}

func (r rootFS) Rename(from, to string) experimentalsys.Errno {
	return errno(r.root.Rename(name(from), name(to)))
}

// Rmdir and Unlink remove only what they are for: os.Root.Remove takes
// either.
func (r rootFS) Rmdir(p string) experimentalsys.Errno {
	st, err := r.root.Lstat(name(p))
	switch {
	case err != nil:
		return errno(err)
	case !st.IsDir():
		return experimentalsys.ENOTDIR
	}
	return errno(r.root.Remove(name(p)))
}

func (r rootFS) Unlink(p string) experimentalsys.Errno {
	st, err := r.root.Lstat(name(p))
	switch {
	case err != nil:
		return errno(err)
	case st.IsDir():
		return experimentalsys.EISDIR
	}
	return errno(r.root.Remove(name(p)))
}

func (r rootFS) Readlink(p string) (string, experimentalsys.Errno) {
	s, err := r.root.Readlink(name(p))
	return s, errno(err)
}

// rootFile is a file or directory opened under a rootFS.
type rootFile struct {
	experimentalsys.UnimplementedFile
	f      *os.File
	append bool
}

func (f *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	st, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(st), 0
}

func (f *rootFile) Dev() (uint64, experimentalsys.Errno) {
	st, e := f.Stat()
	return st.Dev, e
}

func (f *rootFile) Ino() (sys.Inode, experimentalsys.Errno) {
	st, e := f.Stat()
	return st.Ino, e
}

func (f *rootFile) IsDir() (bool, experimentalsys.Errno) {
	st, e := f.Stat()
	return st.Mode.IsDir(), e
}

func (f *rootFile) IsAppend() bool { return f.append }

func (f *rootFile) Read(b []byte) (int, experimentalsys.Errno) {
	n, err := f.f.Read(b)
	if err == io.EOF {
		err = nil
	}
	return n, errno(err)
}

func (f *rootFile) Pread(b []byte, off int64) (int, experimentalsys.Errno) {
	n, err := f.f.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	return n, errno(err)
}

func (f *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	entries, err := f.f.ReadDir(n)
	if err == io.EOF {
		err = nil
	}
	out := make([]experimentalsys.Dirent, 0, len(entries))
	for _, e := range entries {
		d := experimentalsys.Dirent{Name: e.Name(), Type: e.Type()}
		if info, err := e.Info(); err == nil {
			d.Ino = sys.NewStat_t(info).Ino
		}
		out = append(out, d)
	}
	return out, errno(err)
}

func (f *rootFile) Write(b []byte) (int, experimentalsys.Errno) {
	n, err := f.f.Write(b)
	return n, errno(err)
}

func (f *rootFile) Pwrite(b []byte, off int64) (int, experimentalsys.Errno) {
	n, err := f.f.WriteAt(b, off)
	return n, errno(err)
}

func (f *rootFile) Truncate(size int64) experimentalsys.Errno { return errno(f.f.Truncate(size)) }
func (f *rootFile) Sync() experimentalsys.Errno               { return errno(f.f.Sync()) }
func (f *rootFile) Datasync() experimentalsys.Errno           { return errno(f.f.Sync()) }
func (f *rootFile) Close() experimentalsys.Errno              { return errno(f.f.Close()) }
