"""Pilot-Data: placeholder, filled in below."""
from pilot.errors import PilotError


class PilotDataService(object):
    pass


class PilotData(object):
    pass


class DataUnit(object):
    pass


def schedule_data_unit(pds_list, description):
    raise PilotError("not yet")
