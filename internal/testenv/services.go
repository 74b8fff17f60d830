package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The batch systems and MPI that tests use for real. scripts/install-deps.sh
// installs them; scripts/services/start.sh (make services, which make test
// runs) starts SLURM and SGE; scripts/services/torque.sh (make test-pbs)
// provides the PBS commands. A test that needs one calls SLURM, SGE, PBS or
// MPI first: when the component is not there the test fails saying how to
// get it, or is skipped if BIGJOB_TEST_SKIP names it (see Require).
//
// Each check runs once per test binary, takes at most checkTimeout, and its
// result is shared by every test of the binary.

// checkTimeout bounds each command a check runs.
const checkTimeout = 5 * time.Second

type check struct {
	once sync.Once
	ok   bool
	how  string
}

func (c *check) result(f func() (bool, string)) (bool, string) {
	c.once.Do(func() { c.ok, c.how = f() })
	return c.ok, c.how
}

var slurmCheck, sgeCheck, pbsCheck, mpiCheck check

// runCheck runs a command of a check, with checkTimeout, and returns its
// combined output.
func runCheck(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second // a child that keeps the pipe open does not hold us
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %v", checkTimeout)
	}
	return strings.TrimSpace(string(out)), err
}

// withOutput is err, followed by the command's output if it printed any.
func withOutput(err error, out string) string {
	if out == "" {
		return err.Error()
	}
	return err.Error() + ": " + out
}

// commandLine is name and args as one would type them.
func commandLine(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}

const (
	slurmHow = "start it with scripts/services/slurm.sh (make services)"
	sgeHow   = "start it with scripts/services/sge.sh (make services)"
	pbsHow   = "install it with scripts/services/torque.sh (make test-pbs; it replaces gridengine-client, sge.sh puts that back)"
	mpiHow   = "install openmpi-bin and libopenmpi-dev (scripts/install-deps.sh does)"
)

// SLURMAvailable reports whether the single-host SLURM of
// scripts/services/slurm.sh takes jobs (`sinfo -h -o %T` says idle, mixed,
// allocated or completing) and, if not, how to start it.
func SLURMAvailable() (bool, string) {
	return slurmCheck.result(func() (bool, string) {
		if _, err := exec.LookPath("sinfo"); err != nil {
			return false, "sinfo is not on PATH: install slurm-wlm (scripts/install-deps.sh), then " + slurmHow
		}
		args := []string{"-h", "-o", "%T"}
		out, err := runCheck("sinfo", args...)
		if err != nil {
			return false, fmt.Sprintf("%s: %s; %s", commandLine("sinfo", args), withOutput(err, out), slurmHow)
		}
		for _, state := range strings.Fields(out) {
			switch state {
			case "idle", "mixed", "allocated", "completing":
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s says %q, not idle/mixed/allocated; %s", commandLine("sinfo", args), out, slurmHow)
	})
}

// SLURM fails or skips (component "slurm") the test unless SLURM takes jobs.
func SLURM(t testing.TB) {
	t.Helper()
	ok, how := SLURMAvailable()
	Require(t, "slurm", ok, how)
}

// SGEAvailable reports whether the single-host Son of Grid Engine of
// scripts/services/sge.sh takes jobs (`qstat -f` lists an all.q instance
// without state flags such as u, E, d, a) and, if not, how to start it.
func SGEAvailable() (bool, string) {
	return sgeCheck.result(func() (bool, string) {
		if _, err := exec.LookPath("qconf"); err != nil {
			return false, "qconf is not on PATH: gridengine-client is not installed (slurm-wlm-torque replaces it); " + sgeHow
		}
		out, err := runCheck("qstat", "-f")
		if err != nil {
			return false, fmt.Sprintf("qstat -f: %s; %s", withOutput(err, out), sgeHow)
		}
		var bad []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], "all.q@") {
				continue
			}
			// queuename qtype resv/used/tot load_avg arch [states]
			if len(f) == 5 {
				return true, ""
			}
			bad = append(bad, line)
		}
		if len(bad) > 0 {
			return false, fmt.Sprintf("qstat -f: queue all.q is in an unusable state:\n%s\n%s", strings.Join(bad, "\n"), sgeHow)
		}
		return false, fmt.Sprintf("qstat -f lists no all.q queue:\n%s\n%s", out, sgeHow)
	})
}

// SGE fails or skips (component "sge") the test unless SGE takes jobs in
// all.q (which has the parallel environment smp).
func SGE(t testing.TB) {
	t.Helper()
	ok, how := SGEAvailable()
	Require(t, "sge", ok, how)
}

// PBSAvailable reports whether the PBS commands qsub, qstat and qdel of
// slurm-wlm-torque are installed (they submit to SLURM, which must take
// jobs too) and, if not, how to get them. Torque and OpenPBS themselves are
// not in Debian 12.
func PBSAvailable() (bool, string) {
	return pbsCheck.result(func() (bool, string) {
		out, err := runCheck("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "slurm-wlm-torque")
		if err != nil || !strings.HasPrefix(out, "ii") {
			return false, "slurm-wlm-torque is not installed: " + pbsHow
		}
		for _, c := range []string{"qsub", "qstat", "qdel"} {
			if _, err := exec.LookPath(c); err != nil {
				return false, fmt.Sprintf("%s is not on PATH: %s", c, pbsHow)
			}
		}
		if ok, how := SLURMAvailable(); !ok {
			return false, "the PBS commands of slurm-wlm-torque submit to SLURM, which is not available: " + how
		}
		return true, ""
	})
}

// PBS fails or skips (component "pbs") the test unless the PBS commands of
// slurm-wlm-torque work.
func PBS(t testing.TB) {
	t.Helper()
	ok, how := PBSAvailable()
	Require(t, "pbs", ok, how)
}

// mpiPaths are the mpicc and mpirun that mpiCheck found.
var mpiPaths [2]string

// MPIAvailable returns the paths of OpenMPI's mpicc and mpirun, or how to
// install them. OpenMPI's mpirun refuses to run as root unless it is given
// --allow-run-as-root (or OMPI_ALLOW_RUN_AS_ROOT=1 and
// OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1).
func MPIAvailable() (mpicc, mpirun string, ok bool, how string) {
	ok, how = mpiCheck.result(func() (bool, string) {
		var missing []string
		for i, c := range []string{"mpicc", "mpirun"} {
			p, err := exec.LookPath(c)
			if err != nil {
				missing = append(missing, c)
			}
			mpiPaths[i] = p
		}
		if len(missing) > 0 {
			return false, strings.Join(missing, " and ") + " not on PATH: " + mpiHow
		}
		if out, err := runCheck(mpiPaths[1], "--version"); err != nil {
			return false, fmt.Sprintf("mpirun --version: %s; %s", withOutput(err, out), mpiHow)
		}
		return true, ""
	})
	if !ok {
		return "", "", false, how
	}
	return mpiPaths[0], mpiPaths[1], true, ""
}

// MPI fails or skips (component "mpi") the test unless OpenMPI's mpicc and
// mpirun are there, and returns their paths.
func MPI(t testing.TB) (mpicc, mpirun string) {
	t.Helper()
	mpicc, mpirun, ok, how := MPIAvailable()
	Require(t, "mpi", ok, how)
	return mpicc, mpirun
}
