package coord

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseURLForms(t *testing.T) {
	cases := []struct {
		in   string
		want Address
		str  string
	}{
		{"redis://localhost", Address{Host: "localhost", Port: 6379}, "redis://localhost:6379"},
		{"redis://localhost:6380", Address{Host: "localhost", Port: 6380}, "redis://localhost:6380"},
		{"redis://localhost:6380/", Address{Host: "localhost", Port: 6380}, "redis://localhost:6380"},
		{"redis://secret@gw68:6379", Address{Host: "gw68", Port: 6379, Password: "secret"}, "redis://secret@gw68:6379"},
		{"redis://@localhost:6379", Address{Host: "localhost", Port: 6379}, "redis://localhost:6379"},
		{"redis://:secret@localhost", Address{Host: "localhost", Port: 6379, Password: "secret"}, "redis://secret@localhost:6379"},
		{"redis://alice:secret@localhost:7000", Address{Host: "localhost", Port: 7000, Username: "alice", Password: "secret"}, "redis://alice:secret@localhost:7000"},
		{"redis://localhost:6379/2", Address{Host: "localhost", Port: 6379, DB: 2}, "redis://localhost:6379/2"},
		{"rediss://cache.example:6380", Address{TLS: true, Host: "cache.example", Port: 6380}, "rediss://cache.example:6380"},
		{"rediss://pw@cache.example?ca=/etc/ca.pem", Address{TLS: true, Host: "cache.example", Port: 6379, Password: "pw", CAFile: "/etc/ca.pem"}, "rediss://pw@cache.example:6379?ca=%2Fetc%2Fca.pem"},
		{"redis://[::1]:6379", Address{Host: "::1", Port: 6379}, "redis://[::1]:6379"},
		{"unix:///home/u/.bigjob/store/redis.sock", Address{Socket: "/home/u/.bigjob/store/redis.sock"}, "unix:///home/u/.bigjob/store/redis.sock"},
		{"unix:///tmp/a%20b.sock?db=3", Address{Socket: "/tmp/a b.sock", DB: 3}, "unix:///tmp/a%20b.sock?db=3"},
		{"REDIS://LOCALHOST", Address{Host: "LOCALHOST", Port: 6379}, "redis://LOCALHOST:6379"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			a, err := ParseURL(c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, a)
			require.Equal(t, c.str, a.String())
			back, err := ParseURL(a.String())
			require.NoError(t, err)
			require.Equal(t, a, back, "String round-trips")
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	cases := []struct{ in, contains string }{
		{"", "empty"},
		{"localhost:6379", "scheme"},
		{"advert://localhost/?dbtype=sqlite3", "advert:// coordination backend"},
		{"tcp://*", "tcp:// coordination backend"},
		{"http://localhost", `scheme "http" is not supported`},
		{"redis://", "no host"},
		{"redis://localhost:99999", `port "99999"`},
		{"redis://localhost:abc", "not a URL"},
		{"redis://localhost/bigjob", `path "/bigjob" is not a database number`},
		{"redis://localhost?db=1", `unknown parameter "db"`},
		{"redis://localhost?ca=/x", `unknown parameter "ca"`},
		{"rediss://localhost?ca=%zz", `query "ca=%zz" is malformed`},
		{"rediss://localhost?ca=/x;y=1", "is malformed"},
		{"rediss://localhost?ca=", "ca is empty"},
		{"unix://host/x.sock", "three slashes, no host"},
		{"unix:///x.sock?db=a", `bad parameter "db"`},
		{"unix:///x.sock?ca=/y", `bad parameter "ca"`},
		{"unix://pw@/x.sock", "carry no user or password"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := ParseURL(c.in)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.contains)
			require.Contains(t, err.Error(), "coordination URL")
		})
	}
}

func TestPasswordsAreMasked(t *testing.T) {
	_, err := ParseURL("redis://hunter2@localhost:abc")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	require.Contains(t, err.Error(), "***@localhost")
	_, err = ParseURL("redis://u:hunter2@localhost/x")
	require.NotContains(t, err.Error(), "hunter2")
	a, err := ParseURL("redis://u:hunter2@localhost")
	require.NoError(t, err)
	require.Equal(t, "redis://u:***@localhost:6379", a.Redacted())
}

func TestIsLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"redis://localhost": true, "redis://127.0.0.1": true, "redis://127.0.1.1": true,
		"redis://[::1]": true, "redis://gw68.example": false, "redis://10.0.0.1": false,
	} {
		a, err := ParseURL(in)
		require.NoError(t, err)
		require.Equal(t, want, a.IsLoopback(), in)
	}
}
