package remote

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/bigjob-go/bigjob/runner"
)

// onCopy, when set (by tests), is called each time StageAgent copies.
var onCopy func(host, path string)

// StageAgent makes the agent binary at localPath (on this machine) available
// in dir/.bigjob/ (dir as for MakeDir) on r's host and returns its path there. For a Local runner
// it returns localPath, the same file system. Otherwise the file is
// pilot-agent-<first 16 hex digits of its sha256>: an existing file of the
// right sha256 is reused, else the binary is copied through the session,
// made executable and its sha256 checked before it takes that name, so that
// concurrent stagers never expose a partial file. The binary must be an ELF
// executable for the host's system and architecture (uname -sm).
func StageAgent(ctx context.Context, r runner.Runner, localPath, dir string) (string, error) {
	if r.Local() {
		if _, err := os.Stat(localPath); err != nil {
			return "", fmt.Errorf("stage agent: %w", err)
		}
		return localPath, nil
	}
	bin, err := inspectBinary(localPath)
	if err != nil {
		return "", fmt.Errorf("stage agent on %s: %w", r.Host(), err)
	}
	stageDir := runner.PrivateDir
	if dir != "" {
		stageDir = strings.TrimSuffix(dir, "/") + "/" + runner.PrivateDir
	}
	name := "pilot-agent-" + bin.sum[:16]
	// one command: create the folder, say where it is, what the host runs,
	// and the sha256 of a binary staged before
	out, err := r.Run(ctx, "d="+runner.PathWord(stageDir)+` && mkdir -p -- "$d" && cd -P -- "$d" && pwd -P && uname -sm && { sha256sum -- `+name+" 2>/dev/null || true; }", nil)
	if err != nil {
		return "", fmt.Errorf("stage agent on %s: %w", r.Host(), err)
	}
	abs, uname, present := parseProbe(out)
	if !strings.HasPrefix(abs, "/") {
		return "", fmt.Errorf("stage agent on %s: unexpected output %q", r.Host(), out)
	}
	target := abs + "/" + name
	if err := checkArch(localPath, bin.goos, bin.goarch, r.Host(), uname); err != nil {
		return "", fmt.Errorf("stage agent: %w", err)
	}
	if present == bin.sum {
		slog.Debug("stage agent: reusing the staged binary", "host", r.Host(), "path", target)
		return target, nil
	}

	if onCopy != nil {
		onCopy(r.Host(), target)
	}
	f, err := os.Open(localPath)
	if err != nil {
		return "", fmt.Errorf("stage agent: %w", err)
	}
	defer f.Close()
	line := `t=` + runner.Quote(target+".tmp-"+runner.TempSuffix()) +
		` && umask 022 && (set -C && cat > "$t") && chmod 755 "$t" && s=$(sha256sum < "$t")` +
		` && [ "${s%% *}" = ` + bin.sum + ` ] && mv -f -- "$t" ` + runner.Quote(target) +
		` || { echo "copy failed; sha256 of the copy: ${s:-not computed}, want ` + bin.sum + `" >&2; rm -f -- "$t"; exit 1; }`
	if _, err := r.Run(ctx, line, f); err != nil {
		return "", fmt.Errorf("stage agent: copy %s to %s on %s: %w", localPath, target, r.Host(), err)
	}
	slog.Debug("stage agent: copied", "host", r.Host(), "path", target)
	return target, nil
}

// sumLine is a line of sha256sum.
var sumLine = regexp.MustCompile(`^([0-9a-f]{64}) `)

// parseProbe splits the output of `pwd -P; uname -sm; sha256sum FILE`
// into the directory, the uname line and the sum ("" if the file is
// missing). It reads from the end, past what login scripts may print first.
func parseProbe(out []byte) (dir, uname, sum string) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if m := sumLine.FindStringSubmatch(lines[len(lines)-1]); m != nil && len(lines) > 2 {
		sum, lines = m[1], lines[:len(lines)-1]
	}
	if len(lines) < 2 {
		return "", lines[len(lines)-1], sum
	}
	return lines[len(lines)-2], lines[len(lines)-1], sum
}

// binaryInfo is what StageAgent needs to know of the local binary.
type binaryInfo struct {
	sum          string // sha256, hex
	goos, goarch string
}

func inspectBinary(path string) (binaryInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return binaryInfo{}, err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return binaryInfo{}, fmt.Errorf("%s is not an ELF executable (%v): build pilot-agent for the host with GOOS=linux", path, err)
	}
	var bin binaryInfo
	bin.goos, bin.goarch = elfPlatform(ef)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return binaryInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	bin.sum = hex.EncodeToString(h.Sum(nil))
	return bin, nil
}

// elfPlatform names the GOOS and GOARCH an ELF file is for.
func elfPlatform(f *elf.File) (goos, goarch string) {
	switch {
	case f.OSABI == elf.ELFOSABI_FREEBSD:
		goos = "freebsd"
	case f.Section(".note.netbsd.ident") != nil:
		goos = "netbsd"
	case f.Section(".note.openbsd.ident") != nil:
		goos = "openbsd"
	default:
		goos = "linux"
	}
	switch f.Machine {
	case elf.EM_X86_64:
		goarch = "amd64"
	case elf.EM_386:
		goarch = "386"
	case elf.EM_AARCH64:
		goarch = "arm64"
	case elf.EM_ARM:
		goarch = "arm"
	case elf.EM_PPC64:
		goarch = "ppc64"
		if f.ByteOrder == binary.LittleEndian {
			goarch = "ppc64le"
		}
	case elf.EM_S390:
		goarch = "s390x"
	case elf.EM_RISCV:
		goarch = "riscv64"
	case elf.EM_LOONGARCH:
		goarch = "loong64"
	default:
		goarch = strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
	}
	return goos, goarch
}

// unamePlatform maps the output of `uname -sm` to GOOS and GOARCH; "" for
// what it does not know.
func unamePlatform(uname string) (goos, goarch string) {
	f := strings.Fields(uname)
	if len(f) < 2 {
		return "", ""
	}
	switch f[0] {
	case "Linux", "FreeBSD", "NetBSD", "OpenBSD", "Darwin":
		goos = strings.ToLower(f[0])
	}
	switch m := f[len(f)-1]; {
	case m == "x86_64" || m == "amd64":
		goarch = "amd64"
	case m == "i386" || m == "i486" || m == "i586" || m == "i686" || m == "i86pc":
		goarch = "386"
	case m == "aarch64" || m == "arm64":
		goarch = "arm64"
	case strings.HasPrefix(m, "armv") || m == "arm":
		goarch = "arm"
	case m == "ppc64le" || m == "ppc64" || m == "s390x" || m == "riscv64":
		goarch = m
	case m == "loongarch64":
		goarch = "loong64"
	}
	return goos, goarch
}

// checkArch fails when the host, described by its `uname -sm`, cannot run
// a binary for goos/goarch. A host it cannot classify passes, with a warning.
func checkArch(path, goos, goarch, host, uname string) error {
	hos, harch := unamePlatform(uname)
	if hos == "" || harch == "" {
		slog.Warn("stage agent: cannot tell the host's platform; copying the agent anyway",
			"host", host, "uname", uname, "agent", goos+"/"+goarch)
		return nil
	}
	if hos == goos && harch == goarch {
		return nil
	}
	return fmt.Errorf("the agent binary %s is %s/%s but host %s is %s; "+
		"build pilot-agent for it with GOOS=%s GOARCH=%s CGO_ENABLED=0 go build -o pilot-agent ./cmd/pilot-agent",
		path, goos, goarch, host, strings.TrimSpace(uname), hos, harch)
}
