"""Bad input raises PilotError with a clear message and never crashes the
interpreter: every case runs in this process, so a crash fails the run."""
import ctypes
import unittest

import pilot
from pilot import PilotError, _ffi
from tests.support import BackendCase


class TestBadInput(BackendCase):
    def assertPilotError(self, contains, fn, *args, **kwargs):
        with self.assertRaises(PilotError) as cm:
            fn(*args, **kwargs)
        self.assertIn(contains, cm.exception.value)
        return cm.exception

    def test_descriptions(self):
        name, url = self.backends[-1]
        pcs, pc, _ = self.pilot(url, 1)
        e = self.assertPilotError('"abc" is not a whole number', pc.submit_compute_unit,
                                  {"executable": "/bin/echo", "number_of_processes": "abc"})
        self.assertIn('key "number_of_processes"', e.value)
        self.assertEqual(e.status, -2)  # PILOT_EINVAL
        self.assertPilotError('key "executable"', pc.submit_compute_unit, {"arguments": ["x"]})
        self.assertPilotError('"openmp" is not supported', pc.submit_compute_unit,
                              {"executable": "x", "spmd_variation": "openmp"})
        self.assertPilotError("0 is not a positive", pcs.create_pilot,
                              {"service_url": "fork://localhost", "number_of_processes": 0})
        self.assertPilotError('no adaptor for scheme "condor-x"', pcs.create_pilot,
                              {"service_url": "condor-x://localhost", "number_of_processes": 1})

    def test_invalid_json_and_wrong_types(self):
        name, url = self.backends[-1]
        pcs, pc, _ = self.pilot(url, 1)
        # an object where BigJob used its str() (arguments, environment) passes as its str(); elsewhere it
        # cannot be carried
        self.assertPilotError("cannot be encoded as JSON", pc.submit_compute_unit,
                              {"executable": "/bin/echo", "expected_outputs": [object()]})
        self.assertPilotError("must be a dict, not list", pc.submit_compute_unit, ["/bin/echo"])
        self.assertPilotError("must be a dict", pcs.create_pilot, "fork://localhost")
        self.assertPilotError("cu_url must be a string, not int", pilot.ComputeUnit, cu_url=123)
        self.assertPilotError("pilot_url must be a string", pilot.PilotCompute, pilot_url=["x"])
        self.assertPilotError("needs a PilotComputeService", pilot.ComputeDataService().add_pilot_compute_service,
                              "not a service")
        # raw invalid JSON straight through ctypes
        out = _ffi.c_handle(0)
        e = self.assertPilotError("the description is not valid JSON", _ffi.call, "pilot_job_submit_unit", pc.handle, b"{not json",
                                  ctypes.byref(out))
        self.assertEqual(e.status, -2)
        self.assertPilotError("bad argument", _ffi.call, "pilot_unit_free", "not a handle")

    def test_handles(self):
        name, url = self.backends[-1]
        pcs, pc, _ = self.pilot(url, 1)
        st = _ffi.c_state(0)
        e = self.assertPilotError("never valid", _ffi.call, "pilot_unit_state", 0, ctypes.byref(st))
        self.assertEqual(e.status, -3)  # PILOT_EBADHANDLE
        self.assertPilotError("unknown or was freed", _ffi.call, "pilot_unit_state", (3 << 56) | 999999999,
                              ctypes.byref(st))
        self.assertPilotError("is a PilotCompute, not a ComputeUnit", _ffi.call, "pilot_unit_state", pc.handle,
                              ctypes.byref(st))
        cu = pc.submit_compute_unit({"executable": "/bin/true"})
        cu.wait()
        h = cu.handle
        cu._release()
        self.assertPilotError("unknown or was freed", _ffi.call, "pilot_unit_state", h, ctypes.byref(st))
        self.assertPilotError("was freed", cu.get_state)  # the Python object says so itself

    def test_null_pointers(self):
        name, url = self.backends[-1]
        pcs, pc, _ = self.pilot(url, 1)
        self.assertPilotError("out is NULL", _ffi.call, "pilot_job_state", pc.handle, None)
        self.assertPilotError("the description is NULL", _ffi.call, "pilot_job_submit_unit", pc.handle, None,
                              ctypes.byref(_ffi.c_handle(0)))
        self.assertPilotError("pilot_url is NULL", _ffi.call, "pilot_job_open", None, None,
                              ctypes.byref(_ffi.c_handle(0)))

    def test_bad_urls(self):
        self.assertPilotError("tcp:// coordination backend", pilot.PilotComputeService, "tcp://localhost:5555")
        # the Advert backend is gone: its URLs stand for the default store (test_scripts runs one)
        self.assertEqual(_ffi.coordination_url("advert://localhost/?dbtype=sqlite3"), _ffi.coordination_url(None))
        self.assertPilotError("is not a pilot name", pilot.PilotCompute, pilot_url="redis://localhost:1/nonsense")
        self.assertPilotError("expected <pilot or queue>:jobs:sj-<uuid>", pilot.ComputeUnit,
                              cu_url="redis://localhost:1/bigjob:bj-1:h")
        name, url = self.backends[-1]
        self.service(url)  # reaches the local store, so the lookup does too
        e = self.assertPilotError("not found", pilot.PilotCompute,
                                  pilot_url=url + "/bigjob:bj-00000000-0000-0000-0000-000000000000:localhost")
        self.assertEqual(e.status, -4)  # PILOT_ENOTFOUND

    def test_privileged_port_is_not_stood_in(self):
        # a typo, not a place for the local store: the error names the address
        e = self.assertPilotError("port 1 is a privileged port", pilot.PilotComputeService, "redis://localhost:1")
        self.assertIn("redis://localhost:1", str(e))


if __name__ == "__main__":
    unittest.main()
