"""Seeing what is there, whatever path a unit came by (issue 17, part 3):
units of the service queue (ComputeDataService's path) under the pilot that
ran them, a store's services and pilots (a crashed script's too), a unit's
output, short ids wherever listings print them, and PilotError messages in
Python's terms. Works on Python 2.7 and 3."""
from __future__ import print_function

import json
import os
import re
import subprocess
import sys
import textwrap

from tests import env
from tests.support import BackendCase
from tests.test_cli import CLICase, TIMEOUT

import pilot
from pilot import _ffi

C_FUNCTIONS = set(_ffi._SIGNATURES)


def cds_units(pcs, n):
    """n units submitted through a ComputeDataService (the service queue),
    each printing its index on stdout and stderr; waits for them."""
    cds = pilot.ComputeDataService()
    cds.add_pilot_compute_service(pcs)
    cus = [cds.submit_compute_unit({"executable": "/bin/sh",
                                    "arguments": ["-c", "'echo out%d; echo err%d >&2'" % (i, i)]})
           for i in range(n)]
    cds.wait()
    return cus


class TestServiceQueueUnits(BackendCase):
    def test_list_compute_units_includes_units_of_the_service_queue(self):
        for name, url in self.backends:
            pcs, pc, _ = self.pilot(url, 2)
            own = pc.submit_compute_unit({"executable": "/bin/true"})
            own.wait()
            cus = cds_units(pcs, 3)
            listed = pc.list_compute_units()
            self.assertEqual(sorted(c.get_id() for c in listed), sorted([own.get_id()] + [c.get_id() for c in cus]),
                             name)
            urls = set(c.get_url() for c in listed)
            for cu in cus:
                self.assertIn(cu.get_url(), urls, "%s: a service-queue unit keeps its URL" % name)
            units = pcs.list_units()
            self.assertEqual(len(units), 4, name)
            for u in units:
                self.assertEqual(u["state"], "Done", name)
                self.assertEqual(u["pilot"], pc.get_url(), name)
                self.assertEqual(pilot.resolve(u["short_id"], url), u["url"], name)


class TestErrorsSpeakPython(BackendCase):
    def errors(self, url):
        """The PilotErrors of a series of mistakes through the public API."""
        pcs = self.service(url)
        cds = pilot.ComputeDataService()
        cds.add_pilot_compute_service(pcs)
        attempts = [
            lambda: pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": "two"}),
            lambda: pcs.create_pilot({"service_url": "nosuchscheme://x", "number_of_processes": 1}),
            lambda: cds.submit_compute_unit({"executable": "/bin/true", "number_of_processes": "x"}),
            lambda: pilot.PilotComputeService(pcs_url=url + "/pcs/pcs-00000000-0000-0000-0000-000000000000"),
            lambda: pilot.PilotCompute(pilot_url=url + "/not-a-pilot"),
            lambda: pilot.ComputeUnit(cu_url=url + "/bigjob:bj-x:h:jobs:sj-1"),
            lambda: pilot.resolve("sj-ffffffffff", url),
            lambda: pilot.resolve("pcs-", url),
            lambda: pilot.load_plugin("/nonexistent/plugin.json"),
            lambda: pilot.call_plugin("no-such-plugin", "run", {}),
        ]
        raised = []
        for attempt in attempts:
            try:
                attempt()
            except pilot.PilotError as e:
                raised.append(e.value)
        self.assertEqual(len(raised), len(attempts), raised)
        return raised

    def test_no_message_names_a_c_function(self):
        for name, url in self.backends:
            messages = self.errors(url)
            for m in messages:
                self.assertFalse(m.startswith("pilot_"), "%s: %s" % (name, m))
                named = set(re.findall(r"\bpilot_[a-z_]+\b", m)) & (C_FUNCTIONS | set(_ffi._PYTHON_NAMES))
                self.assertEqual(named, set(), "%s: %s" % (name, m))
            self.assertTrue(messages[0].startswith("PilotComputeService.create_pilot: "), messages[0])
            self.assertTrue(messages[3].startswith("PilotComputeService(): "), messages[3])
            self.assertTrue(messages[6].startswith("pilot.resolve: "), messages[6])

    def test_python_message(self):
        self.assertEqual(_ffi.python_message("pilot_service_create_pilot: description_json: bad", "X.y"),
                         "X.y: the description: bad")
        self.assertEqual(_ffi.python_message("pilot_plugin_call: not loaded with pilot_plugin_load"),
                         "not loaded with pilot.load_plugin")


class TestStoreCLI(CLICase):
    def fresh_redis(self):
        """A redis-server of this test alone (the class's holds others' services)."""
        self.need_redis()
        server = env.RedisServer()
        self.addCleanup(server.stop)
        return server.url

    def crashed_script(self, url, wd):
        """Runs a script that starts a pilot, runs units through a
        ComputeDataService and crashes; returns its stderr."""
        script = textwrap.dedent("""
            import pilot
            pcs = pilot.PilotComputeService(%r)
            pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2,
                                   "working_directory": %r})
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            for i in range(2):
                cds.submit_compute_unit({"executable": "/bin/sh",
                                         "arguments": ["-c", "'echo out%%d; echo err%%d >&2'" %% (i, i)]})
            cds.wait()
            raise RuntimeError("the script crashes")
        """ % (url, wd))
        e = dict(os.environ, PYTHONPATH=env.PYTHON_DIR, HOME=self.home, BIGJOB_HOME=env.library_home())
        p = subprocess.Popen([sys.executable, "-c", script], env=e, cwd=self.work, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out, err = p.communicate()
        err = err.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, err)
        self.assertIn("the script crashes", err)
        return err

    def test_a_crashed_scripts_pilots_and_units(self):
        url = self.fresh_redis()
        wd = os.path.join(self.work, "run")
        os.mkdir(wd)
        err = self.crashed_script(url, wd)
        self.assertIn("pilot-cli cancel", err, "the script's pilot is findable from its stderr")

        services = json.loads(self.ok("-c", url, "services", "--json").out)["services"]
        self.assertEqual(len(services), 1, services)
        svc = services[0]
        self.assertIn(svc["url"], err)
        text = self.ok("-c", url, "services").out
        self.assertIn(svc["short_id"], text)

        pilots = json.loads(self.ok("-c", url, "pilots", "--json").out)["pilots"]
        self.assertEqual(len(pilots), 1, pilots)
        pc = pilots[0]
        self.started.append(pc["url"])
        self.assertEqual(pc["state"], "Running")
        self.assertEqual(pc["service_url"], svc["url"])
        r = self.ok("-c", url, "pilots", svc["short_id"])
        self.assertIn(pc["short_id"], r.out)
        self.assertIn("--cancel_pilot " + pc["short_id"], r.out)

        # the units of the service queue, under the pilot that ran them
        r = self.ok("-c", url, "--list_cus", pc["short_id"])
        self.assertNotIn("No Compute Unit found.", r.out)
        self.assertEqual(len(re.findall(r"\tDone\t", r.out)), 2, r)
        units = json.loads(self.ok("-c", url, "units", svc["short_id"], "--json").out)["units"]
        self.assertEqual(len(units), 2, units)
        for u in units:
            self.assertEqual(u["pilot"], pc["url"])
        text = self.ok("-c", url, "units", svc["url"]).out
        for u in units:
            self.assertIn(u["short_id"], text)

        # cat, by short id and by URL
        outs = set()
        for u in units:
            doc = json.loads(self.ok("-c", url, "cat", u["short_id"], "--json").out)
            m = re.match(r"out(\d)\n$", doc["stdout"])
            self.assertTrue(m, doc)
            self.assertEqual(doc["stderr"], "err%s\n" % m.group(1))
            outs.add(doc["stdout"])
            r = self.ok("-c", url, "cat", u["url"])
            self.assertIn(doc["stdout"], r.out)
            self.assertIn(doc["stderr"], r.out)
        self.assertEqual(outs, set(["out0\n", "out1\n"]))

        # short ids work wherever they are printed
        sid = units[0]["short_id"]
        self.assertIn("State: Done", self.ok("-c", url, "--get_cu_state", sid).out)
        self.assertIn("Done", self.ok("-c", url, "explain", sid).out)
        full_sj = units[0]["url"].rsplit(":jobs:", 1)[1]  # as --list_cus prints it
        self.assertIn("Done", self.ok("-c", url, "explain", full_sj).out)
        r = self.cli("-c", url, "cat", "sj-ffffffffff")
        self.assertEqual(r.status, 1, r)
        self.assertIn("not found", r.err)
        self.assertNotIn("Traceback", r.err)

        # the crashed script's pilot is cancelable from pilot-cli
        self.ok("-c", url, "--cancel_pilot", pc["short_id"])
        pilots = json.loads(self.ok("-c", url, "pilots", "--json").out)["pilots"]
        self.assertIn(pilots[0]["state"], ("Done", "Canceled"))
        self.ok("-c", url, "cancel", svc["short_id"])
        services = json.loads(self.ok("-c", url, "services", "--json").out)["services"]
        self.assertEqual(services[0]["state"], "Canceled")

    def test_empty_store_and_usage(self):
        url = self.fresh_redis()
        r = self.ok("-c", url, "services")
        self.assertIn("No pilot compute service found", r.out)
        self.assertEqual(json.loads(self.ok("-c", url, "pilots", "--json").out)["pilots"], [])
        r = self.cli("-c", url, "services", "extra")
        self.usage_error(r, "services")
        r = self.cli("-c", url, "cat")
        self.usage_error(r, "cat")
