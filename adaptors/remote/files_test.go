package remote_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/runner"
)

func TestMakeDir(t *testing.T) {
	_, _, r := sshServer(t)
	ctx := context.Background()
	me, err := user.Current()
	require.NoError(t, err)
	home, err := filepath.EvalSymlinks(me.HomeDir) // the remote user's, from passwd
	require.NoError(t, err)

	name := fmt.Sprintf("bigjob-test-makedir-%d", time.Now().UnixNano())
	t.Cleanup(func() { os.RemoveAll(filepath.Join(home, name)) })
	got, err := runner.MakeDir(ctx, r, name+"/a b")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(home, name, "a b"), got, "a relative path is under the remote home")
	require.DirExists(t, got)

	for _, dir := range []string{"", "~", "$HOME"} {
		got, err = runner.MakeDir(ctx, r, dir)
		require.NoError(t, err)
		require.Equal(t, home, got, "%q", dir)
	}
	for _, dir := range []string{"~/" + name + "/t", "$HOME/" + name + "/t"} {
		got, err = runner.MakeDir(ctx, r, dir)
		require.NoError(t, err)
		require.Equal(t, filepath.Join(home, name, "t"), got, "%q", dir)
	}

	// An absolute path through a symbolic link gives the physical path.
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, os.Symlink(tmp, filepath.Join(tmp, "link")))
	got, err = runner.MakeDir(ctx, r, filepath.Join(tmp, "link", "x", "y"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(tmp, "x", "y"), got)

	_, err = runner.MakeDir(ctx, r, "/proc/no/such")
	require.ErrorContains(t, err, "make directory \"/proc/no/such\" on "+r.Host())
}

func TestMakeDirLocalIsUnderHome(t *testing.T) {
	home, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	t.Setenv("HOME", home)
	got, err := runner.MakeDir(context.Background(), runner.Local, "work/dir")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(home, "work", "dir"), got, "relative to $HOME, not to the current directory")
}

func TestWriteFile(t *testing.T) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, "secret")
			require.NoError(t, runner.WriteFile(ctx, r, path, []byte("password"), 0o600))
			st, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, "password", string(b))

			require.NoError(t, os.Chmod(path, 0o644))
			require.NoError(t, runner.WriteFile(ctx, r, path, []byte("new\x00data"), 0o600))
			st, err = os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the replacement has the mode asked")
			b, err = os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, "new\x00data", string(b))

			script := filepath.Join(dir, "run.sh")
			require.NoError(t, runner.WriteFile(ctx, r, script, []byte("#!/bin/sh\necho ran\n"), 0o755))
			out, err := r.Run(ctx, runner.Quote(script), nil)
			require.NoError(t, err)
			require.Equal(t, "ran\n", string(out))

			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, ents, 2, "no temporary file left behind")

			err = runner.WriteFile(ctx, r, filepath.Join(dir, "missing", "f"), nil, 0o600)
			require.ErrorContains(t, err, "write "+filepath.Join(dir, "missing", "f")+" on "+r.Host())
		})
	}
}

// CreateFile never replaces what is at its path, nor writes through a
// link there; WriteFile replaces a file or a link, never a directory.
func TestCreateFileLeavesWhatExistsAlone(t *testing.T) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir, outside := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, "new")
			require.NoError(t, runner.CreateFile(ctx, r, path, []byte("one"), 0o600))
			st, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

			require.NoError(t, os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "dangling")))
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, "todir")))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
			for _, taken := range []string{"new", "dangling", "todir", "sub"} {
				err := runner.CreateFile(ctx, r, filepath.Join(dir, taken), []byte("two"), 0o600)
				assert.ErrorIs(t, err, runner.ErrExist, taken)
			}
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "one", string(b), "an existing file is left as it was")
			ents, err := os.ReadDir(outside)
			require.NoError(t, err)
			assert.Empty(t, ents, "nothing was written through a link")

			for _, dirLike := range []string{"todir", "sub"} {
				err := runner.WriteFile(ctx, r, filepath.Join(dir, dirLike), []byte("x"), 0o600)
				assert.ErrorContains(t, err, "is a directory", dirLike)
			}
			ents, err = os.ReadDir(outside)
			require.NoError(t, err)
			assert.Empty(t, ents, "runner.WriteFile does not move its file into a linked directory")
			ents, err = os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, ents, 4, "no temporary file left behind")
		})
	}
}

func TestStageAgent(t *testing.T) {
	_, _, r := sshServer(t)
	ctx := context.Background()
	const agent = "/bin/true" // an executable ELF file for this machine
	want, err := os.ReadFile(agent)
	require.NoError(t, err)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)

	path, err := remote.StageAgent(ctx, r, agent, dir)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, ".bigjob"), filepath.Dir(path))
	require.Regexp(t, `^pilot-agent-[0-9a-f]{16}$`, filepath.Base(path))
	require.Equal(t, 1, remote.Copies(r.Host(), path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
	_, err = r.Run(ctx, runner.Quote(path), nil)
	require.NoError(t, err, "the staged file is executable")
	inode := inodeOf(t, path)

	again, err := remote.StageAgent(ctx, r, agent, dir)
	require.NoError(t, err)
	require.Equal(t, path, again)
	require.Equal(t, 1, remote.Copies(r.Host(), path), "a staged binary of the right sha256 is reused")
	require.Equal(t, inode, inodeOf(t, path))

	require.NoError(t, os.WriteFile(path, []byte("damaged"), 0o755))
	_, err = remote.StageAgent(ctx, r, agent, dir)
	require.NoError(t, err)
	require.Equal(t, 2, remote.Copies(r.Host(), path), "a file of another sha256 is replaced")
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestStageAgentConcurrently(t *testing.T) {
	_, _, r := sshServer(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = remote.StageAgent(context.Background(), r, "/bin/true", dir)
		}()
	}
	wg.Wait()
	for i := range paths {
		require.NoError(t, errs[i])
		require.Equal(t, paths[0], paths[i])
	}
	want, _ := os.ReadFile("/bin/true")
	got, err := os.ReadFile(paths[0])
	require.NoError(t, err)
	require.Equal(t, want, got)
	ents, err := os.ReadDir(filepath.Dir(paths[0]))
	require.NoError(t, err)
	require.Len(t, ents, 1, "no temporary file left behind")
}

func TestStageAgentLocal(t *testing.T) {
	path, err := remote.StageAgent(context.Background(), runner.Local, "/bin/true", t.TempDir())
	require.NoError(t, err)
	require.Equal(t, "/bin/true", path)
}

func TestStageAgentRefusesAnotherArchitecture(t *testing.T) {
	_, _, r := sshServer(t)
	// The header of an ELF executable for linux/arm64, which is enough.
	var hdr bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	require.NoError(t, binary.Write(&hdr, binary.LittleEndian, elf.Header64{
		Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_AARCH64), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}))
	agent := filepath.Join(t.TempDir(), "pilot-agent")
	require.NoError(t, os.WriteFile(agent, hdr.Bytes(), 0o755))
	uname, err := r.Run(context.Background(), "uname -m", nil)
	require.NoError(t, err)
	if strings.TrimSpace(string(uname)) == "aarch64" {
		t.Skip("this host is arm64")
	}

	_, err = remote.StageAgent(context.Background(), r, agent, t.TempDir())
	require.Error(t, err)
	require.Contains(t, err.Error(), "is linux/arm64 but host "+r.Host()+" is Linux ")
	require.Contains(t, err.Error(), "GOARCH=")
}

func TestCheckArch(t *testing.T) {
	err := remote.CheckArch("build/pilot-agent", "linux", "amd64", "u@h:22", "Linux aarch64")
	require.EqualError(t, err, "the agent binary build/pilot-agent is linux/amd64 but host u@h:22 is Linux aarch64; "+
		"build pilot-agent for it with GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -o pilot-agent ./cmd/pilot-agent")
	require.NoError(t, remote.CheckArch("a", "linux", "amd64", "h", "Linux x86_64"))
	require.NoError(t, remote.CheckArch("a", "linux", "386", "h", "Linux i686"))
	require.NoError(t, remote.CheckArch("a", "linux", "arm", "h", "Linux armv7l"))
	require.ErrorContains(t, remote.CheckArch("a", "linux", "amd64", "h", "Darwin x86_64"), "GOOS=darwin GOARCH=amd64")
	require.NoError(t, remote.CheckArch("a", "linux", "amd64", "h", "Plan9 weird"), "an unknown platform passes")
}

func inodeOf(t *testing.T, path string) uint64 {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Sys().(*syscall.Stat_t).Ino
}

func TestParseProbe(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	dir, uname, got := remote.ParseProbe([]byte("Welcome from .bashrc\n/h/.bigjob\nLinux x86_64\n" + sum + "  pilot-agent-x\n"))
	require.Equal(t, "/h/.bigjob", dir)
	require.Equal(t, "Linux x86_64", uname)
	require.Equal(t, sum, got)
	dir, uname, got = remote.ParseProbe([]byte("Welcome\n/h/.bigjob\nLinux aarch64\n"))
	require.Equal(t, "/h/.bigjob", dir)
	require.Equal(t, "Linux aarch64", uname)
	require.Empty(t, got, "no staged file")
}

func TestMakeWorkDirHasAPrivateFolder(t *testing.T) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "w d")
			got, err := runner.MakeWorkDir(context.Background(), r, dir)
			require.NoError(t, err)
			require.Equal(t, dir, got)
			st, err := os.Stat(filepath.Join(dir, runner.PrivateDir))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
		})
	}
}
