"""BigJob's `pilot` API, on libpilot (a Go reimplementation of BigJob).

    from pilot import PilotComputeService, ComputeDataService, State

Works on Python 2.7 and 3.8+. See docs/COMPATIBILITY.md for where it differs
from the original BigJob.
"""
from __future__ import absolute_import

from pilot import _ffi
from pilot.errors import PilotError
from pilot.state import State
from pilot.description import (PilotComputeDescription, ComputeUnitDescription, DataUnitDescription)
from pilot.compute import (PilotComputeService, PilotCompute, ComputeUnit, ComputeDataService,
                           ComputeDataServiceDecentral, ComputeDataServiceCentral, ComputeUnitService,
                           DataUnitService)
from pilot.data import PilotDataService, PilotData, DataUnit
from pilot.plugins import load_plugin, plugins, call_plugin
from pilot.store import list_services, list_pilots, resolve

application_id = "bigjob"
version = _ffi.to_str(_ffi.lib.pilot_version())

from pilot import api  # noqa: E402,F401  (pilot.api, as in BigJob)
import bigjob  # noqa: E402  (BigJob's pilot package imports it too: pilot.bigjob)

__all__ = [
    "PilotComputeService", "PilotCompute", "ComputeUnit", "ComputeDataService", "ComputeDataServiceDecentral",
    "ComputeDataServiceCentral", "ComputeUnitService", "DataUnitService", "PilotDataService", "PilotData",
    "DataUnit", "PilotError", "State", "PilotComputeDescription", "ComputeUnitDescription",
    "DataUnitDescription", "application_id", "version", "load_plugin", "plugins", "call_plugin",
    "list_services", "list_pilots", "resolve",
]
