"""A TestCase base that runs each test against both coordination backends."""
from __future__ import print_function

import glob
import os
import shutil
import subprocess
import sys
import unittest

from tests import env


class BackendCase(unittest.TestCase):
    """setUpClass starts a private redis-server; self.backends lists it and
    the embedded backend. Tests loop over self.backends (Python 2.7 has no
    subTest) and name the backend in their messages."""

    @classmethod
    def setUpClass(cls):
        cls.backends, cls._servers = env.backends()

    @classmethod
    def tearDownClass(cls):
        for s in cls._servers:
            s.stop()

    def setUp(self):
        self.dirs = []
        self.services = []

    def tearDown(self):
        for pcs in self.services:
            try:
                pcs.cancel()
            except Exception:
                pass
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def scratch(self):
        d = env.scratch()
        self.dirs.append(d)
        return d

    def service(self, url):
        """A PilotComputeService canceled at the end of the test."""
        import pilot
        pcs = pilot.PilotComputeService(url)
        self.services.append(pcs)
        return pcs

    def pilot(self, url, n=1, **extra):
        """A service and a running fork pilot with n slots in a scratch dir."""
        import pilot
        pcs = self.service(url)
        wd = self.scratch()
        pd = {"service_url": "fork://localhost", "number_of_processes": n, "working_directory": wd}
        pd.update(extra)
        pc = pcs.create_pilot(pd)
        self.assertEqual(pc.wait_state(pilot.State.Running, timeout=60), pilot.State.Running)
        return pcs, pc, wd


def sandbox_outputs(wd, name="stdout"):
    """The contents of <wd>/bj-*/sj-*/<name>, sorted."""
    out = []
    for f in glob.glob(os.path.join(wd, "bj-*", "sj-*", name)):
        with open(f) as fh:
            out.append(fh.read())
    return sorted(out)


def run_python(code, env_extra=None, timeout=120):
    """Runs code in a new interpreter (this one's) with the package on the
    path; returns (status, stdout, stderr)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = env.PYTHON_DIR
    e.update(env_extra or {})
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    try:
        out, err = _communicate(p, timeout)
    finally:
        if p.poll() is None:
            p.kill()
    return p.returncode, out.decode("utf-8"), err.decode("utf-8")


def _communicate(p, timeout):
    if sys.version_info[0] >= 3:
        return p.communicate(timeout=timeout)
    import threading  # Python 2.7: no timeout argument
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        return p.communicate()
    finally:
        timer.cancel()
