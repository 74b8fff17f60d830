package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	_ "github.com/bigjob-go/bigjob/storage/sshcmd" // as cmd/pilot-agent links it
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// stdout is what unit id wrote to its standard output.
func (h *harness) stdout(id string) string {
	b, err := os.ReadFile(filepath.Join(h.field(id, "sandbox"), "stdout"))
	require.NoError(h.t, err)
	return string(b)
}

// A unit's file_transfer from this machine and from another host (the
// private sshd, reached with a user and port) through the ssh command.
func TestUnitFileTransfer(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	h := newHarness(t, 1, Config{})
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "local.txt"), "local\n")
	writeFile(t, filepath.Join(src, "far.txt"), "far\n")
	writeFile(t, filepath.Join(src, "g", "1.dat"), "1\n")
	writeFile(t, filepath.Join(src, "g", "2.dat"), "2\n")
	h.submit("cu-ft", core.UnitDescription{Executable: "/bin/sh",
		Arguments: []string{"-c", `"cat local.txt far.txt in/1.dat in/2.dat 1.dat renamed.txt"`},
		FileTransfer: []string{
			src + "/local.txt",
			s.URL("ssh") + src + "/far.txt > SUBJOB_WORK_DIR",
			s.URL("ssh") + src + "/g/*.dat > in/",
			"file://" + src + "/g/1.*",
			s.URL("sftp") + src + "/local.txt > renamed.txt",
		}})
	require.Equal(t, "Done", h.waitFinal("cu-ft"), h.field("cu-ft", "reason"))
	require.Equal(t, "local\nfar\n1\n2\n1\nlocal\n", h.stdout("cu-ft"))
	parts, err := filepath.Glob(filepath.Join(h.field("cu-ft", "sandbox"), "*", ".*.part-*"))
	require.NoError(t, err)
	require.Empty(t, parts)
}

// A file_transfer that cannot be done fails its unit, which never runs, with
// a reason that names the entry and the fix.
func TestUnitFileTransferFailures(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	h := newHarness(t, 1, Config{})
	src := t.TempDir()
	ran := filepath.Join(t.TempDir(), "ran")
	for id, c := range map[string]struct{ entry, reason string }{
		"cu-missing":    {src + "/missing.txt", "check the path: the file must exist on localhost"},
		"cu-farmissing": {s.URL("ssh") + src + "/missing.txt", "check the path: the file must exist on 127.0.0.1:"},
		"cu-dir":        {s.URL("ssh") + src, "directories are not copied: name the files, e.g. " + src + "/*"},
		"cu-nomatch":    {src + "/*.none", "matches no file on localhost"},
		"cu-relative":   {"in.txt > SUBJOB_WORK_DIR", "give an absolute path"},
		"cu-scheme":     {"go://endpoint/in.txt", "Globus Online"},
		"cu-badkey":     {"ssh://nobody@127.0.0.1:1" + src + "/x", "log in with ssh in batch mode"},
	} {
		h.submit(id, core.UnitDescription{Executable: "/bin/touch", Arguments: []string{ran}, FileTransfer: []string{c.entry}})
		require.Equal(t, "Failed", h.waitFinal(id), id)
		reason := h.field(id, "reason")
		require.Contains(t, reason, `file_transfer "`+c.entry+`"`, id)
		require.Contains(t, reason, c.reason, id)
	}
	require.NoFileExists(t, ran, "no unit ran")
}

// A copy from another host cut half way (the sshd goes while the source
// still sends) fails the unit and leaves nothing under the final name.
func TestUnitFileTransferCutHalfWay(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	h := newHarness(t, 1, Config{})
	wd := filepath.Join(t.TempDir(), "wd")
	fifo := testenv.CutHalfWay(t, t.TempDir(), wd, s.Stop) // the sshd stops once part of the file has arrived
	h.submit("cu-cut", core.UnitDescription{Executable: "/bin/true", WorkingDirectory: wd,
		FileTransfer: []string{s.URL("ssh") + fifo}})
	require.Equal(t, "Failed", h.waitFinal("cu-cut"))
	require.Contains(t, h.field("cu-cut", "reason"), `file_transfer "`+s.URL("ssh")+fifo+`"`)
	entries, err := os.ReadDir(wd)
	require.NoError(t, err)
	require.Empty(t, entries, "no final name, no temporary file")
}

// A pilot's file_transfer is staged into its sandbox before it runs: its
// units find the files in their working directory's parent and in
// $BIGJOB_PILOT_SANDBOX.
func TestPilotFileTransfer(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "shared.txt"), "shared\n")
	writeFile(t, filepath.Join(src, "far.txt"), "far\n")
	h := newHarnessFor(t, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1,
		FileTransfer: []string{src + "/shared.txt", s.URL("ssh") + src + "/far.txt > BIGJOB_WORK_DIR"}}, Config{})
	require.Equal(t, "Running", h.field(h.id, "state"), h.field(h.id, "reason"))
	h.submit("cu-reads", core.UnitDescription{Executable: "/bin/sh",
		Arguments: []string{"-c", `"cat ../shared.txt $BIGJOB_PILOT_SANDBOX/far.txt"`}})
	require.Equal(t, "Done", h.waitFinal("cu-reads"), h.field("cu-reads", "reason"))
	require.Equal(t, "shared\nfar\n", h.stdout("cu-reads"))
}

// A pilot file_transfer that cannot be done fails the pilot, with the
// entry and the fix in its reason; its units fail with it.
func TestPilotFileTransferFailureFailsThePilot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.txt")
	h := prepareHarness(t, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1,
		FileTransfer: []string{missing}}, nil)
	h.submit("cu-waits", core.UnitDescription{Executable: "/bin/true"})
	h.start(Config{})
	require.Equal(t, "Failed", h.field(h.id, "state"))
	reason := h.field(h.id, "reason")
	require.Contains(t, reason, `file_transfer "`+missing+`"`)
	require.Contains(t, reason, "check the path")
	require.True(t, strings.Contains(reason, "sandbox"), reason)
	require.Equal(t, "Failed", h.waitFinal("cu-waits"))
	require.Contains(t, h.field("cu-waits", "reason"), "missing.txt")
}
