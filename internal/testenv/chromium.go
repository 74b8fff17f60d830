package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// chromiumHow says how to get the headless browser the report's tests open
// pages in.
const chromiumHow = "install chromium (scripts/install-deps.sh does: apt-get install -y chromium)"

// Chromium fails or skips (component "chromium") the test unless a headless
// Chromium is installed, and returns its path.
func Chromium(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	Require(t, "chromium", err == nil, chromiumHow)
	return path
}

// Headless runs Chromium headless on a file:// URL with args (e.g.
// --dump-dom, --screenshot=PATH) and a window of width × height CSS pixels
// at scale 1, console messages logged to stderr. It returns stdout and
// stderr.
func Headless(ctx context.Context, t testing.TB, url string, width, height int, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	argv := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--force-device-scale-factor=1", fmt.Sprintf("--window-size=%d,%d", width, height),
		"--enable-logging=stderr", "--v=0", "--no-first-run", "--no-default-browser-check",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, Chromium(t), append(argv, url)...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("chromium %s: %w; stderr:\n%s", url, err, errb.String())
	}
	return out.Bytes(), errb.Bytes(), err
}
