package coord

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the Redis port used when a coordination URL names none.
const DefaultPort = 6379

// Address is a parsed coordination URL: where the Redis server is and how to
// log in. The zero value is not valid; use ParseURL.
type Address struct {
	TLS      bool   // rediss://
	Socket   string // unix://: the path of a Unix socket (then Host and Port are unset)
	Host     string // host name or IP as written in the URL
	Port     int
	Username string // Redis ACL user; empty for the default user
	Password string
	DB       int    // database index from the URL path (/N); 0 by default
	CAFile   string // rediss only: PEM file with the CA that signed the server certificate
}

// ParseURL parses a coordination URL in any form BigJob scripts use:
//
//	redis://host                 port 6379
//	redis://host:port[/]
//	redis://password@host:port   BigJob's form: the user part is the password
//	redis://@host:port           empty password (no AUTH)
//	redis://:password@host:port  the standard form
//	redis://user:password@host   a Redis ACL user
//	rediss://...                 the same over TLS; ?ca=/path/ca.pem adds a CA
//	unix:///path/to/redis.sock   a Unix socket on this machine (?db=N for a database)
//
// A path of /N selects database N. Any other scheme, path or query parameter
// is an error that names the URL (with the password masked) and the fix.
func ParseURL(raw string) (Address, error) {
	var a Address
	bad := func(format string, args ...any) (Address, error) {
		return Address{}, &URLError{What: "coordination", URL: RedactURL(raw), Problem: fmt.Sprintf(format, args...)}
	}
	// hide masks the password, as written or %-decoded, in a part of raw
	// that a problem quotes.
	hide := func(part string) string {
		if _, secret, _, ok := splitRaw(raw); ok && secret != "" {
			part = strings.ReplaceAll(part, secret, "***")
			for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
				if s, err := unescape(secret); err == nil && s != "" {
					part = strings.ReplaceAll(part, s, "***")
				}
			}
		}
		return part
	}
	if strings.TrimSpace(raw) == "" {
		return bad("empty; give redis://host[:port]")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL (%v); give redis://host[:port]", hide(unwrapURLError(err).Error()))
	}
	switch strings.ToLower(u.Scheme) {
	case "redis":
	case "rediss":
		a.TLS = true
	case "unix":
		return parseSocketURL(u, bad)
	case "advert", "sqlasyncadvert", "tcp":
		return bad("the %s:// coordination backend of the original BigJob is not supported; run a Redis server and give redis://host[:port]", u.Scheme)
	case "":
		return bad("no scheme; give redis://host[:port]")
	default:
		return bad("scheme %q is not supported; give redis://host[:port] or rediss://host[:port] for TLS", u.Scheme)
	}
	if u.Opaque != "" {
		return bad("expected redis://host[:port] with two slashes after the scheme")
	}
	a.Host = u.Hostname()
	if a.Host == "" {
		return bad("no host; give redis://host[:port]")
	}
	if strings.Contains(a.Host, ":") && !strings.HasPrefix(u.Host, "[") {
		return bad("host %q has a colon; write an IPv6 address in brackets, e.g. redis://[::1]:6379", hide(u.Host))
	}
	a.Port = DefaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port %q is not a number between 1 and 65535", hide(p))
		}
		a.Port = n
	}
	if u.User != nil {
		name := u.User.Username()
		if pw, ok := u.User.Password(); ok {
			a.Username, a.Password = name, pw
		} else {
			// BigJob: redis://password@host — the user part is the password.
			a.Password = name
		}
	}
	switch path := strings.Trim(u.Path, "/"); {
	case path == "":
	default:
		n, err := strconv.Atoi(path)
		if err != nil || n < 0 {
			return bad("path %q is not a database number; give redis://host:port or redis://host:port/N", hide(u.Path))
		}
		a.DB = n
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query %q is malformed (%s); the only parameter is ca=<file> on rediss:// URLs", hide(u.RawQuery), hide(err.Error()))
	}
	for key, vals := range query {
		switch {
		case key == "ca" && a.TLS:
			a.CAFile = vals[len(vals)-1]
			if a.CAFile == "" {
				return bad("ca is empty; give the CA certificate file, e.g. ?ca=/etc/ssl/redis-ca.pem")
			}
		default:
			return bad("unknown parameter %q; the only parameter is ca=<file> on rediss:// URLs", hide(key))
		}
	}
	if u.Fragment != "" {
		return bad("unexpected fragment #%s", hide(u.Fragment))
	}
	return a, nil
}

// parseSocketURL parses unix:///path/to/redis.sock[?db=N].
func parseSocketURL(u *url.URL, bad func(string, ...any) (Address, error)) (Address, error) {
	a := Address{Socket: u.Path}
	switch {
	case u.Host != "" || u.Opaque != "":
		return bad("expected unix:///absolute/path/to/the.sock (three slashes, no host)")
	case !strings.HasPrefix(a.Socket, "/"):
		return bad("the socket path must be absolute: unix:///path/to/the.sock")
	case u.User != nil:
		return bad("unix:// URLs carry no user or password; the socket's permissions guard it")
	case u.Fragment != "":
		return bad("unexpected fragment #%s", u.Fragment)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query %q is malformed (%s); the only parameter is db=<N>", u.RawQuery, err.Error())
	}
	for key, vals := range query {
		n, err := strconv.Atoi(vals[len(vals)-1])
		if key != "db" || err != nil || n < 0 {
			return bad("unknown or bad parameter %q; the only parameter is db=<N>", key)
		}
		a.DB = n
	}
	return a, nil
}

// URLError is a URL that cannot be used, with what is wrong and how to fix it.
type URLError struct {
	What    string // "coordination", "pilot", "unit"
	URL     string // password masked
	Problem string
}

func (e *URLError) Error() string { return fmt.Sprintf("%s URL %q: %s", e.What, e.URL, e.Problem) }

// HostPort is the address to dial: "host:port", or the socket's path.
func (a Address) HostPort() string {
	if a.Socket != "" {
		return a.Socket
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// Network is what to dial: "tcp", or "unix" for a socket.
func (a Address) Network() string {
	if a.Socket != "" {
		return "unix"
	}
	return "tcp"
}

// String is the URL in BigJob's form, password included (redis://pw@host:port);
// it round-trips through ParseURL. Use Redacted for anything that is logged.
func (a Address) String() string { return a.format(false) }

// Redacted is String with the password replaced by "***".
func (a Address) Redacted() string { return a.format(true) }

func (a Address) format(redact bool) string {
	var b strings.Builder
	if a.Socket != "" {
		b.WriteString("unix://" + (&url.URL{Path: a.Socket}).EscapedPath())
		if a.DB != 0 {
			b.WriteString("?db=" + strconv.Itoa(a.DB))
		}
		return b.String()
	}
	if a.TLS {
		b.WriteString("rediss://")
	} else {
		b.WriteString("redis://")
	}
	// A colon in the user or password would move the split between them.
	escape := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }
	pw := escape(a.Password)
	if redact && a.Password != "" {
		pw = "***"
	}
	switch {
	case a.Username != "":
		b.WriteString(escape(a.Username) + ":" + pw + "@")
	case a.Password != "":
		b.WriteString(pw + "@")
	}
	// A % in the host (an IPv6 zone, fe80::1%eth0) would start an escape.
	b.WriteString(net.JoinHostPort(strings.ReplaceAll(a.Host, "%", "%25"), strconv.Itoa(a.Port)))
	if a.DB != 0 {
		b.WriteString("/" + strconv.Itoa(a.DB))
	}
	if a.CAFile != "" {
		b.WriteString("?ca=" + url.QueryEscape(a.CAFile))
	}
	return b.String()
}

// Base is the URL without database and parameters, the prefix of the pilot
// and unit URLs that scripts see: redis://[pw@]host:port.
func (a Address) Base() string {
	b := a
	b.DB, b.CAFile = 0, ""
	return b.String()
}

// IsLoopback reports whether the host is this machine's loopback interface
// (a Unix socket is on this machine too).
func (a Address) IsLoopback() bool {
	if a.Socket != "" || strings.EqualFold(a.Host, "localhost") {
		return true
	}
	ip := net.ParseIP(a.Host)
	return ip != nil && ip.IsLoopback()
}

// RedactURL masks the password of a URL that may not parse, for messages.
func RedactURL(raw string) string {
	pre, _, post, ok := splitRaw(raw)
	if !ok {
		return raw
	}
	return pre + "***" + post
}

// splitRaw finds the password of a URL that may not parse, raw = pre +
// secret + post: what lies between "://" (or the first ":" after it) and
// the last "@". ok is false when there is no user part.
func splitRaw(raw string) (pre, secret, post string, ok bool) {
	at := strings.LastIndex(raw, "@")
	scheme := strings.Index(raw, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return "", "", "", false
	}
	user := raw[scheme+3 : at]
	if user == "" {
		return "", "", "", false
	}
	start := scheme + 3
	if i := strings.Index(user, ":"); i >= 0 {
		start += i + 1
	}
	return raw[:start], raw[start:at], raw[at:], true
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// SplitObjectURL splits the URL of an object in the store (a pilot, unit,
// data unit: redis://[pw@]host:port/<name>) into the coordination address
// and the name; kind names the object in errors.
func SplitObjectURL(kind, raw string) (Address, string, error) {
	i := strings.Index(raw, "://")
	j := -1
	if i >= 0 {
		j = strings.Index(raw[i+3:], "/")
	}
	if j < 0 {
		return Address{}, "", &URLError{What: kind, URL: RedactURL(raw), Problem: "expected redis://host:port/<name>"}
	}
	base, name := raw[:i+3+j], raw[i+3+j+1:]
	addr, err := ParseURL(base)
	if err != nil {
		return Address{}, "", fmt.Errorf("%s URL: %w", kind, err)
	}
	if name == "" {
		return Address{}, "", &URLError{What: kind, URL: addr.Redacted(), Problem: "no " + kind + " name after the host"}
	}
	return addr, name, nil
}
