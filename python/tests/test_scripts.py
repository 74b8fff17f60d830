"""Runs the BigJob-style user scripts of examples/scripts as a user would.

Each script runs in a fresh temporary directory as its cwd, with
COORDINATION_URL naming one backend of tests/env.py (a private redis-server,
or a loopback URL where nothing listens: the lasting local store), under Python 3 and Python 2.7 (the Python-2-only
scripts under 2.7 alone). The tests check the exit status, the printed lines,
the files every unit wrote where BigJob puts them
(<working_directory>/bj-<uuid>/sj-<uuid>/<output>, agent logs beside
bj-<uuid>), and that no process of the run is left behind.

Works on Python 2.7 and 3:
    python3 -m pytest python/tests/test_scripts.py
    cd python && PYENV_VERSION=2.7.18 python2 -m unittest tests.test_scripts
"""
from __future__ import print_function

import ast
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from tests import env
from tests.support import BackendCase, run_process

SCRIPTS = os.path.join(env.REPO, "examples", "scripts")
TIMEOUT = 120  # seconds, for every script run
PY3 = sys.version_info[0] >= 3

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CU_ID = "cu-" + UUID
BJ_ID = "bj-" + UUID
SJ_ID = "sj-" + UUID


def interpreter(version):
    """The command and environment that run a script under Python version
    (3 or 2), with the package on PYTHONPATH."""
    e = dict(os.environ)
    e["PYTHONPATH"] = env.PYTHON_DIR
    if version == 3:
        e.pop("PYENV_VERSION", None)  # so that the python3 shim picks Python 3
        return ([sys.executable] if PY3 else ["python3"]), e
    e["PYENV_VERSION"] = "2.7.18"  # python2 is a pyenv shim
    return ["python2"], e


def have_interpreter(version):
    if version == 3 and PY3:
        return True
    cmd, e = interpreter(version)
    try:
        p = subprocess.Popen(cmd + ["-c", "import sys; sys.exit(sys.version_info[0])"], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.communicate()
    except OSError:
        return False
    return p.returncode == version


def processes_under(directory):
    """Ids of the processes whose cwd is inside directory."""
    prefix = os.path.realpath(directory) + os.sep
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if (cwd + os.sep).startswith(prefix):
            pids.append(int(pid))
    return pids


class Run(object):
    """The outcome of one script run."""

    def __init__(self, name, version, backend, url, cwd):
        self.name, self.version, self.backend, self.url, self.cwd = name, version, backend, url, cwd
        self.status = None
        self.out = self.err = ""
        self.timed_out = False
        self.seconds = 0.0
        self.leftovers = []

    @property
    def lines(self):
        return self.out.splitlines()

    def __str__(self):
        return "%s under Python %d on %s (%s), cwd %s: exit %s after %.1f s%s\n--- stdout\n%s--- stderr\n%s" % (
            self.name, self.version, self.backend, self.url, self.cwd, self.status, self.seconds,
            " (killed: timeout)" if self.timed_out else "", self.out, self.err)


def read(path):
    with open(path) as f:
        return f.read()


class ScriptCase(BackendCase):
    """Each test runs its script against both backends of BackendCase
    (Python 2.7 has no subTest, so the messages name the run)."""

    maxDiff = None

    # --- running -------------------------------------------------------------------------------------

    def run_script(self, name, version, backend, url, args=(), keep=False, **env_extra):
        """Runs examples/scripts/<name> with args in a fresh cwd
        (COORDINATION_URL=url and env_extra in its environment); returns its
        Run. Processes the script left in its cwd are killed unless keep
        (a script that leaves its pilot running on purpose)."""
        if not have_interpreter(version):
            self.skipTest("Python %d is not available" % version)
        cwd = tempfile.mkdtemp(prefix="pytest-script-")
        self.dirs.append(cwd)
        run = Run(name, version, backend, url, cwd)
        cmd, e = interpreter(version)
        e["COORDINATION_URL"] = url
        e.update(env_extra)
        done = run_process(cmd + [os.path.join(SCRIPTS, name)] + list(args), cwd=cwd, env=e, timeout=TIMEOUT)
        run.seconds, run.status, run.timed_out = done.seconds, done.status, done.timed_out
        run.out, run.err = done.out, done.err
        if keep:
            self.addCleanup(self.collect_leftovers, run, cwd)  # should the test fail before it ends them
            return run
        self.collect_leftovers(run, cwd)
        return run

    def collect_leftovers(self, run, cwd):
        """Records in run.leftovers, and kills, the processes left in cwd."""
        # cancel() returns when no process of the pilots is left; allow a moment, then clean up
        deadline = time.time() + 5
        while processes_under(cwd) and time.time() < deadline:
            time.sleep(0.1)
        run.leftovers = processes_under(cwd)
        for pid in run.leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def assert_ran(self, run):
        """Exit status 0, no traceback, the backend that was asked for, and
        no process left behind."""
        self.assertFalse(run.timed_out, "timed out: %s" % run)
        self.assertEqual(run.status, 0, str(run))
        self.assertNotIn("Traceback", run.err, str(run))
        local = "no Redis server at %s; using your lasting local coordination store in " % run.url
        if run.backend == env.LOCAL:
            self.assertIn(local, run.err, "the local store was not used: %s" % run)
        else:
            self.assertNotIn("local coordination store", run.err, "the local store was used: %s" % run)
        self.assertEqual(run.leftovers, [], "processes left in %s after the script ended: %s" % (run.cwd, run))

    def assert_lines(self, run, patterns):
        """Every printed line matches its pattern (a regex matched in full);
        returns the match objects."""
        self.assertEqual(len(run.lines), len(patterns), "lines printed: %s" % run)
        matches = []
        for line, pattern in zip(run.lines, patterns):
            m = re.match("(?:%s)$" % pattern, line)
            self.assertTrue(m, "line %r does not match %r: %s" % (line, pattern, run))
            matches.append(m)
        return matches

    def assert_pilot_dirs(self, run, workdir, pilots):
        """workdir holds exactly the sandboxes bj-<uuid> of the pilots named,
        with each agent's logs beside its sandbox; returns the sandboxes."""
        found = sorted(os.path.basename(d) for d in glob.glob(os.path.join(workdir, "bj-*")))
        self.assertEqual(found, sorted(pilots), "pilot sandboxes in %s: %s" % (workdir, run))
        for bj in pilots:
            for log in ("stdout-%s-agent.txt" % bj, "stderr-%s-agent.txt" % bj):
                self.assertTrue(os.path.isfile(os.path.join(workdir, log)), "no agent log %s: %s" % (log, run))
        return [os.path.join(workdir, bj) for bj in pilots]

    def unit_files(self, run, sandboxes, name):
        """{sj-<uuid>: contents of <sandbox>/sj-<uuid>/<name>} over the pilot sandboxes."""
        out = {}
        for sandbox in sandboxes:
            for f in glob.glob(os.path.join(sandbox, "sj-*", name)):
                sj = os.path.basename(os.path.dirname(f))
                self.assertTrue(re.match(SJ_ID + "$", sj), "unit sandbox %s: %s" % (sj, run))
                out[sj] = read(f)
        return out

    def unit_dirs(self, sandboxes):
        return sorted(os.path.basename(d) for s in sandboxes for d in glob.glob(os.path.join(s, "sj-*")))

    # --- 1. attribute-style descriptions, pilot-direct submission, cu.wait() --------------------------

    def check_pilot_compute_direct(self, version):
        for backend, url in self.backends:
            run = self.run_script("pilot_compute_direct.py", version, backend, url)
            self.assert_ran(run)
            m = self.assert_lines(run, ["Pilot: bigjob:(%s):localhost" % BJ_ID]
                                  + ["CU (%s): Done" % CU_ID, "Details: ({.*})"] * 3
                                  + ["Pilot state after cancel: Done"])
            bj = m[0].group(1)
            sandbox, = self.assert_pilot_dirs(run, os.path.join(run.cwd, "agent"), [bj])
            units = []
            for k in range(3):
                cu_id, details = m[1 + 2 * k].group(1), ast.literal_eval(m[2 + 2 * k].group(1))
                self.assertEqual(details["state"], "Done", str(run))
                self.assertEqual(details["Executable"], "/bin/echo", str(run))
                self.assertEqual(details["Output"], "stdout.txt", str(run))
                self.assertEqual(ast.literal_eval(details["Arguments"]),
                                 ["Hello", "$GREETEE,", "I am CU number", str(k)], str(run))
                self.assertEqual(ast.literal_eval(details["Environment"]), ["GREETEE=World"], str(run))
                sj = details["job-id"]
                self.assertTrue(re.match(SJ_ID + "$", sj), str(run))
                self.assertEqual(read(os.path.join(sandbox, sj, "stdout.txt")),
                                 "Hello World, I am CU number %d\n" % k, str(run))
                self.assertEqual(read(os.path.join(sandbox, sj, "stderr.txt")), "", str(run))
                units.append((cu_id, sj))
            self.assertEqual(len(set(units)), 3, str(run))
            self.assertEqual(self.unit_dirs([sandbox]), sorted(sj for _, sj in units), str(run))

    def test_pilot_compute_direct_python3(self):
        self.check_pilot_compute_direct(3)

    def test_pilot_compute_direct_python2(self):
        self.check_pilot_compute_direct(2)

    # Under Python 2, get_details() gives native str, as BigJob did: a script's
    # `print cu.get_details()` shows {'state': 'Done', ...}, not {u'state': u'Done', ...}.
    def test_pilot_compute_direct_details_native_str_python2(self):
        backend, url = self.backends[-1]
        run = self.run_script("pilot_compute_direct.py", 2, backend, url)
        self.assert_ran(run)
        details = [line for line in run.lines if line.startswith("Details: ")]
        self.assertEqual(len(details), 3, str(run))
        for line in details:
            self.assertIn("'state': 'Done'", line)
            self.assertNotIn("u'", line)

    # --- 2. environment as a dict with int values and as a list, through a ComputeDataService ---------

    def check_simple_ensembles_env(self, version):
        for backend, url in self.backends:
            run = self.run_script("simple_ensembles_env.py", version, backend, url)
            self.assert_ran(run)
            m = self.assert_lines(run, ["Finished Pilot-Job setup. Submitting compute units",
                                        "Waiting for compute units to complete"]
                                  + [r"\* Task (%s) state: Done" % CU_ID] * 8
                                  + ["Terminate Pilot Jobs", "8 tasks done, 0 failed"])
            self.assertEqual(len(set(x.group(1) for x in m[2:10])), 8, str(run))
            workdir = os.path.join(run.cwd, "agent")
            bjs = [os.path.basename(d) for d in glob.glob(os.path.join(workdir, "bj-*"))]
            self.assertEqual(len(bjs), 1, str(run))
            sandbox, = self.assert_pilot_dirs(run, workdir, bjs)
            # environment dict {'TASK_NO': i}: explicit output names
            self.assertEqual(sorted(self.unit_files(run, [sandbox], "stdout.txt").values()),
                             ["I am task number %d\n" % i for i in range(4)], str(run))
            self.assertEqual(list(self.unit_files(run, [sandbox], "stderr.txt").values()), [""] * 4, str(run))
            # environment list ['TASK_NO=%s' % i]: BigJob's default names stdout and stderr
            self.assertEqual(sorted(self.unit_files(run, [sandbox], "stdout").values()),
                             ["I am task number %d\n" % i for i in range(4, 8)], str(run))
            self.assertEqual(list(self.unit_files(run, [sandbox], "stderr").values()), [""] * 4, str(run))
            self.assertEqual(len(self.unit_dirs([sandbox])), 8, str(run))

    def test_simple_ensembles_env_python3(self):
        self.check_simple_ensembles_env(3)

    def test_simple_ensembles_env_python2(self):
        self.check_simple_ensembles_env(2)

    # --- 2b. the original's loose typing: ManyJob over advert://, objects in environments, ----------
    #         plain strings in input_data

    def check_original_styles(self, version):
        for backend, url in self.backends:
            run = self.run_script("original_styles.py", version, backend, url, BIGJOB_COORDINATION_URL=url)
            self.assert_ran(run)
            m = self.assert_lines(run, ["ManyJob job: Done"] * 3 + ["Environment unit: Done", "Input-data unit: Done",
                                                                   "str of the first unit: (<pilot.compute.ComputeUnit object at 0x[0-9a-f]+>)"])
            self.assertIn("coordination URL advert://localhost/?dbtype=sqlite3 names the Advert backend of the original "
                          "BigJob, which is gone; using %s instead" % url, run.err)
            for entry in ("'hi'", "'not-a-data-unit'"):
                warning = "input_data entry %s is not a data unit URL; units that name it run without it" % entry
                self.assertEqual(run.err.count(warning), 1, str(run))
            workdir = os.path.join(run.cwd, "agent")
            sandboxes = glob.glob(os.path.join(workdir, "bj-*"))
            self.assertEqual(len(sandboxes), 2, "the ManyJob pilot and the second service's: %s" % run)
            self.assertEqual(sorted(self.unit_files(run, sandboxes, "manyjob.txt").values()),
                             ["manyjob %d\n" % i for i in range(3)], str(run))
            self.assertEqual(list(self.unit_files(run, sandboxes, "env.txt").values()), [m[5].group(1) + " 3\n"], str(run))
            self.assertEqual(list(self.unit_files(run, sandboxes, "input.txt").values()), ["ran without its input\n"],
                             str(run))

    def test_original_styles_python3(self):
        self.check_original_styles(3)

    def test_original_styles_python2(self):
        self.check_original_styles(2)

    # --- 2c. a workflow across two scripts: print the URLs, reconnect in another process --------------

    def check_reconnect_by_url(self, version):
        for backend, url in self.backends:
            first = self.run_script("leave_running.py", version, backend, url, keep=True)
            self.assert_ran(first)
            m = self.assert_lines(first, ["PCS: %s/pcs/(pcs-%s)" % (re.escape(url), UUID),
                                          "Pilot: (%s/bigjob:(%s):localhost)" % (re.escape(url), BJ_ID)]
                                  + ["CU: (%s/bigjob:%s:localhost:jobs:(%s)) Done" % (re.escape(url), BJ_ID, SJ_ID)] * 3)
            pilot_url, bj, cu_url, sj = m[1].group(1), m[1].group(2), m[2].group(1), m[2].group(2)
            self.assertTrue(processes_under(first.cwd), "the first script's pilot keeps running: %s" % first)

            second = self.run_script("reconnect_by_url.py", version, backend, url, args=(pilot_url, cu_url))
            self.assert_ran(second)
            self.assert_lines(second, ["Pilot state: Running", "CU state: Done, exit code 0", "CU output: unit 0",
                                       "Units of the pilot: 3", "New CU: Done", "Pilot state after cancel: Done"])
            # the first script's pilot ended with the second's cancel, and its units wrote where BigJob puts them
            self.collect_leftovers(first, first.cwd)
            self.assertEqual(first.leftovers, [], "the canceled pilot left processes: %s" % first)
            sandbox, = self.assert_pilot_dirs(first, os.path.join(first.cwd, "agent"), [bj])
            outputs = self.unit_files(first, [sandbox], "stdout.txt")
            self.assertEqual(outputs[sj], "unit 0\n", str(first))
            self.assertEqual(sorted(outputs.values()), ["one more\n", "unit 0\n", "unit 1\n", "unit 2\n"], str(first))

    def test_reconnect_by_url_python3(self):
        self.check_reconnect_by_url(3)

    def test_reconnect_by_url_python2(self):
        self.check_reconnect_by_url(2)

    # --- 2e. the Pilot-Data patterns, and a data unit reconnected by URL in another process ----------

    def check_pilot_data(self, version):
        sshd = env.SSHD()
        self.addCleanup(sshd.stop)
        for backend, url in self.backends:
            remote_dir = tempfile.mkdtemp(prefix="pytest-remote-pd-")  # on this machine, reached over ssh
            self.dirs.append(remote_dir)
            extra = dict(sshd.env(), PILOT_DATA_SSH=sshd.url + remote_dir)
            first = self.run_script("pilot_data.py", version, backend, url, **extra)
            self.assert_ran(first)
            m = self.assert_lines(first, ["Input data unit: Running", "Compute unit: Done",
                                          "Output files: stderr.txt, stdout.txt", "Exported: Hello World!",
                                          "Replicas: 2", "Replicas with the remote one: 3",
                                          "Unit on remote data: Done, Hello World!",
                                          "Output data unit: (%s/bigdata:pds-%s:du-%s)" % (re.escape(url), UUID, UUID)])
            du_url = m[7].group(1)
            kept_remote = glob.glob(os.path.join(remote_dir, "du-*", "test.txt"))
            self.assertEqual([read(k) for k in kept_remote], ["Hello World!\n"] * 2, str(first))
            sandboxes = glob.glob(os.path.join(first.cwd, "agent", "bj-*"))
            self.assertEqual(self.unit_files(first, sandboxes, "stdout.txt"), {}, "output_data moved it: %s" % first)
            kept = glob.glob(os.path.join(first.cwd, "pilot-data", "du-*", "stdout.txt"))
            self.assertEqual([read(k) for k in kept], ["Hello World!\n"], str(first))

            target = tempfile.mkdtemp(prefix="pytest-export-")
            self.dirs.append(target)
            second = self.run_script("reconnect_data_unit.py", version, backend, url, args=(du_url, target))
            self.assert_ran(second)
            self.assert_lines(second, ["State: Running", "File: stderr.txt 0 bytes sha256 e3b0c442[0-9a-f]{56}",
                                       "File: stdout.txt 13 bytes sha256 03ba204e[0-9a-f]{56}",
                                       "Exported: Hello World!"])

    def test_pilot_data_python3(self):
        self.check_pilot_data(3)

    def test_pilot_data_python2(self):
        self.check_pilot_data(2)

    # --- 2d. scripts started at the same moment share one lasting local store -------------------------

    def test_two_scripts_at_once_share_one_local_store(self):
        home = tempfile.mkdtemp(prefix="pytest-home-")
        self.addCleanup(shutil.rmtree, home, True)
        self.addCleanup(env.stop_local_store, home)  # runs first
        url = "redis://localhost:%d" % env.free_port()
        runs = [None, None]

        def run(i):
            runs[i] = self.run_script("pilot_compute_direct.py", 3, env.LOCAL, url, BIGJOB_HOME=home)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store = os.path.join(home, "store")
        for r in runs:
            self.assertTrue(r, "a script did not run")
            self.assert_ran(r)
            self.assertIn("lasting local coordination store in %s" % store, r.err, str(r))
            self.assertEqual(len([l for l in r.lines if re.match(r"CU %s: Done$" % CU_ID, l)]), 3, str(r))
        self.assertEqual(sum("(started now;" in r.err for r in runs), 1, "one of them started the store: %s" % runs)
        self.assertEqual(len(env.store_supervisors(home)), 1, "one store")

    # --- 3. two fork pilots on one decentral ComputeDataService, State.Done, PCS repr ----------------

    def check_pilot_api_decentral(self, version):
        for backend, url in self.backends:
            run = self.run_script("pilot_api_decentral.py", version, backend, url)
            self.assert_ran(run)
            pj = r"PJ: %s/bigjob:(%s):localhost, State: (?:Unknown|Running);" % (re.escape(url), BJ_ID)
            m = self.assert_lines(run, ["Wait for CUs to complete"]
                                  + ["Finished CU (%s)" % CU_ID] * 8
                                  + ["PCS State {", " " + pj + " " + pj, "}",
                                     "Terminate Pilot Compute/Data Service", "Pilots: Done, Done"])
            self.assertEqual(len(set(x.group(1) for x in m[1:9])), 8, str(run))
            pilots = [m[10].group(1), m[10].group(2)]
            self.assertNotEqual(pilots[0], pilots[1], str(run))
            sandboxes = self.assert_pilot_dirs(run, os.path.join(run.cwd, "work"), pilots)
            # units went to whichever pilot had a free slot: look in both sandboxes
            expected = ["1970-01-0%d\n" % (i + 1) for i in range(4)] + ["Hello from unit %d\n" % i for i in range(4)]
            self.assertEqual(sorted(self.unit_files(run, sandboxes, "stdout.txt").values()), sorted(expected),
                             str(run))
            self.assertEqual(list(self.unit_files(run, sandboxes, "stderr.txt").values()), [""] * 8, str(run))
            self.assertEqual(len(self.unit_dirs(sandboxes)), 8, str(run))

    def test_pilot_api_decentral_python3(self):
        self.check_pilot_api_decentral(3)

    def test_pilot_api_decentral_python2(self):
        self.check_pilot_api_decentral(2)

    # --- 4. coupled ensembles: A, barrier, B reading A's sandboxes, barrier, C ------------------------

    def check_coupled_ensembles(self, version):
        for backend, url in self.backends:
            run = self.run_script("coupled_ensembles.py", version, backend, url)
            self.assert_ran(run)
            m = self.assert_lines(run, ["Waiting for stage A"] + ["A task (%s): Done" % CU_ID] * 4
                                  + ["Waiting for stage B"] + ["B task (%s): Done" % CU_ID] * 4
                                  + ["Waiting for stage C", "C task (%s): Done" % CU_ID,
                                     "Stage C output: (.*)/(%s)/(%s)/C-stdout.txt" % (BJ_ID, SJ_ID), "Done"])
            self.assertEqual(len(set(x.group(1) for x in m[1:5] + m[6:10] + m[11:12])), 9, str(run))
            workdir = os.path.join(run.cwd, "ensembles")
            c_line = m[12]
            self.assertEqual(os.path.realpath(c_line.group(1)), os.path.realpath(workdir), str(run))
            sandbox, = self.assert_pilot_dirs(run, workdir, [c_line.group(2)])
            self.assertEqual(sorted(self.unit_files(run, [sandbox], "A-stdout.txt").values()),
                             ["A-task %d\n" % i for i in range(4)], str(run))
            self.assertEqual(sorted(self.unit_files(run, [sandbox], "B-stdout.txt").values()),
                             sorted("A-task %d\nA-task %d\n" % (i, (i + 1) % 4) for i in range(4)), str(run))
            self.assertEqual(self.unit_files(run, [sandbox], "C-stdout.txt"),
                             {c_line.group(3): "".join("      2 A-task %d\n" % i for i in range(4))}, str(run))
            for stage, n in (("A", 4), ("B", 4), ("C", 1)):
                self.assertEqual(list(self.unit_files(run, [sandbox], stage + "-stderr.txt").values()), [""] * n,
                                 str(run))
            self.assertEqual(len(self.unit_dirs([sandbox])), 9, str(run))

    def test_coupled_ensembles_python3(self):
        self.check_coupled_ensembles(3)

    def test_coupled_ensembles_python2(self):
        self.check_coupled_ensembles(2)

    # --- 5. the legacy bigjob API (Python 2 only: print statements, except X, e) ----------------------

    def test_legacy_local_single_python2(self):
        for backend, url in self.backends:
            run = self.run_script("legacy_local_single.py", 2, backend, url)
            self.assert_ran(run)
            m = self.assert_lines(run, ["Pilot Job/BigJob URL: bigjob:(%s):localhost State: (?:Unknown|Running)"
                                        % BJ_ID]
                                  + ["Subjob: bigjob:(%s):localhost:jobs:(%s) State: Done" % (BJ_ID, SJ_ID)] * 3
                                  + ["BigJob state after cancel: Done"])
            bj = m[0].group(1)
            # the relative working directory "agent" is relative to the script's cwd
            sandbox, = self.assert_pilot_dirs(run, os.path.join(run.cwd, "agent"), [bj])
            subjobs = []
            for k in range(3):
                self.assertEqual(m[1 + k].group(1), bj, str(run))
                sj = m[1 + k].group(2)
                self.assertEqual(read(os.path.join(sandbox, sj, "stdout.txt")), "hello_world %d\n" % k, str(run))
                self.assertEqual(read(os.path.join(sandbox, sj, "stderr.txt")), "", str(run))
                subjobs.append(sj)
            self.assertEqual(self.unit_dirs([sandbox]), sorted(subjobs), str(run))

    # --- 5b. file_transfer of a pilot and of units, with the legacy API -------------------------------

    def check_legacy_local_filestaging(self, version):
        for backend, url in self.backends:
            run = self.run_script("legacy_local_filestaging.py", version, backend, url)
            self.assert_ran(run)
            m = self.assert_lines(run, ["Pilot Job/BigJob URL: bigjob:(%s):localhost" % BJ_ID,
                                        "Subjob: bigjob:(%s):localhost:jobs:(%s) State: Done" % (BJ_ID, SJ_ID),
                                        "Output: (.*)/stdout.txt",
                                        "Subjob: bigjob:(%s):localhost:jobs:(%s) State: Failed" % (BJ_ID, SJ_ID),
                                        "Reason: (.*)",
                                        "BigJob state after cancel: Done"])
            bj = m[0].group(1)
            sandbox, = self.assert_pilot_dirs(run, os.path.join(run.cwd, "agent"), [bj])
            # the pilot's file is in its sandbox, the unit's in its working directory
            self.assertEqual(read(os.path.join(sandbox, "pilot.txt")), "Hello from the pilot's sandbox!\n", str(run))
            self.assertEqual(m[2].group(1), os.path.join(sandbox, m[1].group(2)), str(run))
            self.assertEqual(read(os.path.join(sandbox, m[1].group(2), "test.txt")), "Hello World!\n", str(run))
            self.assertEqual(read(os.path.join(sandbox, m[1].group(2), "stdout.txt")),
                             "Hello World!\nHello from the pilot's sandbox!\n", str(run))
            # the failed entry is named, with the fix; the unit never ran
            entry = "ssh://%s > SUBJOB_WORK_DIR" % os.path.join(run.cwd, "missing.txt")
            self.assertIn('file_transfer "%s"' % entry, m[4].group(1), str(run))
            self.assertIn("check the path", m[4].group(1), str(run))
            self.assertFalse(os.path.exists(os.path.join(sandbox, m[3].group(2), "stdout")), str(run))

    def test_legacy_local_filestaging_python3(self):
        self.check_legacy_local_filestaging(3)

    def test_legacy_local_filestaging_python2(self):
        self.check_legacy_local_filestaging(2)

    # --- 6. pilot API in Python 2 syntax, import saga, redis://@host:port, shared working dir --------

    def test_local_coupled_ensembles_python2(self):
        for backend, url in self.backends:
            run = self.run_script("local_coupled_ensembles.py", 2, backend, url)
            self.assert_ran(run)
            names = sorted("%s%d" % (kind, i) for kind in "ABC" for i in range(4))
            m = self.assert_lines(run, ["Waiting for A and B tasks to complete...",
                                        "Waiting for C tasks to complete..."]
                                  + [r"Task %s \((%s)\): Done" % (n, CU_ID) for n in names] + ["Done"])
            self.assertEqual(len(set(x.group(1) for x in m[2:14])), 12, str(run))
            workdir = os.path.join(run.cwd, "example1")
            bjs = [os.path.basename(d) for d in glob.glob(os.path.join(workdir, "bj-*"))]
            self.assertEqual(len(bjs), 1, str(run))
            sandbox, = self.assert_pilot_dirs(run, workdir, bjs)
            # a relative working_directory is relative to the pilot sandbox, shared by the units
            shared = os.path.join(sandbox, "shared")
            expected = {}
            for i in range(4):
                expected["A-%d.txt" % i] = "A-task %d\n" % i
                expected["B-%d.txt" % i] = "B-task %d\n" % i
                expected["C-%d.txt" % i] = "A-task %d\nB-task %d\n" % (i, i)
                for kind in "ABC":
                    expected["%s-%d.err" % (kind, i)] = ""
            found = dict((name, read(os.path.join(shared, name))) for name in os.listdir(shared))
            self.assertEqual(found, expected, str(run))


if __name__ == "__main__":
    unittest.main()
