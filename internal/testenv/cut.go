package testenv

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// CutHalfWay makes a FIFO in dir, to be copied into out, and plays its
// writer: once a reader opens it, it sends 64 KiB; once the copy's
// temporary file in out (".*.part-*") holds bytes, it calls cut (end the
// copy's context, stop the server...), then sends a little more, so that a
// reader still blocked on the pipe returns, and closes it. It returns the
// FIFO's path. The writer gives up after a minute.
func CutHalfWay(t *testing.T, dir, out string, cut func()) string {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("make a FIFO: %v", err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		w.Write(make([]byte, 64<<10))
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if parts, _ := filepath.Glob(filepath.Join(out, ".*.part-*")); len(parts) > 0 {
				if st, err := os.Stat(parts[0]); err == nil && st.Size() > 0 {
					cut()
					break
				}
			}
		}
		w.Write([]byte("unblocks a reader still waiting"))
	}()
	return fifo
}
