package userstore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/coord/userstore"
	"github.com/bigjob-go/bigjob/internal/proc"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

// envProbe makes the test binary try to reach the store whose socket it
// names, and exit 0 only if it could (run as another user).
const envProbe = "USERSTORE_TEST_PROBE"

func TestMain(m *testing.M) {
	if sock := os.Getenv(envProbe); sock != "" {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
		if err := c.Ping(context.Background()).Err(); err != nil {
			fmt.Println("refused:", err)
			os.Exit(1)
		}
		fmt.Println("connected")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// newDir is a store folder for one test; whatever runs there is stopped at
// its end, and the test checks that nothing of it is left.
func newDir(t *testing.T) string {
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Require(t, "redis-server", false, "install redis-server (scripts/install-deps.sh does)")
	}
	dir := filepath.Join(t.TempDir(), "store")
	t.Cleanup(func() {
		userstore.Stop(context.Background(), dir)
		assert.Eventually(t, func() bool { return len(supervisors(dir)) == 0 && len(servers(dir)) == 0 },
			30*time.Second, 20*time.Millisecond, "the store of %s is left running", dir)
	})
	return dir
}

// supervisors and servers are the processes of the store in dir.
func supervisors(dir string) []int { return proc.WithArgs("-store", dir) }
func servers(dir string) []int {
	// redis-server sets its process title to "redis-server unixsocket:<path>"
	return proc.WithArgs("redis-server unixsocket:" + filepath.Join(dir, "redis.sock"))
}

func client(t *testing.T, dir string) *redis.Client {
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: userstore.Address(dir).Socket, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureStartsOneStoreAndReusesIt(t *testing.T) {
	dir := newDir(t)
	agent := testenv.AgentBinary(t)
	var wg sync.WaitGroup
	started := make([]bool, 4)
	for i := range started { // callers at the same moment share one store
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, s, err := userstore.Ensure(ctxT(t), dir, agent)
			assert.NoError(t, err)
			assert.Equal(t, filepath.Join(dir, "redis.sock"), a.Socket)
			started[i] = s
		}()
	}
	wg.Wait()
	n := 0
	for _, s := range started {
		if s {
			n++
		}
	}
	assert.Equal(t, 1, n, "one caller started it")
	assert.Len(t, supervisors(dir), 1)
	assert.Len(t, servers(dir), 1)

	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "the folder is the owner's alone")
	st, err = os.Stat(filepath.Join(dir, "redis.sock"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "the socket too")
	require.NoError(t, client(t, dir).Set(ctxT(t), "k", "v", 0).Err())

	// a second supervisor gives way
	out, err := exec.Command(agent, "-store", dir).CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out), "another supervisor runs the local coordination store")
}

// What the store acknowledged survives its crash (the supervisor restarts
// it), and its supervisor's too (the next Ensure starts it again).
func TestAcknowledgedWritesSurviveCrashes(t *testing.T) {
	dir := newDir(t)
	agent := testenv.AgentBinary(t)
	_, _, err := userstore.Ensure(ctxT(t), dir, agent)
	require.NoError(t, err)
	c := client(t, dir)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			require.NoError(t, c.HSet(ctxT(t), "unit:"+strconv.Itoa(i), "state", "Done").Err())
		}
	}
	count := func() int64 {
		var n int64
		require.Eventually(t, func() bool {
			var err error
			n, err = c.DBSize(context.Background()).Result()
			return err == nil
		}, 30*time.Second, 20*time.Millisecond, "the store answers again")
		return n
	}
	write(0, 500)
	srv := servers(dir)
	require.Len(t, srv, 1)
	require.NoError(t, syscall.Kill(srv[0], syscall.SIGKILL))
	assert.EqualValues(t, 500, count(), "every acknowledged write is there after redis-server was killed")
	require.Eventually(t, func() bool { s := servers(dir); return len(s) == 1 && s[0] != srv[0] }, 30*time.Second, 20*time.Millisecond)

	write(500, 1000)
	sup := supervisors(dir)
	require.Len(t, sup, 1)
	require.NoError(t, syscall.Kill(sup[0], syscall.SIGKILL))
	require.Eventually(t, func() bool { return len(servers(dir)) == 0 }, 30*time.Second, 20*time.Millisecond,
		"redis-server does not outlive its supervisor")
	_, started, err := userstore.Ensure(ctxT(t), dir, agent)
	require.NoError(t, err)
	assert.True(t, started)
	assert.EqualValues(t, 1000, count(), "and after its supervisor was killed")
}

// The store stops by itself once it has held no key for its idle time.
func TestIdleStoreStops(t *testing.T) {
	dir := newDir(t)
	t.Setenv(userstore.EnvIdle, "300ms")
	_, _, err := userstore.Ensure(ctxT(t), dir, testenv.AgentBinary(t))
	require.NoError(t, err)
	c := client(t, dir)
	require.NoError(t, c.Set(ctxT(t), "k", "v", time.Second).Err())
	time.Sleep(600 * time.Millisecond)
	assert.Len(t, supervisors(dir), 1, "a key keeps it running")
	require.Eventually(t, func() bool { return len(supervisors(dir)) == 0 && len(servers(dir)) == 0 },
		30*time.Second, 20*time.Millisecond, "it stops once the key expired and the idle time passed")
}

// Only its owner can reach the store: another user cannot connect.
func TestAnotherUserCannotConnect(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run a probe as another user")
	}
	dir := newDir(t)
	a, _, err := userstore.Ensure(ctxT(t), dir, testenv.AgentBinary(t))
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	// the probe binary must be reachable by the other user
	probe := filepath.Join(os.TempDir(), fmt.Sprintf("userstore-probe-%d", os.Getpid()))
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(probe, b, 0o755))
	defer os.Remove(probe)
	run := func(uid uint32) (string, error) {
		cmd := exec.Command(probe, "-test.run", "^$")
		cmd.Env = append(os.Environ(), envProbe+"="+a.Socket)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(0)
	require.NoError(t, err, "the probe reaches the store as its owner: %s", out)
	out, err = run(65534)
	assert.Error(t, err, "nobody (uid 65534) reached the store: %s", out)
	assert.True(t, strings.Contains(out, "permission denied"), out)
}

// The supervisor outlives the process that started it, so it must not keep
// that process's pipes open: a reader there would wait for EOF as long.
func TestStoreHoldsNoPipeOfItsStarter(t *testing.T) {
	dir := newDir(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	cmd := exec.Command(testenv.AgentBinary(t), "-store", dir)
	cmd.ExtraFiles = []*os.File{w} // inherited as fd 3, as a Python 2 pipe would be
	require.NoError(t, cmd.Start())
	go cmd.Wait()
	w.Close()
	require.Eventually(t, func() bool { return userstore.Running(ctxT(t), dir) }, 30*time.Second, 20*time.Millisecond)

	eof := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 1)); eof <- err }()
	select {
	case err := <-eof:
		require.ErrorIs(t, err, io.EOF, "the pipe's only writer left is the store")
	case <-time.After(10 * time.Second):
		t.Fatal("the store holds its starter's pipe open")
	}
	require.True(t, userstore.Running(ctxT(t), dir), "and the store runs on")
}
