package core_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/stretchr/testify/require"
)

// file_transfer on a fork pilot, staged by the agent (the pilot-agent
// binary): the pilot's entries into its sandbox before it runs, a unit's
// into its working directory, from this machine and from another host (the
// private sshd, reached with the ssh command); a failed entry fails the unit
// with the entry in its reason, which details and explain show.
func TestFileTransferOnAForkPilot(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t) // the fork agent inherits it
	ctx := ctxT(t)
	svc := newService(t, testenv.RedisServer(t))
	src := t.TempDir()
	shared := writeFile(t, src, "shared.txt", "for every unit\n")
	far := writeFile(t, src, "far.txt", "from another host\n")
	p, _ := newPilot(t, svc, 1, func(pd *core.PilotDescription) {
		pd.FileTransfer = []string{s.URL("ssh") + shared + " > BIGJOB_WORK_DIR"}
	})

	u, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"far.txt", "../shared.txt", "here.txt"},
		FileTransfer: []string{s.URL("ssh") + far + " > SUBJOB_WORK_DIR", "file://" + far + " > here.txt"}})
	require.NoError(t, err)
	st, d := waitUnit(t, u)
	require.Equal(t, core.Done, st, d["reason"])
	sandbox, err := u.Sandbox(ctx)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(sandbox, "stdout"))
	require.NoError(t, err)
	require.Equal(t, "from another host\nfor every unit\nfrom another host\n", string(b))

	missing := s.URL("ssh") + filepath.Join(src, "missing.txt")
	bad, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/true", FileTransfer: []string{missing}})
	require.NoError(t, err)
	st, d = waitUnit(t, bad)
	require.Equal(t, core.Failed, st)
	require.Contains(t, d["reason"], `file_transfer "`+missing+`"`)
	require.Contains(t, d["reason"], "check the path")
	e, err := bad.Explain(ctx)
	require.NoError(t, err)
	require.Contains(t, e.Summary, `file_transfer "`+missing+`"`)
}

// A pilot whose file_transfer cannot be staged fails, with the entry and
// the fix in its reason.
func TestPilotFileTransferFailureFailsThePilot(t *testing.T) {
	ctx := ctxT(t)
	svc := newService(t, testenv.RedisServer(t))
	missing := filepath.Join(t.TempDir(), "missing.txt")
	p, err := svc.CreatePilot(ctx, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1,
		WorkingDirectory: t.TempDir(), Walltime: 10, FileTransfer: []string{missing}})
	require.NoError(t, err)
	st, err := p.WaitState(ctx, core.Done, core.Failed, core.Canceled)
	require.NoError(t, err)
	require.Equal(t, core.Failed, st)
	d, err := p.Details(ctx)
	require.NoError(t, err)
	require.Contains(t, d["reason"], `file_transfer "`+missing+`"`)
	require.Contains(t, d["reason"], "check the path")
}
