package remote_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/internal/proc"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/runner"
)

// sshServer starts a private sshd, points the client at its keys, and
// returns a Runner for it.
func sshServer(t *testing.T) (*testenv.SSHD, remote.Target, runner.Runner) {
	t.Helper()
	s := testenv.StartSSHD(t)
	s.Env(t)
	tg := remote.Target{User: s.User, Host: s.Host, Port: s.Port}
	return s, tg, remote.SSH(tg)
}

// runners gives the Local runner and one for a private sshd.
func runners(t *testing.T) map[string]runner.Runner {
	_, _, r := sshServer(t)
	return map[string]runner.Runner{"local": runner.Local, "ssh": r}
}

func TestRunContract(t *testing.T) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			out, err := r.Run(ctx, "echo hello; echo noise >&2", nil)
			require.NoError(t, err)
			require.Equal(t, "hello\n", string(out))

			big := make([]byte, 1<<20)
			rand.Read(big)
			out, err = r.Run(ctx, "cat", strings.NewReader(string(big)))
			require.NoError(t, err)
			require.Equal(t, big, out, "stdin reaches the command byte for byte")

			out, err = r.Run(ctx, "cat", nil)
			require.NoError(t, err, "nil stdin is empty")
			require.Empty(t, out)

			out, err = r.Run(ctx, runner.Join("printf", "%s|", "a b", "it's", "$HOME"), nil)
			require.NoError(t, err)
			require.Equal(t, "a b|it's|$HOME|", string(out))

			out, err = r.Run(ctx, "echo partial; echo 'it broke' >&2; exit 3", nil)
			var ce *runner.CommandError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, 3, ce.ExitCode)
			require.Equal(t, "it broke", ce.Stderr)
			require.Equal(t, "partial", ce.Stdout)
			require.Equal(t, r.Host(), ce.Host)
			require.Contains(t, err.Error(), "it broke")
			require.Equal(t, "partial\n", string(out))
		})
	}
}

func TestSSHHostAndLocal(t *testing.T) {
	r := remote.SSH(remote.Target{User: "alice", Host: "login.example.org", Port: 2222})
	require.Equal(t, "alice@login.example.org:2222", r.Host())
	require.False(t, r.Local())
	require.True(t, runner.Local.Local())
}

func TestTargetOf(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/config
	u, _ := url.Parse("ssh://bob@cluster.example.org:2200/scratch")
	require.Equal(t, remote.Target{User: "bob", Host: "cluster.example.org", Port: 2200}, remote.TargetOf(u))
	u, _ = url.Parse("slurm+ssh://cluster.example.org")
	tg := remote.TargetOf(u)
	require.Equal(t, 22, tg.Port)
	require.NotEmpty(t, tg.User, "the current user")
}

func TestCancelKillsTheCommand(t *testing.T) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			mark := fmt.Sprintf("cancel-%s-%d", name, time.Now().UnixNano())
			procs := func() []int { return proc.WithEnv("BIGJOB_TEST_MARK", mark) }
			t.Cleanup(func() {
				for _, p := range procs() {
					syscall.Kill(p, syscall.SIGKILL)
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				// a shell with two sleeping children
				_, err := r.Run(ctx, "BIGJOB_TEST_MARK="+mark+" sh -c 'sleep 100 & sleep 100; wait'", nil)
				errc <- err
			}()
			require.Eventually(t, func() bool { return len(procs()) == 3 }, 10*time.Second, 10*time.Millisecond)
			cancel()
			select {
			case err := <-errc:
				var ce *runner.CommandError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, -1, ce.ExitCode)
				require.Contains(t, ce.Stderr, "context canceled")
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return after its ctx was canceled")
			}
			require.Eventually(t, func() bool { return len(procs()) == 0 }, 10*time.Second, 10*time.Millisecond,
				"the command and its children are gone")
		})
	}
}

func TestConnectionIsShared(t *testing.T) {
	_, tg, r := sshServer(t)
	ctx := context.Background()
	_, err := r.Run(ctx, "true", nil)
	require.NoError(t, err)
	_, err = remote.SSH(tg).Run(ctx, "true", nil)
	require.NoError(t, err, "another runner.Runner of the same target")

	// More Runs at once than sshd allows sessions per connection (10).
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := r.Run(ctx, "sleep 0.1; echo "+strconv.Itoa(i), nil)
			if err == nil && string(out) != strconv.Itoa(i)+"\n" {
				err = fmt.Errorf("Run %d got %q", i, out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, remote.Dials(tg), "one connection for all Runs")
}

func TestIdleConnectionCloses(t *testing.T) {
	_, tg, r := sshServer(t)
	remote.SetIdleTimeout(t, 50*time.Millisecond)
	_, err := r.Run(context.Background(), "true", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !remote.Connected(tg) }, 10*time.Second, 10*time.Millisecond)
	_, err = r.Run(context.Background(), "true", nil)
	require.NoError(t, err)
	require.Equal(t, 2, remote.Dials(tg))
}

func TestBrokenConnectionIsRedialed(t *testing.T) {
	_, tg, r := sshServer(t)
	ctx := context.Background()
	// Kill the sshd process that serves the connection: the shell's parent.
	_, err := r.Run(ctx, "kill -9 $PPID", nil)
	require.Error(t, err)
	out, err := r.Run(ctx, "echo again", nil)
	require.NoError(t, err)
	require.Equal(t, "again\n", string(out))
	require.Equal(t, 2, remote.Dials(tg))
}

func TestUnknownHostKeyIsRefused(t *testing.T) {
	s, tg, r := sshServer(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", empty)

	_, err := r.Run(context.Background(), "true", nil)
	require.Error(t, err)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "ssh "+tg.String()+": "), msg)
	require.Contains(t, msg, fmt.Sprintf("[127.0.0.1]:%d", s.Port))
	require.Contains(t, msg, "is not in "+empty)
	// x/crypto prefers ECDSA when it knows no key for the host.
	require.Contains(t, msg, ssh.FingerprintSHA256(s.OtherHostKey))
	require.Contains(t, msg, fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1 >> %s", s.Port, empty))
}

func TestChangedHostKeyIsRefused(t *testing.T) {
	s, _, r := sshServer(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	old, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	require.NoError(t, os.WriteFile(kh, []byte("# other hosts\n"+knownhosts.Line([]string{addr}, old)+"\n"), 0o600))
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", kh)

	_, err = r.Run(context.Background(), "true", nil)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "CHANGED")
	require.Contains(t, msg, kh+":2")
	require.Contains(t, msg, ssh.FingerprintSHA256(s.HostKey), "the key the server shows, of the type on record")
	require.Contains(t, msg, ssh.FingerprintSHA256(old))
	require.Contains(t, msg, fmt.Sprintf("ssh-keygen -R '[127.0.0.1]:%d' -f %s", s.Port, kh))
}

func TestKnownKeyOfLessPreferredTypeIsAccepted(t *testing.T) {
	// The server has an ECDSA and an ed25519 key and known_hosts holds only
	// the ed25519 one, which x/crypto ranks last: the client must ask for it.
	_, _, r := sshServer(t)
	out, err := r.Run(context.Background(), "echo fine", nil)
	require.NoError(t, err)
	require.Equal(t, "fine\n", string(out))
}

// writeUserKey writes a fresh ed25519 private key (encrypted if passphrase
// is not empty) and returns its path.
func writeUserKey(t *testing.T, passphrase string) string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "id_ed25519")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	return path
}

func TestWrongUserKeyIsRefused(t *testing.T) {
	s, tg, r := sshServer(t)
	wrong := writeUserKey(t, "")
	locked := writeUserKey(t, "secret")
	t.Setenv("BIGJOB_SSH_IDENTITY", wrong+":"+locked)

	_, err := r.Run(context.Background(), "true", nil)
	require.Error(t, err)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "ssh "+tg.String()+": "), msg)
	require.Contains(t, msg, "authentication as "+s.User)
	require.Contains(t, msg, wrong)
	require.Contains(t, msg, "passphrase-protected")
	require.Contains(t, msg, locked)
	require.Contains(t, msg, fmt.Sprintf("ssh-copy-id -p %d %s@127.0.0.1", s.Port, s.User))
	require.Contains(t, msg, "BIGJOB_SSH_IDENTITY")
}

func TestUnreachableHost(t *testing.T) {
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", filepath.Join(t.TempDir(), "known_hosts"))
	tg := remote.Target{User: "root", Host: "127.0.0.1", Port: testenv.FreePort(t)}
	_, err := remote.SSH(tg).Run(context.Background(), "true", nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "ssh "+tg.String()+": connect to 127.0.0.1:"+strconv.Itoa(tg.Port))
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

func TestDialHonoursCtx(t *testing.T) {
	// A server that accepts and never speaks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", filepath.Join(t.TempDir(), "known_hosts"))
	tg := remote.Target{User: "root", Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = remote.SSH(tg).Run(ctx, "true", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), tg.String())
}

func TestSSHConfigAlias(t *testing.T) {
	s := testenv.StartSSHD(t)
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".ssh"), 0o700))
	config := fmt.Sprintf("Host other\n  Port 1\n\nHost bigjob-test-*\n  HostName %s\n  Port %d\n  User %s\n"+
		"  IdentityFile %s\n  UserKnownHostsFile %s\n\nHost *\n  Port 2\n",
		s.Host, s.Port, s.User, s.UserKey, s.KnownHosts)
	require.NoError(t, os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(config), 0o600))
	t.Setenv("HOME", home)
	t.Setenv("BIGJOB_SSH_IDENTITY", "")
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", "")
	t.Setenv("SSH_AUTH_SOCK", "")

	u, _ := url.Parse("ssh://bigjob-test-alias/work")
	tg := remote.TargetOf(u)
	require.Equal(t, remote.Target{User: s.User, Host: "bigjob-test-alias", Port: s.Port}, tg)
	out, err := remote.SSH(tg).Run(context.Background(), "echo via alias", nil)
	require.NoError(t, err)
	require.Equal(t, "via alias\n", string(out))
}

func TestRunAfterCtxEndsBeforeDial(t *testing.T) {
	_, _, r := sshServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Run(ctx, "true", nil)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestSSHDHarnessStopsWhatItStarted(t *testing.T) {
	mark := fmt.Sprintf("harness-%d", time.Now().UnixNano())
	procs := func() []int { return proc.WithEnv("BIGJOB_TEST_MARK", mark) }
	t.Cleanup(func() {
		for _, p := range procs() {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	var tg remote.Target
	t.Run("server", func(t *testing.T) {
		var r runner.Runner
		_, tg, r = sshServer(t)
		// A daemon that outlives its session, and a connection left open.
		_, err := r.Run(context.Background(), "BIGJOB_TEST_MARK="+mark+" nohup sleep 100 >/dev/null 2>&1 &", nil)
		require.NoError(t, err)
		// the shell may return before the background job has exec'd
		require.Eventually(t, func() bool { return len(procs()) == 1 }, 10*time.Second, 10*time.Millisecond)
		require.True(t, remote.Connected(tg))
	})
	require.Empty(t, procs(), "the session's daemon was killed with the server")
	require.Eventually(t, func() bool { return !remote.Connected(tg) }, 10*time.Second, 10*time.Millisecond,
		"the connection was cut")
}
