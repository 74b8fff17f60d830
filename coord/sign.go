package coord

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Key is a service's signing key: 32 random bytes. The service signs every
// unit and pilot description it writes to the store with it, and agents run
// only what carries a valid signature, so whoever can write to Redis but
// lacks the key cannot make an agent run a command. The key reaches agents
// through the submission channel (Credentials), never through the store.
type Key []byte

// keySize is the length of a Key in bytes.
const keySize = 32

// NewKey returns a fresh random key.
func NewKey() (Key, error) {
	k := make(Key, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("make a signing key: %w", err)
	}
	return k, nil
}

// ParseKey reads a key written by Key.String (hex).
func ParseKey(s string) (Key, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != keySize {
		return nil, fmt.Errorf("not a signing key: want %d hex digits", 2*keySize)
	}
	return k, nil
}

// String is the key in hex.
func (k Key) String() string { return hex.EncodeToString(k) }

// Sign returns the signature of a record: kind (SignUnit or SignPilot), its
// id and its description, in hex (the sig field of the record).
func (k Key) Sign(kind, id string, description []byte) string {
	return hex.EncodeToString(k.mac(kind, id, description))
}

// Verify reports whether sig is k's signature of the record.
func (k Key) Verify(kind, id string, description []byte, sig string) bool {
	want, err := hex.DecodeString(sig)
	return err == nil && len(k) > 0 && hmac.Equal(k.mac(kind, id, description), want)
}

func (k Key) mac(kind, id string, description []byte) []byte {
	m := hmac.New(sha256.New, k)
	for _, part := range [][]byte{[]byte(kind), {0}, []byte(id), {0}, description} {
		m.Write(part)
	}
	return m.Sum(nil)
}

// Record kinds that are signed.
const (
	SignUnit  = "unit"
	SignPilot = "pilot"
)

// Credentials are what an agent needs to join its service: where the store
// is (the URL, which may hold a password) and the service's signing key.
// Adaptors hand them over in a file of mode 0600 or in the agent's
// environment, never on a command line.
type Credentials struct {
	URL string
	Key Key
}

// Encode is the text form: the URL on the first line, then "key <hex>".
func (c Credentials) Encode() string {
	return c.URL + "\nkey " + c.Key.String() + "\n"
}

// DecodeCredentials reads Encode's form. A lone URL (no key) is an error:
// an agent without the key could not tell the service's units from forged
// ones.
func DecodeCredentials(s string) (Credentials, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	c := Credentials{URL: strings.TrimSpace(lines[0])}
	for _, l := range lines[1:] {
		f, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		switch f {
		case "key":
			k, err := ParseKey(v)
			if err != nil {
				return Credentials{}, fmt.Errorf("agent credentials: %w", err)
			}
			c.Key = k
		case "":
		default:
			return Credentials{}, fmt.Errorf("agent credentials: unknown line %q", f)
		}
	}
	if c.URL == "" {
		return Credentials{}, fmt.Errorf("agent credentials: no coordination URL")
	}
	if c.Key == nil {
		return Credentials{}, fmt.Errorf("agent credentials: no service key (the agent must be started by a service of the same version)")
	}
	return c, nil
}
