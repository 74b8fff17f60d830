"""ctypes binding of libpilot (include/pilot.h).

Loads libpilot.so from the package's _lib directory (or $PILOT_LIBRARY),
declares every function, and turns a negative status into PilotError
carrying the library's message (read on the calling thread, as pilot.h
requires), told in Python's terms: the C function that the library's message
starts with becomes the call of this package that the user made
("PilotComputeService.create_pilot: ..."), and the C names in it the Python
ones. Works on Python 2.7 and 3.8+.
"""
from __future__ import absolute_import

import atexit
import ctypes
import json
import os
import re
import sys
import time

from pilot.errors import PilotError
from pilot import progress as _progress

_HERE = os.path.dirname(os.path.abspath(__file__))
LIB_DIR = os.path.join(_HERE, "_lib")
ABI_VERSION = 1

# Status codes (pilot.h).
OK = 0
EINVAL = -2
ENOTFOUND = -4
ETIMEOUT = -5
ESTORE = -11
ENOPILOTS = -12
ENOKEY = -13

# States (pilot.h), by code.
STATE_NAMES = ["Unknown", "New", "Pending", "Running", "Done", "Canceled", "Failed", "Staging"]
STATE_CODES = dict((name, code) for code, name in enumerate(STATE_NAMES))

PY2 = sys.version_info[0] == 2
if PY2:  # pragma: no cover - exercised by the Python 2 test run
    text_type = unicode  # noqa: F821
    long_type = long  # noqa: F821
else:
    text_type = str
    long_type = int


def to_bytes(s):
    """UTF-8 bytes of a text or byte string, for a const char* argument."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8")


def to_str(b):
    """The native str of a UTF-8 byte string returned by the library."""
    if b is None:
        return None
    if PY2:
        return b
    return b.decode("utf-8")


def _load():
    path = os.environ.get("PILOT_LIBRARY") or os.path.join(LIB_DIR, "libpilot.so")
    if not sys.platform.startswith("linux"):
        raise ImportError("pilot: libpilot is built for Linux; this is %s" % sys.platform)
    if not os.path.exists(path):
        raise ImportError("pilot: %s is missing; run `make` in the source tree (or pip install the package)" % path)
    return ctypes.CDLL(path)


lib = _load()
_pid = os.getpid()

c_handle = ctypes.c_uint64
c_status = ctypes.c_int32
c_state = ctypes.c_int32
STATE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_int32,
                            ctypes.c_char_p, ctypes.c_char_p)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)

_P = ctypes.POINTER
_str_out = _P(ctypes.c_void_p)  # char**: kept as a raw pointer so that it can be freed

# name: (argtypes, returns a status)
_SIGNATURES = {
    "pilot_abi_version": ([], False),
    "pilot_version": ([], False),
    "pilot_coordination_url": ([ctypes.c_char_p, _str_out], True),
    "pilot_last_error": ([], False),
    "pilot_clear_error": ([], False),
    "pilot_string_free": ([ctypes.c_void_p], False),
    "pilot_state_name": ([c_state], False),
    "pilot_state_is_final": ([c_state], False),
    "pilot_set_log_handler": ([LOG_FN, ctypes.c_void_p, ctypes.c_int32], True),
    "pilot_flush_all": ([ctypes.c_int64], True),
    "pilot_live_handles": ([], False),
    "pilot_service_new": ([ctypes.c_char_p, _P(c_handle)], True),
    "pilot_service_open": ([ctypes.c_char_p, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_service_free": ([c_handle], True),
    "pilot_service_id": ([c_handle, _str_out], True),
    "pilot_service_url": ([c_handle, _str_out], True),
    "pilot_service_create_pilot": ([c_handle, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_service_pilots": ([c_handle, _str_out], True),
    "pilot_service_submit_unit": ([c_handle, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_service_submit_units": ([c_handle, ctypes.c_char_p, _P(c_handle), ctypes.c_size_t], True),
    "pilot_service_flush": ([c_handle, ctypes.c_int64], True),
    "pilot_service_wait": ([c_handle, ctypes.c_int64], True),
    "pilot_service_cancel": ([c_handle], True),
    "pilot_service_report": ([c_handle, ctypes.c_char_p], True),
    "pilot_service_progress": ([c_handle, _str_out], True),
    "pilot_progress_open": ([c_handle, _P(c_handle)], True),
    "pilot_progress_next": ([c_handle, ctypes.c_int64, ctypes.c_int64, _str_out], True),
    "pilot_progress_free": ([c_handle], True),
    "pilot_service_set_callback": ([c_handle, STATE_FN, ctypes.c_void_p], True),
    "pilot_service_units": ([c_handle, _str_out], True),
    "pilot_store_services": ([ctypes.c_char_p, ctypes.c_char_p, _str_out], True),
    "pilot_store_pilots": ([ctypes.c_char_p, ctypes.c_char_p, _str_out], True),
    "pilot_resolve": ([ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _str_out], True),
    "pilot_job_open": ([ctypes.c_char_p, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_job_free": ([c_handle], True),
    "pilot_job_id": ([c_handle, _str_out], True),
    "pilot_job_url": ([c_handle, _str_out], True),
    "pilot_job_service_url": ([c_handle, _str_out], True),
    "pilot_job_state": ([c_handle, _P(c_state)], True),
    "pilot_job_details": ([c_handle, _str_out], True),
    "pilot_job_description": ([c_handle, _str_out], True),
    "pilot_job_free_slots": ([c_handle, _P(ctypes.c_int32)], True),
    "pilot_job_wait": ([c_handle, ctypes.c_int64], True),
    "pilot_job_wait_state": ([c_handle, c_state, ctypes.c_int64, _P(c_state)], True),
    "pilot_job_cancel": ([c_handle], True),
    "pilot_job_submit_unit": ([c_handle, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_job_submit_units": ([c_handle, ctypes.c_char_p, _P(c_handle), ctypes.c_size_t], True),
    "pilot_job_units": ([c_handle, _str_out], True),
    "pilot_job_set_callback": ([c_handle, STATE_FN, ctypes.c_void_p], True),
    "pilot_unit_open": ([ctypes.c_char_p, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_unit_free": ([c_handle], True),
    "pilot_unit_id": ([c_handle, _str_out], True),
    "pilot_unit_url": ([c_handle, _str_out], True),
    "pilot_unit_state": ([c_handle, _P(c_state)], True),
    "pilot_unit_wait": ([c_handle, ctypes.c_int64, _P(c_state)], True),
    "pilot_unit_details": ([c_handle, _str_out], True),
    "pilot_unit_description": ([c_handle, _str_out], True),
    "pilot_unit_sandbox": ([c_handle, _str_out], True),
    "pilot_unit_explain": ([c_handle, _str_out], True),
    "pilot_unit_cancel": ([c_handle], True),
    "pilot_unit_set_callback": ([c_handle, STATE_FN, ctypes.c_void_p], True),
    "pilot_dataservice_new": ([_P(c_handle)], True),
    "pilot_dataservice_new_central": ([_P(c_handle)], True),
    "pilot_dataservice_free": ([c_handle], True),
    "pilot_dataservice_id": ([c_handle, _str_out], True),
    "pilot_dataservice_add_service": ([c_handle, c_handle], True),
    "pilot_dataservice_remove_service": ([c_handle, c_handle], True),
    "pilot_dataservice_submit_unit": ([c_handle, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_dataservice_wait": ([c_handle, ctypes.c_int64], True),
    "pilot_dataservice_details": ([c_handle, _str_out], True),
    "pilot_pds_new": ([ctypes.c_char_p, _P(c_handle)], True),
    "pilot_pds_open": ([ctypes.c_char_p, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_pds_free": ([c_handle], True),
    "pilot_pds_url": ([c_handle, _str_out], True),
    "pilot_pds_create_pilot_data": ([c_handle, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_pds_pilot_data": ([c_handle, _str_out], True),
    "pilot_pd_open": ([ctypes.c_char_p, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_pd_free": ([c_handle], True),
    "pilot_pd_url": ([c_handle, _str_out], True),
    "pilot_pd_description": ([c_handle, _str_out], True),
    "pilot_pd_submit_data_unit": ([c_handle, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_pd_add_data_unit": ([c_handle, c_handle], True),
    "pilot_pd_data_units": ([c_handle, _str_out], True),
    "pilot_du_open": ([ctypes.c_char_p, ctypes.c_char_p, _P(c_handle)], True),
    "pilot_du_free": ([c_handle], True),
    "pilot_du_url": ([c_handle, _str_out], True),
    "pilot_du_state": ([c_handle, _P(c_state)], True),
    "pilot_du_wait": ([c_handle, ctypes.c_int64], True),
    "pilot_du_files": ([c_handle, _str_out], True),
    "pilot_du_pilot_data": ([c_handle, _str_out], True),
    "pilot_du_add_files": ([c_handle, ctypes.c_char_p], True),
    "pilot_du_export": ([c_handle, ctypes.c_char_p], True),
    "pilot_plugin_load": ([ctypes.c_char_p, _str_out], True),
    "pilot_plugins": ([_str_out], True),
    "pilot_plugin_call": ([ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, _str_out], True),
}


# C names the library's messages may hold, and what a Python user calls them.
_PYTHON_NAMES = {
    "pilot_service": "PilotComputeService", "pilot_job": "PilotCompute", "pilot_unit": "ComputeUnit",
    "pilot_dataservice": "ComputeDataService", "pilot_pds": "PilotDataService", "pilot_pd": "PilotData",
    "pilot_du": "DataUnit", "pilot_plugin_load": "pilot.load_plugin", "pilot_plugin_call": "pilot.call_plugin",
    "pilot_plugins": "pilot.plugins", "descriptions_json": "the descriptions", "description_json": "the description",
    "options_json": "the options", "paths_json": "the paths", "request_json": "the request",
}
_C_NAME = re.compile(r"\b(pilot_[a-z_]+|[a-z]+_json)\b")
_C_PREFIX = re.compile(r"^pilot_[a-z_]+: ")


def python_call(skip=1):
    """The call of this package that the user's code made, as its docs name
    it ("PilotComputeService.create_pilot", "ComputeUnit()", "pilot.resolve"):
    the outermost public function of the package on the stack above the
    caller, or None. pilot.cli counts as a user."""
    try:
        f = sys._getframe(skip + 1)
    except ValueError:
        return None
    name = None
    while f is not None:
        module = f.f_globals.get("__name__") or ""
        if not module.startswith("pilot.") or module == "pilot.cli":
            break
        if module == __name__:  # this module's helpers are no call of the API
            f = f.f_back
            continue
        fn = f.f_code.co_name
        if fn == "__init__" or not fn.startswith("_"):
            owner = f.f_locals.get("self") if f.f_code.co_argcount else None
            if owner is not None:
                cls = type(owner).__name__
                name = cls + "()" if fn == "__init__" else "%s.%s" % (cls, fn)
            elif not fn.startswith("<"):
                name = "pilot." + fn
        f = f.f_back
    return name


def python_message(msg, call=None):
    """msg, a message of the library, in Python's terms: without the C
    function it starts with, C names replaced, prefixed with call."""
    msg = _C_PREFIX.sub("", msg, count=1)
    msg = _C_NAME.sub(lambda m: _PYTHON_NAMES.get(m.group(1), m.group(1)), msg)
    return "%s: %s" % (call, msg) if call else msg


def _check(status, func, args):
    if status < 0:
        msg = to_str(lib.pilot_last_error())
        raise PilotError(python_message(msg, python_call(1)), status=status)
    return status


for _name, (_argtypes, _is_status) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.argtypes = _argtypes
    if _is_status:
        _fn.restype = c_status
        _fn.errcheck = _check
lib.pilot_abi_version.restype = ctypes.c_int32
lib.pilot_version.restype = ctypes.c_char_p
lib.pilot_last_error.restype = ctypes.c_char_p
lib.pilot_clear_error.restype = None
lib.pilot_string_free.restype = None
lib.pilot_state_name.restype = ctypes.c_char_p
lib.pilot_state_is_final.restype = ctypes.c_int32
lib.pilot_live_handles.restype = ctypes.c_int64

if lib.pilot_abi_version() != ABI_VERSION:
    raise ImportError("pilot: libpilot ABI %d, but this module needs %d: reinstall the package"
                      % (lib.pilot_abi_version(), ABI_VERSION))


def guard():
    """Refuses to run in a child forked after the library was loaded."""
    if os.getpid() != _pid:
        raise PilotError("libpilot cannot be used in a process forked after it was loaded (the Go runtime "
                         "does not survive fork); start workers with multiprocessing's 'spawn' method")


def call(name, *args):
    """Calls a status-returning function; raises PilotError on failure."""
    guard()
    try:
        return getattr(lib, name)(*args)
    except ctypes.ArgumentError as e:
        raise PilotError(python_message("bad argument: %s" % e, python_call(1)))


def new_handle(name, *args):
    """Calls a function whose last argument is a handle out-parameter."""
    out = c_handle(0)
    call(name, *(args + (ctypes.byref(out),)))
    return out.value


def get_string(name, *args):
    """Calls a function that returns a string through its last argument."""
    out = ctypes.c_void_p()
    call(name, *(args + (ctypes.byref(out),)))
    try:
        return to_str(ctypes.string_at(out.value)) if out.value else ""
    finally:
        lib.pilot_string_free(out)


# How long one library wait blocks before Python gets control back.
SLICE_MS = 200


def wait(step, timeout=None, progress=None):
    """Calls step(ms), a library wait of at most ms milliseconds, until it
    succeeds (True) or timeout seconds pass (False; None waits for ever).
    progress (may be None) reads the progress of the run waited for: a wait
    that lasts shows it on stderr when that is a terminal (pilot.progress)."""
    deadline = None if timeout is None else time.time() + timeout
    line = _progress.Line(progress) if progress is not None else None
    try:
        while True:
            ms = SLICE_MS
            if deadline is not None:
                ms = max(0, min(ms, int((deadline - time.time()) * 1000)))
            try:
                step(ms)
                return True
            except PilotError as e:
                if e.status != ETIMEOUT:
                    raise
            if deadline is not None and time.time() >= deadline:
                return False
            if line is not None:
                line.tick()
    finally:
        if line is not None:
            line.close()


def url_arg(kind, url):
    """url as bytes for the library; a non-string is a PilotError."""
    if not isinstance(url, (str, text_type, bytes)):
        raise PilotError("%s must be a string, not %s" % (kind, type(url).__name__))
    return to_bytes(url)


def as_dict(kind, description):
    if description is None:
        raise PilotError("%s is missing" % kind)
    if not isinstance(description, dict):
        raise PilotError("%s must be a dict, not %s" % (kind, type(description).__name__))
    return description


def coordination_url(url):
    """The coordination URL a service made with url uses: url, the default for
    none, and the default (with a warning on stderr) for a URL of the
    original BigJob's Advert backend, which is gone."""
    return get_string("pilot_coordination_url", to_bytes(url) if url else None)


def get_json(name, *args):
    return native(json.loads(get_string(name, *args)))


def native(value):
    """value with every text string made a native str (bytes on Python 2,
    where json gives unicode), as BigJob's getters returned them."""
    if not PY2:
        return value
    if isinstance(value, text_type):
        return value.encode("utf-8")
    if isinstance(value, dict):
        return dict((native(k), native(v)) for k, v in value.items())
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


def get_state(name, *args):
    out = c_state(0)
    call(name, *(args + (ctypes.byref(out),)))
    return STATE_NAMES[out.value]


def encode(kind, value):
    """JSON of a description; a value JSON cannot carry is a PilotError naming it."""
    try:
        return to_bytes(json.dumps(value))
    except (TypeError, ValueError) as e:
        raise PilotError("%s: cannot be encoded as JSON: %s" % (kind, e))


def _is_number(value, whole):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, long_type)):
        return True
    return not whole and isinstance(value, float) and value == value and value not in (float("inf"), float("-inf"))


def options(coordination_url=None, hooks=None, max_attempts=None, finished_ttl=None):
    """Options JSON for the library: the package's own agent binary. The
    library checks the values (its errors name the key); here only what JSON
    cannot carry is refused."""
    opts = {"agent_path": os.path.join(LIB_DIR, "pilot-agent")}
    if coordination_url:
        opts["coordination_url"] = to_str(to_bytes(coordination_url))
    if hooks is not None:
        if isinstance(hooks, (str, text_type, bytes)) or not all(isinstance(h, (str, text_type, bytes)) for h in hooks):
            raise PilotError("hooks: give a list of plugin names or plugin.json paths, not %r" % (hooks,))
        opts["hooks"] = [to_str(to_bytes(h)) for h in hooks]
    if max_attempts is not None:
        if not _is_number(max_attempts, True):
            raise PilotError("max_attempts: expected a whole number of at least 1, not %r" % (max_attempts,))
        opts["max_attempts"] = max_attempts
    if finished_ttl is not None:
        if not _is_number(finished_ttl, False):
            raise PilotError("finished_ttl: expected a number of seconds greater than 0, not %r" % (finished_ttl,))
        opts["finished_ttl"] = finished_ttl
    return to_bytes(json.dumps(opts))


class _Owned(object):
    """One library handle, freed once by release() or when collected. It
    refers to nothing else, so it never sits in a reference cycle (Python
    2.7 never collects cycles that hold an object with __del__)."""

    __slots__ = ("handle", "free")

    def __init__(self, handle, free):
        self.handle, self.free = handle, free

    def release(self):
        h, self.handle = self.handle, 0
        if h and os.getpid() == _pid:
            try:
                getattr(lib, self.free)(h)
            except Exception:  # interpreter shutdown, or freed already
                pass

    def __del__(self):
        self.release()


class Handle(object):
    """Base of the objects that own a library handle (_free names the
    function that frees it)."""

    _free = None

    def __init__(self, handle):
        self._owned = _Owned(handle, self._free)

    @property
    def _handle(self):
        owned = getattr(self, "_owned", None)
        return owned.handle if owned is not None else 0

    @property
    def handle(self):
        if not self._handle:
            raise PilotError("%s was freed" % type(self).__name__)
        return self._handle

    def _release(self):
        self._owned.release()


@atexit.register
def _flush_at_exit():
    # Units are written in the background: make sure none is lost at exit.
    if os.getpid() == _pid:
        try:
            lib.pilot_flush_all(30000)
        except Exception:
            pass
