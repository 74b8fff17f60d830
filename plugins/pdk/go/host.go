//go:build wasip1

package pdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

//go:wasmimport pilot log
func hostLog(level int32, ptr, n uint32)

//go:wasmimport pilot config
func hostConfig(buf, limit uint32) uint32

//go:wasmimport pilot exec
func hostExec(ptr, n uint32) int32

//go:wasmimport pilot result
func hostResult(buf, limit uint32) uint32

//go:wasmimport pilot stat
func hostStat(ptr, n uint32) int64

//go:wasmimport pilot write_file
func hostWriteFile(path, pathLen, data, dataLen uint32) int32

func addr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// Log levels.
const (
	Debug = abi.LevelDebug
	Info  = abi.LevelInfo
	Warn  = abi.LevelWarn
	Error = abi.LevelError
)

// Log sends a message to the host's log, tagged with the plugin's name.
func Log(level int32, format string, args ...any) {
	b := []byte(fmt.Sprintf(format, args...))
	hostLog(level, addr(b), uint32(len(b)))
}

// Config unmarshals the manifest's "config" into v.
func Config(v any) error {
	n := hostConfig(0, 0)
	buf := make([]byte, n)
	hostConfig(addr(buf), n)
	return json.Unmarshal(buf, v)
}

// Exec asks the host to run argv (argv[0] must be in the manifest's
// capabilities.commands) with env (NAME=value) added, on the pilot's host
// for adaptors, on the agent's for hooks. A command that ran gives its exit
// code and output; one that was denied or could not run gives an error.
func Exec(argv []string, env ...string) (abi.ExecResult, error) {
	req, _ := json.Marshal(abi.ExecRequest{Argv: argv, Env: env})
	n := hostExec(addr(req), uint32(len(req)))
	if n < 0 {
		return abi.ExecResult{}, fmt.Errorf("exec %q: the host could not read the request", argv)
	}
	buf := make([]byte, n)
	hostResult(addr(buf), uint32(n))
	var res abi.ExecResult
	if err := json.Unmarshal(buf, &res); err != nil {
		return res, fmt.Errorf("exec %q: %w", argv, err)
	}
	if res.Error != "" {
		return res, errors.New(res.Error)
	}
	return res, nil
}

// Stat gives the size of a file under the unit's working directory
// (relative paths are taken from there); exists is false if it is missing.
func Stat(path string) (size int64, exists bool, err error) {
	b := []byte(path)
	switch r := hostStat(addr(b), uint32(len(b))); r {
	case abi.StatMissing:
		return 0, false, nil
	case abi.StatDenied:
		return 0, false, fmt.Errorf("stat %q: denied (only the unit's working directory can be read)", path)
	default:
		return r, true, nil
	}
}

// WriteFile writes data to path, which must lie under one of the
// manifest's capabilities.write_dirs.
func WriteFile(path string, data []byte) error {
	p := []byte(path)
	switch hostWriteFile(addr(p), uint32(len(p)), addr(data), uint32(len(data))) {
	case 0:
		return nil
	case abi.WriteDenied:
		return fmt.Errorf("write %s: denied by the manifest's capabilities.write_dirs", path)
	default:
		return fmt.Errorf("write %s: failed (see the host's log)", path)
	}
}
