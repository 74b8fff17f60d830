package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/bigjob-go/bigjob/storage"
)

// transfer copies file_transfer entries into the directory dir: a unit's
// working directory, or the pilot's sandbox for the pilot's entries. An
// entry is "source [> target]". The source is an absolute path, file:///path
// or ssh://[user@]host[:port]/path (storage.OpenSource: this machine's
// files are read directly, other hosts' through the ssh command); a
// wildcard in it (in the file name only, for other hosts) copies every
// file it matches, and must match one. Directories are not copied: an
// entry names files. The target, if given and not SUBJOB_WORK_DIR or
// BIGJOB_WORK_DIR, names the copy, relative to dir; a target that ends in
// '/' or is a directory receives the files under their names. Every copy
// goes through a temporary name and takes its name only once whole. The
// error names the entry and how to fix it.
func transfer(ctx context.Context, entries []string, dir string) error {
	for _, e := range entries {
		if err := transferEntry(ctx, e, dir); err != nil {
			return fmt.Errorf("file_transfer %q: %w", e, err)
		}
	}
	return nil
}

func transferEntry(ctx context.Context, entry, dir string) error {
	src, target, _ := strings.Cut(entry, ">")
	src, target = strings.TrimSpace(src), strings.TrimSpace(target)
	if src == "" {
		return errors.New(`no source: write "ssh://host/path/file > SUBJOB_WORK_DIR" or "/path/file"`)
	}
	h, p, err := storage.OpenSource(ctx, src)
	if err != nil {
		return err
	}
	files := []string{p}
	if storage.HasMeta(p) {
		if files, err = h.Glob(ctx, p); err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("%s matches no file on %s; check the pattern", p, h.Name())
		}
	}
	into, dst := dir, ""
	switch target {
	case "", "SUBJOB_WORK_DIR", "BIGJOB_WORK_DIR":
	default:
		t := expandHome(target)
		if !filepath.IsAbs(t) {
			t = filepath.Join(dir, t)
		}
		if st, err := os.Stat(t); strings.HasSuffix(target, "/") || err == nil && st.IsDir() {
			into = t
		} else if len(files) > 1 {
			return fmt.Errorf("%d files match, but the target %s is not a directory; end it with '/' to make one", len(files), target)
		} else {
			dst = t
		}
		mk := into
		if dst != "" {
			mk = filepath.Dir(dst)
		}
		if err := os.MkdirAll(mk, 0o700); err != nil {
			return fmt.Errorf("make the target's directory: %w", err)
		}
	}
	err = storage.FetchAll(ctx, h, files, func(f string) string {
		if dst != "" {
			return dst
		}
		return filepath.Join(into, path.Base(f))
	})
	if fe := (*storage.FetchError)(nil); errors.As(err, &fe) {
		return withFix(err, h, fe.Path)
	}
	return err
}

// withFix adds to a failed copy of the file f of host h what would fix it.
func withFix(err error, h storage.Host, f string) error {
	var exit *exec.ExitError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w; check the path: the file must exist on %s when the agent stages it", err, h.Name())
	case errors.Is(err, storage.ErrIsDir):
		return fmt.Errorf("%w; directories are not copied: name the files, e.g. %s", err, path.Join(f, "*"))
	case errors.As(err, &exit) && exit.ExitCode() == 255: // ssh's own failure
		return fmt.Errorf("%w; the agent's host must reach %s and log in with ssh in batch mode: a key without a passphrase "+
			"(BIGJOB_SSH_IDENTITY, else ~/.ssh) and the host's key in known_hosts (BIGJOB_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts)",
			err, h.Name())
	}
	return err
}
