package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// A Host is the file system of one machine as a file_transfer source names
// it: its files are read by absolute (slash) path and copied to this
// machine. Every copy goes through a temporary name beside its target and
// takes the target's name only once whole.
type Host interface {
	// Name is the host as the source named it ("localhost" for this
	// machine), for messages.
	Name() string
	// Glob is the paths on the host that pattern matches, sorted; a '*' or
	// '?' matches a leading '.' of a name only where the pattern's element
	// starts with '.' (as in the shell). No match is no error.
	Glob(ctx context.Context, pattern string) ([]string, error)
	// Fetch copies the regular file at p on the host to the local path dst,
	// with mode FetchedMode (executable if the source is to its reader).
	// A missing file is an error that matches fs.ErrNotExist, a directory
	// one that matches ErrIsDir.
	Fetch(ctx context.Context, p, dst string) error
}

// BatchFetcher is a Host that copies many files in one go (for a host
// reached over SSH, one session for them all rather than one each).
type BatchFetcher interface {
	// FetchAll copies the regular files at paths on the host, in order,
	// each to the local path dst(p) as Fetch does. It stops at the first
	// failure, a *FetchError; the files copied before it are in place.
	FetchAll(ctx context.Context, paths []string, dst func(string) string) error
}

// FetchError is the failed copy of one file of FetchAll.
type FetchError struct {
	Path string // the file on the host
	Err  error
}

func (e *FetchError) Error() string { return e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// FetchAll copies the files at paths on h, each to the local path dst(p):
// in one go where h is a BatchFetcher and there are several, else a Fetch
// each. It stops at the first failure, a *FetchError naming the file.
func FetchAll(ctx context.Context, h Host, paths []string, dst func(string) string) error {
	if b, ok := h.(BatchFetcher); ok && len(paths) > 1 {
		return b.FetchAll(ctx, paths, dst)
	}
	for _, p := range paths {
		if err := h.Fetch(ctx, p, dst(p)); err != nil {
			return &FetchError{Path: p, Err: err}
		}
	}
	return nil
}

// ErrIsDir: a source is a directory where a file was wanted.
var ErrIsDir = errors.New("is a directory")

// HostOpener opens the host of a source URL of a registered scheme
// (RegisterHost).
type HostOpener func(ctx context.Context, u *url.URL) (Host, error)

var hosts = struct {
	sync.Mutex
	m map[string]HostOpener
}{m: map[string]HostOpener{}}

// RegisterHost makes OpenSource serve sources of the given schemes on other
// hosts. Package storage/sshcmd registers ssh://, sftp:// and scp:// when a
// program (the agent) imports it.
func RegisterHost(open HostOpener, names ...string) {
	hosts.Lock()
	defer hosts.Unlock()
	for _, n := range names {
		hosts.m[n] = open
	}
}

// OpenSource opens the host of a file_transfer source and returns the
// (slash, absolute) path on it, which may be a glob pattern. A source is
// an absolute path, file:///path, or ssh://[user@]host[:port]/path (also
// sftp:// and scp://); ssh://localhost/path, ssh:///path and the URL of
// this machine's host name, without a user or port, are this machine, read
// without ssh. Other hosts need a registered opener (storage/sshcmd).
func OpenSource(ctx context.Context, source string) (Host, string, error) {
	if !strings.Contains(source, "://") {
		if !filepath.IsAbs(source) {
			return nil, "", fmt.Errorf("%q is a relative path, which the agent would read from its own working directory; "+
				"give an absolute path (or file:///path, ssh://host/path)", source)
		}
		return local{}, filepath.ToSlash(filepath.Clean(source)), nil
	}
	u, err := url.Parse(source)
	if err != nil {
		return nil, "", fmt.Errorf("%q is not a URL: %w", source, err)
	}
	if what, ok := unsupported[u.Scheme]; ok {
		return nil, "", fmt.Errorf("the %s:// scheme (%s) is not supported; copy from a file system: file:///path here, "+
			"or ssh://host/path on another host", u.Scheme, what)
	}
	switch u.Scheme {
	case "file", "ssh", "sftp", "scp":
	default:
		return nil, "", fmt.Errorf("the %s:// scheme cannot be copied from; give file:///path or ssh://host/path", u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		return nil, "", fmt.Errorf("%q names no file: give its absolute path after the host, e.g. ssh://host/data/in.txt", source)
	}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return nil, "", fmt.Errorf("%q: file:// names files of this machine only; for host %s use ssh://%s%s",
				source, u.Host, u.Host, u.Path)
		}
		return local{}, path.Clean(u.Path), nil
	}
	if isThisHost(u.Hostname()) && u.User == nil && u.Port() == "" {
		return local{}, path.Clean(u.Path), nil
	}
	hosts.Lock()
	open := hosts.m[u.Scheme]
	hosts.Unlock()
	if open == nil {
		return nil, "", fmt.Errorf("%q is on host %s, and this program has no way to copy from other hosts "+
			`(a Go program links one with: import _ "github.com/bigjob-go/bigjob/storage/sshcmd")`, source, u.Hostname())
	}
	h, err := open(ctx, u)
	if err != nil {
		return nil, "", err
	}
	return h, path.Clean(u.Path), nil
}

// isThisHost says whether a URL's host name is this machine.
func isThisHost(name string) bool {
	switch name {
	case "", "localhost", "127.0.0.1", "::1":
		return true
	}
	me, err := os.Hostname()
	return err == nil && name == me
}

// HasMeta says whether p holds any of the shell's pattern characters.
func HasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// MatchName says whether the file name matches the shell pattern pat: as
// path.Match, but a leading '.' must be matched by a leading '.' of pat.
func MatchName(pat, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pat, ".") {
		return false
	}
	ok, _ := path.Match(pat, name)
	return ok
}

// local is this machine.
type local struct{}

func (local) Name() string { return "localhost" }

func (local) Glob(ctx context.Context, pattern string) ([]string, error) {
	found, err := filepath.Glob(filepath.FromSlash(pattern))
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	var out []string
	for _, f := range found {
		// filepath.Glob matches hidden names with '*'; the shell does not
		if MatchName(path.Base(pattern), filepath.Base(f)) {
			out = append(out, filepath.ToSlash(f))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (local) Fetch(ctx context.Context, p, dst string) error {
	st, err := os.Stat(filepath.FromSlash(p))
	if err != nil {
		return err
	}
	if st.IsDir() {
		return &fs.PathError{Op: "copy", Path: p, Err: ErrIsDir}
	}
	if _, _, err := copyChecked(ctx, filepath.FromSlash(p), dst, nil, FetchedMode(st.Mode()&0o100 != 0)); err != nil {
		return fmt.Errorf("copy %s to %s: %w", p, dst, err)
	}
	return nil
}

// FetchedMode is the mode of a file fetched from a host: owner-only, and
// executable if the source was.
func FetchedMode(exec bool) os.FileMode {
	if exec {
		return 0o700
	}
	return 0o600
}
