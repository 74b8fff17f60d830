// Package sshcmd reaches other hosts through the system's ssh command (batch
// mode, host keys checked): how the agent, which links no SSH library,
// stages the data units a compute unit names when they live in a Pilot-Data
// on another host, ssh://[user@]host[:port]/path, and copies the sources of
// file_transfer entries from other hosts. The program that imports it (the
// agent) registers it with package storage, for both. BIGJOB_SSH_IDENTITY
// (the private keys, ':'-separated) and BIGJOB_SSH_KNOWN_HOSTS (the
// known_hosts files) are honoured, as by adaptors/remote; ~/.ssh/config
// applies as for ssh.
package sshcmd

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/storage"
)

func init() {
	storage.Register(open, "ssh", "sftp")
	storage.RegisterHost(openHost, "ssh", "sftp", "scp")
}

// host is another host, reached with ssh.
type host struct {
	name string
	args []string // ssh and its options, up to and with the host
}

func newHost(u *url.URL) *host {
	args := []string{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	if u.User != nil {
		args = append(args, "-l", u.User.Username())
	}
	for _, id := range strings.Split(os.Getenv("BIGJOB_SSH_IDENTITY"), ":") {
		if id != "" {
			args = append(args, "-i", id)
		}
	}
	if kh := os.Getenv("BIGJOB_SSH_KNOWN_HOSTS"); kh != "" {
		args = append(args, "-o", "UserKnownHostsFile="+strings.ReplaceAll(kh, ":", " "))
	}
	return &host{name: u.Host, args: append(args, "--", u.Hostname())}
}

// run runs the shell line on the host with stdin, its standard output going
// to stdout (nil: kept and returned).
func (h *host) run(ctx context.Context, line string, stdin io.Reader, stdout io.Writer) ([]byte, error) {
	cmd := exec.CommandContext(ctx, h.args[0], append(h.args[1:], line)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return nil, &runError{host: h.args[len(h.args)-1], err: err, stderr: msg}
	}
	return out.Bytes(), nil
}

// runError is a command on a host that failed; its exit status tells
// what the lines of this package reported (errNotExist, errIsDir).
type runError struct {
	host   string
	err    error
	stderr string
}

func (e *runError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("ssh %s: %v", e.host, e.err)
	}
	return fmt.Sprintf("ssh %s: %v: %s", e.host, e.err, e.stderr)
}
func (e *runError) Unwrap() error { return e.err }

// Exit statuses of the lines that test a path before they read it (ssh
// itself exits 255, cat and sh less than 90).
const (
	exitNotExist = 90
	exitIsDir    = 91
)

func (e *runError) Is(target error) bool {
	var x *exec.ExitError
	if !errors.As(e.err, &x) {
		return false
	}
	switch target {
	case fs.ErrNotExist:
		return x.ExitCode() == exitNotExist
	case storage.ErrIsDir:
		return x.ExitCode() == exitIsDir
	}
	return false
}

// location is a directory on another host, a Pilot-Data.
type location struct {
	*host
	url  string
	root string
}

func open(ctx context.Context, u *url.URL) (storage.Location, error) {
	if u.Path == "" || u.Path == "/" {
		return nil, fmt.Errorf("Pilot-Data %s: give the directory after the host, e.g. ssh://host/scratch/pilot-data", u)
	}
	l := &location{host: newHost(u), url: u.String(), root: u.Path}
	if _, err := l.run(ctx, "mkdir -p -- "+shell.Quote(l.root), nil, nil); err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: create its directory: %w", l.url, err)
	}
	return l, nil
}

func openHost(ctx context.Context, u *url.URL) (storage.Host, error) { return newHost(u), nil }

func (h *host) Name() string { return h.name }

// Glob lists the directory of pattern on the host (one command) and
// matches the names here; wildcards may be in the last element only.
func (h *host) Glob(ctx context.Context, pattern string) ([]string, error) {
	dir, pat := path.Split(pattern)
	if storage.HasMeta(dir) {
		return nil, fmt.Errorf("pattern %q on host %s: wildcards are expanded in the file name only, not in directories", pattern, h.name)
	}
	line := "cd -- " + shell.Quote(dir) + " 2>/dev/null || exit " + fmt.Sprint(exitNotExist) +
		`; for f in * .[!.]* ..?*; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done`
	out, err := h.run(ctx, line, nil, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no directory: no match
	}
	if err != nil {
		return nil, fmt.Errorf("list %s on host %s: %w", dir, h.name, err)
	}
	var found []string
	for _, name := range strings.Split(string(out), "\x00") {
		if name != "" && storage.MatchName(pat, name) {
			found = append(found, path.Join(dir, name))
		}
	}
	sort.Strings(found)
	return found, nil
}

// Fetch copies a file of the host with one command: it tests the path,
// sends one byte that says whether the file is executable, then the file.
func (h *host) Fetch(ctx context.Context, p, dst string) error {
	q := shell.Quote(p)
	line := fmt.Sprintf(`if [ -d %[1]s ]; then echo %[1]s is a directory >&2; exit %[2]d; `+
		`elif [ ! -e %[1]s ]; then echo %[1]s: no such file >&2; exit %[3]d; `+
		`elif [ -x %[1]s ]; then printf x; else printf n; fi && exec cat -- %[1]s`, q, exitIsDir, exitNotExist)
	err := h.receive(ctx, line, func(r io.Reader) error {
		mark := make([]byte, 1)
		if _, err := io.ReadFull(r, mark); err != nil {
			return err
		}
		return storage.ReceiveFile(ctx, r, dst, storage.FetchedMode(mark[0] == 'x'))
	})
	if err != nil {
		return fmt.Errorf("copy %s from host %s to %s: %w", p, h.name, dst, err)
	}
	return nil
}

// FetchAll copies files of one directory (a glob's matches) through as few
// sessions as their names allow (a command line of at most fetchLine
// bytes each): the host tests each file as Fetch does, sending a byte per
// file that says whether it is executable, then tar (following links)
// sends them all, each received through a temporary name. Files of
// several directories go one Fetch each.
func (h *host) FetchAll(ctx context.Context, paths []string, dst func(string) string) error {
	if len(paths) == 0 {
		return nil
	}
	dir := path.Dir(paths[0])
	for _, p := range paths {
		if path.Dir(p) != dir {
			return h.fetchEach(ctx, paths, dst)
		}
	}
	names := make([]string, len(paths)) // quoted for the host's shell
	for i, p := range paths {
		names[i] = shell.Quote(path.Base(p))
	}
	for len(paths) > 0 {
		n, size := 0, 0
		for n < len(paths) && (n == 0 || size+len(names[n])+1 <= fetchLine) {
			size += len(names[n]) + 1
			n++
		}
		if err := h.fetchBatch(ctx, dir, paths[:n], names[:n], dst); err != nil {
			return err
		}
		paths, names = paths[n:], names[n:]
	}
	return nil
}

// fetchLine bounds the quoted names of one FetchAll session (each appears
// twice in its command line, which a host takes up to 128 KiB long).
const fetchLine = 48 << 10

// fetchEach copies files one Fetch each.
func (h *host) fetchEach(ctx context.Context, paths []string, dst func(string) string) error {
	for _, p := range paths {
		if err := h.Fetch(ctx, p, dst(p)); err != nil {
			return &storage.FetchError{Path: p, Err: err}
		}
	}
	return nil
}

// fetchBatch copies the files of dir at paths (their names quoted for the
// host's shell) in one session.
func (h *host) fetchBatch(ctx context.Context, dir string, paths, names []string, dst func(string) string) error {
	list := strings.Join(names, " ")
	line := fmt.Sprintf(`cd -- %[1]s 2>/dev/null || exit %[3]d; for f in %[2]s; do `+
		`if [ -d "$f" ]; then echo "$f is a directory" >&2; exit %[4]d; `+
		`elif [ ! -e "$f" ]; then echo "$f: no such file" >&2; exit %[3]d; `+
		`elif [ -x "$f" ]; then printf x; else printf n; fi; done; exec tar -chf - -- %[2]s`,
		shell.Quote(dir), list, exitNotExist, exitIsDir)
	at := 0 // the file being copied
	err := h.receive(ctx, line, func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 256<<10)
		marks := make([]byte, len(paths))
		for ; at < len(paths); at++ {
			b, err := br.ReadByte()
			if err != nil {
				return err // the host's command says why
			}
			marks[at] = b
		}
		got := map[string]string{} // name in the stream: where it was received
		tr := tar.NewReader(br)
		for at = 0; at < len(paths); at++ {
			if err := receiveEntry(ctx, tr, path.Base(paths[at]), dst(paths[at]), marks[at] == 'x', got); err != nil {
				return err
			}
		}
		_, err := io.Copy(io.Discard, br) // the end of the archive
		return err
	})
	if err != nil {
		p := paths[min(at, len(paths)-1)]
		return &storage.FetchError{Path: p, Err: fmt.Errorf("copy %s from host %s to %s: %w", p, h.name, dst(p), err)}
	}
	return nil
}

// receiveEntry reads the next entry of tr, which must be the file name,
// into the local path dst (a second name of a file already received is
// copied from that); got records what was received where.
func receiveEntry(ctx context.Context, tr *tar.Reader, name, dst string, exec bool, got map[string]string) error {
	hdr, err := tr.Next()
	if err != nil {
		return fmt.Errorf("read the files' stream: %w", err)
	}
	if hdr.Name != name {
		return fmt.Errorf("the host sent %q where %q was due", hdr.Name, name)
	}
	var r io.Reader = tr
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeLink: // another name of a file sent before it
		first, ok := got[hdr.Linkname]
		if !ok {
			return fmt.Errorf("the host sent %q as a link to %q, which it had not sent", name, hdr.Linkname)
		}
		f, err := os.Open(first)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	default:
		return fmt.Errorf("%s is not a regular file", name)
	}
	if err := storage.ReceiveFile(ctx, r, dst, storage.FetchedMode(exec)); err != nil {
		return err
	}
	got[name] = dst
	return nil
}

// receive runs the line on the host and hands its standard output to take;
// the error is take's, else the command's.
func (h *host) receive(ctx context.Context, line string, take func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := h.run(ctx, line, nil, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err := take(pr)
	pr.CloseWithError(io.ErrClosedPipe) // ends the copy if take stopped early
	if rerr := <-done; rerr != nil && (err == nil || errors.Is(err, rerr) || errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF) {
		err = rerr
	}
	return err
}

func (l *location) URL() string { return l.url }

// command is ssh running the shell line on the host, its standard error
// kept in the buffer returned.
func (l *location) command(ctx context.Context, line string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, l.args[0], append(l.args[1:], line)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	return cmd, &errb
}

// failed describes err, the failure of ssh, with the end of what it wrote
// to its standard error.
func (l *location) failed(err error, stderr *bytes.Buffer) error {
	return fmt.Errorf("ssh %s: %w: %s", l.args[len(l.args)-1], err, tail(stderr))
}

// tail is the end of what ssh wrote to its standard error.
func tail(stderr *bytes.Buffer) string {
	msg := strings.TrimSpace(stderr.String())
	if len(msg) > 2000 {
		msg = msg[len(msg)-2000:]
	}
	return msg
}

// run runs the shell line on the host with stdin, its standard output going
// to stdout (nil: kept and returned).
func (l *location) run(ctx context.Context, line string, stdin io.Reader, stdout io.Writer) ([]byte, error) {
	cmd, errb := l.command(ctx, line)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout = stdin, &out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		return nil, l.failed(err, errb)
	}
	return out.Bytes(), nil
}

func (l *location) path(name string) (string, error) { return storage.Below(l.url, l.root, name) }

func (l *location) Put(ctx context.Context, src, name string) (storage.File, error) {
	dst, err := l.path(name)
	if err != nil {
		return storage.File{}, err
	}
	in, err := os.Open(src)
	if err != nil {
		return storage.File{}, fmt.Errorf("Pilot-Data %s: add %s: %w", l.url, src, err)
	}
	defer in.Close()
	tmp := storage.TempName(dst)
	line := "mkdir -p -- " + shell.Quote(path.Dir(dst)) + " && t=" + shell.Quote(tmp) +
		` && (umask 077 && cat > "$t") && mv -f -- "$t" ` + shell.Quote(dst) + ` || { s=$?; rm -f -- "$t"; exit $s; }`
	h := storage.NewHashing()
	if _, err := l.run(ctx, line, io.TeeReader(in, h), nil); err != nil {
		return storage.File{}, fmt.Errorf("Pilot-Data %s: add %s: %w", l.url, src, err)
	}
	return h.File(name), nil
}

// PutAll sends files that go into one directory (a data unit's) through
// one ssh session, as a tar stream that the host unpacks into a temporary
// directory beside it, files 0600. Then, if the directory does not exist
// yet, the temporary one takes its name (one rename); else one mv moves
// every file into it, each replacing its name at once. On a failure on
// either side (a source that cannot be read or changed size, tar
// refusing) the host removes the temporary directory: no file takes its
// name (a failing mv leaves those it moved). Files are hashed here as they
// are read. Files for several directories go one Put each.
func (l *location) PutAll(ctx context.Context, puts []storage.Put) ([]storage.File, error) {
	if len(puts) == 0 {
		return nil, nil
	}
	dir := path.Dir(puts[0].Name)
	for _, p := range puts {
		if _, err := l.path(p.Name); err != nil { // a clean name under the root
			return nil, err
		}
		if path.Dir(p.Name) != dir {
			return l.putEach(ctx, puts)
		}
	}
	d := path.Clean(l.root)
	if dir != "." {
		d, _ = l.path(dir)
	}
	tmp := storage.TempName(d)
	line := "mkdir -p -- " + shell.Quote(path.Dir(d)) + " && T=" + shell.Quote(tmp) + " && D=" + shell.Quote(d) +
		` && mkdir -- "$T" && if (cd -- "$T" && tar -xf -); then ` +
		`if [ ! -e "$D" ] && mv -- "$T" "$D"; then exit 0; fi; ` +
		`(cd -- "$T" && find . ! -name . -prune -exec sh -c 'mv -f -- "$@" "$0"' "$D" {} +) && rmdir -- "$T" && exit 0; fi; ` +
		`rm -rf -- "$T"; exit 1`
	cmd, errb := l.command(ctx, line)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: %w", l.url, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: %w", l.url, err)
	}
	files, sendErr := sendTar(stdin, puts)
	stdin.Close() // a stream cut short makes the host's tar fail, and clean up
	werr := cmd.Wait()
	switch {
	case sendErr != nil && werr != nil: // the host's side says why, if it ended first
		return nil, fmt.Errorf("Pilot-Data %s: add files: %w (%v)", l.url, sendErr, l.failed(werr, errb))
	case sendErr != nil:
		return nil, fmt.Errorf("Pilot-Data %s: add files: %w", l.url, sendErr)
	case werr != nil:
		return nil, fmt.Errorf("Pilot-Data %s: add files: %w", l.url, l.failed(werr, errb))
	}
	return files, nil
}

// putEach places files one Put each.
func (l *location) putEach(ctx context.Context, puts []storage.Put) ([]storage.File, error) {
	files := make([]storage.File, len(puts))
	for i, p := range puts {
		f, err := l.Put(ctx, p.Src, p.Name)
		if err != nil {
			return nil, err
		}
		files[i] = f
	}
	return files, nil
}

// sendTar writes each file of puts under its base name as a tar stream to
// w, and returns the files' records. On an error it stops without ending
// the stream.
func sendTar(w io.Writer, puts []storage.Put) ([]storage.File, error) {
	tw := tar.NewWriter(w)
	now := time.Now()
	files := make([]storage.File, len(puts))
	for i, p := range puts {
		f, err := sendFile(tw, p, path.Base(p.Name), now)
		if err != nil {
			return nil, fmt.Errorf("add %s: %w", p.Src, err)
		}
		files[i] = f
	}
	return files, tw.Close()
}

// sendFile writes the local file p.Src into tw as name, hashing it.
func sendFile(tw *tar.Writer, p storage.Put, name string, now time.Time) (storage.File, error) {
	in, err := os.Open(p.Src)
	if err != nil {
		return storage.File{}, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return storage.File{}, err
	}
	if !st.Mode().IsRegular() {
		return storage.File{}, fmt.Errorf("%s is not a regular file", p.Src)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return storage.File{}, err
	}
	h := storage.NewHashing()
	n, err := io.Copy(tw, io.TeeReader(in, h))
	if err == nil && n != st.Size() {
		err = fmt.Errorf("it changed size while it was sent (%d bytes, then %d)", st.Size(), n)
	}
	if err != nil {
		return storage.File{}, err
	}
	return h.File(p.Name), nil
}

func (l *location) Get(ctx context.Context, f storage.File, dst string) error {
	src, err := l.path(f.Name)
	if err != nil {
		return err
	}
	err = l.receive(ctx, "cat -- "+shell.Quote(src), func(r io.Reader) error {
		_, _, err := storage.Receive(ctx, r, dst, &f)
		return err
	})
	if err != nil {
		return fmt.Errorf("Pilot-Data %s: copy %s to %s: %w", l.url, f.Name, dst, err)
	}
	return nil
}

// GetAll fetches every file through one ssh session: the host writes the
// files one after the other (cat, their names NUL-separated on its standard
// input, through xargs), and this side cuts the stream at the recorded
// sizes, each piece received through a temporary name and checked against
// its size and sha256 before it takes its name. A file whose size changed
// shifts the rest, which then fail their checks; bytes past the last file
// are an error too.
func (l *location) GetAll(ctx context.Context, files []storage.File, dst func(storage.File) string) error {
	if len(files) == 0 {
		return nil
	}
	var names bytes.Buffer
	for _, f := range files {
		src, err := l.path(f.Name)
		if err != nil {
			return err
		}
		names.WriteString(src)
		names.WriteByte(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, errb := l.command(ctx, "xargs -0 cat --")
	cmd.Stdin = &names
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("Pilot-Data %s: %w", l.url, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("Pilot-Data %s: %w", l.url, err)
	}
	err = receiveAll(ctx, out, files, dst)
	if err != nil {
		// Let the host end by itself for a moment, so that its stderr
		// (why the stream was short: a file missing) is read; then stop it.
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, out); close(drained) }()
		select {
		case <-drained:
		case <-time.After(drainGrace):
			cancel()
		}
	}
	werr := cmd.Wait()
	switch {
	case err == nil && werr != nil:
		err = l.failed(werr, errb)
	case err != nil && errb.Len() > 0: // why the stream was short, say: a file missing
		err = fmt.Errorf("%w (ssh %s: %s)", err, l.args[len(l.args)-1], tail(errb))
	}
	if err != nil {
		return fmt.Errorf("Pilot-Data %s: copy to this host: %w", l.url, err)
	}
	return nil
}

// drainGrace is how long a batch fetch that went wrong waits for the host's
// command to end by itself before it stops it.
const drainGrace = 2 * time.Second

// receiveAll cuts r into files at their recorded sizes, each received to
// dst(f) and checked, and then expects the end of r.
func receiveAll(ctx context.Context, r io.Reader, files []storage.File, dst func(storage.File) string) error {
	br := bufio.NewReaderSize(r, 256<<10)
	for _, f := range files {
		if _, _, err := storage.Receive(ctx, io.LimitReader(br, f.Size), dst(f), &f); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("%w: the files are longer than recorded", storage.ErrChecksum)
	}
	return nil
}

func (l *location) Remove(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	_, err = l.run(ctx, "rm -rf -- "+shell.Quote(p), nil, nil)
	return err
}
