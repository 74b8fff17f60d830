package proc

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A child started by StartBound dies with its parent: the test runs itself
// as the parent, which starts a sleep and exits without stopping it.
func TestStartBoundChildDiesWithParent(t *testing.T) {
	if os.Getenv("BOUND_PARENT") == "1" {
		cmd := exec.Command("sleep", "600")
		_, err := StartBound(cmd)
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString(strconv.Itoa(cmd.Process.Pid) + "\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartBoundChildDiesWithParent$")
	cmd.Env = append(os.Environ(), "BOUND_PARENT=1")
	out, err := cmd.Output()
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(out[:len(out)-1]))
	require.NoError(t, err, "parent printed %q", out)
	require.Eventually(t, func() bool {
		st, err := ReadStat(pid)
		return err != nil || st.State == 'Z'
	}, 10*time.Second, 10*time.Millisecond, "sleep %d outlived its parent", pid)
}
