"""A TestCase base that runs each test against both coordination backends."""
from __future__ import print_function

import glob
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

from tests import env


class BackendCase(unittest.TestCase):
    """setUpClass starts a private redis-server; self.backends lists it and
    the local-store backend (env.LOCAL). Tests loop over self.backends (Python 2.7 has no
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


class Completed(object):
    """What run_process saw: status, out, err (text), timed_out, seconds."""

    def __init__(self, status, out, err, timed_out, seconds):
        self.status, self.out, self.err = status, out, err
        self.timed_out, self.seconds = timed_out, seconds


def run_process(cmd, cwd=None, env=None, timeout=120):
    """Runs cmd and waits for it, killing it after timeout seconds (works on
    Python 2.7, whose communicate has no timeout)."""
    start = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed = []

    def kill():
        killed.append(True)
        p.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        out, err = p.communicate()
    finally:
        timer.cancel()
    return Completed(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                     bool(killed), time.time() - start)


def run_python(code, env_extra=None, timeout=120):
    """Runs code in a new interpreter (this one's) with the package on the
    path; returns (status, stdout, stderr)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = env.PYTHON_DIR
    e.update(env_extra or {})
    r = run_process([sys.executable, "-c", code], env=e, timeout=timeout)
    return r.status, r.out, r.err
