"""BigJob's legacy API: bigjob, subjob, description, logger, version, state.

    from bigjob import bigjob, subjob, description

The logger is logging.getLogger('bigjob'). Its level comes from the
environment variable BIGJOB_VERBOSE: 4 or more (or DEBUG) debug, 3 (INFO),
2 (WARNING), 1 (ERROR); unset: FATAL. Unlike the original, level names work,
and the root logger is left alone (no logging.basicConfig at import).
"""
from __future__ import absolute_import

import logging
import os

from pilot import _ffi
from bigjob import state
from bigjob.bigjob_manager import bigjob, subjob, description, BigJobError

version = _ffi.to_str(_ffi.lib.pilot_version())

logger = logging.getLogger("bigjob")


def _verbose_level(value):
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        return getattr(logging, value.strip().upper(), None)
    return {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}.get(n, logging.DEBUG if n >= 4 else None)


_level = _verbose_level(os.environ.get("BIGJOB_VERBOSE"))
if _level is None:
    logger.setLevel(logging.FATAL)
else:
    logger.setLevel(_level)
    if not logger.handlers:  # asking for verbosity means wanting to see it
        _h = logging.StreamHandler()
        _h.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
        logger.addHandler(_h)

__all__ = ["bigjob", "subjob", "description", "BigJobError", "logger", "version", "state"]
