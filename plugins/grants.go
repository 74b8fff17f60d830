package plugins

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bigjob-go/bigjob/internal/shell"
	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Capabilities are what a plugin may do outside its sandbox, each granted by
// name in its manifest; whatever is not granted is denied (ABI.md, Threat
// model).
type Capabilities struct {
	// Commands lists the programs exec may run: a bare name is looked up on
	// PATH once, when the plugin is loaded (for +ssh adaptors, on the SSH
	// host at its first use), an absolute path is taken as it is. A request
	// names the program by the entry as written here.
	Commands []string `json:"commands,omitempty"`
	// ExecEnv lists the environment variables an exec request may set.
	// Names on the deny list (EnvDenied) cannot be granted.
	ExecEnv []string `json:"exec_env,omitempty"`
	// WriteDirs lists the directories write_file may write under: absolute
	// paths, or $WORKDIR (the pilot's working directory in adaptor calls,
	// the unit's in hook calls), optionally followed by /sub/path.
	WriteDirs []string `json:"write_dirs,omitempty"`
	// WriteReplace lets write_file replace files it did not write in the
	// same call; without it a file that exists is left alone.
	WriteReplace bool `json:"write_replace,omitempty"`
	// Rewrite is what a pre_unit hook may change in a unit.
	Rewrite Rewrite `json:"rewrite"`
	// DataDirs lists directories of this machine that a data plugin's WASI
	// file system holds, each at its own absolute path, to read and write:
	// nothing outside them is reachable (links that lead out are refused),
	// created files are 0600 and directories 0700. Each is created (0700)
	// if missing and opened when the plugin is loaded.
	DataDirs []string `json:"data_dirs,omitempty"`
}

// writable are the directories the plugin itself may write under: its
// write_dirs and data_dirs. A command there is never run (it could
// replace it).
func (c Capabilities) writable() []string { return append(slices.Clone(c.WriteDirs), c.DataDirs...) }

// Rewrite grants a pre_unit hook changes to a unit. A unit's executable is
// never a hook's to change.
type Rewrite struct {
	// Environment lists the variables a hook may add, change or remove.
	// Names on the deny list cannot be granted.
	Environment []string `json:"environment,omitempty"`
	// Arguments lets a hook replace the unit's arguments.
	Arguments bool `json:"arguments,omitempty"`
	// WorkingDirectory lets a hook move the unit to another directory.
	WorkingDirectory bool `json:"working_directory,omitempty"`
}

// any reports whether anything is granted.
func (r Rewrite) any() bool { return len(r.Environment) > 0 || r.Arguments || r.WorkingDirectory }

// Variables that change how a program is loaded or started: the dynamic
// loader's, the shells' start-up files and parsing, interpreters' module
// paths and start-up code, and the programs other programs run on their
// behalf. No manifest can grant them, to exec or to a unit's environment.
// A name is denied when it is in deniedEnv or starts with one of
// deniedEnvPrefixes.
var (
	deniedEnv = setOf(
		// shells: the search path, start-up files, parsing
		"PATH", "IFS", "ENV", "CDPATH", "GLOBIGNORE", "SHELLOPTS", "PS4", "PROMPT_COMMAND",
		"HOME", "SHELL", "ZDOTDIR", "KSH_ENV",
		// the C library: character sets, locales, tunables, name lookup
		"GCONV_PATH", "GETCONF_DIR", "NLSPATH", "LOCPATH", "GLIBC_TUNABLES", "HOSTALIASES",
		"RESOLV_HOST_CONF", "TZDIR",
		// interpreters and runtimes
		"CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "TCLLIBPATH",
		"PHPRC", "PHP_INI_SCAN_DIR", "GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE", "MAKEFLAGS", "MFLAGS",
		// programs that other programs start
		"PAGER", "MANPAGER", "EDITOR", "VISUAL", "BROWSER", "LESSOPEN", "LESSCLOSE",
		"SSH_ASKPASS", "SUDO_ASKPASS",
		// toolkit plugin paths
		"GTK_MODULES", "GTK_PATH", "QT_PLUGIN_PATH", "GIO_MODULE_DIR", "GST_PLUGIN_PATH",
	)
	deniedEnvPrefixes = []string{
		"LD_", "DYLD_", "BASH", "MALLOC_", // loaders, bash (BASH_ENV, BASH_FUNC_*, BASHOPTS), allocators
		"PYTHON", "PERL", "RUBY", "NODE_", "LUA_", "R_", "JULIA_", "OCAML", // interpreters
		"GIT_", "XDG_", "OPENSSL_", // configuration that names programs or loadable modules
		"OMPI_MCA_", "PMIX_MCA_", "PRTE_MCA_", "HYDRA_", "I_MPI_", // MPI launchers
		"SINGULARITY", "APPTAINER", // containers: they pass variables in
	}
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// EnvDenied reports whether name is a variable that no plugin may set,
// because it changes how programs are loaded or started (LD_PRELOAD,
// PATH, BASH_ENV, PYTHONPATH, ...).
func EnvDenied(name string) bool {
	if deniedEnv[name] {
		return true
	}
	for _, p := range deniedEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// deniedWhy says why name is denied, for messages.
func deniedWhy(name string) string {
	return fmt.Sprintf("%q, which changes how programs are loaded or started (the deny list of ABI.md, Threat model: LD_*, PATH, BASH_ENV, PYTHON*, ...), so no plugin may set it", name)
}

// check validates the capabilities of a manifest; field names the key at
// fault.
func (c Capabilities) check() (field, problem string) {
	for _, cmd := range c.Commands {
		switch {
		case cmd == "" || strings.ContainsAny(cmd, "\x00\n"):
			return "capabilities.commands", fmt.Sprintf("holds %q, which is not a command name", cmd)
		case strings.Contains(cmd, "/") && !filepath.IsAbs(cmd):
			return "capabilities.commands", fmt.Sprintf("holds %q: give a bare name (looked up on PATH when the plugin is loaded) or an absolute path", cmd)
		}
	}
	for _, env := range []struct {
		field string
		names []string
	}{{"capabilities.exec_env", c.ExecEnv}, {"capabilities.rewrite.environment", c.Rewrite.Environment}} {
		for _, n := range env.names {
			if !shell.IsName(n) {
				return env.field, fmt.Sprintf("holds %q, which is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", n)
			}
			if EnvDenied(n) {
				return env.field, "holds " + deniedWhy(n)
			}
		}
	}
	if len(c.ExecEnv) > 0 && len(c.Commands) == 0 {
		return "capabilities.exec_env", "grants nothing without capabilities.commands; remove it or grant the commands it is for"
	}
	for _, d := range c.WriteDirs {
		if !filepath.IsAbs(d) && d != workdirToken && !strings.HasPrefix(d, workdirToken+"/") {
			return "capabilities.write_dirs", fmt.Sprintf("holds %q: give absolute directories or %s", d, workdirToken)
		}
	}
	if c.WriteReplace && len(c.WriteDirs) == 0 {
		return "capabilities.write_replace", "grants nothing without capabilities.write_dirs"
	}
	for _, d := range c.DataDirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return "capabilities.data_dirs", fmt.Sprintf("holds %q: give clean absolute directories other than /", d)
		}
	}
	return "", ""
}

const workdirToken = "$WORKDIR"

// Grants says in plain words what the plugin may do outside its sandbox,
// and what a site gives away by granting it: one sentence per grant, for
// `pilot-plugin check` and pilot_plugin_load.
func (p *Plugin) Grants() []string {
	l, c := p.m.Limits, p.m.Capabilities
	out := []string{fmt.Sprintf("Runs sandboxed: at most %d instances at once, each with up to %s of memory and %s per call; answers, command output and written files of at most %s.",
		l.Instances, size(uint64(l.MemoryPages)*64<<10), l.Timeout(), size(uint64(l.OutputBytes)))}
	if len(c.Commands) == 0 {
		out = append(out, "Runs no commands.")
	} else {
		var cmds []string
		for _, name := range c.Commands {
			switch path := p.cmds.local[name]; {
			case path == name:
				cmds = append(cmds, path)
			case path != "":
				cmds = append(cmds, fmt.Sprintf("%q (%s here)", name, path))
			default:
				cmds = append(cmds, fmt.Sprintf("%q (not found on this machine)", name))
			}
		}
		who := "the user the pilot's agent runs as, on the pilot's resource"
		if p.Is(abi.KindAdaptor) {
			who = "the user that submits pilots, on this machine (or, for +ssh URLs, on the SSH host)"
		}
		out = append(out, fmt.Sprintf("Runs %s with any arguments it chooses, as %s; a command that runs code it is given (a shell, python, perl, env, xargs, find, ...) lets the plugin run anything that user can.",
			strings.Join(cmds, ", "), who))
		if len(c.ExecEnv) > 0 {
			out = append(out, fmt.Sprintf("Sets the environment variables %s for those commands.", quoteList(c.ExecEnv)))
		}
	}
	if len(c.WriteDirs) == 0 && len(c.DataDirs) == 0 {
		out = append(out, "Writes no files.")
	} else if len(c.WriteDirs) > 0 {
		what := "creates new files (mode 0600, never executable) under"
		if c.WriteReplace {
			what = "creates and replaces files (mode 0600, never executable) under"
		}
		out = append(out, fmt.Sprintf("Writes files: %s %s, where %s is the unit's working directory in hook calls and the pilot's in adaptor calls; a unit that loads files from there by a relative name (a Python script's modules, a sourced shell file, a Makefile) runs what the plugin wrote.",
			what, quoteList(c.WriteDirs), workdirToken))
	}
	if len(c.DataDirs) > 0 {
		out = append(out, fmt.Sprintf("Reads, writes, renames and removes any file under %s (created files mode 0600, never executable; links that lead out are not followed): whatever is kept there, the plugin can read, change or delete.",
			quoteList(c.DataDirs)))
	}
	if p.Is(abi.KindData) {
		out = append(out, fmt.Sprintf("Keeps the files of Pilot-Data at %s URLs: the host checks every file it gives back against its recorded size and sha256, so the plugin can lose or refuse data, not change it unnoticed.",
			quoteList(schemeList(p.info.DataSchemes))))
	}
	if !p.Is(abi.KindPreUnit) {
		return out
	}
	r := c.Rewrite
	if len(r.Environment) > 0 {
		out = append(out, fmt.Sprintf("Adds, changes or removes the variables %s in each unit's environment; the values it writes are passed as they are, never expanded by a shell.",
			quoteList(r.Environment)))
	}
	if r.Arguments {
		out = append(out, "Replaces each unit's arguments; an argument it writes is passed as one word, never expanded by a shell, but a unit whose executable is an interpreter (sh, bash, python, perl, ...) runs whatever code the plugin gives it, as the unit's user.")
	}
	if r.WorkingDirectory {
		out = append(out, "Moves each unit to another working directory (created if missing): the unit writes its output there, and a unit that runs a relative path runs what lies there.")
	}
	if !r.any() {
		out = append(out, "Changes nothing in a unit: it may only let it run or refuse it.")
	}
	return append(out, "Never changes a unit's executable.")
}

// size writes a byte count for people: 16 MiB, 1 KiB, 1000 bytes.
func size(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func schemeList(schemes []string) []string {
	out := make([]string, len(schemes))
	for i, s := range schemes {
		out[i] = s + "://"
	}
	return out
}
