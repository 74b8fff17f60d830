package agent

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/vocab"
)

// command is how a unit's process is started.
type command struct {
	Path string
	Args []string // argv, Args[0] included
	Env  []string
}

// launcher builds commands with BigJob's semantics (bigjob-api.md 4.3): the
// line `export K="V"; ...; <executable> <arguments>` run by /bin/bash, so
// that $VAR in arguments expands, shell syntax works and arguments with
// spaces split into words. When bash could not change the outcome (no
// variable, quote, glob, redirection or other shell syntax anywhere, and the
// executable is not a bash builtin or keyword), the program is executed
// directly with the same argv and environment, which saves a bash start per
// unit.
//
// MPI units run under the pilot's MPI launcher with exactly the slots they
// hold: `<launcher> -np N -machinefile <file>` for mpirun, mpiexec and
// their kin; `srun --overlap --distribution=arbitrary -n N` with
// SLURM_HOSTFILE=<file> for srun; `aprun -n N` for aprun.
type launcher struct {
	Shell string   // default /bin/bash
	MPI   []string // the MPI launcher and its flags; default mpirun
}

// build returns the command for ud, to run in dir with base environment env.
// literal marks the entries of ud.Environment to export as they are, without
// the shell's expansion (nil: none). machinefile is set for MPI units. shell
// forces the bash form (for units that another program carries to a remote
// host as one line).
func (l launcher) build(ud vocab.UnitDescription, literal []bool, dir string, env []string, machinefile string, shell bool) command {
	if !ud.MPI() && !shell {
		if c, ok := direct(ud, literal, dir, env); ok {
			return c
		}
	}
	return command{Path: l.Shell, Args: []string{"bash", "-c", l.line(ud, literal, machinefile)}, Env: env}
}

// line is the bash line of ud.
func (l launcher) line(ud vocab.UnitDescription, literal []bool, machinefile string) string {
	var b strings.Builder
	for i, e := range ud.Environment {
		v := doubleQuote(e.Value)
		if i < len(literal) && literal[i] {
			v = shell.Quote(e.Value)
		}
		b.WriteString("export " + e.Name + "=" + v + "; ")
	}
	if ud.MPI() {
		b.WriteString(l.mpi(ud.Slots(), machinefile) + " ")
	}
	b.WriteString(ud.Executable)
	for _, a := range ud.Arguments {
		b.WriteString(" " + a)
	}
	return b.String()
}

// mpi is the launcher part of an MPI unit's line.
func (l launcher) mpi(n int, machinefile string) string {
	words := l.MPI
	if len(words) == 0 {
		words = []string{"mpirun"}
	}
	np := strconv.Itoa(n)
	launcher := strings.Join(words, " ")
	switch filepath.Base(words[0]) {
	case "srun":
		return "SLURM_HOSTFILE=" + shell.Quote(machinefile) + " " + words[0] + " --overlap --distribution=arbitrary " +
			strings.Join(words[1:], " ") + " -n " + np
	case "aprun":
		return launcher + " -n " + np
	default:
		return launcher + " -np " + np + " -machinefile " + shell.Quote(machinefile)
	}
}

// direct returns the bash-free command for ud if bash would run exactly it.
// An argument word that is a whole variable reference ($NAME or ${NAME}) of
// a variable the environment sets is expanded as bash would: its value,
// split at blanks (one with glob characters is left to bash).
func direct(ud vocab.UnitDescription, literal []bool, dir string, env []string) (command, bool) {
	exe := ud.Executable
	if !plain(exe) || strings.Contains(exe, "=") || bashWords[exe] {
		return command{}, false
	}
	env = append(env[:len(env):len(env)], "PWD="+dir)
	for i, e := range ud.Environment {
		if (i >= len(literal) || !literal[i]) && strings.ContainsAny(e.Value, "$`\\\"") {
			return command{}, false
		}
		env = append(env, e.Name+"="+e.Value)
	}
	argv := []string{exe}
	for _, a := range ud.Arguments {
		for _, w := range strings.Fields(a) {
			if plain(w) {
				argv = append(argv, w)
				continue
			}
			words, ok := expandVar(w, env)
			if !ok {
				return command{}, false
			}
			argv = append(argv, words...)
		}
	}
	path := exe
	if !strings.Contains(exe, "/") {
		p, ok := lookPath(exe, env)
		if !ok {
			return command{}, false // let bash report "command not found"
		}
		path = p
	} else if !filepath.IsAbs(exe) {
		path = filepath.Join(dir, exe)
	}
	if _, err := exec.LookPath(path); err != nil {
		return command{}, false // let bash report it, with its exit code
	}
	return command{Path: path, Args: argv, Env: env}, true
}

// expandVar expands a word that is only a variable reference, $NAME or
// ${NAME}, as bash would for a variable of env (the last entry of a name
// wins): its value, split at blanks. ok is false when bash must do it: the
// word is anything else, the variable is not in env or is one bash sets
// itself, or its value holds glob characters.
func expandVar(w string, env []string) (words []string, ok bool) {
	name, found := strings.CutPrefix(w, "$")
	if inner, braced := strings.CutPrefix(name, "{"); braced {
		name, found = strings.CutSuffix(inner, "}")
	}
	if !found || !shell.IsName(name) || bashVars[name] || strings.HasPrefix(name, "BASH") {
		return nil, false
	}
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			if strings.ContainsAny(v, "*?[") {
				return nil, false
			}
			return strings.Fields(v), true
		}
	}
	return nil, false
}

// bashVars are variables bash sets itself, whatever the environment says.
var bashVars = map[string]bool{}

func init() {
	for _, v := range strings.Fields(`SHLVL PPID UID EUID RANDOM SRANDOM SECONDS LINENO HOSTNAME HOSTTYPE OSTYPE
		MACHTYPE IFS OPTIND OPTERR OPTARG PS1 PS2 PS4 PWD OLDPWD SHELLOPTS GROUPS FUNCNAME DIRSTACK PIPESTATUS
		COLUMNS LINES HISTFILE HISTSIZE EPOCHSECONDS EPOCHREALTIME REPLY COMP_WORDS _`) {
		bashVars[v] = true
	}
}

// plain reports whether bash leaves the word as it is: no whitespace, no
// quoting, expansion, globbing, redirection, or control characters.
func plain(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_-./+,:@%=^", r):
		default:
			return false
		}
	}
	return true
}

// lookPath searches the PATH of env as bash would.
func lookPath(name string, env []string) (string, bool) {
	path := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v // the last one wins, as in exec.Cmd
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue // bash would look in the current directory: leave it to bash
		}
		p := filepath.Join(dir, name)
		if _, err := exec.LookPath(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// doubleQuote quotes v for bash so that spaces stay but $VAR and `cmd` still
// expand, as in BigJob's unquoted exports.
func doubleQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

// bashWords are bash builtins and keywords: as executables they mean
// something other than a program on PATH.
var bashWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`. : [ alias bg bind break builtin caller cd command compgen
		complete compopt continue declare dirs disown echo enable eval exec exit export false fc fg
		getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read
		readarray readonly return set shift shopt source suspend test times trap true type typeset
		ulimit umask unalias unset wait if then else elif fi case esac for select while until do
		done in function time { } ! [[ ]] coproc`) {
		bashWords[w] = true
	}
}
