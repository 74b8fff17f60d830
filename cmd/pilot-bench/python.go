package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bigjob-go/bigjob/core"
)

// pythonCases runs the Python benchmarks (bench/*.py) with Python 3 and
// Python 2.7 against the same store and collects their JSON lines. They
// need the package built (make python-lib) and run from the source tree.
func pythonCases(ctx context.Context, o core.Options) ([]result, error) {
	root, err := sourceRoot()
	if err != nil {
		return nil, err
	}
	interpreters := []struct {
		name string
		cmd  []string
		env  []string
	}{
		{"python3", []string{"python3"}, nil},
		{"python2.7", []string{"python2"}, []string{"PYENV_VERSION=2.7.18"}},
	}
	var out []result
	for _, py := range interpreters {
		for _, script := range [][]string{
			{"bench/python_submit.py", o.CoordinationURL, strconv.Itoa(*flagPyUnits)},
			{"bench/throughput.py", o.CoordinationURL},
		} {
			cmd := exec.CommandContext(ctx, py.cmd[0], append(py.cmd[1:], script...)...)
			cmd.Dir = root
			cmd.Env = append(append(os.Environ(), "PYTHONPATH="+filepath.Join(root, "python")), py.env...)
			cmd.Stderr = os.Stderr
			b, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", py.name, script[0], err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var r result
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					return nil, fmt.Errorf("%s %s printed %q: %w", py.name, script[0], line, err)
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// sourceRoot is the repository root (where bench/ and python/ are): the
// current directory or a parent of it.
func sourceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "bench", "python_submit.py")); err == nil {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("run pilot-bench from the source tree (bench/python_submit.py not found above %s)", dir)
		}
	}
}
