package core_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord/userstore"
	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A loopback URL where nothing listens gets the user's lasting local store,
// announced by one warning line that names the address given and the store
// used; the agent reaches it like any Redis, and what the script made
// outlives the script's hold on it.
func TestLocalStoreStandsIn(t *testing.T) {
	home := privateHome(t)
	port := testenv.FreePort(t)
	url := fmt.Sprintf("redis://s3cret@localhost:%d", port)
	var warn bytes.Buffer
	s := newService(t, url, func(o *core.Options) { o.Warnings = &warn })
	require.Equal(t, 1, strings.Count(warn.String(), "\n"), "exactly one warning line: %q", warn.String())
	require.Contains(t, warn.String(), fmt.Sprintf("no Redis server at redis://***@localhost:%d;", port))
	require.Contains(t, warn.String(), "lasting local coordination store in "+filepath.Join(home, "store"))
	require.Contains(t, warn.String(), core.EnvNoEmbedded)
	require.NotContains(t, warn.String(), "s3cret")
	require.True(t, userstore.Running(ctxT(t), filepath.Join(home, "store")))

	// a second service in the same process shares the store: no new warning
	s2 := newService(t, url, func(o *core.Options) { o.Warnings = &warn })
	require.Equal(t, 1, strings.Count(warn.String(), "\n"))
	s2.Close()

	p, _ := newPilot(t, s, 1)
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	st, _ := waitUnit(t, u)
	require.Equal(t, core.Done, st)

	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", agentPID(t, p)))
	require.NoError(t, err)
	require.NotContains(t, string(cmdline), "s3cret", "the password must not be on the agent's command line")
	require.Contains(t, p.URL(), "s3cret@localhost:", "the pilot URL is in the address the script gave, so it can be reconnected")

	// Once this process lets go of the store, the unit is still found by
	// its URL, as a second process would find it.
	unitURL := u.URL()
	s.Close()
	ru, err := core.OpenUnit(ctxT(t), unitURL, testOptions(t, url))
	require.NoError(t, err, "the unit outlives the service that made it")
	defer ru.Close()
	st, err = ru.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Done, st)
}

// Without a redis-server to run a lasting store, the store is one in this
// process, and the warning says that it ends with the process.
func TestInProcessStoreWithoutRedisServer(t *testing.T) {
	privateHome(t)
	t.Setenv("PATH", t.TempDir())
	var warn bytes.Buffer
	s := newService(t, fmt.Sprintf("redis://localhost:%d", testenv.FreePort(t)), func(o *core.Options) { o.Warnings = &warn })
	require.Contains(t, warn.String(), "no redis-server installed")
	require.Contains(t, warn.String(), "stops when this process exits")
	p, _ := newPilot(t, s, 1)
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	st, _ := waitUnit(t, u)
	require.Equal(t, core.Done, st)
}

// A privileged port is a typo, not a place for a stand-in store.
func TestPrivilegedPortIsNotStoodIn(t *testing.T) {
	home := privateHome(t)
	_, err := core.NewService(ctxT(t), testOptions(t, "redis://localhost:1"))
	require.ErrorContains(t, err, "redis://localhost:1")
	require.ErrorContains(t, err, "port 1 is a privileged port")
	require.False(t, userstore.Running(ctxT(t), filepath.Join(home, "store")), "no store was started")
}

func TestLocalStoreCanBeTurnedOff(t *testing.T) {
	privateHome(t)
	url := fmt.Sprintf("redis://localhost:%d", testenv.FreePort(t))
	o := testOptions(t, url)
	o.NoEmbedded = true
	_, err := core.NewService(ctxT(t), o)
	require.Error(t, err)
	require.Contains(t, err.Error(), url)
	require.Contains(t, err.Error(), "connection refused")
	require.Contains(t, err.Error(), "the local store is off")

	t.Setenv(core.EnvNoEmbedded, "1")
	_, err = core.NewService(ctxT(t), testOptions(t, url))
	require.ErrorContains(t, err, "connection refused")
}

func TestBadCoordinationURL(t *testing.T) {
	_, err := core.NewService(ctxT(t), testOptions(t, "tcp://localhost:5555"))
	require.ErrorContains(t, err, `coordination URL "tcp://localhost:5555"`)
	_, err = core.OpenPilot(ctxT(t), "redis://localhost:6379/not-a-pilot", testOptions(t, ""))
	require.ErrorContains(t, err, "is not a pilot name")
}

// The original BigJob's Advert backend is gone: a URL of it stands for the
// default coordination URL ($BIGJOB_COORDINATION_URL here), with a warning,
// wherever a coordination URL enters.
func TestAdvertURLStandsForTheDefault(t *testing.T) {
	url := testenv.RedisServer(t)
	t.Setenv(core.EnvCoordinationURL, url)
	for _, legacy := range []string{"advert://localhost/?dbtype=sqlite3", "sqlasyncadvert://user:secret@host/"} {
		o := testOptions(t, legacy)
		warnings := &bytes.Buffer{}
		o.Warnings = warnings
		require.Equal(t, url, core.CoordinationURL(o))
		s, err := core.NewService(ctxT(t), o)
		require.NoError(t, err)
		assert.Contains(t, s.URL(), strings.TrimPrefix(url, "redis://"))
		s.Close()
		assert.Contains(t, warnings.String(), "names the Advert backend of the original BigJob, which is gone; using "+url)
		assert.NotContains(t, warnings.String(), "secret", "the password is not shown")
	}
}

// An agent that cannot reach its store for longer than the grace period
// kills its units and exits.
func TestAgentGivesUpWithoutStore(t *testing.T) {
	r := testenv.StartRedis(t)
	s := newService(t, r.URL, func(o *core.Options) { o.StoreGrace = 2 * time.Second })
	p, _ := newPilot(t, s, 1)
	m := marker(t)
	u, err := p.Submit(ctxT(t), sleeper(m))
	require.NoError(t, err)
	waitForUnitState(t, u, core.Running)
	agent := agentPID(t, p)
	require.NotEmpty(t, processesWith(m))

	r.Stop()
	require.Eventually(t, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/fd", agent))
		return os.IsNotExist(err) && len(processesWith(m)) == 0
	}, bound, 100*time.Millisecond, "the agent and its units must go after the grace period")
}

func TestSubmitValidates(t *testing.T) {
	url := testenvRedis(t)
	s := newService(t, url)
	_, err := s.Submit(ctxT(t), core.UnitDescription{})
	var de *core.DescriptionError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "executable", de.Key)
	_, err = s.Submit(ctxT(t), core.UnitDescription{Executable: "x", SPMDVariation: "openmp"})
	require.ErrorAs(t, err, &de)
	require.Equal(t, "spmd_variation", de.Key)
	_, err = s.SubmitBulk(ctxT(t), []core.UnitDescription{{Executable: "x"}, {Executable: "x", NumberOfProcesses: -1}})
	require.ErrorContains(t, err, "unit 1: compute unit description: key \"number_of_processes\"")

	_, err = s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "nosuch://localhost", NumberOfProcesses: 1})
	require.ErrorAs(t, err, &de)
	require.Equal(t, "service_url", de.Key)
	require.Contains(t, err.Error(), `no adaptor for scheme "nosuch"`)
	_, err = s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "fork://otherhost", NumberOfProcesses: 1})
	require.ErrorContains(t, err, "use ssh://otherhost")
	_, err = s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: "fork://localhost"})
	require.ErrorAs(t, err, &de)
	require.Equal(t, "number_of_processes", de.Key)
}

// Caller and agent reach a TLS-only Redis through a rediss:// URL.
func TestTLSCoordination(t *testing.T) {
	url := testenv.RedisServerTLS(t)
	require.True(t, strings.HasPrefix(url, "rediss://localhost:"), url)
	s := newService(t, url)
	p, _ := newPilot(t, s, 1)
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	st, _ := waitUnit(t, u)
	require.Equal(t, core.Done, st)
	require.True(t, strings.HasPrefix(p.URL(), "rediss://localhost:"), p.URL())

	// without the CA the server's certificate is refused, with a clear error
	plain := url[:strings.Index(url, "?")]
	o := testOptions(t, plain)
	_, err = core.NewService(ctxT(t), o)
	require.ErrorContains(t, err, "certificate")
}

// Reconnecting by URL uses the lasting local store, but never starts one
// that could hold nothing: with none running or kept on disk, the error
// names the real cause.
func TestReconnectDoesNotStartAnEmptyStore(t *testing.T) {
	home := privateHome(t)
	url := fmt.Sprintf("redis://localhost:%d", testenv.FreePort(t))
	name := "/bigjob:bj-00000000-0000-0000-0000-000000000000:localhost"
	_, err := core.OpenPilot(ctxT(t), url+name, testOptions(t, url))
	require.ErrorContains(t, err, "nothing listens at "+url)
	require.ErrorContains(t, err, "no local coordination store of yours")
	require.ErrorContains(t, err, "start that Redis again")
	require.NotContains(t, err.Error(), core.EnvNoEmbedded, "it names the real cause, not a variable the user never set")
	_, err = core.OpenUnit(ctxT(t), url+"/PilotComputeServiceQueue-pcs-x:jobs:sj-y", testOptions(t, url))
	require.ErrorContains(t, err, "nothing listens at")
	require.False(t, userstore.Running(ctxT(t), filepath.Join(home, "store")), "no store was started")

	s := newService(t, url) // starts the local store
	p, _ := newPilot(t, s, 1)
	rp, err := core.OpenPilot(ctxT(t), p.URL(), testOptions(t, url))
	require.NoError(t, err, "the local store is found")
	rp.Close()

	// stopped, the store is started again from what it kept on disk
	pilotURL := p.URL()
	s.Close()
	require.NoError(t, userstore.Stop(ctxT(t), filepath.Join(home, "store")))
	rp, err = core.OpenPilot(ctxT(t), pilotURL, testOptions(t, url))
	require.NoError(t, err, "the kept store is started again")
	rp.Close()
}

// privateHome gives the test a library home of its own (keys, lasting
// local store), whose store is stopped when the test ends.
func privateHome(t *testing.T) string {
	home := t.TempDir()
	t.Setenv(core.EnvHome, home)
	t.Cleanup(func() {
		if err := userstore.Stop(context.Background(), filepath.Join(home, "store")); err != nil {
			t.Errorf("stop the local store: %v", err)
		}
	})
	return home
}

// A bad max_attempts is refused, not replaced by the default; 0 means the
// default.
func TestMaxAttemptsIsCheckedNotReplaced(t *testing.T) {
	url := testenv.RedisServer(t)
	o := testOptions(t, url)
	o.MaxAttempts = -1
	_, err := core.NewService(ctxT(t), o)
	require.ErrorContains(t, err, "max_attempts is -1; give at least 1")
	s := newService(t, url, func(o *core.Options) { o.MaxAttempts = 0 })
	u, err := s.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	e, err := u.Explain(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, 3, e.MaxAttempts, "0 is the default")
}
