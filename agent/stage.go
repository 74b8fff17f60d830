package agent

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// stage copies a unit's file_transfer entries into its working directory.
// An entry is "source [> target]"; the source is a local path, file:///path,
// or ssh://[localhost]/path (BigJob's form for files on the submitting host,
// which for this agent is the same machine). The target, if given and not
// SUBJOB_WORK_DIR, names the copy (relative to the working directory). Files
// are copied, not linked, so that the unit may change or delete them.
func stage(entries []string, wd string) error {
	for _, e := range entries {
		src, target, _ := strings.Cut(e, ">")
		src, target = strings.TrimSpace(src), strings.TrimSpace(target)
		path, err := localSource(src)
		if err != nil {
			return fmt.Errorf("file_transfer %q: %w", e, err)
		}
		dst := filepath.Join(wd, filepath.Base(path))
		switch target {
		case "", "SUBJOB_WORK_DIR", "BIGJOB_WORK_DIR":
		default:
			dst = target
			if !filepath.IsAbs(dst) {
				dst = filepath.Join(wd, dst)
			}
		}
		if err := copyFile(path, dst); err != nil {
			return fmt.Errorf("file_transfer %q: %w", e, err)
		}
	}
	return nil
}

func localSource(src string) (string, error) {
	if !strings.Contains(src, "://") {
		return src, nil
	}
	u, err := url.Parse(src)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "file", "ssh", "sftp", "scp":
	default:
		return "", fmt.Errorf("scheme %s:// cannot be staged; use a local path or ssh://host/path", u.Scheme)
	}
	host, _ := os.Hostname()
	switch u.Hostname() {
	case "", "localhost", "127.0.0.1", "::1", host:
		return u.Path, nil
	}
	return "", fmt.Errorf("the source is on host %s; the agent copies only files of its own host", u.Hostname())
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory; list its files one by one", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
