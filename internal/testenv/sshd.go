package testenv

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bigjob-go/bigjob/internal/sshd"
)

// Require skips or fails a test that needs component when it is not
// available. It fails, saying how to get it, unless the comma-separated
// list in BIGJOB_TEST_SKIP names component: then the test is skipped.
func Require(t testing.TB, component string, available bool, how string) {
	t.Helper()
	if available {
		return
	}
	if slices.Contains(strings.Split(os.Getenv("BIGJOB_TEST_SKIP"), ","), component) {
		t.Skipf("%s is not available and BIGJOB_TEST_SKIP names it: skipping (to run this test: %s)", component, how)
	}
	t.Fatalf("%s is not available: %s (or set BIGJOB_TEST_SKIP=%s to skip the tests that need it)", component, how, component)
}

// SSHD is a private OpenSSH server on 127.0.0.1 that accepts one fresh user
// key for the current user (see package sshd).
type SSHD struct{ *sshd.Server }

// Env points the SSH client of package remote at this server's user key and
// known_hosts file for the rest of the test, and clears SSH_AUTH_SOCK so that
// no agent key is offered.
func (s *SSHD) Env(t testing.TB) {
	t.Setenv("BIGJOB_SSH_IDENTITY", s.UserKey)
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", s.KnownHosts)
	t.Setenv("SSH_AUTH_SOCK", "")
}

// StartSSHD starts a private sshd (sshd.Start) in a temporary directory; it
// is stopped, with every process it started, when the test ends.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	_, err := os.Stat(sshd.Path)
	Require(t, "sshd", err == nil, "install openssh-server (scripts/install-deps.sh does)")
	var log bytes.Buffer
	s, err := sshd.Start(t.TempDir(), &syncWriter{w: &log})
	if err != nil {
		t.Fatalf("%v; its output:\n%s", err, log.String())
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd on port %d logged:\n%s", s.Port, log.String())
		}
	})
	return &SSHD{s}
}

// syncWriter serialises writes from the server's output copier with reads
// of the buffer after Stop.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
