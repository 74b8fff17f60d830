// Package userstore runs this user's lasting local coordination store: the
// store the library uses when a script names a loopback Redis where nothing
// listens. Unlike a store inside the script's process, it outlives the
// script, so that a second script, pilot-cli, or a script run after a crash
// finds the same pilots and units.
//
// It is a real redis-server (the one on PATH), run by a supervisor process
// (pilot-agent -store DIR, see Supervise):
//   - private: it listens only on a Unix socket in DIR ($BIGJOB_HOME/store,
//     else ~/.bigjob/store), a directory only its owner may enter, with the
//     socket itself owner-only; no TCP port;
//   - durable: an append-only file in DIR, written before each reply, so that
//     what it acknowledged survives its crash (the supervisor restarts it and
//     it reloads the file) and a reboot;
//   - bounded: the supervisor stops it, and exits, once it has held no key for
//     its idle time (every record of the library expires); one supervisor
//     per DIR holds a lock for its life, and its disk and memory are those of
//     a Redis with the same key expiry.
package userstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bigjob-go/bigjob/coord"
)

// Files of the store's folder.
const (
	socketName = "redis.sock"
	startLock  = "start.lock"      // held while a process starts the store
	superLock  = "supervisor.lock" // held by the supervisor for its life
	logName    = "store.log"       // the supervisor's log
	redisLog   = "redis.log"       // redis-server's log
)

// maxSocketPath is the longest Unix socket path Linux takes.
const maxSocketPath = 107

// EnvHome is the folder that holds the library's files of this user (keys,
// the store); default ~/.bigjob.
const EnvHome = "BIGJOB_HOME"

// EnvIdle is how long the store may hold no key before it stops (a Go
// duration; default DefaultIdle).
const EnvIdle = "BIGJOB_STORE_IDLE"

// DefaultIdle is the store's idle time.
const DefaultIdle = 10 * time.Minute

// ErrNoServer is returned when no redis-server is installed to run the store.
var ErrNoServer = errors.New("no redis-server on PATH to run a lasting local coordination store")

// Home is the folder of the library's files of this user: $BIGJOB_HOME,
// else ~/.bigjob.
func Home() (string, error) {
	if home := os.Getenv(EnvHome); home != "" {
		return home, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory for the library's files (set %s): %w", EnvHome, err)
	}
	return filepath.Join(h, ".bigjob"), nil
}

// Dir is the store's folder, Home/store.
func Dir() (string, error) {
	home, err := Home()
	return filepath.Join(home, "store"), err
}

// Address is the store's address in dir.
func Address(dir string) coord.Address { return coord.Address{Socket: socket(dir)} }

// socket is the path of the store's socket in dir.
func socket(dir string) string { return filepath.Join(dir, socketName) }

// private makes dir (and its parents) and checks that it is this user's and
// that nobody else may enter it, so that the socket in it is this user's alone.
func private(dir string) error {
	if sock := socket(dir); len(sock) > maxSocketPath {
		return fmt.Errorf("the local coordination store's socket %s is longer than the %d bytes a Unix socket path may have; set %s to a shorter folder",
			sock, maxSocketPath, EnvHome)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make the local coordination store's folder: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("the local coordination store's folder %s belongs to uid %d, not to you (uid %d); set %s to a folder of yours",
			dir, sys.Uid, os.Getuid(), EnvHome)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s owner-only: %w", dir, err)
		}
	}
	return nil
}

// client is a connection to the store in dir for the package's own checks:
// one dial, no retry (go-redis would retry a refused dial for 400 ms, and a
// retried SHUTDOWN would find the socket gone).
func client(dir string) *redis.Client {
	return redis.NewClient(&redis.Options{Network: "unix", Addr: socket(dir), DialTimeout: time.Second,
		DialerRetries: 1, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
}

// Running reports whether the store in dir answers.
func Running(ctx context.Context, dir string) bool {
	c := client(dir)
	defer c.Close()
	return c.Ping(ctx).Err() == nil
}

// Ensure returns the address of the store in dir, starting it with the
// supervisor binary (a pilot-agent, run as `supervisor -store dir`) if none
// answers, and waiting until it does. started says whether this call started
// it. Processes that call it at the same moment end up with one store.
func Ensure(ctx context.Context, dir, supervisor string) (addr coord.Address, started bool, err error) {
	if Running(ctx, dir) {
		return Address(dir), false, nil
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return coord.Address{}, false, ErrNoServer
	}
	if err := private(dir); err != nil {
		return coord.Address{}, false, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, startLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return coord.Address{}, false, err
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return coord.Address{}, false, fmt.Errorf("wait for another process starting the local coordination store: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if Running(ctx, dir) { // another process started it meanwhile
		return Address(dir), false, nil
	}
	log, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return coord.Address{}, false, err
	}
	defer log.Close()
	cmd := exec.Command(supervisor, "-store", dir)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this process and its terminal
	if err := cmd.Start(); err != nil {
		return coord.Address{}, false, fmt.Errorf("start the local coordination store (%s -store %s): %w", supervisor, dir, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it, should it fail at once
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for !Running(ctx, dir) {
		select {
		case err := <-exited:
			return coord.Address{}, false, fmt.Errorf("the local coordination store's supervisor exited (%v); see %s", err, filepath.Join(dir, logName))
		case <-deadline.C:
			return coord.Address{}, false, fmt.Errorf("the local coordination store did not answer within 30 s; see %s", filepath.Join(dir, logName))
		case <-ctx.Done():
			return coord.Address{}, false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return Address(dir), true, nil
}

// flock takes an exclusive lock on f, waiting while ctx allows.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EWOULDBLOCK {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop shuts the store in dir down, if it runs, and waits (while ctx
// allows) until its supervisor has exited.
func Stop(ctx context.Context, dir string) error {
	if Running(ctx, dir) {
		c := client(dir)
		err := c.Do(ctx, "SHUTDOWN").Err()
		c.Close()
		if err != nil && !errors.Is(err, redis.ErrClosed) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("stop the local coordination store in %s: %w", dir, err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, superLock), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // never supervised here
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return fmt.Errorf("wait for the local coordination store's supervisor in %s to exit: %w", dir, err)
	}
	return syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
}

// Kept reports whether dir holds a store's data (its append-only file), so
// that starting the store there may bring back pilots and units.
func Kept(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "appendonlydir"))
	return err == nil
}
