package e2e_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// The ssh tests set process-wide variables (BIGJOB_SSH_*): they do not run
// in parallel.

func TestSSHPilotRunsUnitsAndCancels(t *testing.T) {
	sshd := testenv.StartSSHD(t)
	sshd.Env(t)
	s := newService(t)
	dir := t.TempDir()
	p := running(t, s, core.PilotDescription{ServiceURL: sshd.URL("ssh"), NumberOfProcesses: 2, WorkingDirectory: dir})
	runUnits(t, p, 4)

	staged, err := filepath.Glob(filepath.Join(dir, ".bigjob", "pilot-agent-*"))
	require.NoError(t, err)
	require.Len(t, staged, 1, "the agent was copied into the working directory")
	before, err := os.Stat(staged[0])
	require.NoError(t, err)

	// A long unit, then cancel: the agent and the unit are gone.
	m := core.EnvVar{Name: "BIGJOB_TEST_MARK", Value: p.ID()}
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"300"}, Environment: []core.EnvVar{m}})
	require.NoError(t, err)
	waitRunning(t, u)
	require.NoError(t, p.Cancel(ctxT(t)))
	st, err := u.State(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Canceled, st)
	noProcessWith(t, p.ID())

	// A second pilot reuses the copied agent.
	p2 := running(t, s, core.PilotDescription{ServiceURL: sshd.URL("ssh"), NumberOfProcesses: 1, WorkingDirectory: dir})
	runUnits(t, p2, 1)
	after, err := os.Stat(staged[0])
	require.NoError(t, err)
	require.True(t, os.SameFile(before, after) && before.ModTime().Equal(after.ModTime()), "the agent was copied again")
}

func TestSSHUnknownHostKeyIsRefused(t *testing.T) {
	sshd := testenv.StartSSHD(t)
	sshd.Env(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	t.Setenv("BIGJOB_SSH_KNOWN_HOSTS", empty)
	s := newService(t)
	_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: sshd.URL("ssh"), NumberOfProcesses: 1, WorkingDirectory: t.TempDir()})
	require.ErrorIs(t, err, core.ErrAdaptor)
	require.ErrorContains(t, err, "127.0.0.1")
	require.ErrorContains(t, err, "ssh-keyscan -p "+strconv.Itoa(sshd.Port)+" 127.0.0.1", "the message says how to fix it")
}

func TestSSHBadInput(t *testing.T) {
	sshd := testenv.StartSSHD(t)
	sshd.Env(t)
	s := newService(t)
	t.Run("wrong key", func(t *testing.T) {
		other := testenv.StartSSHD(t) // a key the first sshd does not accept
		t.Setenv("BIGJOB_SSH_IDENTITY", other.UserKey)
		dir := t.TempDir()
		_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: sshd.URL("ssh"), NumberOfProcesses: 1, WorkingDirectory: dir})
		require.ErrorIs(t, err, core.ErrAdaptor)
		require.ErrorContains(t, err, sshd.URL("ssh"))
		require.ErrorContains(t, err, other.UserKey, "it names the identity it tried")
		entries, _ := os.ReadDir(dir)
		require.Empty(t, entries, "nothing was placed on the host")
	})
	t.Run("unreachable host", func(t *testing.T) {
		port := testenv.FreePort(t)
		url := "ssh://root@127.0.0.1:" + strconv.Itoa(port)
		_, err := s.CreatePilot(ctxT(t), core.PilotDescription{ServiceURL: url, NumberOfProcesses: 1})
		require.ErrorIs(t, err, core.ErrAdaptor)
		require.ErrorContains(t, err, "127.0.0.1:"+strconv.Itoa(port))
		require.ErrorContains(t, err, "connection refused")
	})
	for _, p := range s.Pilots() {
		st, err := p.State(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Failed, st, "a pilot that could not be submitted is Failed")
	}
}

func TestSLURMThroughSSH(t *testing.T) {
	testenv.SLURM(t)
	sshd := testenv.StartSSHD(t)
	sshd.Env(t)
	s := newService(t)
	dir := t.TempDir()
	p := running(t, s, core.PilotDescription{ServiceURL: sshd.URL("slurm+ssh"), NumberOfProcesses: 1, WorkingDirectory: dir, Walltime: 5})
	out := runUnits(t, p, 2, "SLURM_JOB_ID")
	require.Equal(t, jobID(t, p), strings.Fields(out[0])[1])
	require.NoError(t, p.Cancel(ctxT(t)))
	noProcessWith(t, p.ID())
}

func TestUnitsOverSSHWithinAPilot(t *testing.T) {
	sshd := testenv.StartSSHD(t)
	// The agent's units go through the system ssh client to "localhost".
	rsh := "ssh -p " + strconv.Itoa(sshd.Port) + " -i " + sshd.UserKey + " -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -l " + sshd.User
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 2, WorkingDirectory: t.TempDir(),
		LaunchMethod: core.LaunchSSH, RemoteShell: strings.Fields(rsh)})
	for _, out := range runUnits(t, p, 2, "SSH_CONNECTION") {
		require.Contains(t, out, "127.0.0.1", "the unit ran in an ssh session: %q", out)
	}
	// A canceled unit's remote side is killed too.
	m := core.EnvVar{Name: "BIGJOB_TEST_MARK", Value: p.ID() + "-remote"}
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"301"}, Environment: []core.EnvVar{m}})
	require.NoError(t, err)
	waitRunning(t, u)
	require.Eventually(t, func() bool { return len(pids("sleep 301")) > 0 }, bound, 50*time.Millisecond)
	require.NoError(t, u.Cancel(ctxT(t)))
	require.Eventually(t, func() bool { return len(pids("sleep 301")) == 0 }, bound, 50*time.Millisecond, "the remote sleep outlived its unit")
}
