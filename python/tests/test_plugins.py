"""WASM plugins from Python: the tsp adaptor plugin runs pilots on a real
task-spooler queue, hook plugins rewrite and refuse units in the agent, and
hostile plugins are contained by libpilot (which interprets them)."""
from __future__ import print_function

import json
import os
import shutil
import subprocess
import threading
import time

import pilot
from pilot import PilotError, State
from tests import env
from tests.support import BackendCase, sandbox_outputs


class TSPQueue(object):
    """A private task-spooler queue (its own socket and TMPDIR)."""

    def __init__(self, slots):
        self.dir = env.scratch()
        self.socket = os.path.join(self.dir, "ts.sock")
        self.tsp("-S", str(slots))

    def tsp(self, *args):
        e = dict(os.environ, TS_SOCKET=self.socket, TMPDIR=self.dir)
        return subprocess.check_output(("tsp",) + args, env=e, stderr=subprocess.STDOUT).decode().strip()

    def state(self, job):
        try:
            return self.tsp("-s", job)
        except subprocess.CalledProcessError as e:
            return e.output.decode().strip()

    def close(self):
        self.tsp("-K")
        shutil.rmtree(self.dir, ignore_errors=True)


class TSPAdaptorTest(BackendCase):

    def test_tsp_plugin_runs_a_pilot_and_units_end_to_end(self):
        info = pilot.load_plugin(env.plugin("tsp"))
        self.assertEqual(info["kinds"], ["adaptor"])
        self.assertEqual(info["schemes"], ["tsp"])
        self.assertEqual(info["engine"], "interpreter")
        url = self.backends[0][1]
        queue = TSPQueue(2)
        try:
            pcs = self.service(url)
            wd = self.scratch()
            pc = pcs.create_pilot({"service_url": "tsp://localhost?socket=" + queue.socket,
                                   "number_of_processes": 2, "working_directory": wd})
            self.assertEqual(pc.wait_state(State.Running, timeout=60), State.Running, pc.get_details())
            job = pc.get_details()["native_job_id"]
            self.assertEqual(queue.state(job), "running")
            cus = [pc.submit_compute_unit({"executable": "/bin/echo", "arguments": ["unit", str(i), "$BIGJOB_PILOT_ID"]})
                   for i in range(4)]
            for cu in cus:
                self.assertEqual(cu.wait(), State.Done, cu.get_details())
            self.assertEqual(sandbox_outputs(wd), ["unit %d %s\n" % (i, pc.id) for i in range(4)])
            pc.cancel()
            self.assertEqual(queue.state(job), "finished", "cancel ended the tsp job")
        finally:
            queue.close()

    def test_unknown_scheme_names_the_fix(self):
        pcs = self.service(self.backends[0][1])
        with self.assertRaises(PilotError) as cm:
            pcs.create_pilot({"service_url": "nosuchqueue://localhost", "number_of_processes": 1})
        self.assertIn('no adaptor for scheme "nosuchqueue"', str(cm.exception))


class HookTest(BackendCase):

    def test_hooks_rewrite_refuse_and_fail_units(self):
        pilot.load_plugin(env.plugin("allowlist"))
        outputs = env.plugin("outputs")
        for name, url in self.backends:
            pcs, pc, wd = self.pilot(url, n=2, hooks=["allowlist", outputs])
            ok = pc.submit_compute_unit({"executable": "/bin/sh", "arguments": ["-c", "'echo $SITE_POLICY > out.txt'"],
                                         "expected_outputs": ["out.txt"]})
            missing = pc.submit_compute_unit({"executable": "/bin/true", "expected_outputs": ["result.dat"]})
            refused = pc.submit_compute_unit({"executable": "/usr/bin/id"})
            self.assertEqual(ok.wait(), State.Done, "%s: %s" % (name, ok.get_details()))
            self.assertEqual(sandbox_outputs(wd, "out.txt"), ["allowlist-1.0\n"], name)
            self.assertEqual(missing.wait(), State.Failed, name)
            self.assertEqual(missing.get_details()["reason"],
                             "failed by post_unit hook outputs: expected outputs missing: result.dat", name)
            self.assertEqual(refused.wait(), State.Failed, name)
            self.assertIn('refused by pre_unit hook allowlist: executable "/usr/bin/id" is not on this site\'s allowlist',
                          refused.get_details()["reason"])

    def test_service_option_names_the_hooks(self):
        url = self.backends[0][1]
        pcs = pilot.PilotComputeService(url, hooks=[env.plugin("allowlist")])
        self.services.append(pcs)
        pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                               "working_directory": self.scratch()})
        cu = pc.submit_compute_unit({"executable": "/usr/bin/id"})
        self.assertEqual(cu.wait(), State.Failed)
        self.assertIn("refused by pre_unit hook allowlist", cu.get_details()["reason"])
        with self.assertRaises(PilotError) as cm:
            pilot.PilotComputeService(url, hooks="allowlist")
        self.assertIn("give a list of plugin names", str(cm.exception))

    def test_unknown_hook_is_a_description_error(self):
        pcs = self.service(self.backends[0][1])
        with self.assertRaises(PilotError) as cm:
            pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1, "hooks": ["nosuch"]})
        self.assertIn('key "hooks": no plugin named "nosuch"', str(cm.exception))


def pre_unit(executable, *args):
    return {"unit": {"id": "cu-1", "executable": executable, "arguments": list(args), "environment": []}}


class HostilePluginTest(BackendCase):
    """Hostile plugins inside this Python process: stopped, limited, denied or
    refused, never crashing or hanging the interpreter."""

    def test_endless_loop_is_stopped_at_its_timeout(self):
        pilot.load_plugin(env.plugin("loop"))
        for _ in range(2):
            with self.assertRaises(PilotError) as cm:
                pilot.call_plugin("loop", "hook_pre_unit", pre_unit("/bin/true"))
            self.assertIn("did not return within its timeout of 300ms", str(cm.exception))

    def test_memory_bomb_hits_its_limit_and_the_next_call_works(self):
        pilot.load_plugin(env.plugin("membomb"))
        with self.assertRaises(PilotError) as cm:
            pilot.call_plugin("membomb", "hook_pre_unit", pre_unit("/bin/true"))
        self.assertIn("its memory is limited to 64 pages", str(cm.exception))
        self.assertEqual(pilot.call_plugin("membomb", "hook_pre_unit", {"small": True}), {"action": "continue"})

    def test_trap_leaves_the_next_call_working_from_a_thread(self):
        pilot.load_plugin(env.plugin("trap"))
        results = []

        def calls():
            try:
                pilot.call_plugin("trap", "hook_pre_unit", pre_unit("trap"))
            except PilotError as e:
                results.append(str(e))
            results.append(pilot.call_plugin("trap", "hook_pre_unit", pre_unit("/bin/true")))

        t = threading.Thread(target=calls)
        t.start()
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertIn("wasm error: unreachable", results[0])
        self.assertEqual(results[1], {"action": "continue"})

    def test_command_not_in_the_manifest_is_denied(self):
        pilot.load_plugin(env.plugin("execer"))
        marker = os.path.join(self.scratch(), "pwned")
        answer = pilot.call_plugin("execer", "hook_pre_unit", pre_unit("x", "touch", marker))
        result = json.loads(answer["message"])
        self.assertIn('command "touch" is not in the manifest\'s capabilities.commands', result["error"])
        self.assertFalse(os.path.exists(marker))
        answer = pilot.call_plugin("execer", "hook_pre_unit", pre_unit("x", "echo", "allowed"))
        self.assertEqual(json.loads(answer["message"])["stdout"], "allowed\n")

    def test_bad_modules_are_refused_at_load(self):
        d = self.scratch()
        src = os.path.dirname(env.plugin("outputs"))
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), d)
        with open(os.path.join(d, "outputs.wasm"), "ab") as fh:
            fh.write(b"\0")
        with self.assertRaises(PilotError) as cm:
            pilot.load_plugin(os.path.join(d, "plugin.json"))
        self.assertIn("the module is not the one the manifest vouches for", str(cm.exception))
        with self.assertRaises(PilotError) as cm:
            pilot.load_plugin(env.plugin("noexport"))
        self.assertIn("lacks export hook_post_unit", str(cm.exception))
        with self.assertRaises(PilotError) as cm:
            pilot.load_plugin(env.plugin("badabi"))
        self.assertIn("speaks plugin ABI version 2", str(cm.exception))
        with self.assertRaises(PilotError) as cm:
            pilot.load_plugin(os.path.join(d, "missing.json"))
        self.assertIn("no such file", str(cm.exception))
