"""docs/GUIDE.md, run as a reader would: every ```python, ```c and ```sh
block of the guide, in the guide's order.

How the guide's blocks are read (the guide's own conventions, kept here):

- A block whose first line names a file (``# run_on.py ...`` in Python,
  ``/* mpi_hello.c ... */`` in C) is that file: before any section runs,
  every such block is written into the reader's directory, so that a
  section that runs a script of an earlier one runs alone too
  (``-k slurm``).
- Other ```python blocks are run with the interpreter; ```sh blocks with
  ``bash -e``; both in the reader's directory (its HOME).
- A ```text block right after a runnable block is what that block prints
  (stdout and stderr): each of its lines must be found, in order, in a line
  of the output; "..." (the ellipsis character) stands for any text, a
  blank for any run of blanks.
- ``<!-- test: ... -->`` under a heading says how that section runs:
  ``needs=slurm,sge,pbs,mpi,sshd`` (a missing one fails the section saying
  how to start it, unless BIGJOB_TEST_SKIP names it), ``store=local``
  (BIGJOB_COORDINATION_URL is a loopback URL where nothing listens: the
  lasting local store), ``tls`` (BIGJOB_TLS_URL is a private redis-server
  that speaks only TLS), ``condor`` (stand-in HTCondor commands on PATH:
  tests/fake_condor.py), ``installed`` (no PYTHONPATH, ~/.local/bin first
  on PATH: what pip installed), ``py3-only``.

Each section (a heading with runnable blocks) is one test, in the guide's
order (test_NN_<title>), all sharing one reader: a temporary HOME (its
~/.bigjob holds the keys and the lasting local store, stopped at the end),
the package on PYTHONPATH, ``pilot-cli`` on PATH as ``python -m pilot.cli``,
and BIGJOB_COORDINATION_URL pointing at a private password-protected
redis-server, which the guide's scripts read (``redis://localhost:6379``
when unset, as for a reader). Placeholders for what differs per machine are
variables with the reader's value as default: BIGJOB_SSH_URL and
BIGJOB_SSH_WORKDIR (a private sshd, tests/env.py), BIGJOB_TLS_URL,
BIGJOB_SRC (this tree).

Under Python 2.7 (make test-python runs the tests with both interpreters),
``python3`` in the blocks is this interpreter, so that every script of the
guide runs on 2.7 and on 3. OpenMPI refuses root unless told:
OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM) are set when the tests run as root.

    python3 -m pytest python/tests/test_guide.py          (from python/)
    BIGJOB_GUIDE_VERBOSE=1 ... -s                          (prints what each block printed)
    cd python && PYENV_VERSION=2.7.18 python2 -m unittest tests.test_guide
"""
from __future__ import print_function

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

from tests import env
from tests.support import Completed

GUIDE = os.path.join(env.REPO, "docs", "GUIDE.md")
PY3 = sys.version_info[0] >= 3
BLOCK_TIMEOUT = 240  # seconds, for one block
ELLIPSIS = u"\u2026"

HOW = {
    "slurm": "start it with scripts/services/slurm.sh (make services)",
    "sge": "start it with scripts/services/sge.sh (make services)",
    "pbs": "install it with scripts/services/torque.sh (make test-pbs; it replaces gridengine-client, "
           "sge.sh puts that back)",
    "mpi": "install openmpi-bin and libopenmpi-dev (scripts/install-deps.sh does)",
    "sshd": "install openssh-server (scripts/install-deps.sh does)",
}


# ---------------------------------------------------------------------------
# Reading the guide


class Block(object):
    def __init__(self, lang, text, line):
        self.lang, self.text, self.line = lang, text, line
        self.expect = None  # the text block that follows: what it prints
        m = re.match(r"(?:# |/\* |// )([\w.-]+\.(?:py|c))\b", text)
        self.file = m.group(1) if m and lang in ("python", "c") else None

    @property
    def runnable(self):
        return self.file is None and self.lang in ("python", "sh")


class Section(object):
    def __init__(self, title, line):
        self.title, self.line = title, line
        self.blocks = []
        self.directives = {}

    def runnable(self):
        return [b for b in self.blocks if b.runnable]


def parse(text):
    """The sections of the guide, with their blocks and directives."""
    sections = [Section("(top)", 1)]
    lines = text.split("\n")
    i, last = 0, None  # last: the runnable block a text block may follow
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^(#{1,3}) (.+)$", line)
        directive = re.match(r"^<!-- test: (.*) -->\s*$", line)
        fence = re.match(r"^```(\w*)\s*$", line)
        if heading:
            sections.append(Section(heading.group(2).strip(), i + 1))
            last = None
        elif directive:
            for word in directive.group(1).split():
                key, _, value = word.partition("=")
                sections[-1].directives[key] = value.split(",") if value else True
        elif fence:
            start = i
            i += 1
            body = []
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            block = Block(fence.group(1), "\n".join(body) + "\n", start + 1)
            if block.lang == "text" and last is not None:
                last.expect = block
                last = None
            else:
                sections[-1].blocks.append(block)
                last = block if block.runnable else None
        elif line.strip():
            last = None
        i += 1
    return [s for s in sections if s.blocks]


def slug(title):
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:40]


def expected_lines(block):
    return [l.strip() for l in block.text.split("\n") if l.strip()]


def line_pattern(want):
    """A pattern for an expected line: "..." (the ellipsis) is any text,
    blanks are any run of blanks (listings align their columns)."""
    out = []
    for part in re.split(u"(\\s+|%s)" % ELLIPSIS, want):
        if part == ELLIPSIS:
            out.append(".*?")
        elif part.isspace():
            out.append(r"\s+")
        elif part:
            out.append(re.escape(part))
    return re.compile("".join(out))


def missing_output(want, output):
    """The first line of want (in order) that output lacks, or None."""
    lines = output.split("\n")
    at = 0
    for w in want:
        pat = line_pattern(w)
        while at < len(lines) and not pat.search(lines[at]):
            at += 1
        if at == len(lines):
            return w
        at += 1
    return None


# ---------------------------------------------------------------------------
# What sections need


def _check(cmd):
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.communicate()[0].decode("utf-8", "replace")
        return p.returncode, out
    except OSError as e:
        return -1, str(e)


def missing(component):
    """Why component is not there (with how to get it), or None."""
    if component == "slurm":
        if env.which("sinfo") is None:
            return "sinfo is not on PATH: install slurm-wlm (scripts/install-deps.sh), then " + HOW["slurm"]
        code, out = _check(["timeout", "5", "sinfo", "-h", "-o", "%T"])
        if code == 0 and set(out.split()) & set(["idle", "mixed", "allocated", "completing"]):
            return None
        return "sinfo -h -o %%T: %s; %s" % (out.strip() or "exit %d" % code, HOW["slurm"])
    if component == "sge":
        if env.which("qconf") is None:
            return "qconf is not on PATH: gridengine-client is not installed; " + HOW["sge"]
        code, out = _check(["timeout", "5", "qstat", "-f"])
        for line in out.split("\n"):
            f = line.split()
            if f and f[0].startswith("all.q@") and len(f) == 5:
                return None
        return "qstat -f shows no usable all.q:\n%s\n%s" % (out, HOW["sge"])
    if component == "pbs":
        code, out = _check(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "slurm-wlm-torque"])
        if code != 0 or not out.startswith("ii"):
            return "slurm-wlm-torque is not installed: " + HOW["pbs"]
        return missing("slurm")
    if component == "mpi":
        lack = [c for c in ("mpicc", "mpirun") if env.which(c) is None]
        return " and ".join(lack) + " not on PATH: " + HOW["mpi"] if lack else None
    if component == "sshd":
        return None if os.path.exists(env.SSHD.SSHD) else "sshd is not installed: " + HOW["sshd"]
    raise AssertionError("the guide names an unknown component %r" % component)


def skipped():
    return [c.strip() for c in os.environ.get("BIGJOB_TEST_SKIP", "").split(",") if c.strip()]


# ---------------------------------------------------------------------------
# The reader's environment


def write_executable(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, stat.S_IRWXU)


class TLSRedis(object):
    """A private redis-server that speaks only TLS, with a certificate for
    localhost signed by a CA made here with openssl."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pytest-redis-tls-")
        d = self.dir
        ca_key, ca, key, csr, cert = [os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key",
                                                                     "server.csr", "server.pem")]
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        quiet = open(os.devnull, "w")
        for cmd in (["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=guide test CA"],
                    ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                    ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                     "-out", cert, "-days", "1", "-extfile", ext]):
            subprocess.check_call(cmd, stdout=quiet, stderr=quiet)
        quiet.close()
        self.server = env.RedisServer(tls=(cert, key, ca))
        self.url = self.server.url

    def stop(self):
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_block(cmd, cwd, env, timeout):
    """Runs cmd in a session of its own, stdout and stderr in one stream;
    after timeout seconds, kills the whole session (whatever the block
    started). Returns a Completed (out: the output, err: "")."""
    import threading
    import time
    start = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         preexec_fn=os.setsid)
    killed = []

    def kill():
        killed.append(True)
        try:
            os.killpg(p.pid, 9)
        except OSError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        out = p.communicate()[0]
    finally:
        timer.cancel()
    return Completed(p.returncode, out.decode("utf-8", "replace"), "", bool(killed), time.time() - start)


def go_env():
    """Go's caches as they are outside the reader's HOME, so that make in a
    fresh HOME does not rebuild the world."""
    go = env.which("go")
    if go is None:
        return {}
    try:
        out = subprocess.check_output([go, "env", "GOCACHE", "GOMODCACHE", "GOPATH"]).decode().split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {}
    return dict((k, v) for k, v in zip(("GOCACHE", "GOMODCACHE", "GOPATH"), out) if v)


class GuideCase(unittest.TestCase):
    """One reader following the guide; each section a test method."""

    @classmethod
    def setUpClass(cls):
        cls.home = tempfile.mkdtemp(prefix="pytest-guide-home-")
        cls.shims = tempfile.mkdtemp(prefix="pytest-guide-bin-")
        cls.servers = []
        cls.redis = env.RedisServer(password="guide-secret")
        cls.servers.append(cls.redis)
        cls.tls = None
        cls.go = go_env()
        cls.condor = None
        cls.sshd = None
        write_executable(os.path.join(cls.shims, "pilot-cli"),
                         '#!/bin/sh\nexec "%s" -m pilot.cli "$@"\n' % sys.executable)
        if PY3:
            python2 = env.which("python2")  # a pyenv shim, as in the Makefile's PYTHON2
            if python2 is not None:
                write_executable(os.path.join(cls.shims, "python2"),
                                 '#!/bin/sh\nPYENV_VERSION=2.7.18 exec "%s" "$@"\n' % python2)
        else:  # python2 and python3 in the blocks are this interpreter
            for name in ("python2", "python3"):
                write_executable(os.path.join(cls.shims, name), '#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
        cls.base_path = os.environ["PATH"]
        # every file the guide names, written before any section runs
        for section in parse(read_guide()):
            for b in section.blocks:
                if b.file:
                    with io.open(os.path.join(cls.home, b.file), "w", encoding="utf-8") as f:
                        f.write(b.text)

    @classmethod
    def tearDownClass(cls):
        home = os.path.join(cls.home, ".bigjob")
        if os.path.isdir(os.path.join(home, "store")):
            env.stop_local_store(home)
        for s in cls.servers:
            s.stop()
        for d in (cls.home, cls.shims, cls.condor):
            if d:
                shutil.rmtree(d, ignore_errors=True)

    def environment(self, section):
        e = dict(os.environ)
        e.pop("BIGJOB_HOME", None)  # ~/.bigjob is the reader's
        e.update(self.go)
        e.update({"HOME": self.home, "PYTHONPATH": env.PYTHON_DIR, "BIGJOB_SRC": env.REPO,
                  "PATH": self.shims + os.pathsep + self.base_path, "BIGJOB_PROGRESS": "0",
                  "BIGJOB_COORDINATION_URL": self.redis.url})
        d = section.directives
        if d.get("store") == ["local"]:
            e["BIGJOB_COORDINATION_URL"] = "redis://localhost:%d" % env.free_port()
        if d.get("installed"):
            e.pop("PYTHONPATH")
            e["PATH"] = os.path.join(self.home, ".local", "bin") + os.pathsep + e["PATH"]
        if d.get("tls"):
            if env.which("openssl") is None:
                self.fail("the guide's section %r needs openssl to make its TLS redis-server's certificate: "
                          "install it (scripts/install-deps.sh does)" % section.title)
            if GuideCase.tls is None:
                GuideCase.tls = TLSRedis()
                GuideCase.servers.append(GuideCase.tls)
            e["BIGJOB_TLS_URL"] = self.tls.url
        if d.get("condor"):
            if GuideCase.condor is None:
                GuideCase.condor = tempfile.mkdtemp(prefix="pytest-fake-condor-")
                fake = os.path.join(env.HERE, "fake_condor.py")
                os.makedirs(os.path.join(self.condor, "bin"))
                for cmd in ("submit", "q", "history", "rm"):
                    write_executable(os.path.join(self.condor, "bin", "condor_" + cmd),
                                     '#!/bin/sh\nexec "%s" "%s" %s "$@"\n' % (sys.executable, fake, cmd))
            e["FAKE_CONDOR_DIR"] = self.condor
            e["PATH"] = os.path.join(self.condor, "bin") + os.pathsep + e["PATH"]
        if "sshd" in d.get("needs", []):
            if GuideCase.sshd is None:
                GuideCase.sshd = env.SSHD()
                GuideCase.servers.append(GuideCase.sshd)
            e.update(self.sshd.env())
            e["BIGJOB_SSH_URL"] = self.sshd.url
            e["BIGJOB_SSH_WORKDIR"] = os.path.join(self.home, "ssh-agent")
        if "mpi" in d.get("needs", []) and os.geteuid() == 0:
            e["OMPI_ALLOW_RUN_AS_ROOT"] = e["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return e

    def run_section(self, section):
        if section.directives.get("py3-only") and not PY3:
            self.skipTest("run from the Python 3 test run")
        for component in section.directives.get("needs", []):
            why = missing(component)
            if why is None:
                continue
            if component in skipped():
                self.skipTest("%s skipped on purpose (BIGJOB_TEST_SKIP): %s" % (component, why))
            self.fail("the guide's section %r needs %s: %s (or name it in BIGJOB_TEST_SKIP to skip on purpose)"
                      % (section.title, component, why))
        e = self.environment(section)
        for block in section.runnable():
            if block.lang == "sh":
                cmd = ["bash", "-e", "-c", block.text]
            else:
                cmd = [sys.executable, "-c", block.text]
            r = run_block(cmd, cwd=self.home, env=e, timeout=BLOCK_TIMEOUT)
            output = r.out + r.err
            if os.environ.get("BIGJOB_GUIDE_VERBOSE") == "1":
                sys.stderr.write("--- docs/GUIDE.md:%d (%s):\n%s" % (block.line, section.title, output))
            where = "docs/GUIDE.md:%d (%s)" % (block.line, section.title)
            if r.timed_out:
                self.fail("%s: killed after %d s\n--- block:\n%s--- output:\n%s" % (where, BLOCK_TIMEOUT, block.text,
                                                                                 output))
            if r.status != 0:
                self.fail("%s: exit status %d\n--- block:\n%s--- output:\n%s" % (where, r.status, block.text, output))
            if block.expect is not None:
                lack = missing_output(expected_lines(block.expect), output)
                if lack is not None:
                    self.fail("%s: the output lacks a line like %r (docs/GUIDE.md:%d)\n--- block:\n%s--- output:\n%s"
                              % (where, lack, block.expect.line, block.text, output))


def go_source(rel, pattern):
    """The first group of pattern in the Go file rel of the tree."""
    with io.open(os.path.join(env.REPO, rel), encoding="utf-8") as f:
        m = re.search(pattern, f.read())
    if m is None:
        raise AssertionError("%s no longer matches %r: update test_guide.py and docs/GUIDE.md" % (rel, pattern))
    return m.group(1)


class TestGuideFacts(unittest.TestCase):
    """What the guide states that no block shows: the defaults that decide
    where files go and how long things live, read from the code; and that
    its seed example is examples/example.py."""

    def setUp(self):
        self.text = read_guide()

    def says(self, phrase, source):
        self.assertIn(phrase, self.text, "docs/GUIDE.md should say %r (from %s)" % (phrase, source))

    def test_defaults_are_the_codes(self):
        walltime = go_source("vocab/description.go", r"DefaultWalltime\s*=\s*(\d+)")
        self.says("`walltime` %s minutes (%d hours)" % (walltime, int(walltime) // 60), "vocab.DefaultWalltime")
        out = go_source("vocab/description.go", r'DefaultOutput\s*=\s*"(\w+)"')
        err = go_source("vocab/description.go", r'DefaultError\s*=\s*"(\w+)"')
        self.says("`%s` and `%s` in its sandbox" % (out, err), "vocab.DefaultOutput, DefaultError")
        self.says("up to %s starts" % go_source("coord/service.go", r"DefaultMaxAttempts\s*=\s*(\d+)"),
                  "coord.DefaultMaxAttempts")
        days = go_source("coord/store.go", r"DefaultTTL\s*=\s*(\d+) \* 24 \* time.Hour")
        self.says("%s days after their last change" % days, "coord.DefaultTTL")
        self.says("kept %s hours after they end" % go_source("core/options.go", r"o.FinishedTTL = (\d+) \* time.Hour"),
                  "core.Options.FinishedTTL")
        self.says("stopped for %s s" % go_source("core/options.go", r"o.HeartbeatTimeout = (\d+) \* time.Second"),
                  "core.Options.HeartbeatTimeout")
        self.says("after %s s" % go_source("core/options.go", r"o.StoreGrace = (\d+) \* time.Second"),
                  "core.Options.StoreGrace")
        idle = go_source("coord/userstore/userstore.go", r"DefaultIdle = (\d+) \* time.Minute")
        self.says("after %s minutes holding nothing" % idle, "userstore.DefaultIdle")
        self.says("`%s`" % go_source("plugins/host.go", r'EnvCacheDir = "(\w+)"'), "plugins.EnvCacheDir")

    def test_seed_example_is_examples_example_py(self):
        blocks = [b for s in parse(self.text) for b in s.blocks if b.file == "example.py"]
        self.assertEqual(len(blocks), 1, "one example.py block in docs/GUIDE.md")
        with io.open(os.path.join(env.REPO, "examples", "example.py"), encoding="utf-8") as f:
            seed = f.read()
        self.assertEqual(blocks[0].text.split("\n", 1)[1], seed, "the guide's seed example differs from examples/example.py")

    def test_every_block_is_run_or_shows_output(self):
        """A block the test would neither run, write nor compare is a
        command the guide shows that nobody checks."""
        for section in parse(self.text):
            for b in section.blocks:
                self.assertTrue(b.runnable or b.file, "docs/GUIDE.md:%d: a ```%s block that the test does not run "
                                "(use python, sh, a file block, or text right after a runnable block)"
                                % (b.line, b.lang))


def read_guide():
    with io.open(GUIDE, encoding="utf-8") as f:
        return f.read()


def _section_test(section):
    def test(self):
        self.run_section(section)
    test.__doc__ = "docs/GUIDE.md:%d %s" % (section.line, section.title)
    return test


def _add_tests():
    n = 0
    for section in parse(read_guide()):
        if section.runnable():
            n += 1
            setattr(GuideCase, "test_%02d_%s" % (n, slug(section.title)), _section_test(section))


_add_tests()
