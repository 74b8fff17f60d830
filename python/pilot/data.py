"""Pilot-Data: PilotDataService, PilotData and DataUnit.

A PilotData is a directory on this machine (service_url "ssh://localhost/path",
"ssh:///path", "file:///path" or a plain path); remote hosts and the cloud
backends of the original are refused with a PilotError that says so. A
DataUnit's files are copied (never symlinked) into <pilot data>/<du-id>/ of
each PilotData it belongs to. A compute unit's input_data is staged into its
sandbox (the data unit's files become file_transfer entries); its
output_data patterns are moved from the sandbox into the data units once the
unit is Done, when a wait returns. Data units live in this process: they
cannot be reconnected by URL from another one.
"""
from __future__ import absolute_import

import fnmatch
import logging
import os
import random
import shutil
import socket
import sys
import uuid

from pilot.description import textual
from pilot.errors import PilotError
from pilot.state import State

logger = logging.getLogger("bigjob")

# Data units of this process by URL (input_data and output_data name them).
_units = {}


def _local_path(service_url):
    """The local directory of a Pilot-Data service_url, or a PilotError."""
    if "://" not in service_url:
        return os.path.abspath(os.path.expanduser(service_url))
    scheme, rest = service_url.split("://", 1)
    host, _, path = rest.partition("/")
    host = host.split("@")[-1].split(":")[0]
    if scheme not in ("ssh", "file", "sftp"):
        raise PilotError("Pilot-Data %s: the %s:// backend is not supported here; use a local directory "
                         "(ssh://localhost/path or a plain path)" % (service_url, scheme))
    if host not in ("", "localhost", "127.0.0.1", socket.gethostname()):
        raise PilotError("Unable to connect/initialize Pilot-Data %s: host %s is not this machine; only local "
                         "Pilot-Data is supported" % (service_url, host))
    return os.path.abspath(os.path.expanduser("/" + path))


def _host(coordination_url):
    rest = coordination_url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("@")[-1].split(":")[0] or "localhost"


class PilotDataService(object):
    """Creates PilotData (directories where data units are kept)."""

    def __init__(self, coordination_url="redis://localhost", pds_url=None):
        if pds_url is not None:
            raise PilotError("reconnecting a PilotDataService by URL is not supported")
        self.coordination_url = coordination_url
        self.id = "pds-" + str(uuid.uuid1())
        self.url = "redis://%s/bigdata:%s" % (_host(coordination_url), self.id)
        self.pilot_datas = []

    def create_pilot(self, pilot_data_description=None):
        pd = PilotData(pilot_data_service=self, pilot_data_description=pilot_data_description)
        self.pilot_datas.append(pd)
        return pd

    def get_pilot(self, pd_id):
        for pd in self.pilot_datas:
            if pd.id == pd_id:
                return pd
        return None

    def list_pilots(self):
        return list(self.pilot_datas)

    def cancel(self):
        for pd in self.pilot_datas:
            pd.cancel()

    def wait(self):
        for pd in self.pilot_datas:
            pd.wait()

    def get_url(self):
        return self.url

    def to_dict(self):
        return {"id": self.id, "url": self.url, "pilot_data": [pd.url for pd in self.pilot_datas]}


class PilotData(object):
    """A local directory that holds data units."""

    def __init__(self, pilot_data_service=None, pilot_data_description=None, pd_url=None):
        if pd_url is not None:
            raise PilotError("reconnecting a PilotData by URL is not supported")
        if not isinstance(pilot_data_description, dict) or "service_url" not in pilot_data_description:
            raise PilotError("pilot data description: key 'service_url' is missing; give e.g. "
                             "'ssh://localhost/tmp/pilot-data'")
        self.pilot_data_description = pilot_data_description
        self.service_url = pilot_data_description["service_url"]
        self.path = _local_path(self.service_url)
        try:
            if not os.path.isdir(self.path):
                os.makedirs(self.path)
        except OSError as e:
            raise PilotError("Unable to connect/initialize Pilot-Data %s: %s" % (self.service_url, e))
        self.pilot_data_service = pilot_data_service
        self.id = "pd-" + str(uuid.uuid1())
        pds_id = pilot_data_service.id if pilot_data_service else "pds-none"
        host = _host(pilot_data_service.coordination_url) if pilot_data_service else "localhost"
        self.url = "redis://%s/bigdata:%s:%s" % (host, pds_id, self.id)
        self.data_units = []

    def get_url(self):
        return self.url

    def submit_data_unit(self, data_unit_description=None, data_unit=None):
        """Creates a data unit here, or (data_unit=) replicates one into this
        PilotData."""
        if data_unit is not None:
            data_unit.add_pilot_data(self)
            return data_unit
        du = DataUnit(pilot_data=self, data_unit_description=data_unit_description)
        return du

    def list_data_units(self):
        return [du.url for du in self.data_units]

    def get_du(self, du_url):
        return _units.get(du_url)

    def url_for_du(self, du):
        return self.service_url.rstrip("/") + "/" + du.id

    def dir_for(self, du):
        return os.path.join(self.path, du.id)

    def export_du(self, du, target):
        du.export(target)

    def put_du(self, du):
        du.add_pilot_data(self)

    def remove_du(self, du):
        shutil.rmtree(self.dir_for(du), ignore_errors=True)
        if du in self.data_units:
            self.data_units.remove(du)

    def copy_du(self, du, pd_new):
        du.add_pilot_data(pd_new)

    def cancel(self):
        pass

    def get_state(self):
        return State.Running

    def wait(self):
        pass

    def __repr__(self):
        return self.service_url


class DataUnit(object):
    """A set of files kept in one or more PilotData."""

    def __init__(self, pilot_data=None, data_unit_description=None, du_url=None):
        if du_url is not None:
            du = _units.get(du_url)
            if du is None:
                raise PilotError("data unit %s is not known in this process: data units cannot be "
                                 "reconnected from another process" % du_url)
            self.__dict__ = du.__dict__
            return
        dud = data_unit_description or {}
        self.data_unit_description = dud
        self.id = "du-" + str(uuid.uuid1())
        host = _host(pilot_data.pilot_data_service.coordination_url) if pilot_data and pilot_data.pilot_data_service \
            else "localhost"
        self.url = "redis://%s/bigdata:%s" % (host, self.id)
        self.state = State.New
        self.pilot_data = []
        self.items = {}  # file name -> original local path
        _units[self.url] = self
        self.add_files(dud.get("file_urls") or [])
        if pilot_data is not None:
            self.add_pilot_data(pilot_data)

    def get_url(self):
        return self.url

    def get_state(self):
        return self.state

    def wait(self):
        """Data units are complete when add_files/add_pilot_data return."""
        return self.state

    def add_files(self, file_urls):
        """Adds files (local paths or ssh://localhost/... URLs) to the unit and
        copies them into its PilotData. A missing file is a PilotError."""
        for f in file_urls:
            path = _local_path(f)
            if not os.path.isfile(path):
                raise PilotError("data unit %s: file %s does not exist (directories are not supported)" % (self.id, f))
            self.items[os.path.basename(path)] = path
        for pd in self.pilot_data:
            self._copy_into(pd)
        self.state = State.Running if self.pilot_data else State.Pending

    def remove_files(self, file_urls):
        for f in file_urls:
            self.items.pop(os.path.basename(f), None)

    def add_pilot_data(self, pd):
        if pd not in self.pilot_data:
            self.pilot_data.append(pd)
            pd.data_units.append(self)
        self._copy_into(pd)
        self.state = State.Running

    def _copy_into(self, pd):
        d = pd.dir_for(self)
        if not os.path.isdir(d):
            os.makedirs(d)
        for name, src in self.items.items():
            dst = os.path.join(d, name)
            if os.path.abspath(src) != os.path.abspath(dst):
                shutil.copy2(src, dst)

    def files(self):
        """Absolute paths of the unit's files in its first PilotData."""
        if not self.pilot_data:
            return list(self.items.values())
        d = self.pilot_data[0].dir_for(self)
        return [os.path.join(d, name) for name in sorted(self.items)]

    def export(self, target_dir):
        """Copies the unit's files into target_dir (created if missing)."""
        if not os.path.isdir(target_dir):
            os.makedirs(target_dir)
        for f in self.files():
            shutil.copy2(f, os.path.join(target_dir, os.path.basename(f)))

    def list(self):
        return dict((name, {"pilot_data": [pd.url_for_du(self) + "/" + name for pd in self.pilot_data],
                            "local": src}) for name, src in self.items.items())

    def list_pilot_data(self):
        return [pd.url for pd in self.pilot_data]

    def get_pilot_data(self):
        return list(self.pilot_data)

    def cancel(self):
        self.state = State.Done

    def _take_outputs(self, sandbox, patterns):
        """Moves files matching patterns out of a unit sandbox into this unit."""
        for name in sorted(os.listdir(sandbox)):
            path = os.path.join(sandbox, name)
            if os.path.isfile(path) and any(fnmatch.fnmatch(name, p) for p in patterns):
                for pd in self.pilot_data:
                    d = pd.dir_for(self)
                    if not os.path.isdir(d):
                        os.makedirs(d)
                    shutil.copy2(path, os.path.join(d, name))
                self.items[name] = os.path.join(self.pilot_data[0].dir_for(self), name) if self.pilot_data else path
                os.remove(path)
        self.state = State.Running


def schedule_data_unit(pds_list, description):
    """Places a data unit on a PilotData of the given services: one with the
    same affinity labels if there is one, else any (as BigJob's scheduler)."""
    pds = [pd for pds in pds_list for pd in pds.list_pilots()]
    if not pds:
        raise PilotError("No PilotData found: add a PilotDataService with a PilotData before submitting data units")
    d = description or {}

    def affine(pd):
        pdd = pd.pilot_data_description
        return all(d.get(k) is not None and d.get(k) == pdd.get(k)
                   for k in ("affinity_datacenter_label", "affinity_machine_label"))
    matching = [pd for pd in pds if affine(pd)]
    return random.choice(matching or pds).submit_data_unit(d)


def stage_in(description):
    """The compute unit description, its fields in text (description.textual),
    with its input_data turned into file_transfer entries (the files of the
    data units named). An entry that names no data unit of this process is
    dropped with a warning naming it, and the unit runs without it: the
    original BigJob logged that the stage-in failed and ran the unit. The
    data unit keys are handled in this process (output_data when a wait
    sees the unit Done), so the description returned for submission has
    neither input_data nor output_data."""
    description = textual(description)
    urls = description.get("input_data") or []
    description = dict((k, v) for k, v in description.items() if k not in ("input_data", "output_data"))
    if not urls:
        return description
    transfers = list(description.get("file_transfer") or [])
    for url in urls:
        du = _units.get(url) if isinstance(url, (str, type(u""))) else None
        if du is None:
            _warn_once("compute unit description: input_data entry %r is not a data unit of this process; units "
                       "that name it run without it, as the original BigJob ran them after its stage-in failed "
                       "(give data unit URLs: DataUnit.get_url())" % (url,))
            continue
        du.wait()
        transfers.extend("file://%s > SUBJOB_WORK_DIR" % f for f in du.files())
    out = dict(description)
    out["file_transfer"] = transfers
    return out


_warned = set()


def _warn_once(message):
    """Prints a warning line on stderr, as the library's own warnings are,
    once per message (a loop of units must not print it for each)."""
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write("bigjob: warning: %s\n" % message)
        logger.warning(message)


# Units with output_data whose files are not moved yet.
_awaiting_output = []


def expect_output(cu):
    """Registers a submitted unit whose output_data is to be staged out."""
    if (cu.compute_unit_description or {}).get("output_data"):
        _awaiting_output.append(cu)


def stage_out_finished():
    """Stages out the units of expect_output that are final (Done ones)."""
    for cu in list(_awaiting_output):
        state = cu.get_state()
        if state in (State.Done, State.Failed, State.Canceled):
            _awaiting_output.remove(cu)
            if state == State.Done:
                stage_out(cu)


def stage_out(cu):
    """Moves a Done unit's output_data files into their data units."""
    spec = (cu.compute_unit_description or {}).get("output_data")
    sandbox = cu.get_local_working_directory()
    for entry in spec:
        for du_url, patterns in entry.items():
            du = _units.get(du_url)
            if du is None:
                logger.warning("output_data: data unit %s is not known in this process", du_url)
                continue
            du._take_outputs(sandbox, patterns)
