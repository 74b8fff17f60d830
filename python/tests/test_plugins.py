"""WASM plugins from Python: the tsp adaptor plugin runs pilots on a real
task-spooler queue, hook plugins rewrite and refuse units in the agent, and
hostile plugins are contained by libpilot (which interprets them)."""
from __future__ import print_function

import binascii
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


class SandboxTest(BackendCase):
    """The hostile plugin escape (plugins/testdata/hostile/escape) tries to run
    native code of its own through what its grants seem to leave open: in
    this process (libpilot interprets it) and in an agent (which compiles
    it). Each payload is shown live first; through the plugin it never runs.
    A process holds one build of each plugin, so every test here shares one
    manifest, granting the union of what the vectors need."""

    @classmethod
    def setUpClass(cls):
        super(SandboxTest, cls).setUpClass()
        cls.dir = env.scratch()
        cls.marker = os.path.join(cls.dir, "pwned")
        cls.so = env.preload_library(cls.marker, cls.dir)
        cls.script = binascii.hexlify(("#!/bin/sh\ntouch %s\n" % cls.marker).encode()).decode("ascii")
        cls.tool = os.path.join(cls.dir, "tool.sh")
        with open(cls.tool, "w") as f:
            f.write("#!/bin/bash\necho tool\n")
        os.chmod(cls.tool, 0o755)
        cls.manifest = env.plugin_granting("escape", {
            "commands": ["date", cls.tool], "exec_env": ["SITE_X"], "write_dirs": ["$WORKDIR"],
            "rewrite": {"environment": ["SITE"], "arguments": True}}, cls.dir)
        cls.info = pilot.load_plugin(cls.manifest)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)
        super(SandboxTest, cls).tearDownClass()

    def tearDown(self):
        super(SandboxTest, self).tearDown()
        self.assertFalse(os.path.exists(self.marker), "no code of the plugin's ran")

    def call(self, description):
        """Calls the plugin on a /bin/true unit whose description scripts it;
        returns its answer and the unit's working directory."""
        wd = self.scratch()
        req = {"unit": {"id": "cu-1", "pilot_id": "bj-1", "executable": "/bin/true", "arguments": [],
                        "environment": [], "working_directory": wd, "description": description}}
        return pilot.call_plugin("escape", "hook_pre_unit", req, work_dir=wd), wd

    def live(self, env_extra, *argv):
        subprocess.check_output(argv, env=dict(os.environ, **env_extra))
        self.assertTrue(os.path.exists(self.marker), "the payload is live when run by hand")
        os.remove(self.marker)

    def test_exec_cannot_load_code_through_its_environment(self):
        for name, payload, argv, var in (("evil.so", self.so, ["date"], "LD_PRELOAD"),
                                         ("date", self.script, ["date"], "PATH"),
                                         ("start.sh", self.script, [self.tool], "BASH_ENV")):
            value = "@WD@/" + name if var != "PATH" else "@WD@"
            answer, wd = self.call({"escape_write": name, "escape_hex": payload,
                                    "escape_exec": {"argv": argv, "env": [var + "=" + value]}})
            self.assertEqual(answer["action"], "refuse")
            result = json.loads(answer["message"])
            self.assertEqual(result["write"], 0, "the plugin wrote its payload")
            self.assertEqual(result["exec"]["exit_code"], -1)
            self.assertIn('exec env "%s", which changes how programs are loaded or started' % var, result["exec"]["error"])
            self.assertFalse(os.path.exists(self.marker), var)
            self.assertEqual(os.stat(os.path.join(wd, name)).st_mode & 0o111, 0, "written files are never executable")
            if var == "LD_PRELOAD":
                self.live({"LD_PRELOAD": os.path.join(wd, name)}, "/bin/true")
            if var == "BASH_ENV":
                self.live({"BASH_ENV": os.path.join(wd, name)}, self.tool)

    def test_rewrites_beyond_the_grants_are_refused(self):
        cases = (({"environment": ["LD_PRELOAD=@WD@/evil.so"]},
                  'it changed environment variable "LD_PRELOAD", which changes how programs are loaded or started'),
                 ({"environment": ["OTHER=1"]}, 'it changed environment variable "OTHER", which capabilities.rewrite.environment'),
                 ({"executable": "/bin/sh", "arguments": ["-c", "touch " + self.marker]},
                  'it changed the executable from "/bin/true" to "/bin/sh"; no plugin may change what a unit runs'))
        for rewrite, want in cases:
            with self.assertRaises(PilotError) as cm:
                self.call({"escape_write": "evil.so", "escape_hex": self.so,
                           "escape_answer": {"action": "continue", "unit": rewrite}})
            self.assertIn("pre_unit hook escape rewrote the unit beyond its grants", str(cm.exception))
            self.assertIn(want, str(cm.exception))
        answer, _ = self.call({"escape_answer": {"action": "continue", "unit": {"environment": ["SITE=$(id)"]}}})
        self.assertEqual(answer["unit"]["environment"], ["SITE=$(id)"], "a granted variable may be set")

    def test_grants_no_plugin_may_have_are_refused_at_load(self):
        d = self.scratch()
        with self.assertRaises(PilotError) as cm:
            pilot.load_plugin(env.plugin_granting("escape", {"commands": ["date"], "exec_env": ["LD_PRELOAD"]}, d))
        self.assertIn('"capabilities.exec_env" holds "LD_PRELOAD", which changes how programs are loaded or started',
                      str(cm.exception))
        tool = os.path.join(d, "tool")
        shutil.copy(self.tool, tool)
        with self.assertRaises(PilotError) as cm:
            pilot.load_plugin(env.plugin_granting("escape", {"commands": [tool], "write_dirs": [d]}, d))
        self.assertIn('"capabilities.commands" entry "%s" is %s, under "capabilities.write_dirs" entry "%s"' % (tool, tool, d),
                      str(cm.exception))

    def test_grants_are_said_in_plain_words(self):
        grants = "\n".join(self.info["grants"])
        self.assertIn('Runs "date" (', grants)
        self.assertIn('Sets the environment variables "SITE_X"', grants)
        self.assertIn("a unit whose executable is an interpreter", grants)
        self.assertIn("Never changes a unit's executable.", grants)
        info = pilot.load_plugin(env.plugin("allowlist"))
        self.assertIn('Adds, changes or removes the variables "SITE_POLICY"', "\n".join(info["grants"]))

    def test_hostile_hook_in_the_agent_runs_no_code_of_its_own(self):
        pcs, pc, wd = self.pilot(self.backends[0][1], n=2, hooks=[self.manifest])
        evil = "$(touch {0}) ; touch {0} `touch {0}`".format(self.marker)
        cont = lambda u: {"action": "continue", "unit": u}
        cases = (({"escape_write": "evil.so", "escape_hex": self.so,
                   "escape_exec": {"argv": ["date"], "env": ["LD_PRELOAD=@WD@/evil.so"]}},
                  State.Failed, 'exec env \\"LD_PRELOAD\\", which changes how programs are loaded'),
                 ({"escape_write": "evil.so", "escape_hex": self.so,
                   "escape_answer": cont({"environment": ["LD_PRELOAD=@WD@/evil.so"]})},
                  State.Failed, 'changed environment variable "LD_PRELOAD", which changes how programs'),
                 ({"escape_answer": cont({"executable": "/bin/sh", "arguments": ["-c", "touch " + self.marker]})},
                  State.Failed, "no plugin may change what a unit runs"),
                 ({"executable": "/bin/echo", "arguments": ["kept"], "output": "out",
                   "escape_answer": cont({"arguments": ["kept", evil]})}, State.Done, None))
        cus = []
        for desc, _, _ in cases:
            d = {"executable": "/bin/true"}
            d.update(desc)
            cus.append(pc.submit_compute_unit(d))
        for cu, (_, state, reason) in zip(cus, cases):
            self.assertEqual(cu.wait(), state, cu.get_details())
            if reason:
                self.assertIn(reason, cu.get_details()["reason"])
        self.assertEqual(sandbox_outputs(wd, "out"), ["kept " + evil + "\n"], "the hook's words reached echo as they are")
