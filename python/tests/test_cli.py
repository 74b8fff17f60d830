"""Tests of pilot-cli (pilot/cli.py), driven as a user would: each call is a
new `python -m pilot.cli` process with HOME and the working directory set to
temporary directories, and a timeout.

Flows that span several calls use a private redis-server (tests/env.py);
TestWalkthrough runs the original documentation's sequence on it and on a
loopback URL where nothing listens (the lasting local store, which outlives
each call). Single-call actions (--version, usage errors) run against both.
Every call uses the library home of this process (env.library_home()), so
that the test and its pilot-cli calls share one local store.
Every pilot a test starts is canceled in tearDown.

Works on Python 2.7 and 3:
    python3 -m pytest python/tests/test_cli.py
    cd python && PYENV_VERSION=2.7.18 python2 -m unittest tests.test_cli
"""
from __future__ import print_function

import glob
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from tests import env
from tests.support import run_process

TIMEOUT = 60  # seconds, for every pilot-cli call
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PILOT_URL = r"redis://(?:127\.0\.0\.1|localhost):\d+/bigjob:bj-" + UUID + r":[^\s:]+"
CU_URL = PILOT_URL + r":jobs:sj-" + UUID
PY3 = sys.version_info[0] >= 3


class Result(object):
    def __init__(self, args, status, out, err):
        self.args, self.status, self.out, self.err = args, status, out, err

    def __repr__(self):
        return "pilot-cli %s: exit %s\n--- stdout:\n%s--- stderr:\n%s" % (
            " ".join(self.args), self.status, self.out, self.err)


def wait_for(predicate, timeout=TIMEOUT, interval=0.2):
    """Polls predicate() until it returns a true value (returned), or
    returns the last false value after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)


def other_interpreter():
    """The command and environment of the other Python (2.7 under 3 and 3
    under 2.7), or None when it is not installed."""
    e = dict(os.environ)
    e["PYTHONPATH"] = env.PYTHON_DIR
    if PY3:
        e["PYENV_VERSION"] = "2.7.18"  # python2 is a pyenv shim
        cmd, want = ["python2"], 2
    else:
        e.pop("PYENV_VERSION", None)
        cmd, want = ["python3"], 3
    try:
        p = subprocess.Popen(cmd + ["-c", "import sys; sys.exit(sys.version_info[0])"], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.communicate()
    except OSError:
        return None
    return (cmd, e) if p.returncode == want else None


class CLICase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        backends, cls._servers = env.backends()
        d = dict(backends)
        cls.redis = d.get("redis-server")
        cls.local = d[env.LOCAL]

    @classmethod
    def tearDownClass(cls):
        for s in cls._servers:
            s.stop()

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="pytest-cli-home-")
        self.work = tempfile.mkdtemp(prefix="pytest-cli-work-")
        self.started = []  # pilot URLs printed by --submit_pilot
        self.calls = []  # the Result of every call

    def tearDown(self):
        urls = list(self.started)
        try:
            urls += [u for u in self.saved_pilots() if u not in urls]
        except Exception:
            pass
        if urls:
            import pilot
            for url in urls:
                try:
                    pilot.PilotCompute(pilot_url=url).cancel()
                except Exception as e:
                    sys.stderr.write("tearDown: cancel %s: %s\n" % (url, e))
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def need_redis(self):
        if self.redis is None:
            self.skipTest("no redis-server (BIGJOB_TEST_NO_REDIS=1)")
        return self.redis

    # Running the cli ---------------------------------------------------------

    def cli(self, *args, **kwargs):
        """Runs pilot-cli with args; returns a Result. kwargs: timeout,
        base_env (default os.environ), env (extra variables), cmd (the
        command, default this interpreter's -m pilot.cli)."""
        timeout = kwargs.pop("timeout", TIMEOUT)
        e = dict(kwargs.pop("base_env", os.environ))
        e.update({"PYTHONPATH": env.PYTHON_DIR, "HOME": self.home, "BIGJOB_HOME": env.library_home()})
        e.update(kwargs.pop("env", {}))
        cmd = kwargs.pop("cmd", [sys.executable, "-m", "pilot.cli"])
        done = run_process(cmd + list(args), cwd=self.work, env=e, timeout=timeout)
        r = Result(args, done.status, done.out, done.err)
        self.calls.append(r)
        if done.timed_out:
            self.fail("timed out after %ds: %r" % (timeout, r))
        for url in re.findall(r"^Started Pilot: (\S+)$", r.out, re.M):
            self.started.append(url)
        return r

    def ok(self, *args, **kwargs):
        r = self.cli(*args, **kwargs)
        self.assertEqual(r.status, 0, r)
        self.assertNotIn("Traceback", r.err, r)
        return r

    def state_file(self):
        return os.path.join(self.home, ".bigjob", "pilot-cli.p")

    def saved_pilots(self):
        if not os.path.exists(self.state_file()):
            return []
        with open(self.state_file(), "rb") as f:
            return pickle.load(f)

    def submit_pilot(self, url, *extra):
        r = self.ok("-c", url, "--submit_pilot", "fork://localhost", *extra)
        m = re.match(r"^Started Pilot: (%s)\n$" % PILOT_URL, r.out)
        self.assertTrue(m, r)
        return m.group(1)

    def pilot_state(self, pilot_url):
        r = self.ok("--list_pilots")
        m = re.search(r"^%s\t(\S+)$" % re.escape(pilot_url), r.out, re.M)
        return m.group(1) if m else None

    def running_pilot(self, *extra, **kwargs):
        url = self.submit_pilot(kwargs.get("store") or self.need_redis(), *extra)
        state = wait_for(lambda: self.pilot_state(url) == "Running" and "Running")
        self.assertEqual(state, "Running", "pilot %s did not start" % url)
        return url

    def cu_state(self, cu_url):
        r = self.ok("--get_cu_state", cu_url)
        m = re.match(r"^Compute Unit: %s State: (\S+)\n$" % re.escape(cu_url), r.out)
        self.assertTrue(m, r)
        return m.group(1)

    def submit_cu(self, pilot_url, *command):
        r = self.ok("--submit_cu", pilot_url, *command)
        m = re.match(r"^Started ComputeUnit: (%s)\n$" % CU_URL, r.out)
        self.assertTrue(m, r)
        self.assertTrue(m.group(1).startswith(pilot_url + ":jobs:sj-"), r)
        return m.group(1)

    def outputs(self, name="stdout.txt"):
        """{sj-<uuid>: contents of <work>/bj-*/sj-<uuid>/<name>}."""
        out = {}
        for f in glob.glob(os.path.join(self.work, "bj-*", "sj-*", name)):
            with open(f) as fh:
                out[os.path.basename(os.path.dirname(f))] = fh.read()
        return out

    def usage_error(self, r, *words):
        """r is a usage error (exit 2, no traceback) whose message holds words."""
        self.assertEqual(r.status, 2, r)
        self.assertNotIn("Traceback", r.err, r)
        last = r.err.strip().splitlines()[-1]
        self.assertTrue(last.startswith("pilot-cli: error: "), r)
        for w in words:
            self.assertIn(w, last, r)
        self.assertEqual(r.out, "", r)


class TestPilots(CLICase):
    def test_submit_list_and_cancel_pilot(self):
        self.assertFalse(os.path.exists(os.path.join(self.home, ".bigjob")))
        r = self.ok("--list_pilots")
        self.assertEqual(r.out.splitlines()[1:4], ["Pilot Compute" + "\t" * 9 + "State", "-" * 101,
                                                   "No pilot found"], r)

        url = self.submit_pilot(self.need_redis(), "--number_cores", "2", "--cores_per_node", "2")
        # ~/.bigjob was created; the list is a protocol-2 pickle
        with open(self.state_file(), "rb") as f:
            self.assertEqual(f.read(2), b"\x80\x02")
        self.assertEqual(self.saved_pilots(), [url])

        state = wait_for(lambda: self.pilot_state(url) == "Running" and "Running")
        self.assertEqual(state, "Running", "pilot %s did not start" % url)
        import pilot
        pc = pilot.PilotCompute(pilot_url=url)
        pcd = json.loads(pc.get_details()["description"])
        self.assertEqual(pcd["service_url"], "fork://localhost")
        self.assertEqual(os.path.realpath(pcd["working_directory"]), os.path.realpath(self.work))
        self.assertEqual((pcd["number_of_processes"], pcd["processes_per_node"]), (2, 2))
        self.assertEqual(len(glob.glob(os.path.join(self.work, "bj-*"))), 1)

        r = self.ok("--cancel_pilot", url)
        self.assertEqual(r.out, "Terminated Pilot: %s\n" % url)
        self.assertEqual(pc.get_state(), "Done")
        self.assertEqual(self.saved_pilots(), [])
        r = self.ok("--list_pilots")
        self.assertIn("No pilot found", r.out)
        self.assertNotIn(url, r.out)
        r = self.ok("--list_cus", url)
        self.assertIn("State: Done\n", r.out)

    def test_submit_pilot_by_description(self):
        redis = self.need_redis()
        wd = os.path.join(self.work, "pilots")
        os.mkdir(wd)
        pcd = "{'service_url': 'fork://localhost', 'number_of_processes': 3, 'working_directory': %r}" % wd
        r = self.ok("-c", redis, "--submit_pilot", "--pilot_description", pcd)
        m = re.match(r"^Started Pilot: (%s)\n$" % PILOT_URL, r.out)
        self.assertTrue(m, r)
        url = m.group(1)
        self.assertEqual(self.saved_pilots(), [url])
        state = wait_for(lambda: self.pilot_state(url) == "Running" and "Running")
        self.assertEqual(state, "Running")
        self.assertEqual(len(glob.glob(os.path.join(wd, "bj-*"))), 1)
        import pilot
        self.assertEqual(pilot.PilotCompute(pilot_url=url).get_free_nodes(), 3)

    def test_list_pilots_of_several_pilots_and_both_interpreters(self):
        redis = self.need_redis()
        a = self.submit_pilot(redis)
        other = other_interpreter()
        if other is None:
            b = self.submit_pilot(redis)
        else:  # the other Python appends to the same pickled list
            cmd, e = other
            r = self.ok("-c", redis, "--submit_pilot", "fork://localhost", cmd=cmd + ["-m", "pilot.cli"],
                        base_env=e)
            b = re.match(r"^Started Pilot: (\S+)\n$", r.out).group(1)
        self.assertEqual(self.saved_pilots(), [a, b])
        r = self.ok("--list_pilots")
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "")
        self.assertEqual(lines[-1], "")
        self.assertEqual([l.split("\t")[0] for l in lines[3:-1]], [a, b], r)
        self.ok("--cancel_pilot", a)
        self.assertEqual(self.saved_pilots(), [b])

    def test_clean(self):
        os.mkdir(os.path.join(self.home, ".bigjob"))
        gone = "redis://127.0.0.1:%d/bigjob:bj-gone:localhost" % env.free_port()
        with open(self.state_file(), "wb") as f:
            pickle.dump([gone], f, 2)
        # a pilot whose store is gone is listed with the error
        r = self.ok("--list_pilots", env={"BIGJOB_NO_EMBEDDED_REDIS": "1"})
        self.assertIn(gone + "\tUnknown (", r.out)
        r = self.ok("--clean")
        self.assertEqual(r.out, "")
        self.assertFalse(os.path.exists(self.state_file()))
        self.ok("--clean")  # nothing to remove is fine
        self.assertIn("No pilot found", self.ok("--list_pilots").out)

    def test_corrupt_state_file_is_ignored(self):
        os.mkdir(os.path.join(self.home, ".bigjob"))
        with open(self.state_file(), "wb") as f:
            f.write(b"not a pickle")
        r = self.ok("--list_pilots")
        self.assertIn("No pilot found", r.out)
        self.assertIn("pilot-cli: warning:", r.err)


class TestUnits(CLICase):
    def test_submit_run_list_get_and_wait(self):
        p = self.running_pilot("--number_cores", "2")

        cu1 = self.submit_cu(p, "/bin/echo", "hello", "cli")

        r = self.ok("--run_cu", p, "/bin/echo", "run")
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 3, r)
        m = re.match(r"^Started ComputeUnit: (%s)$" % CU_URL, lines[0])
        self.assertTrue(m, r)
        cu2 = m.group(1)
        self.assertEqual(lines[1:], ["Waiting for termination", "CU %s terminated" % cu2])
        self.assertEqual(self.cu_state(cu2), "Done")

        # arguments that start with "-" after --
        r = self.ok("--run_cu", p, "--", "/bin/echo", "-n", "dash")
        cu3 = re.match(r"^Started ComputeUnit: (\S+)\n", r.out).group(1)

        # a description literal
        r = self.ok("--run_cu", p, "--compute_unit_description",
                    "{'executable': '/bin/echo', 'arguments': ['$GREETING'], "
                    "'environment': {'GREETING': 'from a description'}, 'output': 'stdout.txt'}")
        cu4 = re.match(r"^Started ComputeUnit: (\S+)\n", r.out).group(1)
        self.assertTrue(r.out.endswith("CU %s terminated\n" % cu4), r)

        r = self.ok("--wait_cus", p)
        self.assertEqual(r.out, "Waiting for termination\nAll CUs of %s terminated\n" % p)
        self.assertEqual(self.cu_state(cu1), "Done")

        sj = lambda url: url.rsplit(":", 1)[-1]
        self.assertEqual(self.outputs(), {sj(cu1): "hello cli\n", sj(cu2): "run\n", sj(cu3): "dash",
                                          sj(cu4): "from a description\n"})
        self.assertEqual(self.outputs("stderr.txt"), {sj(cu1): "", sj(cu2): "", sj(cu3): ""})

        r = self.ok("--list_cus", p)
        lines = r.out.splitlines()
        self.assertEqual(lines[:5], ["", "Pilot Compute: %s" % p, "State: Running",
                                     "#\tCompute Unit" + "\t" * 5 + "State\tQueue\tRuntime", "-" * 89], r)
        self.assertEqual(lines[-1], "")
        rows = lines[5:-1]
        self.assertEqual(len(rows), 4, r)
        for i, row in enumerate(rows):
            self.assertTrue(re.match(r"^%d\tsj-%s\t\tDone\t\d+\.\d\t\d+\.\d$" % (i + 1, UUID), row), row)
        self.assertEqual(sorted(row.split("\t")[1] for row in rows), sorted(sj(u) for u in (cu1, cu2, cu3, cu4)))

    def test_list_cus_of_pilot_without_units_and_wait_returns(self):
        p = self.running_pilot()
        r = self.ok("--list_cus", p)
        self.assertIn("\nNo Compute Unit found.\n", r.out)
        r = self.ok("--wait_cus", p, timeout=30)
        self.assertIn("terminated", r.out)

    def test_cancel_cu(self):
        p = self.running_pilot()
        cu = self.submit_cu(p, "/bin/sleep", "300")
        state = wait_for(lambda: self.cu_state(cu) == "Running" and "Running")
        self.assertEqual(state, "Running")
        r = self.ok("--cancel_cu", cu)
        self.assertEqual(r.out, "Terminated CU: %s\n" % cu)
        self.assertEqual(wait_for(lambda: self.cu_state(cu) == "Canceled" and "Canceled", timeout=30), "Canceled")
        # the pilot is free again: the next unit runs at once
        r = self.ok("--run_cu", p, "/bin/true", timeout=30)
        self.assertIn("terminated", r.out)
        self.ok("--wait_cus", p, timeout=30)
        rows = [l for l in self.ok("--list_cus", p).out.splitlines() if re.match(r"^\d+\t", l)]
        self.assertEqual(sorted(l.split("\t")[3] for l in rows), ["Canceled", "Done"])


class TestWalkthrough(CLICase):
    """The sequence of the original's documentation, one pilot-cli call
    each: create a pilot, submit units, list them, wait, cancel. The pilot
    outlives each call on a real Redis and, where nothing listens, on the
    lasting local store. Units are submitted from both interpreters."""

    def walkthrough(self, store):
        p = self.running_pilot("--number_cores", "2", store=store)
        cu1 = self.submit_cu(p, "/bin/echo", "first")
        other = other_interpreter()
        if other is None:
            cu2 = self.submit_cu(p, "/bin/echo", "second")
        else:
            cmd, e = other
            r = self.ok("--submit_cu", p, "/bin/echo", "second", cmd=cmd + ["-m", "pilot.cli"], base_env=e)
            cu2 = re.match(r"^Started ComputeUnit: (%s)\n$" % CU_URL, r.out).group(1)

        r = self.ok("--wait_cus", p)
        self.assertEqual(r.out, "Waiting for termination\nAll CUs of %s terminated\n" % p)
        rows = [l for l in self.ok("--list_cus", p).out.splitlines() if re.match(r"^\d+\t", l)]
        self.assertEqual(sorted(l.split("\t")[1] for l in rows), sorted(u.rsplit(":", 1)[1] for u in (cu1, cu2)))
        self.assertEqual([l.split("\t")[3] for l in rows], ["Done", "Done"])
        self.assertEqual((self.cu_state(cu1), self.cu_state(cu2)), ("Done", "Done"))
        sj = lambda url: url.rsplit(":", 1)[-1]
        self.assertEqual(self.outputs(), {sj(cu1): "first\n", sj(cu2): "second\n"})

        r = self.ok("--cancel_pilot", p)
        self.assertEqual(r.out, "Terminated Pilot: %s\n" % p)
        self.assertIn("No pilot found", self.ok("--list_pilots").out)
        self.assertIn("State: Done\n", self.ok("--list_cus", p).out)
        return p

    def test_on_redis(self):
        self.walkthrough(self.need_redis())

    def test_on_the_local_store(self):
        self.walkthrough(self.local)
        submit = [r for r in self.calls if "--submit_pilot" in r.args][0]
        self.assertIn("no Redis server at %s; using your lasting local coordination store in %s"
                      % (self.local, os.path.join(env.library_home(), "store")), submit.err)
        self.assertEqual(submit.err.count("\n"), 1, "one warning line: %r" % submit)


EXPLAIN_KEYS = set(["unit", "state", "queue", "queue_length", "slots", "pilot", "attempts", "max_attempts",
                    "lost_reason", "reason", "summary", "pilots"])
OUTLOOK_KEYS = set(["name", "state", "slots", "last_heartbeat", "heartbeat_age_s", "can_take", "why"])


class TestExplainAndJSON(CLICase):
    def json_of(self, *args, **kwargs):
        """Runs pilot-cli with args; stdout must be exactly one JSON document."""
        r = self.ok(*args, **kwargs)
        try:
            return json.loads(r.out)
        except ValueError as e:
            self.fail("not one JSON document (%s): %r" % (e, r))

    def queued_unit(self):
        """A unit waiting in the queue of a service without pilots; returns
        its URL and id."""
        import pilot
        pcs = pilot.PilotComputeService(self.need_redis())
        self.addCleanup(pcs.cancel)
        cds = pilot.ComputeDataService()
        cds.add_pilot_compute_service(pcs)
        cu = cds.submit_compute_unit({"executable": "/bin/true"})
        self.assertEqual(cu.get_state(), "Unknown")  # written: other processes see it
        return cu.get_url(), cu.get_id()

    def test_explain_unit_without_pilot(self):
        url, cu_id = self.queued_unit()
        r = self.ok("explain", url)
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "the unit waits in the service queue, but the service has no pilot: create one", r)
        self.assertEqual(lines[1:], [
            "Unit:         %s" % cu_id,
            "State:        Unknown",
            "Queue:        service (1 unit waiting)",
            "Slots:        1",
            "Pilot:        none",
            "Attempts:     0 of 3",
            "Lost reason:  none",
            "Reason:       none",
            "Pilots:       none",
        ], r)
        self.assertEqual(self.ok("--explain", url).out, r.out)

        for args in (("explain", url, "--json"), ("explain", "--json", url), ("--json", "--explain", url)):
            d = self.json_of(*args)
            self.assertEqual(set(d), EXPLAIN_KEYS, args)
            self.assertEqual(d["pilots"], [])
            self.assertEqual((d["unit"], d["state"], d["queue"], d["attempts"], d["max_attempts"]),
                             (cu_id, "Unknown", "service", 0, 3))
            self.assertEqual((d["pilot"], d["lost_reason"], d["reason"]), (None, None, None))
            self.assertIn("has no pilot", d["summary"])

    def test_explain_and_listings_with_a_pilot(self):
        p = self.running_pilot("--number_cores", "2")
        name = p.split("/", 3)[3]
        cu = self.submit_cu(p, "/bin/echo", "hi")
        self.assertEqual(wait_for(lambda: self.cu_state(cu) == "Done" and "Done"), "Done")

        r = self.ok("explain", cu)
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "the unit is Done", r)
        self.assertIn("State:        Done", lines)
        self.assertIn("Queue:        %s (0 units waiting)" % name, lines)
        self.assertIn("Attempts:     1 of 3", lines)
        self.assertEqual(lines[-2], "Pilots:", r)
        self.assertTrue(re.match(r"^  %s  Running  2 slots  last heartbeat \d+\.\d s ago  can take it$" % re.escape(name),
                                 lines[-1]), r)

        d = self.json_of("explain", cu, "--json")
        self.assertEqual(set(d), EXPLAIN_KEYS)
        self.assertEqual((d["state"], d["summary"], d["queue"], d["slots"]), ("Done", "the unit is Done", name, 1))
        self.assertEqual(d["pilot"], name, d)
        self.assertEqual(len(d["pilots"]), 1, d)
        o = d["pilots"][0]
        self.assertEqual(set(o), OUTLOOK_KEYS)
        self.assertEqual((o["name"], o["state"], o["slots"], o["can_take"], o["why"]), (name, "Running", 2, True, None))
        self.assertTrue(o["heartbeat_age_s"] >= 0 and o["last_heartbeat"], o)

        self.assertEqual(self.json_of("--list_pilots", "--json"),
                         {"pilots": [{"url": p, "state": "Running", "error": None}]})
        d = self.json_of("--list_cus", p, "--json")
        self.assertEqual((sorted(d), d["url"], d["state"]), (["state", "units", "url"], p, "Running"))
        self.assertEqual(len(d["units"]), 1, d)
        u = d["units"][0]
        self.assertEqual(sorted(u), ["id", "queue_time", "run_time", "state", "url"])
        self.assertEqual((u["url"], u["state"]), (cu, "Done"))
        self.assertEqual(u["id"][3:], cu.rsplit(":sj-", 1)[1])
        self.assertTrue(isinstance(u["queue_time"], float) and u["run_time"] >= 0, u)
        self.assertEqual(self.json_of("--get_cu_state", cu, "--json"), {"url": cu, "state": "Done"})

        d = self.json_of("--json", "--run_cu", p, "/bin/true")
        self.assertEqual(d["state"], "Done")
        self.assertTrue(re.match(CU_URL + "$", d["url"]), d)
        d = self.json_of("--wait_cus", p, "--json")
        self.assertEqual(sorted(x["state"] for x in d["units"]), ["Done", "Done"])
        d = self.json_of("--json", "--submit_cu", p, "/bin/sleep", "300")
        self.assertEqual(sorted(d), ["state", "url"])
        self.assertEqual(self.json_of("--cancel_cu", d["url"], "--json"), {"url": d["url"], "state": "Canceled"})
        self.assertEqual(self.json_of("--cancel_pilot", p, "--json"), {"url": p, "state": "Done"})
        self.assertEqual(self.json_of("--list_pilots", "--json"), {"pilots": []})
        d = self.json_of("-c", self.redis, "--json", "--submit_pilot", "fork://localhost")
        self.assertEqual(sorted(d), ["state", "url"])
        self.assertTrue(re.match(PILOT_URL + "$", d["url"]), d)
        self.assertEqual(self.saved_pilots(), [d["url"]])  # canceled in tearDown

    def test_json_of_single_calls(self):
        import pilot
        self.assertEqual(self.json_of("--version", "--json"), {"version": pilot.version})
        d = self.json_of("--clean", "--json")
        self.assertEqual(d, {"state_file": self.state_file(), "removed": False})
        # a saved pilot whose store is gone is listed with the error
        os.mkdir(os.path.join(self.home, ".bigjob"))
        gone = "redis://127.0.0.1:%d/bigjob:bj-gone:localhost" % env.free_port()
        with open(self.state_file(), "wb") as f:
            pickle.dump([gone], f, 2)
        d = self.json_of("--list_pilots", "--json", env={"BIGJOB_NO_EMBEDDED_REDIS": "1"})
        self.assertEqual(len(d["pilots"]), 1, d)
        self.assertEqual((d["pilots"][0]["url"], d["pilots"][0]["state"]), (gone, None))
        self.assertTrue(d["pilots"][0]["error"], d)
        self.assertEqual(self.json_of("--clean", "--json")["removed"], True)

    def test_explain_errors(self):
        self.usage_error(self.cli("explain"), "explain", "CU_URL")
        self.usage_error(self.cli("explain", "a", "b"), "explain", "a b")
        self.usage_error(self.cli("--explain", "a", "explain", "b"), "one action at a time", "--explain")
        self.usage_error(self.cli("--list_pilots", "explain", "b"), "one action at a time", "--list_pilots")
        self.usage_error(self.cli("explain", "a", "--bogus"), "unrecognized arguments", "--bogus")
        for args in (("explain", "not-a-url"), ("--explain", "not-a-url", "--json")):
            r = self.cli(*args)
            self.assertEqual(r.status, 1, r)
            self.assertEqual(r.out, "", r)
            self.assertTrue(r.err.startswith("pilot-cli: "), r)
            self.assertIn("not-a-url", r.err)
            self.assertNotIn("Traceback", r.err)


class TestSingleCalls(CLICase):
    """Actions that need no pilot; each runs against both backends."""

    def urls(self):
        return [u for u in (self.redis, self.local) if u]

    def test_version(self):
        import pilot
        for url in self.urls():
            r = self.ok("-c", url, "--version")
            self.assertEqual(r.out, "BigJob Version: %s\n" % pilot.version, url)
        # main() is the console script's entry point
        r = self.ok(cmd=[sys.executable, "-c", "import sys; from pilot.cli import main; sys.exit(main(['--version']))"])
        self.assertEqual(r.out, "BigJob Version: %s\n" % pilot.version)

    def test_help(self):
        r = self.ok("--help")
        for word in ("--submit_pilot", "--pilot_description", "--run_cu", "--wait_cus", "--cancel_cu",
                     "--compute_unit_description", "--get_cu_state", "--explain", "explain CU_URL", "--json",
                     "lasting local", "Redis"):
            self.assertIn(word, r.out)

    def test_bad_pilot_description(self):
        for url in self.urls():
            for literal in ("{'service_url': 'fork://localhost',", "['fork://localhost']", "not a dict",
                            "__import__('os').mkdir('pwned')"):
                r = self.cli("-c", url, "--submit_pilot", "--pilot_description", literal)
                self.usage_error(r, "--pilot_description")
            self.assertFalse(os.path.exists(os.path.join(self.work, "pwned")))
        self.assertEqual(self.saved_pilots(), [])

    def test_bad_compute_unit_description(self):
        r = self.cli("--submit_cu", "redis://127.0.0.1:1/bigjob:bj-x:localhost", "--compute_unit_description",
                     "{'executable': open}")
        self.usage_error(r, "--compute_unit_description")

    def test_bad_coordination_url(self):
        r = self.cli("-c", "bogus://localhost", "--submit_pilot", "fork://localhost")
        self.assertEqual(r.status, 1, r)
        self.assertEqual(r.out, "")
        self.assertEqual(r.err.splitlines(), [r.err.strip()], r)
        self.assertTrue(r.err.startswith("pilot-cli: "), r)
        self.assertIn("bogus", r.err)
        self.assertNotIn("Traceback", r.err)
        # nothing listens there and the local store is off
        r = self.cli("-c", "redis://127.0.0.1:%d" % env.free_port(), "--submit_pilot", "fork://localhost",
                     env={"BIGJOB_NO_EMBEDDED_REDIS": "1"})
        self.assertEqual(r.status, 1, r)
        self.assertTrue(r.err.startswith("pilot-cli: "), r)
        self.assertIn("redis-server", r.err)
        self.assertNotIn("Traceback", r.err)
        self.assertEqual(self.saved_pilots(), [])

    def test_bad_urls(self):
        for option in ("--cancel_pilot", "--list_cus", "--wait_cus", "--get_cu_state", "--cancel_cu", "--explain"):
            r = self.cli(option, "not-a-url")
            self.assertEqual(r.status, 1, r)
            self.assertTrue(r.err.startswith("pilot-cli: "), r)
            self.assertIn("not-a-url", r.err)
            self.assertNotIn("Traceback", r.err)
        if self.redis:
            r = self.cli("--list_cus", self.redis + "/bigjob:bj-missing:localhost")
            self.assertEqual(r.status, 1, r)
            self.assertIn("not found", r.err)

    def test_usage_errors(self):
        self.usage_error(self.cli(), "no action")
        self.usage_error(self.cli("--list_pilots", "--version"), "--list_pilots", "--version")
        self.usage_error(self.cli("--submit_pilot"), "--submit_pilot")
        self.usage_error(self.cli("--submit_pilot", "fork://localhost", "--number_cores", "zero"), "--number_cores")
        self.usage_error(self.cli("--list_pilots", "--number_cores", "2"), "--number_cores")
        self.usage_error(self.cli("--submit_cu", "redis://127.0.0.1:1/bigjob:bj-x:h"), "--submit_cu")
        self.usage_error(self.cli("--run_cu", "redis://127.0.0.1:1/bigjob:bj-x:h", "/bin/date",
                                  "--compute_unit_description", "{}"), "--run_cu")
        self.usage_error(self.cli("--version", "extra"), "extra")
        self.usage_error(self.cli("-c", "", "--version"), "--coordination")


if __name__ == "__main__":
    unittest.main()
