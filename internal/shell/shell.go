// Package shell quotes words for POSIX shells and checks variable names.
package shell

import (
	"regexp"
	"strings"
)

// Quote quotes s for a POSIX shell: the result is one word whose value is s.
// Words made only of letters, digits and _-./=:,@%+ are left as they are.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them with spaces: a command line that
// runs argv as given.
func Join(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

var name = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsName reports whether s can name a shell (environment) variable:
// letters, digits and _, not starting with a digit.
func IsName(s string) bool { return name.MatchString(s) }

// Assignment splits a NAME=value entry; ok is false unless NAME IsName.
func Assignment(kv string) (k, v string, ok bool) {
	k, v, ok = strings.Cut(kv, "=")
	return k, v, ok && IsName(k)
}
