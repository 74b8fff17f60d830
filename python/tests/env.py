"""Test environment: coordination stores and scratch directories.

Each test class gets both backends users meet: a private redis-server on a
free port (started here, killed at the end) and a loopback URL where nothing
listens, for which the library uses the user's lasting local coordination
store (in $BIGJOB_HOME/store; `make test` runs the tests under
scripts/test-home.sh, which gives them a home of their own and stops its
store at the end).

A missing redis-server fails the tests unless BIGJOB_TEST_NO_REDIS=1 says to
skip them on purpose. Works on Python 2.7 and 3.
"""
from __future__ import print_function

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYTHON_DIR)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


class RedisServer(object):
    """A private redis-server on a free loopback port (with password, one
    that clients must give: its URL carries it; with tls, a (cert, key, ca)
    triple of PEM files, it speaks only TLS, and its URL is rediss:// with
    ?ca=)."""

    def __init__(self, password=None, tls=None):
        binary = which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/install-deps.sh "
                               "(or set BIGJOB_TEST_NO_REDIS=1 to skip real-Redis tests on purpose)")
        self.dir = tempfile.mkdtemp(prefix="pytest-redis-")
        self.port = free_port()
        listen = ["--port", str(self.port)]
        if tls:
            cert, key, ca = tls
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert, "--tls-key-file", key,
                      "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen(
            [binary] + listen + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")] +
            (["--requirepass", password] if password else []))
        self.url = "redis://%s127.0.0.1:%d" % (":%s@" % password if password else "", self.port)
        if tls:
            self.url = "rediss://localhost:%d?ca=%s" % (self.port, tls[2])
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except (OSError, socket.error):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start on port %d" % self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# The name of the backend of a loopback URL where nothing listens.
LOCAL = "local store"


def library_home():
    """The library's home of this process (keys, the lasting local store)."""
    return os.environ.get("BIGJOB_HOME") or os.path.join(os.path.expanduser("~"), ".bigjob")


def store_supervisors(home):
    """Ids of the live supervisors of the lasting local store in home."""
    want = ("-store\0%s\0" % os.path.join(home, "store")).encode()
    pids = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if want in f.read():
                    pids.append(int(pid))
        except (IOError, OSError, ValueError):
            pass
    return pids


def stop_local_store(home):
    """Stops the lasting local store in home, if it runs, and waits until
    its supervisor has exited (the packaged agent does it: -store DIR -stop)."""
    agent = os.path.join(PYTHON_DIR, "pilot", "_lib", "pilot-agent")
    status = subprocess.call([agent, "-store", os.path.join(home, "store"), "-stop"])
    if status != 0:
        raise AssertionError("%s -stop exited with %d" % (agent, status))


def backends():
    """(name, url) pairs: a real redis-server (None when skipped on purpose)
    and LOCAL. Returns the servers to stop too."""
    out, servers = [], []
    if which("redis-server") is None and os.environ.get("BIGJOB_TEST_NO_REDIS") == "1":
        sys.stderr.write("redis-server not installed and BIGJOB_TEST_NO_REDIS=1: real-Redis tests skipped\n")
    else:
        r = RedisServer()
        servers.append(r)
        out.append(("redis-server", r.url))
    out.append((LOCAL, "redis://localhost:%d" % free_port()))
    return out, servers


def scratch():
    """A scratch directory (remove it with shutil.rmtree)."""
    return tempfile.mkdtemp(prefix="pytest-pilot-")


def plugin(name):
    """The sealed manifest of a plugin `make plugins` built: an example
    (bin/plugins/<name>) or a hostile test fixture (build/plugins-test/<name>)."""
    for d in (os.path.join(REPO, "bin", "plugins", name), os.path.join(REPO, "build", "plugins-test", name)):
        m = os.path.join(d, "plugin.json")
        if os.path.exists(m):
            return m
    raise AssertionError("plugin %s is not built: run `make plugins`" % name)


def plugin_granting(name, caps, directory):
    """Writes into directory a manifest for the module of plugin name (see
    plugin) whose capabilities are caps instead of its own, and returns its
    path: one hostile module tried under several grants. The module's
    sha256 is unchanged, so the manifest stays valid."""
    import json
    sealed = plugin(name)
    with open(sealed) as f:
        m = json.load(f)
    m["wasm"] = os.path.join(os.path.dirname(sealed), m["wasm"])
    m["capabilities"] = caps
    path = os.path.join(directory, name + "-plugin.json")
    with open(path, "w") as f:
        json.dump(m, f)
    return path


def preload_library(marker, directory):
    """Builds in directory, with gcc, a shared object whose constructor
    creates the file marker: native code a hostile plugin would like a
    program to load. Checks that LD_PRELOAD of it does create marker for
    /bin/true, removes marker, and returns the object's bytes in hex, so
    that a test that finds no marker afterwards shows a defence held."""
    import binascii
    src, so = os.path.join(directory, "evil.c"), os.path.join(directory, "evil.so")
    with open(src, "w") as f:
        f.write('#include <fcntl.h>\n#include <unistd.h>\n'
                '__attribute__((constructor)) static void pwn(void) {\n'
                '  int fd = open("%s", O_WRONLY | O_CREAT, 0600);\n  if (fd >= 0) close(fd);\n}\n' % marker)
    subprocess.check_call(["gcc", "-shared", "-fPIC", "-O2", "-s", "-Wl,-z,noseparate-code", "-Wl,--build-id=none",
                           "-o", so, src])
    subprocess.check_call(["/bin/true"], env=dict(os.environ, LD_PRELOAD=so))
    if not os.path.exists(marker):
        raise AssertionError("the preload library did not run its constructor")
    os.remove(marker)
    with open(so, "rb") as f:
        return binascii.hexlify(f.read()).decode("ascii")


class SSHD(object):
    """A private OpenSSH server on a free loopback port: a fresh host key, a
    fresh user key accepted for the current user, the SFTP subsystem. env()
    points the library's SSH client (and the agent's ssh command) at it. Its
    processes form a process group of their own, killed by stop()."""

    SSHD = "/usr/sbin/sshd"
    SFTP = "/usr/lib/openssh/sftp-server"

    def __init__(self):
        keygen = which("ssh-keygen")
        if not os.path.exists(self.SSHD) or keygen is None:
            raise RuntimeError("sshd is not installed: run scripts/install-deps.sh")
        if not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd")  # its privilege separation directory
        self.dir = tempfile.mkdtemp(prefix="pytest-sshd-")
        host_key, self.user_key = os.path.join(self.dir, "host_ed25519"), os.path.join(self.dir, "id_ed25519")
        for key in (host_key, self.user_key):
            subprocess.check_call([keygen, "-q", "-t", "ed25519", "-N", "", "-f", key])
        authorized = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.user_key + ".pub", authorized)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write("\n".join(["ListenAddress 127.0.0.1", "HostKey " + host_key, "PidFile none",
                               "AuthorizedKeysFile " + authorized, "UsePAM no", "StrictModes no",
                               "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                               "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
                               "Subsystem sftp " + self.SFTP, ""]))
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "sshd.log"), "w")
        self.proc = subprocess.Popen([self.SSHD, "-D", "-e", "-f", config, "-p", str(self.port)],
                                     stdout=self.log, stderr=self.log, preexec_fn=os.setsid)
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        with open(host_key + ".pub") as f:
            key = " ".join(f.read().split()[:2])
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (self.port, key))
        import getpass
        self.url = "ssh://%s@127.0.0.1:%d" % (getpass.getuser(), self.port)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), 0.5)
                greeting = s.recv(4)
                s.close()
                if greeting == b"SSH-":
                    return
            except (OSError, socket.error):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not start on port %d" % self.port)

    def env(self):
        return {"BIGJOB_SSH_IDENTITY": self.user_key, "BIGJOB_SSH_KNOWN_HOSTS": self.known_hosts,
                "SSH_AUTH_SOCK": ""}

    def stop(self):
        try:
            os.killpg(self.proc.pid, 9)
        except OSError:
            pass
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
