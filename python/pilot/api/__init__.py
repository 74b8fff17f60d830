"""BigJob's pilot.api: the abstract names, PilotDataDescription and Callback."""
from __future__ import absolute_import

from pilot.errors import PilotError
from pilot.state import State
from pilot.description import (PilotComputeDescription, ComputeUnitDescription, DataUnitDescription,
                               PilotDataDescription)
from pilot.compute import (PilotComputeService, PilotCompute, ComputeUnit, ComputeDataService,
                           ComputeUnitService, DataUnitService)
from pilot.data import PilotDataService, PilotData, DataUnit


class Callback(object):
    """Base of state callbacks: set_callback("state", cb) calls
    cb.cb(obj, "state", new_state) on every state change of obj."""

    def cb(self, wu, member, value):
        pass


__all__ = ["PilotError", "State", "PilotComputeDescription", "ComputeUnitDescription", "DataUnitDescription",
           "PilotDataDescription", "PilotComputeService", "PilotCompute", "ComputeUnit", "ComputeDataService",
           "ComputeUnitService", "DataUnitService", "PilotDataService", "PilotData", "DataUnit", "Callback"]
