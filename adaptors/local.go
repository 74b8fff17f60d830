package adaptors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LocalDirectory resolves a pilot working_directory on this machine: ""
// and "~" are the home directory, a leading ~ or $HOME is expanded, and a
// relative path is taken from the current directory.
func LocalDirectory(wd string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil && (wd == "" || strings.HasPrefix(wd, "~") || strings.Contains(wd, "$HOME")) {
		return "", fmt.Errorf("working_directory %q: %w", wd, err)
	}
	switch {
	case wd == "" || wd == "~":
		wd = home
	case strings.HasPrefix(wd, "~/"):
		wd = filepath.Join(home, wd[2:])
	}
	wd = strings.ReplaceAll(wd, "${HOME}", home)
	wd = strings.ReplaceAll(wd, "$HOME", home)
	return filepath.Abs(wd)
}

// IsLocalHost reports whether a resource URL's host names this machine.
func IsLocalHost(host string) bool {
	switch host {
	case "", "localhost", "127.0.0.1", "::1":
		return true
	}
	h, _ := os.Hostname()
	return strings.EqualFold(host, h)
}
