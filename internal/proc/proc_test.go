package proc

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStatCommWithParens(t *testing.T) {
	st, err := parseStat(7, []byte("7 (a) b (c) S 1 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 4242 1000 1"))
	require.NoError(t, err)
	require.Equal(t, Stat{PID: 7, State: 'S', PPID: 1, PGID: 7, Session: 7, StartTime: 4242}, st)
}

func TestSelfAlive(t *testing.T) {
	st, err := ReadStat(os.Getpid())
	require.NoError(t, err)
	require.True(t, Alive(os.Getpid(), st.StartTime))
	require.False(t, Alive(os.Getpid(), st.StartTime+1), "a different start time is a different process")
}

func TestKillSessionLeavesNothing(t *testing.T) {
	marker := "proc-test-" + time.Now().Format("150405.000000000")
	// a session leader with a child and a grandchild that ignore SIGTERM
	cmd := exec.Command("/bin/bash", "-c", "trap '' TERM; (trap '' TERM; sleep 300 & wait) & sleep 300 & wait")
	cmd.Env = append(os.Environ(), "PROC_TEST_MARK="+marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start())
	go cmd.Wait()
	require.Eventually(t, func() bool { return len(WithEnv("PROC_TEST_MARK", marker)) >= 4 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, cmd.Process.Pid, mustStat(t, cmd.Process.Pid).Session)

	n := KillSession(context.Background(), cmd.Process.Pid, 100*time.Millisecond)
	require.GreaterOrEqual(t, n, 4)
	require.Empty(t, WithEnv("PROC_TEST_MARK", marker))
	require.Empty(t, SessionMembers(cmd.Process.Pid))
}

func TestAwaitGroupGone(t *testing.T) {
	// a group leader with a background child
	cmd := exec.Command("/bin/bash", "-c", "sleep 300 & sleep 300; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	require.Eventually(t, func() bool { return len(GroupMembers(pgid)) >= 3 }, 5*time.Second, 10*time.Millisecond)

	require.False(t, AwaitGroupGone(pgid, 50*time.Millisecond), "a running group is not gone")
	require.NoError(t, syscall.Kill(-pgid, syscall.SIGKILL))
	cmd.Wait()
	require.True(t, AwaitGroupGone(pgid, 5*time.Second))
	require.Empty(t, GroupMembers(pgid))
}

func mustStat(t *testing.T, pid int) Stat {
	st, err := ReadStat(pid)
	require.NoError(t, err)
	return st
}
