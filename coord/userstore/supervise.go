package userstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Idle is the idle time from the environment ($BIGJOB_STORE_IDLE), else
// DefaultIdle.
func Idle() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(EnvIdle)); err == nil && d > 0 {
		return d
	}
	return DefaultIdle
}

// Supervise runs the store in dir: it is the job of `pilot-agent -store
// dir`, which Ensure starts. It holds the folder's supervisor lock for its
// life (a second supervisor returns at once), runs redis-server on the
// folder's owner-only socket with an append-only file in the folder,
// restarts it when it dies other than by a shutdown (it reloads what it had
// acknowledged), and shuts it down once it has held no key for idle. It
// returns when the store has stopped: idle, shut down by someone (Stop), or
// ctx ended.
func Supervise(ctx context.Context, dir string, idle time.Duration, log *slog.Logger) error {
	if err := private(dir); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, superLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("another supervisor runs the local coordination store in %s", dir)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return ErrNoServer
	}
	var crashes []time.Time
	for {
		stopped, err := runOnce(ctx, bin, dir, idle, log)
		if stopped || ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		crashes = append(crashes, now)
		for len(crashes) > 0 && now.Sub(crashes[0]) > time.Minute {
			crashes = crashes[1:]
		}
		if len(crashes) > 5 {
			return fmt.Errorf("redis-server died %d times within a minute; last: %v; see %s", len(crashes), err, filepath.Join(dir, redisLog))
		}
		log.Warn("the local coordination store died; restarting it from its append-only file", "err", err)
		time.Sleep(200 * time.Millisecond)
	}
}

// runOnce runs redis-server until it exits. stopped says that it ended for
// good: idle, shut down on purpose, or ctx ended; else it died.
func runOnce(ctx context.Context, bin, dir string, idle time.Duration, log *slog.Logger) (stopped bool, err error) {
	cmd := exec.Command(bin,
		"--port", "0", "--unixsocket", socket(dir), "--unixsocketperm", "700",
		"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--logfile", filepath.Join(dir, redisLog), "--daemonize", "no")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // a killed supervisor does not leave it behind
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	log.Info("local coordination store running", "dir", dir, "pid", cmd.Process.Pid, "idle", idle)
	c := client(dir)
	defer c.Close()
	tick := time.NewTicker(min(max(idle/4, 100*time.Millisecond), 30*time.Second))
	defer tick.Stop()
	var emptySince time.Time
	shutdown := func(why string) {
		log.Info("stopping the local coordination store", "why", why)
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c.Do(sctx, "SHUTDOWN").Err() != nil {
			cmd.Process.Signal(syscall.SIGTERM) // SIGTERM also saves and exits
		}
	}
	for {
		select {
		case err := <-exited:
			var exit *exec.ExitError
			if err == nil || (errors.As(err, &exit) && exit.ExitCode() == 0) {
				return true, nil // shut down: by us, by Stop, or by its owner
			}
			return ctx.Err() != nil, err
		case <-ctx.Done():
			shutdown("the supervisor was told to stop")
			<-exited
			return true, nil
		case <-tick.C:
			held, err := holdsKeys(ctx, c)
			switch {
			case err != nil || held:
				emptySince = time.Time{}
			case emptySince.IsZero():
				emptySince = time.Now()
			case time.Since(emptySince) >= idle:
				shutdown(fmt.Sprintf("it held no key for %s", idle))
				<-exited
				return true, nil
			}
		}
	}
}

// holdsKeys reports whether the store holds a key in any of its databases
// (a coordination URL may name a database other than 0).
func holdsKeys(ctx context.Context, c *redis.Client) (bool, error) {
	info, err := c.Info(ctx, "keyspace").Result()
	return strings.Contains(info, "keys="), err
}
