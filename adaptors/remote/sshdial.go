package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Environment variables that override ~/.ssh for this package.
const (
	envIdentity   = "BIGJOB_SSH_IDENTITY"    // private key files, ':'-separated
	envKnownHosts = "BIGJOB_SSH_KNOWN_HOSTS" // known_hosts files, ':'-separated
)

// systemKnownHosts is read in addition to the user's known_hosts file.
const systemKnownHosts = "/etc/ssh/ssh_known_hosts"

// onDial, when set (by tests), is called for every connection attempt.
var onDial func(Target)

// dialSpec is a target resolved through ~/.ssh/config and the environment.
type dialSpec struct {
	target      Target
	addr        string   // host:port to connect to (HostName applied)
	identities  []string // private key files to try
	explicitIDs bool     // identities were named (env or config), not defaults
	knownHosts  []string // known_hosts files to check (existing or not)
	addTo       string   // the known_hosts file the fixing command appends to
}

func resolveDial(t Target) (dialSpec, error) {
	home := homeDir()
	var hc hostConfig
	if home != "" {
		var err error
		if hc, err = readHostConfig(home, t.Host); err != nil {
			return dialSpec{}, err
		}
	}
	hostname := t.Host
	tokens := map[byte]string{'n': t.Host, 'h': t.Host, 'p': strconv.Itoa(t.Port), 'r': t.User, 'u': localUser(), 'd': home}
	if hc.HostName != "" {
		hostname = expandTokens(hc.HostName, tokens)
		tokens['h'] = hostname
	}
	sp := dialSpec{target: t, addr: net.JoinHostPort(hostname, strconv.Itoa(t.Port))}

	if env := splitList(os.Getenv(envIdentity)); len(env) > 0 {
		sp.identities, sp.explicitIDs = env, true
	} else if len(hc.IdentityFiles) > 0 {
		for _, f := range hc.IdentityFiles {
			sp.identities = append(sp.identities, expandTokens(f, tokens))
		}
		sp.explicitIDs = true
	} else if home != "" {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			sp.identities = append(sp.identities, filepath.Join(home, ".ssh", name))
		}
	}

	if env := splitList(os.Getenv(envKnownHosts)); len(env) > 0 {
		sp.knownHosts = env
	} else {
		if len(hc.KnownHostsFiles) > 0 {
			for _, f := range hc.KnownHostsFiles {
				if !strings.EqualFold(f, "none") {
					sp.knownHosts = append(sp.knownHosts, expandTokens(f, tokens))
				}
			}
		} else if home != "" {
			sp.knownHosts = append(sp.knownHosts, filepath.Join(home, ".ssh", "known_hosts"))
		}
		sp.knownHosts = append(sp.knownHosts, systemKnownHosts)
	}
	if len(sp.knownHosts) > 0 {
		sp.addTo = sp.knownHosts[0]
	}
	return sp, nil
}

// splitList splits a ':'-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ":") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// dial connects to t and authenticates, within ctx.
func dial(ctx context.Context, t Target) (*ssh.Client, error) {
	if onDial != nil {
		onDial(t)
	}
	sp, err := resolveDial(t)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	hk, err := newHostKeyCheck(sp)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	ids := loadIdentities(ctx, sp)
	defer ids.close()

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", sp.addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: connect to %s: %w", t, sp.addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(ids.get)},
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, sp.addr, cfg)
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		switch {
		case hk.refusal != nil:
			return nil, fmt.Errorf("ssh %s: %w", t, hk.refusal)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("ssh %s: handshake with %s: %w", t, sp.addr, ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("ssh %s: %w", t, ids.failure(sp))
		case hk.algorithms != nil && strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fmt.Errorf("ssh %s: %w", t, hk.noCommonAlgorithm(err))
		}
		return nil, fmt.Errorf("ssh %s: handshake with %s: %w", t, sp.addr, err)
	}
	conn.SetDeadline(time.Time{})
	slog.Debug("ssh: connected", "target", t.String(), "addr", sp.addr)
	return ssh.NewClient(c, chans, reqs), nil
}

// identities are the signers offered to one server, and what was tried to
// get them, for the message of an authentication failure.
type identities struct {
	signers []ssh.Signer
	tried   []string
	skipped []string
	agent   net.Conn
}

// loadIdentities gathers the agent's keys and the readable key files of sp.
func loadIdentities(ctx context.Context, sp dialSpec) *identities {
	ids := &identities{}
	seen := map[string]bool{}
	add := func(s ssh.Signer) bool {
		k := string(s.PublicKey().Marshal())
		if seen[k] {
			return false
		}
		seen[k] = true
		ids.signers = append(ids.signers, s)
		return true
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
		if err == nil {
			ids.agent = conn
			signers, err := agent.NewClient(conn).Signers()
			if err == nil {
				for _, s := range signers {
					add(s)
				}
				ids.tried = append(ids.tried, fmt.Sprintf("ssh-agent (%d keys)", len(signers)))
			} else {
				ids.tried = append(ids.tried, fmt.Sprintf("ssh-agent (%v)", err))
			}
		} else {
			ids.tried = append(ids.tried, fmt.Sprintf("ssh-agent (SSH_AUTH_SOCK=%s: %v)", sock, err))
		}
	}
	for _, path := range sp.identities {
		b, err := os.ReadFile(path)
		if err != nil {
			if sp.explicitIDs || !os.IsNotExist(err) {
				ids.tried = append(ids.tried, fmt.Sprintf("%s (%v)", path, unwrapPathError(err)))
			}
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		var encrypted *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &encrypted):
			if encrypted.PublicKey != nil && seen[string(encrypted.PublicKey.Marshal())] {
				ids.tried = append(ids.tried, path+" (through ssh-agent)")
				continue
			}
			slog.Debug("ssh: skipping a passphrase-protected key that ssh-agent does not hold", "key", path)
			ids.skipped = append(ids.skipped, path)
		case err != nil:
			ids.tried = append(ids.tried, fmt.Sprintf("%s (unusable: %v)", path, err))
		default:
			if add(s) {
				ids.tried = append(ids.tried, fmt.Sprintf("%s (%s %s)", path, s.PublicKey().Type(), ssh.FingerprintSHA256(s.PublicKey())))
			}
		}
	}
	return ids
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (ids *identities) get() ([]ssh.Signer, error) { return ids.signers, nil }

func (ids *identities) close() {
	if ids.agent != nil {
		ids.agent.Close()
	}
}

// failure explains a refused authentication and how to fix it.
func (ids *identities) failure(sp dialSpec) error {
	t := sp.target
	var b strings.Builder
	fmt.Fprintf(&b, "authentication as %s on %s failed", t.User, sp.addr)
	if len(ids.tried) > 0 {
		fmt.Fprintf(&b, "; tried: %s", strings.Join(ids.tried, ", "))
	} else {
		b.WriteString("; no identity to offer (SSH_AUTH_SOCK is not set and no private key file exists")
		if len(sp.identities) > 0 {
			fmt.Fprintf(&b, ": looked for %s", strings.Join(sp.identities, ", "))
		}
		b.WriteString(")")
	}
	if len(ids.skipped) > 0 {
		fmt.Fprintf(&b, "; skipped passphrase-protected keys that ssh-agent does not hold: %s (load them with ssh-add)",
			strings.Join(ids.skipped, ", "))
	}
	host, port, _ := net.SplitHostPort(sp.addr)
	fmt.Fprintf(&b, "; to fix: install your public key on the host (ssh-copy-id -p %s %s@%s), "+
		"or name the matching private key with %s=/path/to/key (several: ':'-separated)", port, t.User, host, envIdentity)
	return errors.New(b.String())
}
