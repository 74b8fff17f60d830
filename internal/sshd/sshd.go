// Package sshd starts private OpenSSH servers on 127.0.0.1 for tests and
// benchmarks: fresh host and user keys, key-only login as the current user.
package sshd

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/bigjob-go/bigjob/internal/proc"
)

// Path is the OpenSSH server Start runs.
const Path = "/usr/sbin/sshd"

// Server is a private OpenSSH server on 127.0.0.1 that accepts one fresh user
// key for the current user.
type Server struct {
	Host       string // "127.0.0.1"
	Port       int
	User       string // the current user, the one that logs in
	UserKey    string // path of the user's private key (ed25519, no passphrase)
	KnownHosts string // path of a known_hosts file holding HostKey only
	// HostKey is the server's ed25519 key. The server also has an ECDSA
	// key, OtherHostKey, which SSH clients prefer by default: a client that
	// does not ask for the type of key its known_hosts holds sees a key
	// mismatch.
	HostKey      ssh.PublicKey
	OtherHostKey ssh.PublicKey

	stop func()
}

// Stop kills the server and every process it started. It may be called more
// than once.
func (s *Server) Stop() { s.stop() }

// URL returns scheme://user@host:port, e.g. URL("ssh").
func (s *Server) URL(scheme string) string {
	return fmt.Sprintf("%s://%s@%s", scheme, s.User, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
}

// SFTPServer is OpenSSH's SFTP subsystem, which the server offers.
const SFTPServer = "/usr/lib/openssh/sftp-server"

// Start starts `sshd -D -e` on a free port of 127.0.0.1 with fresh host
// keys (ed25519 and ECDSA) and a fresh ed25519 user key in dir, and waits
// until it greets. Stop kills the server with every process it started:
// connection handlers and the commands of their sessions, found by their
// ancestry and by an environment variable (BIGJOB_TEST_SSHD) the server sets
// in every session. log, if not nil, receives the server's output.
func Start(dir string, log io.Writer) (*Server, error) {
	if _, err := os.Stat(Path); err != nil {
		return nil, fmt.Errorf("start sshd: %w (install openssh-server)", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // its privilege separation directory
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	s := &Server{Host: "127.0.0.1", User: me.Username, UserKey: filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts")}
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	otherKeyFile := filepath.Join(dir, "ssh_host_ecdsa_key")
	var userPub ssh.PublicKey
	for _, k := range []struct {
		pub  *ssh.PublicKey
		path string
		gen  func() (crypto.Signer, error)
	}{
		{&s.HostKey, hostKeyFile, newEd25519},
		{&s.OtherHostKey, otherKeyFile, newECDSA},
		{&userPub, s.UserKey, newEd25519},
	} {
		if *k.pub, err = writeKeyPair(k.path, k.gen); err != nil {
			return nil, fmt.Errorf("start sshd: %w", err)
		}
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	marker := "bigjob-test-sshd-" + rand.Text()
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKeyFile,
		"HostKey " + otherKeyFile,
		"PidFile none",
		"AuthorizedKeysFile " + authorized,
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"MaxStartups 100",
		"SetEnv BIGJOB_TEST_SSHD=" + marker,
		"Subsystem sftp " + SFTPServer,
		"",
	}, "\n")), 0o600); err != nil {
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	if log == nil {
		log = io.Discard
	}
	for attempt := 0; attempt < 5; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("start sshd: %w", err)
		}
		cmd := exec.Command(Path, "-D", "-e", "-f", config, "-p", strconv.Itoa(s.Port))
		cmd.Stdout, cmd.Stderr = log, log
		exited, err := proc.StartBound(cmd)
		if err != nil {
			return nil, fmt.Errorf("start sshd: %w", err)
		}
		if waitGreeting(s.Port, exited) {
			var once sync.Once
			s.stop = func() { once.Do(func() { stop(cmd.Process.Pid, marker, exited) }) }
			line := knownhosts.Line([]string{net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}, s.HostKey)
			if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
				s.Stop()
				return nil, fmt.Errorf("start sshd: %w", err)
			}
			return s, nil
		}
		cmd.Process.Kill()
		<-exited
	}
	return nil, fmt.Errorf("start sshd: it did not come up (see its log)")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func newEd25519() (crypto.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

func newECDSA() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// writeKeyPair writes a fresh private key made by gen to path (OpenSSH
// format, mode 0600) and its public key to path.pub, and returns the public
// key.
func writeKeyPair(path string, gen func() (crypto.Signer, error)) (ssh.PublicKey, error) {
	priv, err := gen()
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return pub, os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub), 0o644)
}

// waitGreeting waits until the server on port sends its SSH banner; false
// if it exits or stays silent for 10 s.
func waitGreeting(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			banner := make([]byte, 8)
			n, _ := c.Read(banner)
			c.Close()
			if strings.HasPrefix(string(banner[:n]), "SSH-") {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// stop kills the listening server, the processes descended from it
// (they run in sessions of their own, so its process group does not hold
// them) and the session processes that outlived their parents. The tree is
// stopped (SIGSTOP) before it is killed, so that nothing forks meanwhile.
func stop(pid int, marker string, exited <-chan struct{}) {
	select {
	case <-exited: // reaped already: pid may name another process now
	default:
		frozen := map[int]bool{}
		for fresh := true; fresh; {
			fresh = false
			for _, p := range append([]int{pid}, descendants(pid)...) {
				if !frozen[p] {
					syscall.Kill(p, syscall.SIGSTOP)
					frozen[p], fresh = true, true
				}
			}
		}
		for p := range frozen {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	select {
	case <-exited:
	case <-time.After(time.Until(deadline)):
	}
	for left := proc.WithEnv("BIGJOB_TEST_SSHD", marker); len(left) > 0 && time.Now().Before(deadline); left = proc.WithEnv("BIGJOB_TEST_SSHD", marker) {
		for _, p := range left {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// descendants lists the live processes below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := proc.ReadStat(p); err == nil && st.State != 'Z' {
			children[st.PPID] = append(children[st.PPID], p)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}
