package plugins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Manifest is the file beside a plugin's .wasm (plugin.json): what the
// module is (name, version, sha256) and what it may do (limits and
// capabilities). Whatever it does not grant is denied.
type Manifest struct {
	ABI          int             `json:"abi"`     // must be abi.Version
	Name         string          `json:"name"`    // [a-z0-9][a-z0-9_.-]*; must match plugin_info
	Version      string          `json:"version"` // must match plugin_info
	Wasm         string          `json:"wasm"`    // the module's path, absolute or relative to the manifest's folder
	SHA256       string          `json:"sha256"`  // hex sha256 of the module
	Limits       Limits          `json:"limits"`
	Capabilities Capabilities    `json:"capabilities"`
	Config       json.RawMessage `json:"config,omitempty"` // handed to the plugin by the config import
}

// Limits bound every instance and call of a plugin. Zero means the default.
type Limits struct {
	MemoryPages uint32 `json:"memory_pages"` // 64 KiB pages an instance may grow to; default 256 (16 MiB)
	TimeoutMS   int    `json:"timeout_ms"`   // per call, host commands included; default 5000
	OutputBytes int    `json:"output_bytes"` // largest answer or command output; default 1 MiB
	Instances   int    `json:"instances"`    // instances run at once; default 4
}

// Defaults of Limits.
const (
	DefaultMemoryPages = 256
	DefaultTimeout     = 5 * time.Second
	DefaultOutputBytes = 1 << 20
	DefaultInstances   = 4
	maxMemoryPages     = 65536
)

// Timeout is the per-call timeout.
func (l Limits) Timeout() time.Duration { return time.Duration(l.TimeoutMS) * time.Millisecond }

func (l *Limits) applyDefaults() {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.TimeoutMS == 0 {
		l.TimeoutMS = int(DefaultTimeout / time.Millisecond)
	}
	if l.OutputBytes == 0 {
		l.OutputBytes = DefaultOutputBytes
	}
	if l.Instances == 0 {
		l.Instances = DefaultInstances
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ManifestError is a manifest that cannot be used; Field names the key
// ("" for the file as a whole).
type ManifestError struct {
	Path, Field, Problem string
}

func (e *ManifestError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("plugin manifest %s: %s", e.Path, e.Problem)
	}
	return fmt.Sprintf("plugin manifest %s: %q %s", e.Path, e.Field, e.Problem)
}

// ParseManifest reads a manifest's bytes; path names it in errors. Unknown
// keys are errors (a misspelt limit must not silently fall back to the
// default).
func ParseManifest(path string, data []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, &ManifestError{Path: path, Problem: "is not valid: " + err.Error()}
	}
	if dec.More() {
		// what follows would not count as manifest but would change its digest
		return m, &ManifestError{Path: path, Problem: "has data after its JSON object"}
	}
	bad := func(field, problem string) (Manifest, error) {
		return m, &ManifestError{Path: path, Field: field, Problem: problem}
	}
	switch {
	case m.ABI != abi.Version:
		return bad("abi", fmt.Sprintf("is %d, but this host speaks plugin ABI version %d; rebuild the plugin with a kit for ABI %d", m.ABI, abi.Version, abi.Version))
	case !nameRE.MatchString(m.Name):
		return bad("name", fmt.Sprintf("%q must be 1 to 64 of a-z 0-9 _ . - and start with a letter or digit", m.Name))
	case m.Version == "":
		return bad("version", "is missing")
	case m.Wasm == "":
		return bad("wasm", "is missing: give the module's file name, e.g. \""+m.Name+".wasm\"")
	case len(m.SHA256) != 64 || strings.Trim(strings.ToLower(m.SHA256), "0123456789abcdef") != "":
		return bad("sha256", fmt.Sprintf("%q is not a hex sha256; compute it with: sha256sum %s", m.SHA256, m.Wasm))
	case m.Limits.MemoryPages > maxMemoryPages:
		return bad("limits.memory_pages", fmt.Sprintf("is %d; at most %d (4 GiB)", m.Limits.MemoryPages, maxMemoryPages))
	case m.Limits.TimeoutMS < 0 || m.Limits.OutputBytes < 0 || m.Limits.Instances < 0:
		return bad("limits", "must not be negative")
	}
	if field, problem := m.Capabilities.check(); field != "" {
		return bad(field, problem)
	}
	m.SHA256 = strings.ToLower(m.SHA256)
	m.Limits.applyDefaults()
	return m, nil
}

// Bundle is a plugin as it travels: the manifest's bytes and the module's.
// It is identified by the sha256 of the manifest (Digest), which in turn
// names the module's sha256, so a digest pins both.
type Bundle struct {
	Manifest []byte
	Module   []byte
	Origin   string // where it came from, for messages: a path, or "store"
}

// Digest is the hex sha256 of the manifest's bytes.
func (b Bundle) Digest() string { return hexSum(b.Manifest) }

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadBundle reads the manifest at path and the module it names.
func ReadBundle(path string) (Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Bundle{}, fmt.Errorf("read plugin manifest: %w", err)
	}
	m, err := ParseManifest(path, data)
	if err != nil {
		return Bundle{}, err
	}
	wasm := m.Wasm
	if !filepath.IsAbs(wasm) {
		wasm = filepath.Join(filepath.Dir(path), wasm)
	}
	mod, err := os.ReadFile(wasm)
	if err != nil {
		return Bundle{}, fmt.Errorf("plugin manifest %s: read its module: %w", path, err)
	}
	return Bundle{Manifest: data, Module: mod, Origin: path}, nil
}

// verify parses the manifest and checks the module against its sha256.
func (b Bundle) verify() (Manifest, error) {
	m, err := ParseManifest(b.Origin, b.Manifest)
	if err != nil {
		return m, err
	}
	if got := hexSum(b.Module); got != m.SHA256 {
		return m, &ManifestError{Path: b.Origin, Field: "sha256", Problem: fmt.Sprintf(
			"is %s but the module %s has sha256 %s: the module is not the one the manifest vouches for; if you rebuilt it on purpose, update the manifest (make plugins does)",
			m.SHA256, m.Wasm, got)}
	}
	return m, nil
}
