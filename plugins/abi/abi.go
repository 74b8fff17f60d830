// Package abi holds the names and JSON messages of the pilot plugin ABI,
// shared by the host (package plugins) and the Go plugin kit
// (plugins/pdk/go). plugins/ABI.md is the specification; this package
// must stay importable from GOOS=wasip1, so it uses encoding/json only.
package abi

// Version is the ABI version this host speaks and the kit implements. A
// module's pilot_abi_version export and a manifest's "abi" must equal it.
const Version = 1

// Plugin kinds, as plugin_info lists them.
const (
	KindAdaptor  = "adaptor"   // runs pilots on a resource manager the core does not know
	KindPreUnit  = "pre_unit"  // sees (and may rewrite or refuse) each unit right before launch
	KindPostUnit = "post_unit" // sees each unit right after exit; may turn Done into Failed
	KindData     = "data"      // keeps Pilot-Data's files under URL schemes the core does not know
)

// Guest exports. Every plugin has memory, ExportVersion, ExportAlloc,
// ExportFree and ExportInfo; each kind adds its own (see KindExports).
const (
	ExportMemory     = "memory"
	ExportInitialize = "_initialize" // optional; called once per instance
	ExportVersion    = "pilot_abi_version"
	ExportAlloc      = "pilot_alloc"
	ExportFree       = "pilot_free"
	ExportInfo       = "plugin_info"

	ExportScript   = "adaptor_script"
	ExportSubmit   = "adaptor_submit"
	ExportState    = "adaptor_state"
	ExportCancel   = "adaptor_cancel"
	ExportPreUnit  = "hook_pre_unit"
	ExportPostUnit = "hook_post_unit"

	ExportDataOpen   = "data_open"
	ExportDataWrite  = "data_write"
	ExportDataRead   = "data_read"
	ExportDataRename = "data_rename"
	ExportDataRemove = "data_remove"
)

// KindExports lists the (ptr, len) -> i64 exports each kind needs.
var KindExports = map[string][]string{
	KindAdaptor:  {ExportScript, ExportSubmit, ExportState, ExportCancel},
	KindPreUnit:  {ExportPreUnit},
	KindPostUnit: {ExportPostUnit},
	KindData:     {ExportDataOpen, ExportDataWrite, ExportDataRead, ExportDataRename, ExportDataRemove},
}

// Host imports, all in module HostModule.
const (
	HostModule    = "pilot"
	ImportLog     = "log"        // (level i32, ptr i32, len i32)
	ImportConfig  = "config"     // (buf i32, limit i32) -> i32
	ImportExec    = "exec"       // (ptr i32, len i32) -> i32
	ImportResult  = "result"     // (buf i32, limit i32) -> i32
	ImportStat    = "stat"       // (ptr i32, len i32) -> i64
	ImportWrite   = "write_file" // (path i32, path_len i32, data i32, data_len i32) -> i32
	ImportDataIn  = "data_in"    // (buf i32, limit i32) -> i32
	ImportDataOut = "data_out"   // (ptr i32, len i32) -> i32
	WASIModule    = "wasi_snapshot_preview1"
	LevelDebug    = -1
	LevelInfo     = 0
	LevelWarn     = 1
	LevelError    = 2
	StatMissing   = -1 // stat: no such file
	StatDenied    = -2 // stat: outside the directories the call may read
	WriteDenied   = -1 // write_file: outside the manifest's write_dirs
	WriteFailed   = -2 // write_file: the write failed (the host logs why)
	ExecBadMemory = -1 // exec: the request is not in the guest's memory
	DataOutDenied = -1 // data_out: not a data_read call, outside memory, or more than the read's size
)

// Info is what plugin_info returns.
type Info struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Kinds   []string `json:"kinds"`
	Schemes []string `json:"schemes,omitempty"` // adaptor: URL schemes it serves, e.g. ["tsp"]
	// DataSchemes are the Pilot-Data URL schemes a data plugin serves,
	// e.g. ["demo"].
	DataSchemes []string `json:"data_schemes,omitempty"`
}

// Job is the batch job that runs a pilot's agent, as the host prepared it:
// the working directory exists, the agent is in place and the
// coordination file written. A job script only has to run AgentLine in Dir.
type Job struct {
	PilotID          string   `json:"pilot_id"`
	Resource         string   `json:"resource"`   // the pilot's service_url
	Name             string   `json:"name"`       // "bj-" and 8 hex digits
	Dir              string   `json:"dir"`        // absolute working directory on the resource
	Stdout           string   `json:"stdout"`     // suggested path of the agent's standard output
	Stderr           string   `json:"stderr"`     // suggested path of its standard error
	AgentLine        string   `json:"agent_line"` // shell line that runs the agent (exec ...), quoted
	Slots            int      `json:"slots"`
	ProcessesPerNode int      `json:"processes_per_node,omitempty"`
	WalltimeSeconds  int      `json:"walltime_s,omitempty"` // 0: the queue's default
	Queue            string   `json:"queue,omitempty"`
	Project          string   `json:"project,omitempty"`
	SPMDVariation    string   `json:"spmd_variation,omitempty"`
	CandidateHosts   []string `json:"candidate_hosts,omitempty"`
}

// ScriptRequest asks adaptor_script for the job script of Job.
type ScriptRequest struct {
	Job Job `json:"job"`
}

// ScriptResponse is adaptor_script's answer.
type ScriptResponse struct {
	Script string `json:"script"`
	Error  string `json:"error,omitempty"`
}

// SubmitRequest asks adaptor_submit to submit the script the host stored
// at ScriptPath (mode 0700).
type SubmitRequest struct {
	Job        Job    `json:"job"`
	ScriptPath string `json:"script_path"`
}

// SubmitResponse carries the resource manager's id of the job.
type SubmitResponse struct {
	ID    string `json:"id"`
	Error string `json:"error,omitempty"`
}

// JobRequest names a submitted job (adaptor_state, adaptor_cancel).
type JobRequest struct {
	ID       string `json:"id"`
	Resource string `json:"resource"`
}

// Job states and end kinds of StateResponse.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateEnded   = "ended"
	StateUnknown = "unknown"

	EndCompleted = "completed"
	EndWalltime  = "walltime"
	EndCanceled  = "canceled"
	EndFailed    = "failed"
	EndUnknown   = "unknown"
)

// StateResponse is adaptor_state's answer.
type StateResponse struct {
	State  string `json:"state"`
	End    string `json:"end,omitempty"`    // for "ended"
	Reason string `json:"reason,omitempty"` // the resource manager's own words
	Error  string `json:"error,omitempty"`
}

// CancelResponse is adaptor_cancel's answer.
type CancelResponse struct {
	Error string `json:"error,omitempty"`
}

// Unit is a compute unit as hooks see it.
type Unit struct {
	ID               string   `json:"id"`
	PilotID          string   `json:"pilot_id"`
	Executable       string   `json:"executable"`
	Arguments        []string `json:"arguments"`
	Environment      []string `json:"environment"`       // KEY=VALUE, exported in this order
	WorkingDirectory string   `json:"working_directory"` // absolute
	// Description is the unit's whole description as submitted, with the
	// keys the core does not know (e.g. "expected_outputs").
	Description map[string]any `json:"description,omitempty"`
}

// Hook actions.
const (
	ActionContinue = "continue"
	ActionRefuse   = "refuse" // pre_unit: the unit is not run; it is Failed with Message
	ActionFail     = "fail"   // post_unit: a Done unit becomes Failed with Message
)

// PreUnitRequest is hook_pre_unit's input.
type PreUnitRequest struct {
	Unit Unit `json:"unit"`
}

// PreUnitResponse is hook_pre_unit's answer. With ActionContinue, a
// non-nil Unit replaces the unit's arguments, environment and working
// directory (its other fields are ignored).
type PreUnitResponse struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
	Unit    *Unit  `json:"unit,omitempty"`
	Error   string `json:"error,omitempty"`
}

// PostUnitRequest is hook_post_unit's input. Its scalar fields come before
// Unit, so that a key search (the C kit's) finds them first.
type PostUnitRequest struct {
	State    string  `json:"state"` // "Done" or "Failed"
	ExitCode int     `json:"exit_code"`
	Runtime  float64 `json:"runtime_s"`
	Reason   string  `json:"reason,omitempty"` // why it Failed
	Unit     Unit    `json:"unit"`
}

// PostUnitResponse is hook_post_unit's answer.
type PostUnitResponse struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ExecRequest is what a plugin asks the host to run through exec.
type ExecRequest struct {
	Argv      []string `json:"argv"`                 // argv[0] must be one of the manifest's commands
	Env       []string `json:"env,omitempty"`        // KEY=VALUE set for the command
	TimeoutMS int      `json:"timeout_ms,omitempty"` // at most the call's remaining time
}

// ExecResult is what result returns after exec.
type ExecResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr,omitempty"`
	Error    string `json:"error,omitempty"` // denied, or could not run at all (exit_code -1)
}

// DataRequest is the request of every data export. URL is the Pilot-Data's
// service_url; Name a slash-separated file name under it, clean and
// relative (the host checks it), or, for data_remove, a directory of such
// files. data_write writes the Size bytes that data_in gives at Offset of
// Name (Offset 0 creates Name, replacing what was there); data_read gives
// up to Size bytes of Name from Offset through data_out, fewer (none) at
// its end; data_rename gives Name the name To, replacing To; data_remove
// removes Name and what is under it, and succeeds if there is nothing;
// data_open prepares the location of URL or refuses it.
type DataRequest struct {
	URL    string `json:"url"`
	Name   string `json:"name,omitempty"`
	To     string `json:"to,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Size   int    `json:"size,omitempty"`
}

// DataResponse is the answer of every data export: {} or an error.
type DataResponse struct {
	Error string `json:"error,omitempty"`
}
