package vocab

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The canonical form of a unit description is the door's output: what
// EncodeUnit writes, what is signed and stored, and what everything after
// the door (the store, the agent, hooks) reads with DecodeUnit. The loose
// BigJob forms are read only at the door (ParseUnitDescription).

// EncodeUnit is the door's last step for a unit: it checks d, applies its
// defaults, and encodes the result into the canonical form. It returns that
// description too (what the agent will run).
func EncodeUnit(d UnitDescription) (UnitDescription, []byte, error) {
	if err := d.Validate(); err != nil {
		return UnitDescription{}, nil, err
	}
	return EncodeValidUnit(d)
}

// EncodeValidUnit is EncodeUnit for a description that has passed Validate
// already: a door that checks every description of a call before it sends
// any uses it, so that each is checked once.
func EncodeValidUnit(d UnitDescription) (UnitDescription, []byte, error) {
	d = d.WithDefaults()
	b, err := d.MarshalJSON()
	if err != nil {
		return UnitDescription{}, nil, &DescriptionError{Description: UnitDescriptionName, Key: "(extra keys)", Problem: err.Error()}
	}
	return d, b, nil
}

// DecodeUnit reads a unit's canonical form strictly: each key of the
// vocabulary must have the type EncodeUnit writes (strings, lists of
// strings, whole numbers, the environment as "NAME=value" entries); any
// other key is kept in Extra. It converts no loose form, checks nothing
// else and applies no default: the door did. Errors name the key.
func DecodeUnit(b []byte) (UnitDescription, error) {
	kv, err := decodeFields(b, UnitDescriptionName)
	if err != nil {
		return UnitDescription{}, err
	}
	var d UnitDescription
	s := strict{}
	for _, e := range kv {
		k, v := e.key, e.val
		switch k {
		case "executable":
			d.Executable = s.str(k, v)
		case "arguments":
			d.Arguments = s.strs(k, v)
		case "environment":
			for _, entry := range s.strs(k, v) {
				name, val, ok := strings.Cut(entry, "=")
				if !ok {
					s.fail(k, fmt.Sprintf("entry %q is not NAME=value", entry))
				}
				d.Environment = append(d.Environment, EnvVar{name, val})
			}
			if d.Environment == nil && v != nil {
				d.Environment = []EnvVar{}
			}
		case "number_of_processes":
			d.NumberOfProcesses = s.int(k, v)
		case "spmd_variation":
			d.SPMDVariation = s.str(k, v)
		case "working_directory":
			d.WorkingDirectory = s.str(k, v)
		case "output":
			d.Output = s.str(k, v)
		case "error":
			d.Error = s.str(k, v)
		case "input":
			d.Input = s.str(k, v)
		case "file_transfer":
			d.FileTransfer = s.strs(k, v)
		case "input_data":
			d.InputData = s.strs(k, v)
		case "output_data":
			if l, ok := v.([]any); ok {
				d.OutputData = plain(l).([]any)
			} else {
				s.fail(k, "not a list")
			}
		case "affinity_datacenter_label":
			d.AffinityDatacenterLabel = s.str(k, v)
		case "affinity_machine_label":
			d.AffinityMachineLabel = s.str(k, v)
		case "wall_time_limit":
			d.WallTimeLimit = s.int(k, v)
		default:
			d.setExtra(k, v)
		}
	}
	if s.err != nil {
		return UnitDescription{}, s.err
	}
	return d, nil
}

// DecodePilot reads a pilot description's canonical form (what
// PilotDescription.Canonical, at the door, encodes) strictly, as DecodeUnit
// reads a unit's.
func DecodePilot(b []byte) (PilotDescription, error) {
	kv, err := decodeFields(b, PilotDescriptionName)
	if err != nil {
		return PilotDescription{}, err
	}
	var d PilotDescription
	s := strict{desc: PilotDescriptionName}
	for _, e := range kv {
		k, v := e.key, e.val
		switch k {
		case "service_url":
			d.ServiceURL = s.str(k, v)
		case "number_of_processes":
			d.NumberOfProcesses = s.int(k, v)
		case "processes_per_node":
			d.ProcessesPerNode = s.int(k, v)
		case "working_directory":
			d.WorkingDirectory = s.str(k, v)
		case "walltime":
			d.Walltime = s.int(k, v)
		case "queue":
			d.Queue = s.str(k, v)
		case "project":
			d.Project = s.str(k, v)
		case "spmd_variation":
			d.SPMDVariation = s.str(k, v)
		case "file_transfer":
			d.FileTransfer = s.strs(k, v)
		case "number_executor_threads":
			d.NumberExecutorThreads = s.int(k, v)
		case "affinity_datacenter_label":
			d.AffinityDatacenterLabel = s.str(k, v)
		case "affinity_machine_label":
			d.AffinityMachineLabel = s.str(k, v)
		case "no_exec":
			d.NoExec, _ = v.(bool)
			if _, ok := v.(bool); !ok {
				s.fail(k, describe(v)+" is not true or false")
			}
		case KeyHooks:
			d.Hooks = s.strs(k, v)
		case KeyAgentPath:
			d.AgentPath = s.str(k, v)
		case KeyLaunchMethod:
			d.LaunchMethod = s.str(k, v)
		case KeyRemoteShell:
			d.RemoteShell = s.strs(k, v)
		case KeyMPILauncher:
			d.MPILauncher = s.strs(k, v)
		case KeyCandidateHosts:
			d.CandidateHosts = s.strs(k, v)
		default:
			d.setExtra(k, v)
		}
	}
	if s.err != nil {
		return PilotDescription{}, s.err
	}
	return d, nil
}

// strict reads values of the canonical form of a description (desc, the
// unit's if empty) and keeps the first mismatch.
type strict struct {
	desc string
	err  error
}

func (s *strict) fail(key, problem string) {
	if s.err == nil {
		desc := s.desc
		if desc == "" {
			desc = UnitDescriptionName
		}
		s.err = &DescriptionError{Description: desc, Key: key,
			Problem: problem + " in the canonical form (it was not written by the door)"}
	}
}

func (s *strict) str(key string, v any) string {
	x, ok := v.(string)
	if !ok {
		s.fail(key, describe(v)+" is not a string")
	}
	return x
}

func (s *strict) strs(key string, v any) []string {
	l, ok := v.([]any)
	if !ok {
		s.fail(key, describe(v)+" is not a list of strings")
		return nil
	}
	out := make([]string, len(l))
	for i, e := range l {
		if out[i], ok = e.(string); !ok {
			s.fail(key, fmt.Sprintf("element %d, %s, is not a string", i, describe(e)))
			return nil
		}
	}
	return out
}

func (s *strict) int(key string, v any) int {
	n, ok := v.(json.Number)
	if ok {
		if i, err := strconv.Atoi(string(n)); err == nil {
			return i
		}
	}
	s.fail(key, describe(v)+" is not a whole number")
	return 0
}
