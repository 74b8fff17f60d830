"""pilot-cli watch and the progress line of long waits, driven as a user
would: watch as a separate process (with --json, and on a terminal that tmux
provides), the progress line of an unchanged script's wait on a terminal and
not when stderr is a pipe."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import pilot
from tests import env
from tests.support import BackendCase

DEADLINE = 60  # seconds, for anything a test waits for


def _gated(gate, code=0):
    return {"executable": "/bin/sh",
            "arguments": ["-c", "'while [ ! -e %s ]; do sleep 0.02; done; exit %d'" % (gate, code)]}


def _eventually(what, check, deadline=DEADLINE):
    end = time.time() + deadline
    while time.time() < end:
        v = check()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("not within %d s: %s" % (deadline, what))


def _cli_env():
    e = dict(os.environ)
    e["PYTHONPATH"] = env.PYTHON_DIR
    return e


class _Tmux(object):
    """A private tmux server with one window running a shell command."""

    def __init__(self, command, home):
        self.sock = os.path.join(home, "tmux.sock")
        self._run("new-session", "-d", "-x", "200", "-y", "50", command)

    def _run(self, *args):
        return subprocess.check_output(["tmux", "-S", self.sock] + list(args), env=_cli_env())

    def screen(self):
        return self._run("capture-pane", "-p", "-J").decode("utf-8", "replace")

    def close(self):
        try:
            self._run("kill-server")
        except subprocess.CalledProcessError:
            pass


@unittest.skipUnless(os.path.exists("/usr/bin/tmux") or os.path.exists("/bin/tmux"), "tmux is not installed")
class TestWatch(BackendCase):
    def start(self, url, slots):
        pcs, pc, wd = self.pilot(url, slots)
        gate = os.path.join(self.scratch(), "gate")
        return pcs, pc, gate

    def test_watch_json_follows_failures_and_a_lost_pilot(self):
        url = self.backends[0][1]
        pcs, keep, gate = self.start(url, 2)
        lost = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                                 "working_directory": self.scratch()})
        self.assertEqual(lost.wait_state(pilot.State.Running, timeout=DEADLINE), pilot.State.Running)
        on_lost = lost.submit_compute_unit(_gated(gate))
        _eventually("the lost pilot's unit runs", lambda: on_lost.get_state() == "Running")
        cds = pilot.ComputeDataService()
        cds.add_pilot_compute_service(pcs)
        units = [cds.submit_compute_unit(_gated(gate, 1 if i < 2 else 0)) for i in range(4)]
        out = os.path.join(self.scratch(), "watch.jsonl")
        with open(out, "w") as f:
            watch = subprocess.Popen([sys.executable, "-m", "pilot.cli", "watch", "--json", "--every", "0.2",
                                      pcs.get_url()], stdout=f, stderr=subprocess.PIPE, env=_cli_env())
        try:
            _eventually("watch prints", lambda: os.path.getsize(out) > 0)
            os.kill(int(lost.get_details()["agent_pid"]), signal.SIGKILL)
            _eventually("the lost pilot is Failed", lambda: lost.get_state() == "Failed")
            open(gate, "w").close()
            _eventually("watch ends", lambda: watch.poll() is not None)
        finally:
            if watch.poll() is None:
                watch.kill()
        err = watch.stderr.read().decode("utf-8", "replace")
        with open(out) as f:
            docs = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(watch.returncode, 3, err)  # units failed
        last = docs[-1]
        self.assertTrue(last["final"])
        self.assertTrue(all(not d["final"] for d in docs[:-1]))
        want = {}
        for u in [on_lost] + units:
            want[u.get_state()] = want.get(u.get_state(), 0) + 1
        self.assertEqual(want, {"Done": 2, "Failed": 3})
        self.assertEqual(last["counts"], want)
        self.assertEqual(last["units"], 5)
        self.assertEqual(last["open"], 0)
        reasons = dict((f["unit"], f["reason"]) for f in last["failures"])
        self.assertIn("failed", reasons[on_lost.id])
        self.assertEqual(reasons[units[0].id], "exit code 1")
        states = dict((g["name"], g["state"]) for g in last["pilots"])
        self.assertEqual(states[lost.get_url().rsplit("/", 1)[-1]], "Failed")
        self.assertEqual(states[keep.get_url().rsplit("/", 1)[-1]], "Running")

    def test_watch_on_a_terminal_redraws_in_place(self):
        url = self.backends[0][1]
        pcs, pc, gate = self.start(url, 4)
        first, second = gate + "1", gate + "2"
        for g in (first, first, second, second):
            pc.submit_compute_unit(_gated(g))
        home = self.scratch()
        status = os.path.join(home, "status")
        tmux = _Tmux("%s -m pilot.cli watch --every 0.2 %s; echo $? > %s; sleep 60"
                     % (sys.executable, pc.get_url(), status), home)
        try:
            _eventually("the progress shows", lambda: "0/4 units ended" in tmux.screen())
            open(first, "w").close()
            screen = _eventually("the progress changes", lambda: "2/4 units ended" in tmux.screen() and tmux.screen())
            self.assertEqual(screen.count("units ended"), 1, "redrawn in place:\n" + screen)
            self.assertNotIn("0/4 units ended", screen)
            open(second, "w").close()
            _eventually("watch ends", lambda: os.path.exists(status) and open(status).read().strip())
            with open(status) as f:
                self.assertEqual(f.read().strip(), "0")
            screen = tmux.screen()
            self.assertIn("4/4 units ended, 4 done", screen)
            self.assertEqual(screen.count("units ended"), 1, screen)
        finally:
            tmux.close()

    def test_progress_line_only_on_a_terminal(self):
        url = self.backends[0][1]
        pcs, pc, gate = self.start(url, 1)
        script = os.path.join(self.scratch(), "script.py")
        marker = os.path.join(self.scratch(), "waiting")
        with open(script, "w") as f:
            f.write("import sys, pilot\n"
                    "pcs = pilot.PilotComputeService(pcs_url=%r)\n"
                    "open(%r, 'w').close()\n"
                    "pcs.wait()\n"
                    "print('waited')\n" % (pcs.get_url(), marker))
        pc.submit_compute_unit(_gated(gate))
        home = self.scratch()
        done = os.path.join(home, "done")
        tmux = _Tmux("%s %s 2>&1; touch %s; sleep 60" % (sys.executable, script, done), home)
        try:
            _eventually("the wait shows its progress", lambda: "bigjob: 0/1 units ended" in tmux.screen(),
                        deadline=DEADLINE)
            open(gate, "w").close()
            _eventually("the script ends", lambda: os.path.exists(done))
            screen = tmux.screen()
            self.assertIn("waited", screen)
            self.assertNotIn("bigjob:", screen, "the line is erased when the wait returns")
        finally:
            tmux.close()
        os.remove(gate)
        os.remove(marker)
        pc.submit_compute_unit(_gated(gate))
        e = _cli_env()
        proc = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        _eventually("the script waits", lambda: os.path.exists(marker))
        time.sleep(3)  # longer than a wait's progress line takes to appear
        open(gate, "w").close()
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.decode().strip(), "waited")
        self.assertNotIn("bigjob:", err.decode("utf-8", "replace"), "stderr is a pipe: no progress line")

    def test_progress_line_can_be_turned_off(self):
        from pilot import progress

        class Tty(object):
            def __init__(self):
                self.text = ""

            def isatty(self):
                return True

            def write(self, s):
                self.text += s

            def flush(self):
                pass

        now = [0.0]
        p = {"units": 10, "open": 4, "counts": {"Done": 5, "Failed": 1, "Running": 2, "Unknown": 2}}
        tty = Tty()
        line = progress.Line(lambda: p, stream=tty, clock=lambda: now[0])
        line.tick()
        self.assertEqual(tty.text, "", "not within the first seconds")
        now[0] = 3.0
        line.tick()
        self.assertIn("bigjob: 6/10 units ended, 5 done, 1 failed, 2 running, 2 waiting", tty.text)
        line.close()
        self.assertTrue(tty.text.endswith("\r"))
        os.environ["BIGJOB_PROGRESS"] = "0"
        try:
            self.assertFalse(progress.enabled(Tty()))
        finally:
            del os.environ["BIGJOB_PROGRESS"]
        self.assertTrue(progress.enabled(Tty()))


if __name__ == "__main__":
    unittest.main()
