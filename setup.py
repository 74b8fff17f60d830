"""Installs the pilot, bigjob, bigjob_dynamic and saga modules with libpilot
and the pilot agent inside, and the pilot-cli command.

    pip install .                  (Python 3)
    python2 -m pip install .       (Python 2.7)

Building needs Go and make: `make python-lib` builds python/pilot/_lib/.
"""
import os
import re
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(HERE, "core", "errors.go")) as f:
        return re.search(r'const Version = "([^"]+)"', f.read()).group(1)


class BuildWithGo(build_py):
    """Builds libpilot.so and pilot-agent into the package before copying it."""

    def run(self):
        subprocess.check_call(["make", "-C", HERE, "python-lib"])
        build_py.run(self)


cmdclass = {"build_py": BuildWithGo}

try:
    from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        """The wheel holds a Linux shared library, loaded with ctypes (not a
        CPython extension): one wheel serves Python 2 and 3 on this platform."""

        def finalize_options(self):
            bdist_wheel.finalize_options(self)
            self.root_is_pure = False

        def get_tag(self):
            return "py2.py3", "none", bdist_wheel.get_tag(self)[2]

    cmdclass["bdist_wheel"] = PlatformWheel
except ImportError:  # no wheel package: pip falls back to setup.py install
    pass

setup(
    name="bigjob-go",
    version=version(),
    description="BigJob, the Pilot-Job framework, on a Go core: the pilot and bigjob modules",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    package_dir={"": "python"},
    packages=["pilot", "pilot.api", "bigjob", "bigjob_dynamic", "saga"],
    package_data={"pilot": ["_lib/libpilot.so", "_lib/pilot-agent"]},
    entry_points={"console_scripts": ["pilot-cli = pilot.cli:main"]},
    cmdclass=cmdclass,
    zip_safe=False,
    python_requires=">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*, !=3.6.*, !=3.7.*",
    classifiers=[
        "Programming Language :: Python :: 2.7",
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
    ],
)
