package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// userName is what may follow "~" in a path the helpers expand.
var userName = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._-]*$`)

// PathWord returns a shell word whose value is the path p on the host.
func PathWord(p string) string {
	const home = `"${HOME:?is not set}"`
	switch {
	case p == "" || p == "~" || p == "$HOME":
		return home
	case strings.HasPrefix(p, "~/"):
		return home + "/" + Quote(p[2:])
	case strings.HasPrefix(p, "$HOME/"):
		return home + "/" + Quote(p[len("$HOME/"):])
	case strings.HasPrefix(p, "/"):
		return Quote(p)
	case strings.HasPrefix(p, "~"):
		name, rest, slash := strings.Cut(p[1:], "/")
		if userName.MatchString(name) {
			if slash {
				return "~" + name + "/" + Quote(rest)
			}
			return "~" + name
		}
	}
	return home + "/" + Quote(p)
}

// MakeDir creates dir on r's host, with its parents, and returns its
// absolute physical path there (symbolic links resolved).
//
// Paths given to MakeDir, WriteFile and CreateFile (and PathWord) are paths on r's host:
// "", "~" and "$HOME" name the home directory of the user the commands run
// as, "~/x", "$HOME/x" and relative paths are under it, "~user/x" is under
// that user's home, and absolute paths are taken as they are. This holds for
// the Local runner too: a relative path is under $HOME, not under the
// current directory.
func MakeDir(ctx context.Context, r Runner, dir string) (string, error) {
	return makeDir(ctx, r, dir, "")
}

// PrivateDir is the folder of a pilot's working directory that holds what
// only its owner may read: job scripts, coordination files, staged agents.
const PrivateDir = ".bigjob"

// MakeWorkDir is MakeDir for a pilot's working directory: in the same
// command it also creates dir/.bigjob with mode 0700 (a remote command can
// cost a login shell's start-up: each one counts).
func MakeWorkDir(ctx context.Context, r Runner, dir string) (string, error) {
	return makeDir(ctx, r, dir, ` && mkdir -p -m 700 -- `+PrivateDir+` && chmod 700 -- `+PrivateDir)
}

func makeDir(ctx context.Context, r Runner, dir, then string) (string, error) {
	line := "d=" + PathWord(dir) + ` && mkdir -p -- "$d" && cd -P -- "$d"` + then + ` && pwd -P`
	out, err := r.Run(ctx, line, nil)
	if err != nil {
		return "", fmt.Errorf("make directory %q on %s: %w", dir, r.Host(), err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	abs := lines[len(lines)-1]
	if !strings.HasPrefix(abs, "/") {
		return "", fmt.Errorf("make directory %q on %s: unexpected output %q", dir, r.Host(), out)
	}
	return abs, nil
}

// WriteFile writes data to path (see MakeDir) on r's host, atomically: it writes a
// temporary file in the same directory, which is created with permissions
// no wider than mode from the start (a file of mode 0600 is never readable
// by others, even for a moment) and renamed over path, replacing what is
// there (a link itself, not what it points to). The directory must exist;
// a directory at path (or a link to one) is an error.
func WriteFile(ctx context.Context, r Runner, path string, data []byte, mode os.FileMode) error {
	return writeFile(ctx, r, path, data, mode, `if [ -d "$p" ]; then echo "$p is a directory" >&2; false; else mv -f -- "$t" "$p"; fi`)
}

// ErrExist is CreateFile's error for a path that exists.
var ErrExist = errors.New("the file exists")

// CreateFile is WriteFile for a file that must not exist yet: where
// anything is at path (a file, a directory, a link, even a broken one) it
// fails with ErrExist and leaves it alone. The new name is made with a
// hard link, which never follows a link at path.
func CreateFile(ctx context.Context, r Runner, path string, data []byte, mode os.FileMode) error {
	err := writeFile(ctx, r, path, data, mode, `if [ -d "$p" ]; then (exit 17); elif ln -- "$t" "$p"; then rm -f -- "$t"; else { [ -e "$p" ] || [ -L "$p" ]; } && (exit 17); fi`)
	var ce *CommandError
	if errors.As(err, &ce) && ce.ExitCode == 17 {
		return fmt.Errorf("write %s on %s: %w", path, r.Host(), ErrExist)
	}
	return err
}

// writeFile writes data to a temporary file beside path and runs place,
// a shell command that gives it the name $p ($t is the temporary name).
func writeFile(ctx context.Context, r Runner, path string, data []byte, mode os.FileMode, place string) error {
	perm := mode.Perm()
	line := "p=" + PathWord(path) + ` && t="${p%/*}/.${p##*/}.tmp-` + TempSuffix() + `"` +
		fmt.Sprintf(" && umask %03o && (set -C && cat > \"$t\") && chmod %03o \"$t\"", 0o777&^perm, perm) +
		` && { ` + place + `; } || { s=$?; rm -f -- "$t"; exit $s; }`
	if _, err := r.Run(ctx, line, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write %s on %s: %w", path, r.Host(), err)
	}
	return nil
}

// TempSuffix names temporary files that concurrent writers do not share.
func TempSuffix() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
