package agent

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
)

func TestDirectOnlyWhenBashWouldNotMatter(t *testing.T) {
	l := launcher{Shell: "/bin/bash"}
	env := []string{"PATH=/usr/bin:/bin", "HOME=/root"}
	cases := []struct {
		name   string
		ud     core.UnitDescription
		direct bool
	}{
		{"plain", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"a", "b c"}}, true},
		{"on PATH", core.UnitDescription{Executable: "date"}, true},
		{"plain env", core.UnitDescription{Executable: "/bin/true", Environment: []core.EnvVar{{Name: "A", Value: "x y"}}}, true},
		{"variable in argument", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"$HOME"}}, true},
		{"unset variable", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"$NOT_SET_ANYWHERE"}}, false},
		{"bash's own variable", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"$SHLVL"}}, false},
		{"variable inside a word", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"a$HOME"}}, false},
		{"glob in a value", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"$G"},
			Environment: []core.EnvVar{{Name: "G", Value: "*"}}}, false},
		{"variable in env", core.UnitDescription{Executable: "/bin/true", Environment: []core.EnvVar{{Name: "P", Value: "$PATH:/x"}}}, false},
		{"redirection", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"a", ">", "f"}}, false},
		{"glob", core.UnitDescription{Executable: "/bin/ls", Arguments: []string{"*.txt"}}, false},
		{"quote", core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"'a b'"}}, false},
		{"builtin", core.UnitDescription{Executable: "echo", Arguments: []string{"a"}}, false},
		{"tilde", core.UnitDescription{Executable: "~/bin/x"}, false},
		{"assignment", core.UnitDescription{Executable: "A=1"}, false},
		{"not found", core.UnitDescription{Executable: "no-such-program-xyz"}, false},
		{"mpi", core.UnitDescription{Executable: "/bin/true", SPMDVariation: "mpi", NumberOfProcesses: 2}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := l.build(c.ud, nil, "/tmp", env, "/tmp/mf", false)
			require.Equal(t, c.direct, cmd.Path != "/bin/bash", "command: %+v", cmd)
		})
	}
}

// Values marked literal (a hook wrote them) reach the program as they are,
// by either path; the others expand as BigJob's exports do.
func TestLiteralValuesAreNotExpanded(t *testing.T) {
	l := launcher{Shell: "/bin/bash"}
	env := append(os.Environ(), "BASE=base")
	ud := core.UnitDescription{Executable: "/bin/sh", Arguments: []string{"-c", `'echo "$A|$B"'`},
		Environment: []core.EnvVar{{Name: "A", Value: "$BASE"}, {Name: "B", Value: "$BASE `echo x` $(echo y) 'q'"}}}
	dir := t.TempDir()
	require.Equal(t, "base|$BASE `echo x` $(echo y) 'q'\n", run(t, l.build(ud, []bool{false, true}, dir, env, "", false), dir))

	plain := core.UnitDescription{Executable: "printenv", Arguments: []string{"B"}, Environment: ud.Environment}
	fast := l.build(plain, []bool{true, true}, dir, env, "", false)
	require.NotEqual(t, "/bin/bash", fast.Path, "literal values need no shell")
	require.Equal(t, "$BASE `echo x` $(echo y) 'q'\n", run(t, fast, dir))
}

// Both paths must produce the same output for the commands the fast path
// takes: run each through bash and directly and compare.
func TestDirectMatchesBash(t *testing.T) {
	l := launcher{Shell: "/bin/bash"}
	env := append(os.Environ(), "BASE=1")
	uds := []core.UnitDescription{
		{Executable: "/bin/echo", Arguments: []string{"Hello", "I am CU number 3", "", "a=b", "x,y:z"}},
		{Executable: "printenv", Arguments: []string{"TASK_NO"}, Environment: []core.EnvVar{{Name: "TASK_NO", Value: "7"}}},
		{Executable: "printenv", Arguments: []string{"SPACE"}, Environment: []core.EnvVar{{Name: "SPACE", Value: "a  b"}}},
		{Executable: "/bin/sh", Arguments: []string{"-c", "pwd"}},
		{Executable: "/bin/echo", Arguments: []string{"Hello", "$ENV1", "I am CU number 3"}, Environment: []core.EnvVar{{Name: "ENV1", Value: "World"}}},
		{Executable: "/bin/echo", Arguments: []string{"${SPACE}", "x", "$BASE"}, Environment: []core.EnvVar{{Name: "SPACE", Value: " a  b "}}},
		{Executable: "/bin/echo", Arguments: []string{"$EMPTY", "y"}, Environment: []core.EnvVar{{Name: "EMPTY", Value: ""}}},
		{Executable: "/bin/echo", Arguments: []string{"$TWICE"}, Environment: []core.EnvVar{{Name: "TWICE", Value: "1"}, {Name: "TWICE", Value: "2"}}},
	}
	dir := t.TempDir()
	for _, ud := range uds {
		fast := l.build(ud, nil, dir, env, "", false)
		require.NotEqual(t, "/bin/bash", fast.Path, "expected the direct path for %+v", ud)
		slow := command{Path: "/bin/bash", Args: []string{"bash", "-c", bashLine(ud)}, Env: env}
		require.Equal(t, run(t, slow, dir), run(t, fast, dir), "unit %+v", ud)
	}
}

func bashLine(ud core.UnitDescription) string {
	line := ""
	for _, e := range ud.Environment {
		line += "export " + e.Name + "=" + doubleQuote(e.Value) + "; "
	}
	line += ud.Executable
	for _, a := range ud.Arguments {
		line += " " + a
	}
	return line
}

func run(t *testing.T, c command, dir string) string {
	cmd := exec.Command(c.Path, c.Args[1:]...)
	cmd.Args = c.Args
	cmd.Env = c.Env
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	require.NoError(t, cmd.Run(), "output: %s", out.String())
	return out.String()
}

func TestMPILaunchers(t *testing.T) {
	ud := core.UnitDescription{Executable: "./ring", Arguments: []string{"-v"}, SPMDVariation: "mpi", NumberOfProcesses: 4}
	cases := map[string]struct {
		launcher []string
		want     string
	}{
		"default": {nil, "mpirun -np 4 -machinefile '/tmp/my mf' ./ring -v"},
		"flags":   {[]string{"mpirun", "--allow-run-as-root"}, "mpirun --allow-run-as-root -np 4 -machinefile '/tmp/my mf' ./ring -v"},
		"mpiexec": {[]string{"/opt/mpi/bin/mpiexec"}, "/opt/mpi/bin/mpiexec -np 4 -machinefile '/tmp/my mf' ./ring -v"},
		"srun":    {[]string{"srun", "--mpi=pmix"}, "SLURM_HOSTFILE='/tmp/my mf' srun --overlap --distribution=arbitrary --mpi=pmix -n 4 ./ring -v"},
		"aprun":   {[]string{"aprun"}, "aprun -n 4 ./ring -v"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := launcher{Shell: "/bin/bash", MPI: c.launcher}.build(ud, nil, "/tmp", nil, "/tmp/my mf", false)
			require.Equal(t, []string{"bash", "-c", c.want}, cmd.Args)
		})
	}
}

// A unit's own entries replace the agent's of the same name, and a name set
// twice keeps its last value, as exec.Cmd would.
func TestEnvironDedupKeepsTheLastValue(t *testing.T) {
	e := newEnviron([]string{"PATH=/usr/bin", "HOME=/root", "PWD=/agent"})
	same := append(e.base[:3:3], "BIGJOB_UNIT_ID=cu-1")
	require.Equal(t, same, e.dedup(same), "nothing to replace: the slice is returned as it is")
	got := e.dedup(append(e.base[:3:3], "BIGJOB_UNIT_ID=cu-1", "PWD=/unit", "A=1", "PATH=/opt/bin", "A=2"))
	require.Equal(t, []string{"PATH=/opt/bin", "HOME=/root", "PWD=/unit", "BIGJOB_UNIT_ID=cu-1", "A=2"}, got)
	require.Equal(t, []string{"PATH=/usr/bin", "HOME=/root", "PWD=/agent"}, e.base, "the base is left alone")
}
