// Package proc reads the Linux process table (/proc): process start times
// (to tell a live process from a reused pid), the members of a session, and
// processes carrying an environment marker. It kills whole sessions, and
// closes what a daemon inherited.
package proc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bigjob-go/bigjob/internal/ctxsleep"
)

// Stat is the part of /proc/<pid>/stat this package uses.
type Stat struct {
	PID       int
	State     byte // R, S, D, Z, T, ...
	PPID      int
	PGID      int
	Session   int
	StartTime uint64 // clock ticks after boot: with the pid, identifies a process
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return parseStat(pid, b)
}

func parseStat(pid int, b []byte) (Stat, error) {
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ..."; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	st := Stat{PID: pid, State: f[0][0]}
	st.PPID, _ = strconv.Atoi(f[1])
	st.PGID, _ = strconv.Atoi(f[2])
	st.Session, _ = strconv.Atoi(f[3])
	st.StartTime, _ = strconv.ParseUint(f[19], 10, 64)
	return st, nil
}

// Alive reports whether pid is running (not a zombie) and, if start is not
// zero, is the same process that had that start time.
func Alive(pid int, start uint64) bool {
	st, err := ReadStat(pid)
	if err != nil || st.State == 'Z' || st.State == 'X' {
		return false
	}
	return start == 0 || st.StartTime == start
}

// all lists the pids in /proc.
func all() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// SessionMembers lists the live processes of session sid.
func SessionMembers(sid int) []int {
	return members(func(st Stat) bool { return st.Session == sid })
}

// GroupMembers lists the live processes of process group pgid.
func GroupMembers(pgid int) []int {
	return members(func(st Stat) bool { return st.PGID == pgid })
}

// members lists the live (not zombie) processes for which in holds.
func members(in func(Stat) bool) []int {
	var out []int
	for _, pid := range all() {
		st, err := ReadStat(pid)
		if err == nil && in(st) && st.State != 'Z' && st.State != 'X' {
			out = append(out, pid)
		}
	}
	return out
}

// AwaitGroupGone waits, at most bound, until no live process is left in
// process group pgid (SIGKILL takes effect asynchronously: a killed process
// can still be seen for a moment). It reports whether the group is gone.
// When the group is already empty it costs one kill(2).
func AwaitGroupGone(pgid int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		if syscall.Kill(-pgid, 0) == syscall.ESRCH || len(GroupMembers(pgid)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// KillSession sends SIGTERM to every process of session sid, waits up to
// grace for them to go, then sends SIGKILL to the rest and waits (bounded by
// ctx) until none is left. It returns the number of processes it signalled.
func KillSession(ctx context.Context, sid int, grace time.Duration) int {
	members := SessionMembers(sid)
	for _, pid := range members {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for len(SessionMembers(sid)) > 0 && time.Now().Before(deadline) {
		if !ctxsleep.Sleep(ctx, 20*time.Millisecond) {
			return len(members)
		}
	}
	for left := SessionMembers(sid); len(left) > 0; left = SessionMembers(sid) {
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if !ctxsleep.Sleep(ctx, 10*time.Millisecond) {
			break
		}
	}
	return len(members)
}

// WithEnv lists the live processes whose environment holds the exact entry
// "name=value" (tests use it to find every process a unit started).
func WithEnv(name, value string) []int {
	want := []byte(name + "=" + value)
	var out []int
	for _, pid := range all() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue
		}
		for _, e := range bytes.Split(b, []byte{0}) {
			if bytes.Equal(e, want) {
				if Alive(pid, 0) {
					out = append(out, pid)
				}
				break
			}
		}
	}
	return out
}

// WithArgs lists the live processes whose command line holds the arguments
// args, in order and next to each other (tests use it to find the processes
// of a store).
func WithArgs(args ...string) []int {
	want := []byte(strings.Join(args, "\x00") + "\x00")
	var out []int
	for _, pid := range all() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && bytes.Contains(append(b, 0), want) && Alive(pid, 0) {
			out = append(out, pid)
		}
	}
	return out
}

// CloseInherited closes the file descriptors above stderr that this process
// inherited from the one that started it: those without close-on-exec,
// which the Go runtime sets on every descriptor it opens itself. A daemon
// calls it first, so that it does not keep a pipe of its starter open for
// its whole life (a reader at the other end would wait for EOF that long;
// Python 2 makes its pipes inheritable).
func CloseInherited() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}
