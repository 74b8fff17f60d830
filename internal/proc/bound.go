package proc

import (
	"os/exec"
	"runtime"
	"syscall"
)

// StartBound starts cmd so that it is killed when this process dies (a
// test binary that times out runs no cleanup): the kernel sends SIGKILL
// when the thread that started it exits, so a goroutine locked to that
// thread starts it and waits for it. The channel is closed when cmd has
// exited.
func StartBound(cmd *exec.Cmd) (<-chan struct{}, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, after cmd
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	return exited, <-started
}
