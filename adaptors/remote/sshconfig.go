package remote

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// hostConfig is what an ssh_config(5) file says about one host, limited to
// the keywords this package honours. As in ssh(1), the first value found for
// a keyword wins, except IdentityFile, whose values add up. Values are raw:
// tokens (%h, ~, ...) are expanded by the caller once the target is known.
type hostConfig struct {
	HostName        string
	User            string
	Port            string
	IdentityFiles   []string
	KnownHostsFiles []string
}

// maxIncludeDepth bounds nested Include directives (ssh(1) uses 16).
const maxIncludeDepth = 16

// readHostConfig reads home/.ssh/config (missing: empty result) for host,
// the name as given by the user (an alias or a real name).
func readHostConfig(home, host string) (hostConfig, error) {
	var hc hostConfig
	p := &configParser{host: host, out: &hc, home: home}
	if err := p.file(filepath.Join(home, ".ssh", "config"), 0, true); err != nil {
		return hostConfig{}, err
	}
	return hc, nil
}

// configParser walks one ssh_config file and the files it includes.
type configParser struct {
	host string
	home string // for "~" and relative Include paths (~/.ssh)
	out  *hostConfig
}

func (p *configParser) file(path string, depth int, active bool) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) && depth == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ssh config: %w", err)
	}
	defer f.Close()
	return p.parse(f, path, depth, active)
}

// parse reads directives from r. active says whether the lines before the
// first Host or Match apply (they do at top level, and in an included file
// when the Include line itself applied).
func (p *configParser) parse(r io.Reader, name string, depth int, active bool) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		key, args := splitDirective(sc.Text())
		if key == "" {
			continue
		}
		switch key {
		case "host":
			active = matchHostPatterns(args, p.host)
			continue
		case "match":
			// Match criteria are not evaluated: such a block never applies.
			slog.Debug("ssh config: Match blocks are not supported, ignoring one", "file", name, "line", line)
			active = false
			continue
		}
		if !active || len(args) == 0 {
			continue
		}
		switch key {
		case "hostname":
			setFirst(&p.out.HostName, args[0])
		case "user":
			setFirst(&p.out.User, args[0])
		case "port":
			setFirst(&p.out.Port, args[0])
		case "identityfile":
			p.out.IdentityFiles = append(p.out.IdentityFiles, args[0])
		case "userknownhostsfile":
			if p.out.KnownHostsFiles == nil {
				p.out.KnownHostsFiles = args
			}
		case "include":
			if depth+1 >= maxIncludeDepth {
				return fmt.Errorf("read ssh config %s:%d: Include nested too deeply", name, line)
			}
			for _, pattern := range args {
				if err := p.include(pattern, depth+1); err != nil {
					return err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read ssh config %s: %w", name, err)
	}
	return nil
}

// include reads the files that match pattern (relative: under ~/.ssh).
func (p *configParser) include(pattern string, depth int) error {
	pattern = expandTilde(pattern, p.home)
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.home, ".ssh", pattern)
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return fmt.Errorf("read ssh config: Include %s: %w", pattern, err)
	}
	for _, f := range files {
		if err := p.file(f, depth, true); err != nil {
			return err
		}
	}
	return nil
}

func setFirst(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// splitDirective splits a config line into its lower-cased keyword and its
// arguments ("Key value", "Key=value", double-quoted arguments). Blank and
// comment lines give "".
func splitDirective(line string) (string, []string) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return strings.ToLower(line), nil
	}
	key := strings.ToLower(line[:end])
	rest := strings.TrimLeft(line[end:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	return key, splitArgs(rest)
}

// splitArgs splits on blanks, keeping double-quoted parts together.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// matchHostPatterns applies a Host line: host matches when one pattern
// matches it and no negated ("!") pattern does.
func matchHostPatterns(patterns []string, host string) bool {
	matched := false
	for _, pat := range patterns {
		if neg, ok := strings.CutPrefix(pat, "!"); ok {
			if wildcardMatch(strings.ToLower(neg), strings.ToLower(host)) {
				return false
			}
			continue
		}
		if wildcardMatch(strings.ToLower(pat), strings.ToLower(host)) {
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches s against pat, where '*' stands for any run of
// characters and '?' for one.
func wildcardMatch(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if wildcardMatch(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}

// expandTilde replaces a leading "~" or "~/" by home.
func expandTilde(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// expandTokens expands the ssh_config tokens of s that this package knows
// (%% %h %p %r %u %d %n, given in tokens by their letter) and a leading "~".
// Unknown tokens are left as they are.
func expandTokens(s string, tokens map[byte]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+1 < len(s) {
			if s[i+1] == '%' {
				b.WriteByte('%')
				i++
				continue
			}
			if v, ok := tokens[s[i+1]]; ok {
				b.WriteString(v)
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return expandTilde(b.String(), tokens['d'])
}
