//go:build wasip1

// Package pdk is the Go kit for pilot plugins (plugins/ABI.md). A plugin is
// a main package that calls Register in an init function and is built as a
// WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o my.wasm .
//
// The kit provides the ABI's exports (memory management, plugin_info and
// the adaptor, hook and data entry points, which call what was given to
// Register) and wraps the host's imports (Exec, Config, Stat, WriteFile,
// Log; data_in and data_out for Data).
package pdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Adaptor is what an adaptor plugin implements: the dialect of one batch
// system. It never runs anything itself; it asks the host with Exec.
type Adaptor interface {
	// Script renders the job script that runs job.AgentLine in job.Dir.
	Script(job abi.Job) (string, error)
	// Submit submits the script the host stored at scriptPath and returns
	// the job's id.
	Submit(job abi.Job, scriptPath string) (string, error)
	// State tells what the resource manager says of job id; a job it no
	// longer knows has ended.
	State(id, resource string) (abi.StateResponse, error)
	// Cancel removes job id; it succeeds on jobs that have ended.
	Cancel(id, resource string) error
}

// Plugin describes a plugin: its name and version (as in its manifest) and
// the kinds it implements, by the fields that are set.
type Plugin struct {
	Name, Version string
	Schemes       []string // an adaptor's URL schemes
	Adaptor       Adaptor
	// PreUnit sees a unit before launch. It may change the unit's
	// Arguments, Environment and WorkingDirectory in place, or return
	// Refuse(...) to have the unit Failed with that message.
	PreUnit func(u *abi.Unit) error
	// PostUnit sees a unit after exit. Returning Fail(...) turns a Done
	// unit into a Failed one.
	PostUnit func(r *abi.PostUnitRequest) error
	// Data keeps the files of Pilot-Data at the DataSchemes' URLs.
	Data        Data
	DataSchemes []string
}

var plugin Plugin

// Register makes p the plugin this module is. Call it from init.
func Register(p Plugin) { plugin = p }

// refusal is what Refuse and Fail return.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// Refuse makes PreUnit refuse the unit with a message.
func Refuse(format string, args ...any) error { return &refusal{fmt.Sprintf(format, args...)} }

// Fail makes PostUnit fail a Done unit with a message.
func Fail(format string, args ...any) error { return &refusal{fmt.Sprintf(format, args...)} }

// pinned keeps the buffers the host holds alive: Go's collector does not
// move objects, it only frees unreferenced ones.
var pinned = map[uint32][]byte{}

func pin(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	pinned[p] = b
	return p
}

//go:wasmexport pilot_abi_version
func abiVersion() int32 { return abi.Version }

//go:wasmexport pilot_alloc
func alloc(n uint32) uint32 { return pin(make([]byte, n)) }

//go:wasmexport pilot_free
func free(p uint32) { delete(pinned, p) }

// input is the request the host placed at ptr.
func input(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

// answer marshals v into a pinned buffer and packs ptr<<32 | len.
func answer(v any) uint64 {
	b, err := json.Marshal(v)
	if err != nil {
		return errorAnswer(fmt.Errorf("encode the answer: %w", err))
	}
	return pack(b)
}

// pack pins an answer and packs ptr<<32 | len.
func pack(b []byte) uint64 { return uint64(pin(b))<<32 | uint64(len(b)) }

func errorAnswer(err error) uint64 {
	w := writer(`{`).field("error").str(err.Error())
	return pack(append(w, '}'))
}

//go:wasmexport plugin_info
func pluginInfo() uint64 {
	info := abi.Info{Name: plugin.Name, Version: plugin.Version, Schemes: plugin.Schemes, DataSchemes: plugin.DataSchemes}
	if plugin.Adaptor != nil {
		info.Kinds = append(info.Kinds, abi.KindAdaptor)
	}
	if plugin.PreUnit != nil {
		info.Kinds = append(info.Kinds, abi.KindPreUnit)
	}
	if plugin.PostUnit != nil {
		info.Kinds = append(info.Kinds, abi.KindPostUnit)
	}
	if plugin.Data != nil {
		info.Kinds = append(info.Kinds, abi.KindData)
	}
	return answer(info)
}

var errNotAdaptor = errors.New("this plugin registered no Adaptor")

//go:wasmexport adaptor_script
func adaptorScript(ptr, n uint32) uint64 {
	var req abi.ScriptRequest
	if err := decode(ptr, n, &req); err != nil || plugin.Adaptor == nil {
		return errorAnswer(orNot(err, errNotAdaptor))
	}
	s, err := plugin.Adaptor.Script(req.Job)
	if err != nil {
		return errorAnswer(err)
	}
	return answer(abi.ScriptResponse{Script: s})
}

//go:wasmexport adaptor_submit
func adaptorSubmit(ptr, n uint32) uint64 {
	var req abi.SubmitRequest
	if err := decode(ptr, n, &req); err != nil || plugin.Adaptor == nil {
		return errorAnswer(orNot(err, errNotAdaptor))
	}
	id, err := plugin.Adaptor.Submit(req.Job, req.ScriptPath)
	if err != nil {
		return errorAnswer(err)
	}
	return answer(abi.SubmitResponse{ID: id})
}

//go:wasmexport adaptor_state
func adaptorState(ptr, n uint32) uint64 {
	var req abi.JobRequest
	if err := decode(ptr, n, &req); err != nil || plugin.Adaptor == nil {
		return errorAnswer(orNot(err, errNotAdaptor))
	}
	st, err := plugin.Adaptor.State(req.ID, req.Resource)
	if err != nil {
		return errorAnswer(err)
	}
	return answer(st)
}

//go:wasmexport adaptor_cancel
func adaptorCancel(ptr, n uint32) uint64 {
	var req abi.JobRequest
	if err := decode(ptr, n, &req); err != nil || plugin.Adaptor == nil {
		return errorAnswer(orNot(err, errNotAdaptor))
	}
	if err := plugin.Adaptor.Cancel(req.ID, req.Resource); err != nil {
		return errorAnswer(err)
	}
	return answer(abi.CancelResponse{})
}

//go:wasmexport hook_pre_unit
func hookPreUnit(ptr, n uint32) uint64 {
	req, err := decodePreUnit(input(ptr, n))
	if err != nil || plugin.PreUnit == nil {
		return errorAnswer(orNot(err, errors.New("this plugin registered no PreUnit")))
	}
	if err := plugin.PreUnit(&req.Unit); err != nil {
		var r *refusal
		if errors.As(err, &r) {
			return pack(encodeAction(abi.ActionRefuse, r.msg, nil))
		}
		return errorAnswer(err)
	}
	return pack(encodeAction(abi.ActionContinue, "", &req.Unit))
}

//go:wasmexport hook_post_unit
func hookPostUnit(ptr, n uint32) uint64 {
	req, err := decodePostUnit(input(ptr, n))
	if err != nil || plugin.PostUnit == nil {
		return errorAnswer(orNot(err, errors.New("this plugin registered no PostUnit")))
	}
	if err := plugin.PostUnit(&req); err != nil {
		var r *refusal
		if errors.As(err, &r) {
			return pack(encodeAction(abi.ActionFail, r.msg, nil))
		}
		return errorAnswer(err)
	}
	return pack(encodeAction(abi.ActionContinue, "", nil))
}

func decode(ptr, n uint32, v any) error {
	if err := json.Unmarshal(input(ptr, n), v); err != nil {
		return fmt.Errorf("decode the request: %w", err)
	}
	return nil
}

func orNot(err, not error) error {
	if err != nil {
		return err
	}
	return not
}
