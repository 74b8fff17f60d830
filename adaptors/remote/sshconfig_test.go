package remote_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors/remote"
)

func TestReadHostConfig(t *testing.T) {
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".ssh", "conf.d"), 0o700))
	config := `# global part
IdentityFile ~/.ssh/global_key

Host login*.example.org !login9.example.org
    HostName=%h.internal
    User "alice"
    Port 2222
    IdentityFile ~/.ssh/cluster_key
    UserKnownHostsFile ~/.ssh/kh_cluster /etc/kh_shared

Match host *.example.org
    User matched

Host login1.example.org
    User ignored_later_value
    Include conf.d/*.conf

Host *
    Port 22
    User everyone
`
	require.NoError(t, os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(config), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".ssh", "conf.d", "a.conf"), []byte("IdentityFile /keys/included\n"), 0o600))

	hc, err := remote.ReadHostConfig(home, "login1.example.org")
	require.NoError(t, err)
	require.Equal(t, remote.HostConfig{
		HostName:        "%h.internal",
		User:            "alice",
		Port:            "2222",
		IdentityFiles:   []string{"~/.ssh/global_key", "~/.ssh/cluster_key", "/keys/included"},
		KnownHostsFiles: []string{"~/.ssh/kh_cluster", "/etc/kh_shared"},
	}, hc)

	hc, err = remote.ReadHostConfig(home, "login9.example.org")
	require.NoError(t, err)
	require.Equal(t, remote.HostConfig{User: "everyone", Port: "22", IdentityFiles: []string{"~/.ssh/global_key"}}, hc,
		"a negated pattern excludes the host; Match blocks are skipped")

	hc, err = remote.ReadHostConfig(t.TempDir(), "any")
	require.NoError(t, err, "no config file")
	require.Equal(t, remote.HostConfig{}, hc)
}

func TestExpandTokens(t *testing.T) {
	tokens := map[byte]string{'h': "real.host", 'p': "22", 'r': "bob", 'u': "me", 'd': "/home/me", 'n': "alias"}
	require.Equal(t, "/home/me/.ssh/id_real.host_22_bob_%", remote.ExpandTokens("~/.ssh/id_%h_%p_%r_%%", tokens))
	require.Equal(t, "/k/%z/me/alias", remote.ExpandTokens("/k/%z/%u/%n", tokens))
}

func TestHostPatterns(t *testing.T) {
	require.True(t, remote.WildcardMatches([]string{"*.org"}, "a.example.ORG"))
	require.True(t, remote.WildcardMatches([]string{"node?"}, "node7"))
	require.False(t, remote.WildcardMatches([]string{"node?"}, "node17"))
	require.False(t, remote.WildcardMatches([]string{"*", "!secret"}, "secret"))
	require.False(t, remote.WildcardMatches([]string{"!other"}, "host"), "only negated patterns match nothing")
}
