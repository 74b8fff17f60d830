package vocab

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnitDescriptionEveryKey(t *testing.T) {
	var d UnitDescription
	err := json.Unmarshal([]byte(`{
		"executable": "/bin/echo",
		"arguments": ["Hello", "$ENV1", 3, 1.5],
		"environment": {"B": 1, "A": "x y", "FLAG": true},
		"number_of_processes": "2",
		"spmd_variation": "MPI",
		"working_directory": "/tmp/wd",
		"output": "out.txt",
		"error": "err.txt",
		"input": "in.txt",
		"file_transfer": ["ssh://localhost/etc/hostname > SUBJOB_WORK_DIR"],
		"input_data": ["redis://localhost/bigdata:du-1"],
		"output_data": [{"redis://localhost/bigdata:du-2": ["std*"]}],
		"affinity_datacenter_label": "dc",
		"affinity_machine_label": "m",
		"total_core_count": 8,
		"wall_time_limit": 5,
		"my_own_key": {"nested": [1, 2]}
	}`), &d)
	require.NoError(t, err)
	require.Equal(t, "/bin/echo", d.Executable)
	require.Equal(t, []string{"Hello", "$ENV1", "3", "1.5"}, d.Arguments)
	// dict order is kept; ints and bools are formatted as Python's str() does
	require.Equal(t, []EnvVar{{"B", "1"}, {"A", "x y"}, {"FLAG", "True"}}, d.Environment)
	require.Equal(t, 2, d.NumberOfProcesses)
	require.True(t, d.MPI())
	require.Equal(t, "/tmp/wd", d.WorkingDirectory)
	require.Equal(t, "out.txt", d.Output)
	require.Equal(t, "err.txt", d.Error)
	require.Equal(t, "in.txt", d.Input)
	require.Equal(t, []string{"ssh://localhost/etc/hostname > SUBJOB_WORK_DIR"}, d.FileTransfer)
	require.Equal(t, []string{"redis://localhost/bigdata:du-1"}, d.InputData)
	require.Len(t, d.OutputData, 1)
	require.Equal(t, "dc", d.AffinityDatacenterLabel)
	require.Equal(t, "m", d.AffinityMachineLabel)
	require.Equal(t, 5, d.WallTimeLimit)
	// unknown keys are kept
	require.Equal(t, json.Number("8"), d.Extra["total_core_count"])
	require.Equal(t, map[string]any{"nested": []any{json.Number("1"), json.Number("2")}}, d.Extra["my_own_key"])

	// the canonical form round-trips
	b, err := json.Marshal(d)
	require.NoError(t, err)
	var back UnitDescription
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, d.Environment, back.Environment)
	require.Equal(t, d.Arguments, back.Arguments)
	require.Equal(t, d.Extra["my_own_key"], back.Extra["my_own_key"])
	require.Equal(t, 5, back.WallTimeLimit)
}

func TestUnitDescriptionForms(t *testing.T) {
	cases := []struct {
		name string
		in   map[string]any
		want func(t *testing.T, d UnitDescription)
	}{
		{"env as list", map[string]any{"executable": "x", "environment": []any{"ENV1=World", "EMPTY=", "EQ=a=b"}},
			func(t *testing.T, d UnitDescription) {
				require.Equal(t, []EnvVar{{"ENV1", "World"}, {"EMPTY", ""}, {"EQ", "a=b"}}, d.Environment)
			}},
		{"env as Go map (sorted)", map[string]any{"executable": "x", "environment": map[string]any{"TASK_NO": 3, "A": "b"}},
			func(t *testing.T, d UnitDescription) {
				require.Equal(t, []EnvVar{{"A", "b"}, {"TASK_NO", "3"}}, d.Environment)
			}},
		{"number given as int", map[string]any{"executable": "x", "number_of_processes": 4},
			func(t *testing.T, d UnitDescription) { require.Equal(t, 4, d.Slots()) }},
		{"defaults", map[string]any{"executable": "x"},
			func(t *testing.T, d UnitDescription) {
				w := d.WithDefaults()
				require.Equal(t, 1, w.NumberOfProcesses)
				require.Equal(t, "single", w.SPMDVariation)
				require.Equal(t, "stdout", w.Output)
				require.Equal(t, "stderr", w.Error)
			}},
		{"total_cpu_count is the fallback size", map[string]any{"executable": "x", "total_cpu_count": "3"},
			func(t *testing.T, d UnitDescription) { require.Equal(t, 3, d.Slots()) }},
		{"arguments as one string", map[string]any{"executable": "x", "arguments": "a b"},
			func(t *testing.T, d UnitDescription) { require.Equal(t, []string{"a b"}, d.Arguments) }},
		{"null arguments", map[string]any{"executable": "x", "arguments": nil, "number_of_processes": nil},
			func(t *testing.T, d UnitDescription) {
				require.Nil(t, d.Arguments)
				require.Equal(t, 1, d.Slots())
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseUnitDescription(c.in)
			require.NoError(t, err)
			c.want(t, d)
		})
	}
}

func TestUnitDescriptionErrors(t *testing.T) {
	cases := []struct {
		name, json, key, contains string
	}{
		{"missing executable", `{"arguments": ["a"]}`, "executable", "missing"},
		{"empty executable", `{"executable": ""}`, "executable", "empty"},
		{"executable not a string", `{"executable": ["a"]}`, "executable", "not a string"},
		{"procs abc", `{"executable": "x", "number_of_processes": "abc"}`, "number_of_processes", `"abc" is not a whole number`},
		{"procs 0", `{"executable": "x", "number_of_processes": 0}`, "number_of_processes", "0 is not a positive whole number"},
		{"procs -1", `{"executable": "x", "number_of_processes": -1}`, "number_of_processes", "-1 is not a positive whole number"},
		{"procs 1.5", `{"executable": "x", "number_of_processes": 1.5}`, "number_of_processes", "1.5 is not a whole number"},
		{"procs true", `{"executable": "x", "number_of_processes": true}`, "number_of_processes", "True is not a whole number"},
		{"procs huge", `{"executable": "x", "number_of_processes": 2147483647}`, "number_of_processes", "2147483647 is more than the 1048576 slots"},
		{"spmd", `{"executable": "x", "spmd_variation": "openmp"}`, "spmd_variation", `"openmp" is not supported; use "single" or "mpi"`},
		{"env entry without =", `{"executable": "x", "environment": ["FOO"]}`, "environment", `entry "FOO" has no "="`},
		{"env bad name", `{"executable": "x", "environment": {"1A": "v"}}`, "environment", `"1A" is not a valid variable name`},
		{"env nested value", `{"executable": "x", "environment": {"A": [1]}}`, "environment", "is not a string or number"},
		{"env not a list", `{"executable": "x", "environment": 5}`, "environment", "5 is not a list"},
		{"arguments nested", `{"executable": "x", "arguments": [["a"]]}`, "arguments", "element 0"},
		{"output list", `{"executable": "x", "output": ["a"]}`, "output", "not a string"},
		{"output_data not a list", `{"executable": "x", "output_data": "x"}`, "output_data", "not a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d UnitDescription
			err := json.Unmarshal([]byte(c.json), &d)
			require.Error(t, err)
			var de *DescriptionError
			require.ErrorAs(t, err, &de)
			require.Equal(t, c.key, de.Key)
			require.Contains(t, err.Error(), c.contains)
			require.Contains(t, err.Error(), "compute unit description: key \""+c.key+"\"")
		})
	}
}

func TestDescriptionInvalidJSON(t *testing.T) {
	var d UnitDescription
	err := json.Unmarshal([]byte(`["executable"]`), &d)
	require.ErrorContains(t, err, "expected a JSON object")
	err = d.UnmarshalJSON([]byte(`{"executable": `))
	require.ErrorContains(t, err, "compute unit description: invalid JSON")
}

func TestPilotDescriptionEveryKey(t *testing.T) {
	var d PilotDescription
	err := json.Unmarshal([]byte(`{
		"service_url": "fork://localhost",
		"number_of_processes": "4",
		"processes_per_node": "None",
		"working_directory": "/tmp/agent",
		"walltime": "10",
		"queue": "normal",
		"allocation": "TG-123",
		"spmd_variation": "12way",
		"file_transfer": ["ssh://localhost/etc/hosts"],
		"number_executor_threads": 16,
		"affinity_datacenter_label": "dc",
		"affinity_machine_label": "m",
		"no_exec": "true",
		"vm_id": "ami-1",
		"candidate_hosts": ["a", "b"],
		"hooks": ["allowlist", "/srv/plugins/outputs/plugin.json"],
		"agent_path": "/opt/bigjob/pilot-agent",
		"launch_method": "ssh",
		"remote_shell": "ssh -p 2222",
		"mpi_launcher": ["mpiexec", "-x", "PATH"]
	}`), &d)
	require.NoError(t, err)
	require.Equal(t, "fork://localhost", d.ServiceURL)
	require.Equal(t, 4, d.NumberOfProcesses)
	require.Equal(t, 0, d.ProcessesPerNode)
	require.Equal(t, "/tmp/agent", d.WorkingDirectory)
	require.Equal(t, 10, d.WalltimeMinutes())
	require.Equal(t, "normal", d.Queue)
	require.Equal(t, "TG-123", d.Project) // allocation maps to project
	require.Equal(t, "12way", d.SPMDVariation)
	require.Equal(t, []string{"ssh://localhost/etc/hosts"}, d.FileTransfer)
	require.Equal(t, 16, d.NumberExecutorThreads)
	require.Equal(t, "dc", d.AffinityDatacenterLabel)
	require.Equal(t, "m", d.AffinityMachineLabel)
	require.True(t, d.NoExec)
	require.Equal(t, "ami-1", d.Extra["vm_id"])
	// this project's keys, typed
	require.Equal(t, []string{"a", "b"}, d.CandidateHosts)
	require.Equal(t, []string{"allowlist", "/srv/plugins/outputs/plugin.json"}, d.Hooks)
	require.Equal(t, "/opt/bigjob/pilot-agent", d.AgentPath)
	require.Equal(t, LaunchSSH, d.LaunchMethod)
	require.Equal(t, []string{"ssh", "-p", "2222"}, d.RemoteShell)
	require.Equal(t, []string{"mpiexec", "-x", "PATH"}, d.MPILauncher)
	for _, k := range []string{KeyHooks, KeyAgentPath, KeyLaunchMethod, KeyRemoteShell, KeyMPILauncher, KeyCandidateHosts} {
		require.NotContains(t, d.Extra, k, "typed keys are not kept in Extra")
	}
	// the canonical form carries them, and reads back the same
	b, err := json.Marshal(d)
	require.NoError(t, err)
	var back PilotDescription
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, d, back)
	strictly, err := DecodePilot(b)
	require.NoError(t, err)
	require.Equal(t, d, strictly, "the canonical form reads back strictly the same")
	_, err = DecodePilot([]byte(`{"service_url": "fork://localhost", "number_of_processes": "4"}`))
	require.ErrorContains(t, err, `key "number_of_processes": "4" is not a whole number in the canonical form`)
	_, err = DecodePilot([]byte(`{"service_url": "fork://localhost", "number_of_processes": 1, "mpi_launcher": "mpirun"}`))
	require.ErrorContains(t, err, `key "mpi_launcher"`)
	// an empty hooks list (turns the service's hooks off) stays given
	off, err := ParsePilotDescription(map[string]any{"service_url": "fork://localhost", "number_of_processes": 1, "hooks": []any{}})
	require.NoError(t, err)
	require.NotNil(t, off.Hooks)
	require.Empty(t, off.Hooks)
	b, err = json.Marshal(off)
	require.NoError(t, err)
	require.Contains(t, string(b), `"hooks":[]`)

	d2, err := ParsePilotDescription(map[string]any{"service_url": "fork://localhost", "number_of_processes": 1, "project": "p", "allocation": "a"})
	require.NoError(t, err)
	require.Equal(t, "p", d2.Project, "an explicit project wins over allocation")
	require.Equal(t, DefaultWalltime, d2.WalltimeMinutes())
}

func TestPilotDescriptionErrors(t *testing.T) {
	cases := []struct{ name, json, key, contains string }{
		{"missing service_url", `{"number_of_processes": 1}`, "service_url", "missing"},
		{"missing size", `{"service_url": "fork://localhost"}`, "number_of_processes", "missing"},
		{"size abc", `{"service_url": "fork://localhost", "number_of_processes": "abc"}`, "number_of_processes", `"abc" is not a whole number`},
		{"size 0", `{"service_url": "fork://localhost", "number_of_processes": 0}`, "number_of_processes", "0 is not a positive"},
		{"size -1", `{"service_url": "fork://localhost", "number_of_processes": "-1"}`, "number_of_processes", `"-1" is not a positive`},
		{"size huge", `{"service_url": "fork://localhost", "number_of_processes": 4000000000}`, "number_of_processes", "4000000000 is more than the 1048576 slots a pilot can have; split"},
		{"walltime", `{"service_url": "fork://localhost", "number_of_processes": 1, "walltime": "ten"}`, "walltime", `"ten" is not a whole number`},
		{"no_exec", `{"service_url": "fork://localhost", "number_of_processes": 1, "no_exec": "maybe"}`, "no_exec", "not true or false"},
		{"launch_method", `{"service_url": "fork://localhost", "number_of_processes": 1, "launch_method": "teleport"}`, "launch_method", `"teleport" is not a launch method; use "auto", "local", "ssh" or "srun"`},
		{"mpi_launcher empty", `{"service_url": "fork://localhost", "number_of_processes": 1, "mpi_launcher": "  "}`, "mpi_launcher", "empty; give a command line"},
		{"remote_shell number", `{"service_url": "fork://localhost", "number_of_processes": 1, "remote_shell": 3}`, "remote_shell", "give a command line"},
		{"hooks object", `{"service_url": "fork://localhost", "number_of_processes": 1, "hooks": {"a": 1}}`, "hooks", "give a list of strings"},
		{"hooks empty entry", `{"service_url": "fork://localhost", "number_of_processes": 1, "hooks": [""]}`, "hooks", "an empty entry"},
		{"agent_path list", `{"service_url": "fork://localhost", "number_of_processes": 1, "agent_path": ["a"]}`, "agent_path", "give a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d PilotDescription
			err := json.Unmarshal([]byte(c.json), &d)
			var de *DescriptionError
			require.ErrorAs(t, err, &de)
			require.Equal(t, c.key, de.Key)
			require.Contains(t, err.Error(), c.contains)
			require.Contains(t, err.Error(), "pilot compute description")
		})
	}
}

// Past the door the canonical form is read strictly: loose forms that the
// door accepts are refused there, naming the key.
func TestDecodeUnitIsStrict(t *testing.T) {
	d, err := ParseUnitDescriptionJSON([]byte(`{"executable": "/bin/echo", "arguments": ["a", 3],
		"environment": {"B": 1, "A": "x"}, "number_of_processes": "2", "wall_time_limit": 5, "colour": "red"}`))
	require.NoError(t, err)
	enc, b, err := EncodeUnit(d)
	require.NoError(t, err)
	require.Equal(t, "stdout", enc.Output, "defaults applied once, at the door")
	back, err := DecodeUnit(b)
	require.NoError(t, err)
	require.Equal(t, enc, back)
	require.Equal(t, []EnvVar{{"B", "1"}, {"A", "x"}}, back.Environment, "the environment keeps its order")

	for _, c := range []struct{ json, key string }{
		{`{"executable": "/bin/true", "number_of_processes": "2"}`, "number_of_processes"},
		{`{"executable": "/bin/true", "arguments": [1]}`, "arguments"},
		{`{"executable": "/bin/true", "arguments": "a b"}`, "arguments"},
		{`{"executable": "/bin/true", "environment": {"A": "1"}}`, "environment"},
		{`{"executable": "/bin/true", "environment": ["A"]}`, "environment"},
		{`{"executable": 7}`, "executable"},
		{`{"executable": "/bin/true", "wall_time_limit": 1.5}`, "wall_time_limit"},
	} {
		_, err := DecodeUnit([]byte(c.json))
		var de *DescriptionError
		require.ErrorAs(t, err, &de, c.json)
		require.Equal(t, c.key, de.Key, c.json)
		require.Contains(t, err.Error(), "canonical form")
	}
	_, _, err = EncodeUnit(UnitDescription{})
	require.ErrorContains(t, err, `key "executable"`, "EncodeUnit checks first")
}
