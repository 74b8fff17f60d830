package vocab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/bigjob-go/bigjob/internal/shell"
)

// DescriptionError is a bad or missing key in a description. Its message
// names the description, the key, the value and how to fix it.
type DescriptionError struct {
	Description string // "pilot compute description" or "compute unit description"
	Key         string
	Problem     string
	Err         error // a sentinel such as ErrNoAdaptor, or nil
}

func (e *DescriptionError) Error() string {
	return fmt.Sprintf("%s: key %q: %s", e.Description, e.Key, e.Problem)
}

func (e *DescriptionError) Unwrap() error { return e.Err }

// The descriptions' names, as DescriptionError.Description says them.
const (
	PilotDescriptionName = "pilot compute description"
	UnitDescriptionName  = "compute unit description"
)

// EnvVar is one environment variable a unit exports.
type EnvVar struct{ Name, Value string }

// UnitDescription describes a compute unit (BigJob's compute unit
// description). The zero value of a field means "not given"; Validate and
// Submit apply the defaults. Keys this type does not know are kept in Extra
// and passed through to the stored record.
type UnitDescription struct {
	Executable        string   // executable: the command (required)
	Arguments         []string // arguments: joined with spaces, run by /bin/bash ($VAR expands)
	Environment       []EnvVar // environment: exported before the command, in order
	NumberOfProcesses int      // number_of_processes: slots reserved (default 1)
	SPMDVariation     string   // spmd_variation: "single" (default) or "mpi"
	WorkingDirectory  string   // working_directory: default the unit sandbox sj-<uuid>
	Output            string   // output: stdout file (default "stdout"), relative to the working directory
	Error             string   // error: stderr file (default "stderr")
	Input             string   // input: file on stdin (default none)
	FileTransfer      []string // file_transfer: "src [> target]" entries staged into the sandbox
	InputData         []string // input_data: data unit URLs
	OutputData        []any    // output_data: list of {data unit URL: [patterns]}
	WallTimeLimit     int      // wall_time_limit: minutes the unit may run (0: no limit); see Pilot

	AffinityDatacenterLabel string // affinity_datacenter_label
	AffinityMachineLabel    string // affinity_machine_label

	Extra map[string]any // every other key, as given
}

// PilotDescription describes a pilot (BigJob's pilot compute description).
// Zero values mean "not given", as for UnitDescription.
type PilotDescription struct {
	ServiceURL            string   // service_url: resource URL, e.g. fork://localhost (required)
	NumberOfProcesses     int      // number_of_processes: slots of the pilot (required)
	ProcessesPerNode      int      // processes_per_node (default 1)
	WorkingDirectory      string   // working_directory: base of the sandbox bj-<uuid> (default $HOME)
	Walltime              int      // walltime in minutes (default 3600); the agent stops at its end
	Queue                 string   // queue of the batch system
	Project               string   // project (allocation) to charge; "allocation" is accepted too
	SPMDVariation         string   // spmd_variation of the pilot's own batch job (e.g. "12way", "mpi")
	FileTransfer          []string // file_transfer: staged into the pilot sandbox
	NumberExecutorThreads int      // number_executor_threads: accepted; the agent needs no thread pool

	AffinityDatacenterLabel string // affinity_datacenter_label
	AffinityMachineLabel    string // affinity_machine_label

	NoExec bool // no_exec: the agent marks units Done without running them (overhead measurements)

	// This project's own keys (BigJob has none of them), typed, parsed and
	// checked at the door with the rest.
	Hooks          []string // hooks: hook plugins (loaded names or manifest paths), run in order
	AgentPath      string   // agent_path: the pilot-agent binary to stage on the resource
	LaunchMethod   string   // launch_method: how units reach the hosts of their slots (LaunchAuto ...)
	RemoteShell    []string // remote_shell: the command that reaches another host (a string is split at blanks)
	MPILauncher    []string // mpi_launcher: the MPI launcher's command (default mpirun)
	CandidateHosts []string // candidate_hosts: hosts the pilot's batch job may run on

	Extra map[string]any // every other key, as given
}

// This project's own pilot description keys.
const (
	KeyHooks          = "hooks"
	KeyAgentPath      = "agent_path"
	KeyLaunchMethod   = "launch_method"
	KeyRemoteShell    = "remote_shell"
	KeyMPILauncher    = "mpi_launcher"
	KeyCandidateHosts = "candidate_hosts"
)

// Launch methods (launch_method): how a unit reaches the host of its first
// slot. MPI units always start on the agent's host: their launcher places
// the ranks.
const (
	LaunchAuto  = "auto"  // the agent's host here; srun inside SLURM, else the remote shell, for others
	LaunchLocal = "local" // always on the agent's host
	LaunchSSH   = "ssh"   // always through the remote shell, the agent's host included
	LaunchSRun  = "srun"  // always as a SLURM job step, the agent's host included
)

// Defaults.
const (
	DefaultWalltime = 3600 // minutes, as in BigJob's pilot API
	DefaultOutput   = "stdout"
	DefaultError    = "stderr"
)

// ---------------------------------------------------------------------------
// Unit descriptions

// ParseUnitDescription reads a description dictionary as BigJob scripts write
// it (see the field comments for the keys). Errors are *DescriptionError.
func ParseUnitDescription(m map[string]any) (UnitDescription, error) {
	return parseUnit(sortedKeys(m))
}

// UnmarshalJSON accepts the same loose forms as ParseUnitDescription and keeps
// the order of an environment given as an object.
func (d *UnitDescription) UnmarshalJSON(b []byte) error {
	u, err := ParseUnitDescriptionJSON(b)
	if err != nil {
		return err
	}
	*d = u
	return nil
}

// ParseUnitDescriptionJSON is UnmarshalJSON without encoding/json's extra
// validation pass over the input (the fast path for bindings).
func ParseUnitDescriptionJSON(b []byte) (UnitDescription, error) {
	kv, err := decodeFields(b, UnitDescriptionName)
	if err != nil {
		return UnitDescription{}, err
	}
	return parseUnit(kv)
}

func parseUnit(kv []keyValue) (UnitDescription, error) {
	var d UnitDescription
	p := parser{desc: UnitDescriptionName}
	var totalCPU int
	nopSet := false
	for _, e := range kv {
		k, v := e.key, e.val
		switch k {
		case "executable":
			d.Executable = p.str(k, v)
		case "arguments":
			d.Arguments = p.strList(k, v)
		case "environment":
			d.Environment = p.env(k, v)
		case "number_of_processes":
			if v != nil {
				d.NumberOfProcesses = p.positive(k, v)
				nopSet = true
			}
		case "total_cpu_count":
			if v != nil {
				totalCPU = p.positive(k, v)
			}
			d.setExtra(k, v)
		case "spmd_variation":
			d.SPMDVariation = p.str(k, v)
		case "working_directory":
			d.WorkingDirectory = p.str(k, v)
		case "output":
			d.Output = p.str(k, v)
		case "error":
			d.Error = p.str(k, v)
		case "input":
			d.Input = p.str(k, v)
		case "file_transfer":
			d.FileTransfer = p.strList(k, v)
		case "input_data":
			d.InputData = p.strList(k, v)
		case "output_data":
			d.OutputData = p.list(k, v)
		case "affinity_datacenter_label":
			d.AffinityDatacenterLabel = p.str(k, v)
		case "affinity_machine_label":
			d.AffinityMachineLabel = p.str(k, v)
		case "wall_time_limit":
			if v != nil {
				d.WallTimeLimit = p.positive(k, v)
			}
		default:
			d.setExtra(k, v)
		}
	}
	if !nopSet && totalCPU > 0 {
		d.NumberOfProcesses = totalCPU
	}
	if p.err != nil {
		return UnitDescription{}, p.err
	}
	if _, ok := findKey(kv, "executable"); !ok {
		return UnitDescription{}, &DescriptionError{UnitDescriptionName, "executable", "missing; give the program to run, e.g. \"/bin/echo\"", nil}
	}
	return d, d.Validate()
}

func (d *UnitDescription) setExtra(k string, v any) { putExtra(&d.Extra, k, v) }

// putExtra keeps a key a description does not know, as given.
func putExtra(extra *map[string]any, k string, v any) {
	if *extra == nil {
		*extra = map[string]any{}
	}
	(*extra)[k] = plain(v)
}

// MaxSlots bounds number_of_processes of a pilot (and so of a unit): an
// agent keeps a few bytes per slot, and more than a million cores in one
// batch job is beyond today's largest machines.
const MaxSlots = 1 << 20

// Validate checks the description and reports the first problem.
func (d UnitDescription) Validate() error {
	bad := func(key, problem string) error { return &DescriptionError{UnitDescriptionName, key, problem, nil} }
	if strings.TrimSpace(d.Executable) == "" {
		return bad("executable", "empty; give the program to run, e.g. \"/bin/echo\"")
	}
	if d.NumberOfProcesses < 0 {
		return bad("number_of_processes", fmt.Sprintf("%d is not a positive whole number; give the slots the unit needs, e.g. 1", d.NumberOfProcesses))
	}
	if d.NumberOfProcesses > MaxSlots {
		return bad("number_of_processes", fmt.Sprintf("%d is more than the %d slots a pilot can have", d.NumberOfProcesses, MaxSlots))
	}
	if d.WallTimeLimit < 0 {
		return bad("wall_time_limit", fmt.Sprintf("%d is not a positive number of minutes", d.WallTimeLimit))
	}
	switch strings.ToLower(d.SPMDVariation) {
	case "", "single", "mpi":
	default:
		return bad("spmd_variation", fmt.Sprintf("%q is not supported; use \"single\" or \"mpi\"", d.SPMDVariation))
	}
	for _, e := range d.Environment {
		if !shell.IsName(e.Name) {
			return bad("environment", fmt.Sprintf("%q is not a valid variable name; use letters, digits and _, not starting with a digit", e.Name))
		}
	}
	return nil
}

// Slots is the number of slots the unit reserves (number_of_processes, 1 by
// default).
func (d UnitDescription) Slots() int { return max(d.NumberOfProcesses, 1) }

// MPI reports whether the unit is launched through mpirun.
func (d UnitDescription) MPI() bool { return strings.EqualFold(d.SPMDVariation, "mpi") }

// WithDefaults returns the description with every default filled in: what
// the agent runs.
func (d UnitDescription) WithDefaults() UnitDescription {
	d.NumberOfProcesses = d.Slots()
	d.SPMDVariation = strings.ToLower(d.SPMDVariation)
	if d.SPMDVariation == "" {
		d.SPMDVariation = "single"
	}
	if d.Output == "" {
		d.Output = DefaultOutput
	}
	if d.Error == "" {
		d.Error = DefaultError
	}
	return d
}

// MarshalJSON writes the canonical form: snake_case keys of the fields that
// are set, then the extra keys; environment as a list of "K=V".
func (d UnitDescription) MarshalJSON() ([]byte, error) {
	o := orderedObject{}
	o.str("executable", d.Executable)
	if d.Arguments != nil {
		o.add("arguments", d.Arguments)
	}
	if d.Environment != nil {
		env := make([]string, len(d.Environment))
		for i, e := range d.Environment {
			env[i] = e.Name + "=" + e.Value
		}
		o.add("environment", env)
	}
	o.int("number_of_processes", d.NumberOfProcesses)
	o.str("spmd_variation", d.SPMDVariation)
	o.str("working_directory", d.WorkingDirectory)
	o.str("output", d.Output)
	o.str("error", d.Error)
	o.str("input", d.Input)
	o.list("file_transfer", d.FileTransfer)
	o.list("input_data", d.InputData)
	if d.OutputData != nil {
		o.add("output_data", d.OutputData)
	}
	o.str("affinity_datacenter_label", d.AffinityDatacenterLabel)
	o.str("affinity_machine_label", d.AffinityMachineLabel)
	o.int("wall_time_limit", d.WallTimeLimit)
	o.extra(d.Extra)
	return o.marshal()
}

// ---------------------------------------------------------------------------
// Pilot descriptions

// ParsePilotDescription reads a pilot compute description dictionary.
// Errors are *DescriptionError.
func ParsePilotDescription(m map[string]any) (PilotDescription, error) {
	return parsePilot(sortedKeys(m))
}

// UnmarshalJSON accepts the same loose forms as ParsePilotDescription.
func (d *PilotDescription) UnmarshalJSON(b []byte) error {
	kv, err := decodeFields(b, PilotDescriptionName)
	if err != nil {
		return err
	}
	p, err := parsePilot(kv)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

func parsePilot(kv []keyValue) (PilotDescription, error) {
	var d PilotDescription
	p := parser{desc: PilotDescriptionName}
	for _, e := range kv {
		k, v := e.key, e.val
		switch k {
		case "service_url":
			d.ServiceURL = p.str(k, v)
		case "number_of_processes":
			d.NumberOfProcesses = p.positive(k, v)
		case "processes_per_node":
			if s, ok := v.(string); ok && s == "None" || v == nil {
				break // BigJob's way of saying "unset"
			}
			d.ProcessesPerNode = p.positive(k, v)
		case "working_directory":
			d.WorkingDirectory = p.str(k, v)
		case "walltime":
			if v != nil {
				d.Walltime = p.positive(k, v)
			}
		case "queue":
			d.Queue = p.str(k, v)
		case "project":
			if s := p.str(k, v); s != "" { // an empty project leaves allocation's
				d.Project = s
			}
		case "allocation":
			if d.Project == "" {
				d.Project = p.str(k, v)
			}
			d.setExtra(k, v)
		case "spmd_variation":
			d.SPMDVariation = p.str(k, v)
		case "file_transfer":
			d.FileTransfer = p.strList(k, v)
		case "number_executor_threads":
			if v != nil {
				d.NumberExecutorThreads = p.positive(k, v)
			}
		case "affinity_datacenter_label":
			d.AffinityDatacenterLabel = p.str(k, v)
		case "affinity_machine_label":
			d.AffinityMachineLabel = p.str(k, v)
		case "no_exec":
			b, problem := toBool(v)
			if problem != "" {
				p.fail(k, problem+"; give true or false")
			}
			d.NoExec = b
		case KeyHooks:
			d.Hooks = p.strList(k, v)
		case KeyAgentPath:
			d.AgentPath = p.str(k, v)
		case KeyLaunchMethod:
			d.LaunchMethod = p.str(k, v)
		case KeyRemoteShell:
			d.RemoteShell = p.command(k, v, "ssh -p 2222")
		case KeyMPILauncher:
			d.MPILauncher = p.command(k, v, "mpirun --allow-run-as-root")
		case KeyCandidateHosts:
			d.CandidateHosts = p.strList(k, v)
		default:
			d.setExtra(k, v)
		}
	}
	if p.err != nil {
		return PilotDescription{}, p.err
	}
	if _, ok := findKey(kv, "service_url"); !ok {
		return PilotDescription{}, &DescriptionError{PilotDescriptionName, "service_url", "missing; give the resource URL, e.g. \"fork://localhost\"", nil}
	}
	if _, ok := findKey(kv, "number_of_processes"); !ok {
		return PilotDescription{}, &DescriptionError{PilotDescriptionName, "number_of_processes", "missing; give the number of slots the pilot provides, e.g. 4", nil}
	}
	return d, d.Validate()
}

func (d *PilotDescription) setExtra(k string, v any) { putExtra(&d.Extra, k, v) }

// Validate checks the description and reports the first problem.
func (d PilotDescription) Validate() error {
	bad := func(key, problem string) error { return &DescriptionError{PilotDescriptionName, key, problem, nil} }
	if strings.TrimSpace(d.ServiceURL) == "" {
		return bad("service_url", "empty; give the resource URL, e.g. \"fork://localhost\"")
	}
	if d.NumberOfProcesses <= 0 {
		return bad("number_of_processes", fmt.Sprintf("%d is not a positive whole number; give the number of slots the pilot provides, e.g. 4", d.NumberOfProcesses))
	}
	if d.NumberOfProcesses > MaxSlots {
		return bad("number_of_processes", fmt.Sprintf("%d is more than the %d slots a pilot can have; split the allocation into several pilots", d.NumberOfProcesses, MaxSlots))
	}
	if d.ProcessesPerNode < 0 {
		return bad("processes_per_node", fmt.Sprintf("%d is not a positive whole number", d.ProcessesPerNode))
	}
	if d.Walltime < 0 {
		return bad("walltime", fmt.Sprintf("%d is not a positive number of minutes", d.Walltime))
	}
	switch d.LaunchMethod {
	case "", LaunchAuto, LaunchLocal, LaunchSSH, LaunchSRun:
	default:
		return bad(KeyLaunchMethod, fmt.Sprintf("%q is not a launch method; use %q, %q, %q or %q",
			d.LaunchMethod, LaunchAuto, LaunchLocal, LaunchSSH, LaunchSRun))
	}
	for _, c := range []struct {
		key   string
		words []string
	}{{KeyRemoteShell, d.RemoteShell}, {KeyMPILauncher, d.MPILauncher}} {
		if c.words != nil && (len(c.words) == 0 || c.words[0] == "") {
			return bad(c.key, "empty; give a command line")
		}
	}
	for _, h := range d.Hooks {
		if strings.TrimSpace(h) == "" {
			return bad(KeyHooks, "an empty entry; give the names of loaded plugins or the paths of their plugin.json")
		}
	}
	return nil
}

// Canonical is d as the door reads it: its canonical form parsed again, so
// that this project's keys given in Extra become their typed fields, and
// checked. Errors are *DescriptionError.
func (d PilotDescription) Canonical() (PilotDescription, error) {
	b, err := d.MarshalJSON()
	if err != nil {
		return PilotDescription{}, &DescriptionError{Description: PilotDescriptionName, Key: "(extra keys)", Problem: err.Error()}
	}
	var out PilotDescription
	err = out.UnmarshalJSON(b)
	return out, err
}

// WalltimeMinutes is the walltime with the default applied.
func (d PilotDescription) WalltimeMinutes() int {
	if d.Walltime > 0 {
		return d.Walltime
	}
	return DefaultWalltime
}

// MarshalJSON writes the canonical form: snake_case keys of the fields that
// are set, then the extra keys.
func (d PilotDescription) MarshalJSON() ([]byte, error) {
	o := orderedObject{}
	o.str("service_url", d.ServiceURL)
	o.int("number_of_processes", d.NumberOfProcesses)
	o.int("processes_per_node", d.ProcessesPerNode)
	o.str("working_directory", d.WorkingDirectory)
	o.int("walltime", d.Walltime)
	o.str("queue", d.Queue)
	o.str("project", d.Project)
	o.str("spmd_variation", d.SPMDVariation)
	o.list("file_transfer", d.FileTransfer)
	o.int("number_executor_threads", d.NumberExecutorThreads)
	o.str("affinity_datacenter_label", d.AffinityDatacenterLabel)
	o.str("affinity_machine_label", d.AffinityMachineLabel)
	if d.NoExec {
		o.add("no_exec", true)
	}
	o.list(KeyHooks, d.Hooks)
	o.str(KeyAgentPath, d.AgentPath)
	o.str(KeyLaunchMethod, d.LaunchMethod)
	o.list(KeyRemoteShell, d.RemoteShell)
	o.list(KeyMPILauncher, d.MPILauncher)
	o.list(KeyCandidateHosts, d.CandidateHosts)
	o.extra(d.Extra)
	return o.marshal()
}

// ---------------------------------------------------------------------------
// helpers

// parser converts values and keeps the first error.
type parser struct {
	desc string
	err  error
}

func (p *parser) fail(key, problem string) {
	if p.err == nil {
		p.err = &DescriptionError{p.desc, key, problem, nil}
	}
}

func (p *parser) str(key string, v any) string {
	s, problem := toString(v)
	if problem != "" {
		p.fail(key, problem+"; give a string")
	}
	return s
}

func (p *parser) positive(key string, v any) int {
	n, problem := toInt(v)
	if problem == "" && n <= 0 {
		problem = fmt.Sprintf("%s is not a positive whole number", describe(v))
	}
	if problem != "" {
		p.fail(key, problem+"; give a positive integer such as 1")
	}
	return n
}

func (p *parser) strList(key string, v any) []string {
	l, problem := toStringList(v)
	if problem != "" {
		p.fail(key, problem+"; give a list of strings")
	}
	return l
}

// command accepts a command line as a string (split at blanks) or a list
// of words; example is one the error shows.
func (p *parser) command(key string, v any, example string) []string {
	var words []string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		words = strings.Fields(x)
	default:
		l, problem := toStringList(v)
		if problem != "" {
			p.fail(key, fmt.Sprintf("%s; give a command line such as %q", problem, example))
			return nil
		}
		words = l
	}
	if len(words) == 0 || words[0] == "" {
		p.fail(key, fmt.Sprintf("empty; give a command line such as %q", example))
		return nil
	}
	return words
}

func (p *parser) list(key string, v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return plain(x).([]any)
	}
	p.fail(key, describe(v)+" is not a list")
	return nil
}

// env accepts {"K": V, ...} (an object decoded in order, or a Go map) or
// ["K=V", ...].
func (p *parser) env(key string, v any) []EnvVar {
	var out []EnvVar
	switch x := v.(type) {
	case nil:
		return nil
	case orderedMap:
		for _, e := range x {
			s, ok := pyStr(e.val)
			if !ok {
				p.fail(key, fmt.Sprintf("the value of %q, %s, is not a string or number", e.key, describe(e.val)))
				return nil
			}
			out = append(out, EnvVar{e.key, s})
		}
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			s, ok := pyStr(x[k])
			if !ok {
				p.fail(key, fmt.Sprintf("the value of %q, %s, is not a string or number", k, describe(x[k])))
				return nil
			}
			out = append(out, EnvVar{k, s})
		}
	case map[string]string:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			out = append(out, EnvVar{k, x[k]})
		}
	default:
		list, problem := toStringList(v)
		if problem != "" {
			p.fail(key, problem+"; give a dict {\"NAME\": value} or a list [\"NAME=value\"]")
			return nil
		}
		for _, entry := range list {
			name, val, ok := strings.Cut(entry, "=")
			if !ok {
				p.fail(key, fmt.Sprintf("entry %q has no \"=\"; write \"%s=value\"", entry, entry))
				return nil
			}
			out = append(out, EnvVar{name, val})
		}
	}
	if out == nil {
		out = []EnvVar{}
	}
	return out
}

type keyValue struct {
	key string
	val any
}

// sortedKeys is m's entries in key order, so that the first problem
// reported does not depend on map order.
func sortedKeys(m map[string]any) []keyValue {
	kv := make([]keyValue, 0, len(m))
	for k, v := range m {
		kv = append(kv, keyValue{k, v})
	}
	sort.Slice(kv, func(i, j int) bool { return kv[i].key < kv[j].key })
	return kv
}

// orderedMap is a JSON object decoded with its key order.
type orderedMap []keyValue

func findKey(kv []keyValue, key string) (any, bool) {
	for _, e := range kv {
		if e.key == key {
			return e.val, true
		}
	}
	return nil, false
}

// decodeFields decodes a description object into its keys (sorted) and
// values: numbers as json.Number, objects as map[string]any, except that an
// object under "environment" keeps its key order (orderedMap), since exports
// may refer to earlier ones. Common value shapes take fast paths.
func decodeFields(b []byte, desc string) ([]keyValue, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			var v any
			json.Unmarshal(b, &v)
			return nil, fmt.Errorf("%s: expected a JSON object (a dict), got %s", desc, describe(v))
		}
		return nil, fmt.Errorf("%s: invalid JSON: %w", desc, err)
	}
	kv := make([]keyValue, 0, len(raw))
	for k, r := range raw {
		v, err := decodeRaw(k, r, desc)
		if err != nil {
			return nil, err
		}
		kv = append(kv, keyValue{k, v})
	}
	sort.Slice(kv, func(i, j int) bool { return kv[i].key < kv[j].key })
	return kv, nil
}

// decodeRaw decodes one value of a description (see decodeFields).
func decodeRaw(key string, r json.RawMessage, desc string) (any, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return nil, nil
	}
	switch c := r[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			return s, nil
		}
	case c == '-' || c >= '0' && c <= '9':
		return json.Number(r), nil
	case c == 't', c == 'f':
		return c == 't', nil
	case c == 'n':
		return nil, nil
	case c == '[':
		var ss []string
		if json.Unmarshal(r, &ss) == nil {
			l := make([]any, len(ss))
			for i, s := range ss {
				l[i] = s
			}
			return l, nil
		}
	case c == '{' && key == "environment":
		return decodeObject(r, desc)
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: key %q: invalid JSON: %w", desc, key, err)
	}
	return v, nil
}

// decodeObject decodes a JSON object keeping key order; nested values are
// decoded with json.Number, and objects one level down keep their order too.
func decodeObject(b []byte, desc string) (orderedMap, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", desc, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: invalid JSON: data after the object", desc)
	}
	obj, ok := v.(orderedMap)
	if !ok {
		return nil, fmt.Errorf("%s: expected a JSON object (a dict), got %s", desc, describe(v))
	}
	return obj, nil
}

// decodeValue reads one JSON value. Objects at depth 0 and 1 become
// orderedMap, deeper ones map[string]any.
func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var om orderedMap
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				om = append(om, keyValue{kt.(string), v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if depth >= 2 {
				m := make(map[string]any, len(om))
				for _, e := range om {
					m[e.key] = e.val
				}
				return m, nil
			}
			return om, nil
		case '[':
			l := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return l, nil
		}
	}
	return tok, nil
}

// plain turns orderedMap values back into map[string]any, for Extra.
func plain(v any) any {
	switch x := v.(type) {
	case orderedMap:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.key] = plain(e.val)
		}
		return m
	case []any:
		for i := range x {
			x[i] = plain(x[i])
		}
	}
	return v
}

// orderedObject builds a JSON object with keys in insertion order.
type orderedObject struct{ kv []keyValue }

func (o *orderedObject) add(k string, v any) { o.kv = append(o.kv, keyValue{k, v}) }
func (o *orderedObject) str(k, v string) {
	if v != "" {
		o.add(k, v)
	}
}
func (o *orderedObject) int(k string, v int) {
	if v != 0 {
		o.add(k, v)
	}
}
func (o *orderedObject) list(k string, v []string) {
	if v != nil {
		o.add(k, v)
	}
}
func (o *orderedObject) extra(m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.add(k, plain(m[k]))
	}
}

func (o *orderedObject) marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o.kv {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.val)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.key, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
