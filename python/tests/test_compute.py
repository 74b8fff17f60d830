"""The compute API end to end, on a real redis-server and the lasting local store."""
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import unittest

import pilot
from pilot import State, _ffi
from tests.support import BackendCase, run_python, sandbox_outputs


def processes_with(marker):
    """Pids whose environment holds BJ_TEST_MARK=<marker>."""
    want = ("BJ_TEST_MARK=" + marker).encode()
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if want in f.read().split(b"\0"):
                    with open("/proc/%s/stat" % pid) as s:
                        if s.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                            out.append(int(pid))
        except (IOError, OSError):
            pass
    return out


def eventually(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


class TestCompute(BackendCase):
    def test_pilot_direct_workflow(self):
        for name, url in self.backends:
            pcs, pc, wd = self.pilot(url, 2)
            self.assertTrue(re.match(r"redis://.+:\d+/bigjob:bj-[0-9a-f-]{36}:localhost$", pc.get_url()), pc.get_url())
            self.assertEqual(repr(pc), pc.get_url().split("/", 3)[3])
            self.assertEqual(pcs.list_pilots(), [pc])
            self.assertTrue(pcs.url.endswith("/pcs/" + pcs.id) and pcs.id.startswith("pcs-"))
            self.assertEqual(pcs.coordination_queue, "PilotComputeServiceQueue-" + pcs.id)
            cus = []
            for i in range(3):
                cud = pilot.ComputeUnitDescription()
                cud.executable = "/bin/echo"
                cud.arguments = ["task", "$N"]
                cud.environment = {"N": i}
                cus.append(pc.submit_compute_unit(cud))
            failing = pc.submit_compute_unit({"executable": "/bin/sh", "arguments": ["-c", "'exit 3'"]})
            self.assertTrue(0 <= pc.get_free_nodes() <= 2, pc.get_free_nodes())
            pc.wait()
            self.assertEqual(pc.get_free_nodes(), 2, "nothing runs any more")
            self.assertEqual(sandbox_outputs(wd), ["", "task 0\n", "task 1\n", "task 2\n"], name)
            for cu in cus:
                self.assertEqual(cu.get_state(), State.Done, name)
                self.assertEqual(cu.state, State.Done)
                self.assertTrue(cu.get_id().startswith("cu-"))
                sb = cu.get_local_working_directory()
                self.assertTrue(sb.endswith("/sj-" + cu.get_id()[3:]), sb)
                self.assertTrue(os.path.isfile(os.path.join(sb, "stdout")))
                d = cu.get_details()
                self.assertEqual(d["exit_code"], "0")
                self.assertEqual(d["Executable"], "/bin/echo")
                for key in ("start_time", "end_queue_time", "end_time", "run_host"):
                    self.assertIn(key, d)
            self.assertEqual(failing.wait(), State.Failed)
            self.assertEqual(failing.get_details()["exit_code"], "3")
            listed = pc.list_compute_units()
            self.assertEqual(sorted(c.get_url() for c in listed), sorted(c.get_url() for c in cus + [failing]))
            pd = pc.get_details()
            self.assertEqual(pd["state"], State.Running)
            self.assertEqual(pd["bigjob_id"], repr(pc))
            self.assertIn("PJ: %s, State: Running;" % pc.get_url(), repr(pcs))
            pcs.cancel()
            self.assertEqual(pc.get_state(), State.Done, name)

    def test_unit_larger_than_pilot(self):
        for name, url in self.backends:
            pcs, pc, _ = self.pilot(url, 2)
            with self.assertRaises(pilot.PilotError) as cm:
                pc.submit_compute_unit({"executable": "/bin/true", "number_of_processes": 3})
            self.assertIn("number_of_processes", cm.exception.value)
            self.assertIn("has only 2", cm.exception.value)

    def test_decentral_service_two_pilots(self):
        for name, url in self.backends:
            pcs = self.service(url)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            # accepted before any pilot runs
            cus = [cds.submit_compute_unit({"executable": "/bin/sleep", "arguments": ["0.2"]}) for _ in range(6)]
            wds = [self.scratch(), self.scratch()]
            pcs_pilots = [pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                                            "working_directory": wd}) for wd in wds]
            cds.wait()
            self.assertEqual([cu.get_state() for cu in cus], [State.Done] * 6, name)
            self.assertTrue(all(cu.url.startswith(cds.url + "/cu-") for cu in cus))
            self.assertTrue(cds.url.startswith("redis://") and ":bigjob:" not in cds.url)
            ran = {}
            for cu in cus:
                p = cu.get_details()["pilot"]
                ran[p] = ran.get(p, 0) + 1
            self.assertEqual(sorted(ran), sorted(p.id for p in pcs_pilots), "both pilots took units: %s" % ran)
            self.assertEqual(len(cds.get_details()), 2)
            self.assertEqual(sorted(cds.compute_units), sorted(cu.get_id() for cu in cus))

    def test_cds_without_service(self):
        cds = pilot.ComputeDataService()
        with self.assertRaises(pilot.PilotError) as cm:
            cds.submit_compute_unit({"executable": "/bin/true"})
        self.assertIn("No PilotComputeService found", cm.exception.value)

    def test_cds_wait_does_not_spin(self):
        # BigJob's CDS.wait looped without sleeping when there were no data units
        name, url = self.backends[-1]
        pcs, pc, _ = self.pilot(url, 1)
        cds = pilot.ComputeDataService()
        cds.add_pilot_compute_service(pcs)
        cds.submit_compute_unit({"executable": "/bin/sleep", "arguments": ["1.5"]})
        t0, c0 = time.time(), time.process_time() if hasattr(time, "process_time") else time.clock()
        cds.wait()
        wall = time.time() - t0
        cpu = (time.process_time() if hasattr(time, "process_time") else time.clock()) - c0
        self.assertGreater(wall, 1.0)
        self.assertLess(cpu, wall / 2, "cds.wait burned %.2fs of CPU in %.2fs" % (cpu, wall))

    def test_cds_wait_without_live_pilot_raises(self):
        # The seed's pattern must not believe its work finished: with no pilot
        # ever created, and with a pilot whose agent was killed.
        for name, url in self.backends:
            pcs = self.service(url)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            cu = cds.submit_compute_unit({"executable": "/bin/true"})
            with self.assertRaises(pilot.PilotError) as cm:
                cds.wait()
            self.assertEqual(cm.exception.status, _ffi.ENOPILOTS, name)
            self.assertIn("no live pilot", cm.exception.value)
            with self.assertRaises(pilot.PilotError) as cm:
                cu.wait()
            self.assertEqual(cm.exception.status, _ffi.ENOPILOTS, name)
            self.assertEqual(cu.get_state(), State.Unknown, "nothing ran it")

            pcs, pc, _ = self.pilot(url, 1)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            running = pc.submit_compute_unit({"executable": "/bin/sleep", "arguments": ["300"]})
            self.assertTrue(eventually(lambda: running.get_state() == State.Running), name)
            queued = cds.submit_compute_unit({"executable": "/bin/true"})
            os.kill(int(pc.get_details()["agent_pid"]), signal.SIGKILL)
            for wait in (cds.wait, pc.wait, pcs.wait, queued.wait):
                with self.assertRaises(pilot.PilotError) as cm:
                    wait()
                self.assertEqual(cm.exception.status, _ffi.ENOPILOTS, "%s: %s" % (name, wait))
            self.assertEqual(running.get_state(), State.Failed)

    def test_oversized_unit_among_valid_ones_is_refused_alone(self):
        for name, url in self.backends:
            pcs, pc, _ = self.pilot(url, 2)
            cds = pilot.ComputeDataService()
            cds.add_pilot_compute_service(pcs)
            marker = "big-%s-%d" % (name, os.getpid())
            cus = [cds.submit_compute_unit({"executable": "/bin/true", "environment": {"BJ_TEST_MARK": marker},
                                            "number_of_processes": 8 if i == 37 else 1}) for i in range(100)]
            big = cus.pop(37)
            cds.wait()
            self.assertEqual([cu.get_state() for cu in cus], [State.Done] * 99, name)
            for _ in range(2):
                with self.assertRaises(pilot.PilotError) as cm:
                    big.get_state()
                self.assertIn("unit %s was not submitted" % big.get_id(), cm.exception.value)
                self.assertIn("needs 8 slots but the largest live pilot of the service has only 2", cm.exception.value)
            self.assertEqual(cds.submit_compute_unit({"executable": "/bin/true"}).wait(), State.Done,
                             "the next submission is not blamed")
            agent = int(pc.get_details()["agent_pid"])
            pcs.cancel()
            self.assertEqual(processes_with(marker), [], name)
            self.assertFalse(os.path.exists("/proc/%d/fd" % agent), "agent left running after cancel")

    def test_unit_cancel_kills_processes(self):
        for name, url in self.backends:
            pcs, pc, _ = self.pilot(url, 1)
            marker = "py-%s-%d" % (name, os.getpid())
            cu = pc.submit_compute_unit({"executable": "/bin/bash", "arguments": ["-c", "'sleep 300 & sleep 300'"],
                                         "environment": {"BJ_TEST_MARK": marker}})
            self.assertTrue(eventually(lambda: len(processes_with(marker)) >= 2), name)
            self.assertIsNone(cu.cancel())
            self.assertEqual(cu.get_state(), State.Canceled)
            self.assertEqual(cu.wait(), State.Canceled, "wait returns on Canceled")
            self.assertEqual(processes_with(marker), [], name)

    def test_pilot_cancel_leaves_nothing(self):
        for name, url in self.backends:
            pcs, pc, _ = self.pilot(url, 2)
            marker = "pc-%s-%d" % (name, os.getpid())
            cus = [pc.submit_compute_unit({"executable": "/bin/sleep", "arguments": ["300"],
                                           "environment": {"BJ_TEST_MARK": marker}}) for _ in range(3)]
            self.assertTrue(eventually(lambda: len(processes_with(marker)) == 2), name)
            agent = int(pc.get_details()["agent_pid"])
            pcs.cancel()
            self.assertEqual(processes_with(marker), [], name)
            self.assertFalse(os.path.exists("/proc/%d/fd" % agent), "agent left running")
            self.assertEqual([cu.get_state() for cu in cus], [State.Canceled] * 3)
            pc.wait()  # returns on a canceled pilot

    def test_callbacks_arrive_from_library_threads(self):
        for name, url in self.backends:
            pcs, pc, _ = self.pilot(url, 1)
            seen, threads = [], set()
            done = threading.Event()

            class Recorder(pilot.api.Callback):
                def cb(self, wu, member, value):
                    threads.add(threading.current_thread().ident)
                    seen.append((wu.get_id() if hasattr(wu, "get_id") else wu.id, member, value))
                    if value in ("Done", "Failed", "Canceled"):
                        done.set()

            cu = pc.submit_compute_unit({"executable": "/bin/sleep", "arguments": ["0.3"]})
            cu.set_callback("state", Recorder())
            cu.wait()
            self.assertTrue(done.wait(30), "no final callback: %s" % seen)
            states = [v for (_, m, v) in seen]
            self.assertEqual(states[-1], State.Done)
            lifecycle = ["Unknown", "New", "Running", "Done"]
            self.assertEqual(states, [s for s in lifecycle if s in states], "in order, no repeats: %s" % states)
            self.assertNotIn(threading.current_thread().ident, threads, "callbacks come from library threads")
            cu.unset_callback("state")
            with self.assertRaises(pilot.PilotError):
                cu.set_callback("exit_code", Recorder())


class TestReconnect(BackendCase):
    def test_second_process_reconnects(self):
        # both stores outlive this process's hold on them
        for name, url in self.backends:
            self.check_second_process_reconnects(name, url)

    def check_second_process_reconnects(self, name, url):
        pcs, pc, wd = self.pilot(url, 1)
        cu = pc.submit_compute_unit({"executable": "/bin/echo", "arguments": ["reconnected"]})
        cu.wait()
        code = """
import pilot
pc = pilot.PilotCompute(pilot_url=%r)
cu = pilot.ComputeUnit(cu_url=%r)
print(pc.get_state())
print(cu.get_state())
print(cu.get_details()["exit_code"])
print(len(pc.list_compute_units()))
with open(cu.get_local_working_directory() + "/stdout") as f:
    print(f.read().strip())
more = pc.submit_compute_unit({"executable": "/bin/true"})
print(more.wait())
pc.cancel()
print(pc.get_state())
""" % (pc.get_url(), cu.get_url())
        status, out, err = run_python(code)
        self.assertEqual(status, 0, "%s: %s" % (name, err))
        self.assertEqual(out.split(), ["Running", "Done", "0", "1", "reconnected", "Done", "Done"], name)
        self.assertEqual(pc.get_state(), State.Done, name)


if __name__ == "__main__":
    unittest.main()


class TestHandlesAreFreed(unittest.TestCase):
    """Objects in reference cycles (a service and its pilots, a data service
    and its units, callbacks) are collected and their library handles freed,
    on Python 2.7 too: the in-process store the script started (where no
    redis-server is installed to run the lasting local store) then stops,
    since nothing uses it any more."""

    def test_no_handle_outlives_its_objects(self):
        from tests import env
        code = """
import gc, socket, sys, tempfile, time
import pilot
port = %d
pcs = pilot.PilotComputeService("redis://localhost:%%d" %% port)
pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 1,
                       "working_directory": tempfile.mkdtemp()})
cds = pilot.ComputeDataService()
cds.add_pilot_compute_service(pcs)
cu = cds.submit_compute_unit({"executable": "/bin/true"})
cu.wait()
cu.set_callback("state", lambda *a: None)
pcs.cancel()
del pcs, pc, cds, cu
gc.collect()
print(len(gc.garbage))
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        time.sleep(0.05)
    except Exception:
        print("closed")
        break
""" % env.free_port()
        no_redis_server = tempfile.mkdtemp(prefix="pytest-path-")
        self.addCleanup(shutil.rmtree, no_redis_server, True)
        status, out, err = run_python(code, {"PATH": no_redis_server})
        self.assertEqual(status, 0, err)
        self.assertIn("started an in-process coordination server", err)
        self.assertEqual(out.split(), ["0", "closed"], err)
