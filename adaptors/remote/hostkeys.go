package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bigjob-go/bigjob/runner"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCheck checks a server's host key against the known_hosts files of
// a dialSpec and, when it refuses the key, keeps the refusal in words.
type hostKeyCheck struct {
	sp    dialSpec
	files []string // the known_hosts files that exist
	db    ssh.HostKeyCallback
	known []knownhosts.KnownKey // the keys on record for the host
	// algorithms are those of the known keys, so that the server shows one
	// of them rather than a key of another type, which knownhosts would
	// take for a changed key. nil for an unknown host.
	algorithms []string
	refusal    error
}

func newHostKeyCheck(sp dialSpec) (*hostKeyCheck, error) {
	hk := &hostKeyCheck{sp: sp}
	for _, f := range sp.knownHosts {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			hk.files = append(hk.files, f)
		}
	}
	db, err := knownhosts.New(hk.files...)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	hk.db = db
	// Ask the database about a key no host has: its answer lists the keys
	// on record for this host.
	var ke *knownhosts.KeyError
	probe := &net.TCPAddr{IP: net.IPv4zero}
	if err := db(sp.addr, probe, probeKey()); errors.As(err, &ke) && len(ke.Want) > 0 {
		hk.known = ke.Want
		hk.algorithms = algorithmsOf(ke.Want)
	}
	return hk, nil
}

// probeKey is a public key made up for this process, which no known_hosts
// file holds.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
})

// algorithmsOf lists the host key algorithms that can show one of keys.
func algorithmsOf(keys []knownhosts.KnownKey) []string {
	var algs []string
	for _, k := range keys {
		typ := k.Key.Type()
		add := []string{typ}
		if typ == ssh.KeyAlgoRSA {
			add = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range add {
			if !slices.Contains(algs, a) {
				algs = append(algs, a)
			}
		}
	}
	return algs
}

// check is the ssh.HostKeyCallback.
func (hk *hostKeyCheck) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := hk.db(hostname, remote, key)
	if err == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &revoked):
		hk.refusal = fmt.Errorf("the host key of %s (%s %s) is marked @revoked at %s:%d: refusing to connect",
			hk.name(), key.Type(), ssh.FingerprintSHA256(key), revoked.Revoked.Filename, revoked.Revoked.Line)
	case errors.As(err, &ke) && len(ke.Want) == 0:
		hk.refusal = hk.unknown(key)
	case errors.As(err, &ke):
		hk.refusal = hk.changed(key, ke.Want)
	default:
		hk.refusal = fmt.Errorf("check the host key of %s: %w", hk.name(), err)
	}
	return hk.refusal
}

// name is the host as known_hosts spells it: "host" or "[host]:port".
func (hk *hostKeyCheck) name() string { return knownhosts.Normalize(hk.sp.addr) }

func (hk *hostKeyCheck) unknown(key ssh.PublicKey) error {
	where := "any known_hosts file (none of " + strings.Join(hk.sp.knownHosts, ", ") + " exists)"
	if len(hk.files) > 0 {
		where = strings.Join(hk.files, ", ")
	}
	if len(hk.sp.knownHosts) == 0 {
		where = "any known_hosts file (no home directory, and " + envKnownHosts + " is not set)"
	}
	return fmt.Errorf("the host key of %s is not known: its %s key %s is not in %s; "+
		"check that fingerprint with the host's administrators, then add the key with: %s",
		hk.name(), key.Type(), ssh.FingerprintSHA256(key), where, hk.keyscan())
}

func (hk *hostKeyCheck) changed(key ssh.PublicKey, want []knownhosts.KnownKey) error {
	var old []string
	for _, k := range want {
		old = append(old, fmt.Sprintf("%s:%d (%s %s)", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
	}
	return fmt.Errorf("the host key of %s has CHANGED (or someone is intercepting the connection): "+
		"the server shows %s %s, but the key on record is at %s; if the change is expected (the host was reinstalled), "+
		"remove the old key with: %s, and add the new one after checking its fingerprint: %s",
		hk.name(), key.Type(), ssh.FingerprintSHA256(key), strings.Join(old, ", "), hk.keygenRemove(want[0].Filename), hk.keyscan())
}

// noCommonAlgorithm explains a server that shows no key of the types on
// record for it.
func (hk *hostKeyCheck) noCommonAlgorithm(err error) error {
	var old []string
	for _, k := range hk.known {
		old = append(old, fmt.Sprintf("%s:%d (%s)", k.Filename, k.Line, k.Key.Type()))
	}
	return fmt.Errorf("the host key of %s may have CHANGED: the keys on record (%s) are of types the server no longer offers (%v); "+
		"if the change is expected, remove the old keys with: %s, and add the new one after checking its fingerprint: %s",
		hk.name(), strings.Join(old, ", "), err, hk.keygenRemove(hk.known[0].Filename), hk.keyscan())
}

// keyscan is the command that records the host's key.
func (hk *hostKeyCheck) keyscan() string {
	host, port, _ := net.SplitHostPort(hk.sp.addr)
	to := hk.sp.addTo
	if to == "" {
		to = "~/.ssh/known_hosts"
	} else {
		to = runner.Quote(to)
	}
	return fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, runner.Quote(host), to)
}

// keygenRemove is the command that removes the host's keys from file.
func (hk *hostKeyCheck) keygenRemove(file string) string {
	cmd := "ssh-keygen -R " + runner.Quote(hk.name())
	if home := homeDir(); home == "" || file != filepath.Join(home, ".ssh", "known_hosts") {
		cmd += " -f " + runner.Quote(file)
	}
	return cmd
}
