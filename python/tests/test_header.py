"""pilot._ffi against include/pilot.h, the contract it declares by hand:
every function's parameter and result types, the status codes and the
states. A change to the header that the module does not follow fails here."""
import ctypes
import os
import re
import unittest

from pilot import _ffi
from pilot.state import FINAL, State

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "pilot.h")

_P = ctypes.POINTER
_HANDLES = ("pilot_service", "pilot_job", "pilot_unit", "pilot_dataservice", "pilot_pds", "pilot_pd", "pilot_du",
            "pilot_progress")


def read_header():
    with open(HEADER) as f:
        return f.read()


def uncommented(src):
    return re.sub(r"/\*.*?\*/", "", src, flags=re.S)


def prototypes(src):
    """name -> (result type, [parameter types]) of every function."""
    out = {}
    for ret, name, params in re.findall(r"(?m)^([A-Za-z_][\w \*]*?)\s*\b(pilot_\w+)\s*\(([^)]*)\)\s*;",
                                        uncommented(src)):
        types = []
        if params.strip() != "void":
            for p in params.split(","):
                words = p.replace("*", " * ").split()[:-1]  # without the parameter's name
                base = " ".join(w for w in words if w not in ("*", "const"))
                types.append((base, "*" * words.count("*")))
        out[name] = (" ".join(ret.split()), types)
    return out


def ctype_of(base, stars):
    """The ctypes types a C parameter type may be declared as."""
    scalar = {"int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "size_t": ctypes.c_size_t,
              "pilot_status": ctypes.c_int32, "pilot_state": ctypes.c_int32}
    for h in _HANDLES:
        scalar[h] = ctypes.c_uint64
    if stars == "":
        if base == "pilot_state_fn":
            return [_ffi.STATE_FN]
        if base == "pilot_log_fn":
            return [_ffi.LOG_FN]
        return [scalar[base]]
    if stars == "*":
        if base == "char":
            return [ctypes.c_char_p, ctypes.c_void_p]  # a string in, or one the caller frees
        if base == "void":
            return [ctypes.c_void_p]
        return [_P(scalar[base])]
    if stars == "**" and base == "char":
        return [_P(ctypes.c_char_p), _P(ctypes.c_void_p)]
    raise AssertionError("no ctypes type known for %s %s" % (base, stars))


class HeaderTest(unittest.TestCase):

    def setUp(self):
        self.src = read_header()
        self.protos = prototypes(self.src)

    def test_every_function_is_declared(self):
        self.assertGreater(len(self.protos), 50)
        self.assertEqual(sorted(self.protos), sorted(_ffi._SIGNATURES))

    def test_parameter_types(self):
        for name, (_, params) in sorted(self.protos.items()):
            argtypes = _ffi._SIGNATURES[name][0]
            self.assertEqual(len(argtypes), len(params), "%s: %d parameters in pilot.h, %d in _ffi"
                             % (name, len(params), len(argtypes)))
            for i, ((base, stars), declared) in enumerate(zip(params, argtypes)):
                allowed = ctype_of(base, stars)
                self.assertTrue(any(declared is a for a in allowed),
                                "%s: parameter %d is %s%s in pilot.h, %r in _ffi" % (name, i, base, stars, declared))

    def test_result_types(self):
        results = {"int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "const char *": ctypes.c_char_p, "void": None}
        for name, (ret, _) in sorted(self.protos.items()):
            status = _ffi._SIGNATURES[name][1]
            self.assertEqual(status, ret == "pilot_status", "%s returns %s in pilot.h" % (name, ret))
            fn = getattr(_ffi.lib, name)
            if status:
                self.assertIs(fn.restype, ctypes.c_int32, name)
                self.assertIsNotNone(fn.errcheck, name)
            else:
                self.assertIn(ret, results, name)
                self.assertIs(fn.restype, results[ret], "%s returns %s in pilot.h" % (name, ret))

    def test_status_codes(self):
        codes = dict((n, int(v)) for n, v in re.findall(r"(?m)^#define PILOT_(OK|E\w+) (-?\d+)", self.src))
        self.assertIn("EINVAL", codes)
        for name in ("OK", "EINVAL", "ENOTFOUND", "ETIMEOUT", "ESTORE", "ENOPILOTS", "ENOKEY"):
            self.assertEqual(getattr(_ffi, name), codes[name], "PILOT_%s" % name)
        self.assertEqual(_ffi.ABI_VERSION, int(re.search(r"#define PILOT_ABI_VERSION (\d+)", self.src).group(1)))

    def test_states(self):
        defs = re.findall(r'(?m)^#define PILOT_STATE_\w+ (\d+)\s*/\* "(\w+)"', self.src)
        self.assertEqual(len(defs), len(_ffi.STATE_NAMES))
        for code, name in defs:
            self.assertEqual(_ffi.STATE_NAMES[int(code)], name)
            self.assertEqual(_ffi.to_str(_ffi.lib.pilot_state_name(int(code))), name)
            self.assertEqual(getattr(State, name), name)
            self.assertEqual(bool(_ffi.lib.pilot_state_is_final(int(code))), name in FINAL)


if __name__ == "__main__":
    unittest.main()
