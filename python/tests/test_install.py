"""setup.py: pip installs the modules with the library and the agent inside,
for Python 3 and for Python 2.7 (run once, from the Python 3 test run)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests import env


@unittest.skipIf(sys.version_info[0] < 3, "run from the Python 3 test run (it installs for both)")
class TestInstall(unittest.TestCase):
    def install(self, python, extra_env=None):
        target = tempfile.mkdtemp(prefix="pip-target-")
        self.addCleanup(shutil.rmtree, target, True)
        e = dict(os.environ)
        e.update(extra_env or {})
        e.pop("PYTHONPATH", None)
        subprocess.check_call(python + ["-m", "pip", "install", "-q", "--no-warn-script-location", "--target",
                                        target, env.REPO], env=e)
        for f in ("pilot/_lib/libpilot.so", "pilot/_lib/pilot-agent", "bigjob/__init__.py", "saga/__init__.py",
                  "bigjob_dynamic/many_job.py", "bin/pilot-cli"):
            self.assertTrue(os.path.exists(os.path.join(target, f)), f)
        e["PYTHONPATH"] = target
        out = subprocess.check_output(
            python + ["-c", "import os, pilot, bigjob, saga; print(os.path.abspath(pilot.__file__)); print(pilot.version)"],
            env=e, cwd=target)
        self.assertTrue(out.decode().startswith(target), out)

    def test_python3(self):
        self.install([sys.executable])

    def test_python2(self):
        self.install(["python2"], {"PYENV_VERSION": "2.7.18"})


if __name__ == "__main__":
    unittest.main()
