// Package storage keeps the files of data units in Pilot-Data locations and
// moves them between a location and this machine. Every copy goes through a
// temporary name beside its target, is checked against its size and sha256,
// and only then takes its final name: no partial or corrupt file is ever
// left under a final name.
package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/bigjob-go/bigjob/vocab"
)

// File is a file of a data unit as recorded in the coordination store: its
// name under the location (slash-separated), its size and sha256.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ErrChecksum: a file's bytes do not match its size and sha256 as recorded.
var ErrChecksum = errors.New("the file does not match its recorded size and sha256")

// Location is where a Pilot-Data keeps its files. Its methods are safe for
// concurrent use: GetAll runs several Gets at once.
type Location interface {
	// URL is the Pilot-Data's service_url.
	URL() string
	// Put copies the local file src to name under the location.
	Put(ctx context.Context, src, name string) (File, error)
	// Get copies f from the location to the local path dst, checked.
	Get(ctx context.Context, f File, dst string) error
	// Remove removes name (a file or a directory, with what is in it).
	Remove(ctx context.Context, name string) error
}

// BatchGetter is a Location that copies many files in one go (for a host
// reached over SSH, one session for them all rather than one each).
type BatchGetter interface {
	// GetAll copies files from the location, in order, each to the local
	// path dst(f), each checked as by Get. It stops at the first failure;
	// the files copied before it are in place.
	GetAll(ctx context.Context, files []File, dst func(File) string) error
}

// Put is a local file Src to place under the name Name in a location.
type Put struct {
	Src, Name string
}

// BatchPutter is a Location that places many files in one go (for a host
// reached over SSH, one session for them all rather than one each).
type BatchPutter interface {
	// PutAll copies each local file puts[i].Src to puts[i].Name under the
	// location, each through a temporary name, and returns their records
	// in order. On a failure no file takes its name.
	PutAll(ctx context.Context, puts []Put) ([]File, error)
}

// PutAll places the local files of puts in loc and returns their records
// in order: in one go where loc is a BatchPutter, else with up to four
// Puts at once (Parallel). It stops at the first failure and returns it;
// files placed until then may be in place, unrecorded.
func PutAll(ctx context.Context, loc Location, puts []Put) ([]File, error) {
	if b, ok := loc.(BatchPutter); ok {
		return b.PutAll(ctx, puts)
	}
	files := make([]File, len(puts))
	err := Parallel(ctx, len(puts), func(ctx context.Context, i int) (err error) {
		files[i], err = loc.Put(ctx, puts[i].Src, puts[i].Name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// GetAll copies files from loc, each to the local path dst(f) and checked
// against its size and sha256: in one go where loc is a BatchGetter, else
// with up to four Gets at once (Parallel; dst must be safe for concurrent
// calls).
// It stops at the first failure and returns it; the files copied until
// then are in place.
func GetAll(ctx context.Context, loc Location, files []File, dst func(File) string) error {
	if b, ok := loc.(BatchGetter); ok {
		return b.GetAll(ctx, files, dst)
	}
	return Parallel(ctx, len(files), func(ctx context.Context, i int) error { return loc.Get(ctx, files[i], dst(files[i])) })
}

// Parallel runs do(ctx, i) for i in [0, n), up to four at once (as many as
// the cores, at least two), and returns the first error (after which it
// starts no more), or ctx's: how many files are copied at once.
func Parallel(ctx context.Context, n int, do func(ctx context.Context, i int) error) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(parallel(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := do(ctx, i); err != nil {
					stop(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// parallel is how many files Parallel copies at once: a small file costs
// mostly system calls and waits on the file system or the network, which
// parallel copies spread over the cores and overlap.
func parallel() int { return min(4, max(2, runtime.GOMAXPROCS(0))) }

// unsupported names the original's backends that this version has not,
// with what to use instead.
var unsupported = map[string]string{
	"s3": "Amazon S3", "walrus": "Eucalyptus Walrus", "swift": "OpenStack Swift", "gs": "Google Cloud Storage",
	"go": "Globus Online", "irods": "iRODS", "http": "WebHDFS", "https": "WebHDFS",
}

// ErrNoBackend: no backend of this program serves the scheme of a
// Pilot-Data URL. Open's error says which scheme and what to use instead.
var ErrNoBackend = errors.New("no Pilot-Data backend of this program serves the URL's scheme")

// noBackend is an error that reads as its message and matches ErrNoBackend.
type noBackend struct{ msg string }

func (e *noBackend) Error() string        { return e.msg }
func (e *noBackend) Is(target error) bool { return target == ErrNoBackend }

// Opener opens a location of a registered scheme (Register, Add).
type Opener func(ctx context.Context, u *url.URL) (Location, error)

type backend struct {
	open Opener
	by   string // who serves it, for messages ("" for a package's init)
}

var schemes = struct {
	sync.Mutex
	m map[string]backend
}{m: map[string]backend{}}

// Register makes open serve Pilot-Data URLs of the given schemes on other
// hosts. Package storage/sftpstore registers ssh:// and sftp:// when a
// program imports it; the agent does not link it.
func Register(open Opener, names ...string) {
	schemes.Lock()
	defer schemes.Unlock()
	for _, n := range names {
		schemes.m[n] = backend{open: open}
	}
}

// builtin are the schemes storage serves itself or through the packages
// that Register them; Add refuses them.
var builtin = map[string]bool{"file": true, "ssh": true, "sftp": true}

// Add makes open serve Pilot-Data URLs of the given schemes, on behalf of
// by (e.g. "plugin demo"), unless one of them is file, ssh or sftp or is
// served already: then it serves none and says which. Package
// storage/pluginstore adds the schemes of data plugins.
func Add(by string, open Opener, names ...string) error {
	schemes.Lock()
	defer schemes.Unlock()
	for _, n := range names {
		if builtin[n] {
			return fmt.Errorf("Pilot-Data scheme %s:// is served by this program itself", n)
		}
		if b, ok := schemes.m[n]; ok {
			return fmt.Errorf("Pilot-Data scheme %s:// is already served by %s", n, b.by)
		}
	}
	for _, n := range names {
		schemes.m[n] = backend{open: open, by: by}
	}
	return nil
}

// pluginHint says how a scheme could be served.
func pluginHint(scheme string) string {
	return fmt.Sprintf("or load a data plugin that serves %s:// (plugins/ABI.md, Data plugins)", scheme)
}

// Open opens the location of a Pilot-Data's service_url: a path, file:///path
// or ssh://localhost/path (a directory of this machine, created if missing),
// or a URL of a registered scheme (ssh://[user@]host[:port]/path with
// storage/sftpstore linked in, a data plugin's scheme with
// storage/pluginstore linked in and the plugin loaded). An unserved scheme
// is an error matching ErrNoBackend that names it and what to use instead.
func Open(ctx context.Context, serviceURL string) (Location, error) {
	if !strings.Contains(serviceURL, "://") {
		return openDir(serviceURL, serviceURL)
	}
	u, err := url.Parse(serviceURL)
	if err != nil {
		return nil, fmt.Errorf("Pilot-Data %q: not a URL: %w", serviceURL, err)
	}
	schemes.Lock()
	b, served := schemes.m[u.Scheme]
	schemes.Unlock()
	if what, ok := unsupported[u.Scheme]; ok && !served {
		return nil, &noBackend{fmt.Sprintf("Pilot-Data %s: the %s:// backend (%s) is not supported; keep the data on a file system: "+
			"file:///path on this machine, or ssh://host/path on another; %s", serviceURL, u.Scheme, what, pluginHint(u.Scheme))}
	}
	if p, err := vocab.LocalFile(serviceURL); err == nil && u.User == nil && u.Port() == "" {
		return openDir(serviceURL, p)
	}
	switch {
	case served:
		return b.open(ctx, u)
	case u.Scheme == "ssh" || u.Scheme == "sftp":
		return nil, &noBackend{fmt.Sprintf("Pilot-Data %s: this program has no SSH backend for Pilot-Data on another host "+
			`(a Go program links it with: import _ "github.com/bigjob-go/bigjob/storage/sftpstore")`, serviceURL)}
	}
	return nil, &noBackend{fmt.Sprintf("Pilot-Data %s: the %s:// scheme is not a Pilot-Data backend; use file:///path or ssh://host/path, %s",
		serviceURL, u.Scheme, pluginHint(u.Scheme))}
}

// dir is a location in a directory of this machine.
type dir struct {
	url  string
	root string
}

func openDir(serviceURL, root string) (*dir, error) {
	if strings.HasPrefix(root, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("Pilot-Data %s: %w", serviceURL, err)
		}
		root = filepath.Join(home, root[2:])
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: %w", serviceURL, err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: create its directory: %w", serviceURL, err)
	}
	return &dir{url: serviceURL, root: root}, nil
}

func (d *dir) URL() string { return d.url }

func (d *dir) path(name string) (string, error) {
	p, err := Below(d.url, filepath.ToSlash(d.root), name)
	return filepath.FromSlash(p), err
}

// Below is the slash path of name under root, the directory of the location
// at url; a name that is not clean, or would leave root, is refused.
func Below(url, root, name string) (string, error) {
	clean := path.Clean("/" + name)
	if clean == "/" || clean != "/"+name {
		return "", fmt.Errorf("Pilot-Data %s: %q is not a file name under it", url, name)
	}
	return path.Join(root, clean[1:]), nil
}

// TempName is a name beside the slash path dst that concurrent writers do
// not share, for a copy that takes dst's name once whole.
func TempName(dst string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return path.Join(path.Dir(dst), "."+path.Base(dst)+".part-"+hex.EncodeToString(b))
}

func (d *dir) Put(ctx context.Context, src, name string) (File, error) {
	dst, err := d.path(name)
	if err != nil {
		return File{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return File{}, fmt.Errorf("Pilot-Data %s: %w", d.url, err)
	}
	size, sum, err := copyChecked(ctx, src, dst, nil, 0)
	if err != nil {
		return File{}, fmt.Errorf("Pilot-Data %s: add %s: %w", d.url, src, err)
	}
	return File{Name: name, Size: size, SHA256: sum}, nil
}

func (d *dir) Get(ctx context.Context, f File, dst string) error {
	src, err := d.path(f.Name)
	if err != nil {
		return err
	}
	if _, _, err := copyChecked(ctx, src, dst, &f, 0); err != nil {
		return fmt.Errorf("Pilot-Data %s: copy %s to %s: %w", d.url, f.Name, dst, err)
	}
	return nil
}

func (d *dir) Remove(ctx context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	return os.RemoveAll(p)
}

// copyChecked copies the local file src to dst through a temporary name in
// dst's directory, and renames it only when the copy is whole and, if want
// is given, matches its size and sha256; perm, if not 0, is its mode. It
// returns the size and sha256.
func copyChecked(ctx context.Context, src, dst string, want *File, perm os.FileMode) (int64, string, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, "", err
	}
	if st.IsDir() {
		return 0, "", fmt.Errorf("%s %w; a data unit holds files", src, ErrIsDir)
	}
	return place(dst, want, perm, func(tmp *os.File) (int64, hashResult) {
		if st.Size() < parallelHash {
			return copyHashing(ctx, tmp, in)
		}
		// The kernel copies the bytes (copy_file_range where the file
		// systems allow) while a second reader hashes the source.
		hashed := make(chan hashResult, 1)
		go func() { hashed <- hashFile(ctx, src) }()
		size, err := io.Copy(tmp, in)
		h := <-hashed
		if err == nil && h.err == nil && h.size != size {
			err = fmt.Errorf("%s changed while it was copied", src)
		}
		if err != nil {
			h.err = err
		}
		return size, h
	})
}

// Receive writes what r yields to the local path dst through a temporary
// name beside it, and renames it only when it is whole and, if want is
// given, matches its size and sha256 (else ErrChecksum, and nothing is left).
// It returns the size and sha256. Locations of other hosts use it to fetch.
func Receive(ctx context.Context, r io.Reader, dst string, want *File) (int64, string, error) {
	return place(dst, want, 0, func(tmp *os.File) (int64, hashResult) { return copyHashing(ctx, tmp, r) })
}

// ReceiveFile writes what r yields to the local path dst with mode perm,
// through a temporary name beside it renamed once r ended without error:
// a file that was recorded nowhere (a file_transfer source), so unchecked.
func ReceiveFile(ctx context.Context, r io.Reader, dst string, perm os.FileMode) error {
	_, _, err := place(dst, nil, perm, func(tmp *os.File) (int64, hashResult) { return copyHashing(ctx, tmp, r) })
	return err
}

// place fills a temporary file beside dst with fill, checks it against
// want (if given), gives it mode perm (if not 0; else it stays 0600) and
// renames it to dst; on any failure it removes it.
func place(dst string, want *File, perm os.FileMode, fill func(*os.File) (int64, hashResult)) (int64, string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return 0, "", err
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	size, h := fill(tmp)
	if h.err != nil {
		return 0, "", h.err
	}
	if perm != 0 {
		if err := tmp.Chmod(perm); err != nil {
			return 0, "", err
		}
	}
	if err := tmp.Close(); err != nil {
		return 0, "", err
	}
	if want != nil && (size != want.Size || h.sum != want.SHA256) {
		return 0, "", fmt.Errorf("%w: %s is %d bytes with sha256 %.16s…, recorded %d bytes with sha256 %.16s…",
			ErrChecksum, want.Name, size, h.sum, want.Size, want.SHA256)
	}
	// rename(2) itself: os.Rename first stats dst, a system call per file
	// that a data unit of small files feels. The kernel refuses a file over
	// a directory all the same.
	if err := syscall.Rename(tmp.Name(), dst); err != nil {
		return 0, "", &os.LinkError{Op: "rename", Old: tmp.Name(), New: dst, Err: err}
	}
	keep = true
	return size, h.sum, nil
}

// Hashing is a writer that counts and hashes what passes: locations of
// other hosts hash what they send.
type Hashing struct {
	h    hash.Hash
	size int64
}

// NewHashing returns an empty Hashing.
func NewHashing() *Hashing { return &Hashing{h: sha256.New()} }

func (w *Hashing) Write(p []byte) (int, error) {
	w.size += int64(len(p))
	return w.h.Write(p)
}

// File is what passed, as the file name.
func (w *Hashing) File(name string) File {
	return File{Name: name, Size: w.size, SHA256: hex.EncodeToString(w.h.Sum(nil))}
}

// parallelHash is the size from which a file is hashed beside its copy
// rather than through it.
const parallelHash = 4 << 20

// copyBuffers keeps copyHashing's buffers: a data unit of many small files
// would otherwise allocate (and zero) one per file.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyHashing copies in to out through one buffer, hashing what passes.
func copyHashing(ctx context.Context, out io.Writer, in io.Reader) (int64, hashResult) {
	h := sha256.New()
	pb := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(pb)
	buf := *pb
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, hashResult{err: err}
		}
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return 0, hashResult{err: werr}
			}
			h.Write(buf[:n])
			size += int64(n)
		}
		if err == io.EOF {
			return size, hashResult{size: size, sum: hex.EncodeToString(h.Sum(nil))}
		}
		if err != nil {
			return 0, hashResult{err: err}
		}
	}
}

type hashResult struct {
	size int64
	sum  string
	err  error
}

// hashFile is the size and sha256 of the file at path; it stops when ctx
// ends.
func hashFile(ctx context.Context, path string) hashResult {
	f, err := os.Open(path)
	if err != nil {
		return hashResult{err: err}
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return hashResult{err: err}
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		size += int64(n)
		if err == io.EOF {
			return hashResult{size: size, sum: hex.EncodeToString(h.Sum(nil))}
		}
		if err != nil {
			return hashResult{err: err}
		}
	}
}
