"""Reconnecting a PilotComputeService by URL (PilotComputeService(pcs_url=)),
waiting for all of its units, ComputeUnit.explain(), and the service options
max_attempts and finished_ttl.

The reconnection tests create the service in another interpreter that exits
without canceling it, on the private redis-server (test_scripts and
test_compute run workflows across processes on the lasting local store too).
The explain tests run on both backends.

Works on Python 2.7 and 3:
    cd python && python3 -m pytest tests/test_reconnect.py
    cd python && PYENV_VERSION=2.7.18 python2 -m unittest tests.test_reconnect
"""
import os
import shutil
import sys
import tempfile
import time

import pilot
from pilot import State, _ffi
from tests import env
from tests.support import BackendCase, run_process, sandbox_outputs

# Creates a service with one fork pilot of 2 slots and n units on its queue,
# prints the service's URL, the pilot's and the units', and exits without
# canceling anything. argv: coordination URL, working directory, n, seconds
# each unit sleeps.
CREATE = r"""
import sys
import pilot
url, wd, n, sleep = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pcs = pilot.PilotComputeService(url, max_attempts=4)
pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2, "working_directory": wd})
cds = pilot.ComputeDataService()
cds.add_pilot_compute_service(pcs)
cus = [cds.submit_compute_unit({"executable": "/bin/sh", "arguments": ["-c", "'sleep %s; echo unit %d'" % (sleep, i)],
                                "output": "stdout"}) for i in range(n)]
print(pcs.get_url())
print(pc.get_url())
for cu in cus:
    print(cu.get_url())
"""

EXPLAIN_KEYS = set(["unit", "state", "queue", "queue_length", "slots", "pilot", "attempts", "max_attempts",
                    "lost_reason", "reason", "summary", "pilots"])
OUTLOOK_KEYS = set(["name", "state", "slots", "last_heartbeat", "heartbeat_age_s", "can_take", "why"])

FINAL = (State.Done, State.Failed, State.Canceled)


def key_file(service_id, home=None):
    """Where the library keeps a service's signing key."""
    home = home or os.environ.get("BIGJOB_HOME") or os.path.join(os.path.expanduser("~"), ".bigjob")
    return os.path.join(home, "keys", service_id + ".key")


class ReconnectCase(BackendCase):
    def redis(self):
        for name, url in self.backends:
            if name == "redis-server":
                return url
        self.skipTest("no redis-server (BIGJOB_TEST_NO_REDIS=1)")

    def create_elsewhere(self, url, n, sleep, env_extra=None):
        """Runs CREATE in a new interpreter; returns (service URL, pilot
        URL, unit URLs, working directory)."""
        wd = self.scratch()
        e = dict(os.environ)
        e["PYTHONPATH"] = env.PYTHON_DIR
        e.update(env_extra or {})
        r = run_process([sys.executable, "-c", CREATE, url, wd, str(n), str(sleep)], env=e, timeout=120)
        self.assertEqual(r.status, 0, "create script: %s\n%s" % (r.out, r.err))
        lines = r.out.split()
        self.assertEqual(len(lines), 2 + n, r.out)
        # whatever happens to the test, its pilot is canceled at the end
        self.addCleanup(self.cancel_pilot, lines[1])
        return lines[0], lines[1], lines[2:], wd

    @staticmethod
    def cancel_pilot(url):
        try:
            pilot.PilotCompute(pilot_url=url).cancel()
        except Exception:
            pass

    def reconnect(self, pcs_url):
        pcs = pilot.PilotComputeService(pcs_url=pcs_url)
        self.services.append(pcs)  # canceled in tearDown
        return pcs


class TestReconnect(ReconnectCase):
    def test_reconnect_in_another_process_wait_and_cancel(self):
        url = self.redis()
        pcs_url, pilot_url, unit_urls, wd = self.create_elsewhere(url, 4, 2)
        pcs = self.reconnect(pcs_url)
        self.assertEqual(pcs.get_url(), pcs_url)
        self.assertTrue(pcs.get_id().startswith("pcs-") and pcs_url.endswith("/pcs/" + pcs.get_id()), pcs_url)
        self.assertEqual(pcs.coordination_url, url)
        self.assertEqual([pc.get_url() for pc in pcs.list_pilots()], [pilot_url])
        self.assertTrue(os.path.exists(key_file(pcs.id)), "the creating process kept the key")

        units = [pilot.ComputeUnit(cu_url=u) for u in unit_urls]
        # each unit sleeps 2 s on 2 slots: the service is still busy
        self.assertTrue(any(cu.get_state() not in FINAL for cu in units),
                        [cu.get_state() for cu in units])
        start = time.time()
        pcs.wait()
        self.assertEqual([cu.get_state() for cu in units], [State.Done] * 4)
        self.assertEqual(sandbox_outputs(wd), ["unit %d\n" % i for i in range(4)])
        self.assertLess(time.time() - start, 60)

        # the key on disk lets this process add units to the service
        cds = pilot.ComputeDataService()
        cds.add_pilot_compute_service(pcs)
        more = cds.submit_compute_unit({"executable": "/bin/echo", "arguments": ["more"], "output": "stdout"})
        pcs.wait()
        self.assertEqual(more.get_state(), State.Done)
        self.assertEqual(sandbox_outputs(wd), ["more\n"] + ["unit %d\n" % i for i in range(4)])
        e = more.explain()
        self.assertEqual((e["state"], e["summary"], e["max_attempts"]), (State.Done, "the unit is Done", 4))

        pcs.cancel()
        self.assertEqual(pilot.PilotCompute(pilot_url=pilot_url).get_state(), State.Done)
        self.assertFalse(os.path.exists(key_file(pcs.id)), "cancel deletes the key")
        pcs.wait()  # nothing left to wait for

    def test_reconnect_without_the_key(self):
        url = self.redis()
        home = tempfile.mkdtemp(prefix="pytest-bigjob-home-")
        self.addCleanup(shutil.rmtree, home, True)
        pcs_url, pilot_url, unit_urls, wd = self.create_elsewhere(url, 1, 0, {"BIGJOB_HOME": home})
        self.assertTrue(os.path.exists(key_file(pcs_url.rsplit("/", 1)[1], home)))
        pcs = self.reconnect(pcs_url)
        self.assertFalse(os.path.exists(key_file(pcs.id)))
        cds = pilot.ComputeDataService()
        cds.add_pilot_compute_service(pcs)
        with self.assertRaises(pilot.PilotError) as cm:
            cds.submit_compute_unit({"executable": "/bin/true"})
        self.assertEqual(cm.exception.status, _ffi.ENOKEY, cm.exception.value)
        self.assertIn("signing key", cm.exception.value)
        with self.assertRaises(pilot.PilotError) as cm:
            pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                              "working_directory": self.scratch()})
        self.assertEqual(cm.exception.status, _ffi.ENOKEY, cm.exception.value)
        # waits and cancel need no key
        pcs.wait()
        self.assertEqual(pilot.ComputeUnit(cu_url=unit_urls[0]).get_state(), State.Done)
        pcs.cancel()
        self.assertEqual(pilot.PilotCompute(pilot_url=pilot_url).get_state(), State.Done)

    def test_reconnect_errors(self):
        for name, url in self.backends:
            pcs = self.service(url)
            with self.assertRaises(pilot.PilotError) as cm:
                pilot.PilotComputeService(pcs_url=url + "/bigjob:bj-x:localhost")
            self.assertEqual(cm.exception.status, _ffi.EINVAL, name)
            self.assertIn("pcs", cm.exception.value)
            with self.assertRaises(pilot.PilotError) as cm:
                pilot.PilotComputeService(pcs_url=url + "/pcs/pcs-00000000-0000-4000-8000-000000000000")
            self.assertEqual(cm.exception.status, _ffi.ENOTFOUND, name)
            with self.assertRaises(pilot.PilotError) as cm:
                pilot.PilotComputeService(pcs_url=pcs.get_url(), max_attempts=2)
            self.assertIn("max_attempts", cm.exception.value)
            with self.assertRaises(pilot.PilotError):
                pilot.PilotComputeService(pcs_url=42)
            # a reconnection in the same process works on both backends
            again = pilot.PilotComputeService(pcs_url=pcs.get_url())
            self.assertEqual((again.id, again.list_pilots()), (pcs.id, []), name)
            again.wait()  # no units: returns at once

    def test_wait_without_pilots(self):
        for name, url in self.backends:
            pcs = self.service(url)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            cds.submit_compute_unit({"executable": "/bin/true"})
            with self.assertRaises(pilot.PilotError) as cm:
                pcs.wait()
            self.assertEqual(cm.exception.status, _ffi.ENOPILOTS, name)
            self.assertIn("no live pilot", cm.exception.value)


class TestOptions(ReconnectCase):
    def test_bad_values_name_the_key(self):
        for name, url in self.backends:
            for kwargs, key in (({"max_attempts": 0}, "max_attempts"), ({"max_attempts": -1}, "max_attempts"),
                                ({"finished_ttl": 0}, "finished_ttl"), ({"finished_ttl": -2.5}, "finished_ttl")):
                with self.assertRaises(pilot.PilotError) as cm:
                    pilot.PilotComputeService(url, **kwargs)
                self.assertEqual(cm.exception.status, _ffi.EINVAL, (name, kwargs, cm.exception.value))
                self.assertIn('"%s"' % key, cm.exception.value)
            for kwargs, key in (({"max_attempts": "3"}, "max_attempts"), ({"max_attempts": True}, "max_attempts"),
                                ({"max_attempts": 2.5}, "max_attempts"), ({"finished_ttl": float("nan")}, "finished_ttl"),
                                ({"finished_ttl": "60"}, "finished_ttl")):
                with self.assertRaises(pilot.PilotError) as cm:
                    pilot.PilotComputeService(url, **kwargs)
                self.assertTrue(cm.exception.value.startswith(key + ":"), cm.exception.value)

    def test_finished_ttl_prunes_finished_units(self):
        url = self.redis()
        pcs = self.service_with(url, finished_ttl=1)
        keep = self.service_with(url)
        urls = []
        for s in (pcs, keep):
            pc = s.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                                 "working_directory": self.scratch()})
            cu = pc.submit_compute_unit({"executable": "/bin/true"})
            self.assertEqual(cu.wait(), State.Done)
            urls.append(cu.get_url())
        time.sleep(3)
        with self.assertRaises(pilot.PilotError) as cm:
            pilot.ComputeUnit(cu_url=urls[0]).get_state()
        self.assertEqual(cm.exception.status, _ffi.ENOTFOUND, cm.exception.value)
        self.assertEqual(pilot.ComputeUnit(cu_url=urls[1]).get_state(), State.Done)

    def service_with(self, url, **kwargs):
        pcs = pilot.PilotComputeService(url, **kwargs)
        self.services.append(pcs)
        return pcs


class TestExplain(ReconnectCase):
    def test_unit_waiting_without_pilot(self):
        for name, url in self.backends:
            pcs = pilot.PilotComputeService(url, max_attempts=5, finished_ttl=90.5)
            self.services.append(pcs)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            cu = cds.submit_compute_unit({"executable": "/bin/true"})
            e = cu.explain()
            self.assertEqual(set(e), EXPLAIN_KEYS, name)
            self.assertEqual(e["pilots"], [])
            self.assertIn("the service has no pilot", e["summary"])
            self.assertEqual((e["unit"], e["state"], e["queue"], e["queue_length"], e["slots"]),
                             (cu.get_id(), State.Unknown, "service", 1, 1))
            self.assertEqual((e["attempts"], e["max_attempts"]), (0, 5))
            self.assertEqual((e["pilot"], e["lost_reason"], e["reason"]), (None, None, None))

    def test_unit_larger_than_every_pilot(self):
        for name, url in self.backends:
            pcs = self.service(url)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            # accepted while the service has no pilot; the first pilot to run
            # has 1 slot and cannot take it
            big = cds.submit_compute_unit({"executable": "/bin/true", "number_of_processes": 2})
            self.assertEqual(big.get_state(), State.Unknown)  # written before the pilot exists
            pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                                   "working_directory": self.scratch()})
            self.assertEqual(big.wait(), State.Failed, name)
            e = big.explain()
            self.assertEqual(set(e), EXPLAIN_KEYS)
            self.assertEqual((e["state"], e["slots"], e["queue"]), (State.Failed, 2, "service"))
            self.assertIn("needs 2 slots", e["reason"])
            self.assertTrue(e["summary"].startswith("the unit is Failed: "), e["summary"])
            self.assertEqual(len(e["pilots"]), 1, e)
            p = e["pilots"][0]
            self.assertEqual(set(p), OUTLOOK_KEYS)
            self.assertEqual((p["name"], p["state"], p["slots"], p["can_take"]), (repr(pc), State.Running, 1, False))
            self.assertEqual(p["why"], "the unit needs 2 slots and the pilot has 1")
            self.assertTrue(p["last_heartbeat"] and p["heartbeat_age_s"] >= 0, p)

    def test_done_unit(self):
        for name, url in self.backends:
            pcs, pc, wd = self.pilot(url, 2)
            cu = pc.submit_compute_unit({"executable": "/bin/true"})
            self.assertEqual(cu.wait(), State.Done, name)
            e = cu.explain()
            self.assertEqual(set(e), EXPLAIN_KEYS)
            self.assertEqual((e["state"], e["summary"], e["reason"]), (State.Done, "the unit is Done", None))
            self.assertEqual((e["queue"], e["pilot"], e["attempts"]), (repr(pc), repr(pc), 1))
            self.assertEqual([(p["name"], p["slots"], p["can_take"], p["why"]) for p in e["pilots"]],
                             [(repr(pc), 2, True, None)])
            # the same from a reconnected unit
            self.assertEqual(pilot.ComputeUnit(cu_url=cu.get_url()).explain()["summary"], "the unit is Done")


if __name__ == "__main__":
    import unittest
    unittest.main()
