"""Pilot-Data: PilotDataService, PilotData and DataUnit, on libpilot.

Their records live in the coordination store, so any process reconnects them
by URL (PilotDataService(pds_url=...), PilotData(pd_url=...),
DataUnit(du_url=...)). A PilotData keeps its files in a directory of this
machine (service_url "file:///path", "ssh://localhost/path" or a plain path);
remote hosts and the cloud backends of the original are refused with a
PilotError that says so. Every file of a data unit is recorded with its size
and sha256 and checked on every copy. A compute unit's input_data and
output_data are staged by the pilot's agent (state Staging before it runs;
output_data patterns moved into their data units once it is Done).
"""
from __future__ import absolute_import

import os
import random
import sys

from pilot import _ffi
from pilot.errors import PilotError


def _object_id(url):
    """The last part of a Pilot-Data URL: pds-, pd- or du-<uuid>."""
    return url.rsplit(":", 1)[-1]


class PilotDataService(_ffi.Handle):
    """Makes PilotData (storage where data units are kept)."""

    _free = "pilot_pds_free"

    def __init__(self, coordination_url="redis://localhost", pds_url=None):
        if pds_url is not None:
            h = _ffi.new_handle("pilot_pds_open", _ffi.url_arg("pds_url", pds_url), _ffi.options())
        else:
            h = _ffi.new_handle("pilot_pds_new", _ffi.options(coordination_url))
        _ffi.Handle.__init__(self, h)
        self.coordination_url = coordination_url
        self.url = _ffi.get_string("pilot_pds_url", self.handle)
        self.id = _object_id(self.url)

    def create_pilot(self, pilot_data_description=None):
        return PilotData(pilot_data_service=self, pilot_data_description=pilot_data_description)

    def get_pilot(self, pd_id):
        for pd in self.list_pilots():
            if pd.id == pd_id:
                return pd
        return None

    def list_pilots(self):
        """The service's PilotData, whichever process made them."""
        return [PilotData(pd_url=url) for url in _ffi.get_json("pilot_pds_pilot_data", self.handle)]

    def cancel(self):
        """The records and files stay: data outlives the script, as in BigJob."""

    def wait(self):
        pass

    def get_url(self):
        return self.url

    def to_dict(self):
        return {"id": self.id, "url": self.url, "pilot_data": [pd.url for pd in self.list_pilots()]}


class PilotData(_ffi.Handle):
    """Storage for data units: a directory at service_url (file://, a path,
    ssh://[user@]host[:port]/path), or, with "pilot" (a PilotCompute or its
    URL; an extension) instead, the sandbox of that pilot once it runs."""

    _free = "pilot_pd_free"

    def __init__(self, pilot_data_service=None, pilot_data_description=None, pd_url=None):
        if pd_url is not None:
            h = _ffi.new_handle("pilot_pd_open", _ffi.url_arg("pd_url", pd_url), _ffi.options())
        elif pilot_data_service is None:
            raise PilotError("a PilotData is made by PilotDataService.create_pilot, or reconnected with pd_url=")
        else:
            pdd = dict(_ffi.as_dict("pilot data description", pilot_data_description))
            if hasattr(pdd.get("pilot"), "get_url"):  # a PilotCompute: keep the data in its sandbox
                pdd["pilot"] = pdd["pilot"].get_url()
            h = _ffi.new_handle("pilot_pds_create_pilot_data", pilot_data_service.handle,
                                _ffi.encode("pilot data description", pdd))
        _ffi.Handle.__init__(self, h)
        self.pilot_data_service = pilot_data_service
        self.url = _ffi.get_string("pilot_pd_url", self.handle)
        self.id = _object_id(self.url)
        self.pilot_data_description = _ffi.get_json("pilot_pd_description", self.handle)
        self.service_url = self.pilot_data_description.get("service_url")

    def get_url(self):
        return self.url

    def submit_data_unit(self, data_unit_description=None, data_unit=None):
        """Makes a data unit of the files described here, or (data_unit=)
        replicates an existing one into this PilotData."""
        if data_unit is not None:
            _ffi.call("pilot_pd_add_data_unit", self.handle, data_unit.handle)
            return data_unit
        return DataUnit(pilot_data=self, data_unit_description=data_unit_description)

    def list_data_units(self):
        """The URLs of the data units kept here."""
        return _ffi.get_json("pilot_pd_data_units", self.handle)

    def get_du(self, du_url):
        return DataUnit(du_url=du_url)

    def url_for_du(self, du):
        return self.service_url.rstrip("/") + "/" + du.id

    def export_du(self, du, target):
        du.export(target)

    def put_du(self, du):
        self.submit_data_unit(data_unit=du)

    def copy_du(self, du, pd_new):
        pd_new.submit_data_unit(data_unit=du)

    def remove_du(self, du):
        raise PilotError("remove_du is not supported: data units are kept until their records expire")

    def cancel(self):
        pass

    def get_state(self):
        return "Running"

    def wait(self):
        pass

    def __repr__(self):
        return self.service_url


class DataUnit(_ffi.Handle):
    """A set of files kept in one or more PilotData."""

    _free = "pilot_du_free"

    def __init__(self, pilot_data=None, data_unit_description=None, du_url=None):
        if du_url is not None:
            h = _ffi.new_handle("pilot_du_open", _ffi.url_arg("du_url", du_url), _ffi.options())
        elif pilot_data is None:
            raise PilotError("a DataUnit is made by PilotData.submit_data_unit or "
                             "ComputeDataService.submit_data_unit, or reconnected with du_url=")
        else:
            h = _ffi.new_handle("pilot_pd_submit_data_unit", pilot_data.handle,
                                _ffi.encode("data unit description",
                                            _ffi.as_dict("data unit description", data_unit_description or {})))
        _ffi.Handle.__init__(self, h)
        self.data_unit_description = data_unit_description
        self.url = _ffi.get_string("pilot_du_url", self.handle)
        self.id = _object_id(self.url)

    def get_url(self):
        return self.url

    def get_state(self):
        return _ffi.get_state("pilot_du_state", self.handle)

    def wait(self):
        """Returns the state once the unit is Running; raises its failure."""
        _ffi.wait(lambda ms: _ffi.call("pilot_du_wait", self.handle, ms))
        return self.get_state()

    def add_files(self, file_urls):
        """Copies files (local paths, file:// or ssh://localhost URLs) into the
        unit, in every PilotData that holds it. A missing file is a PilotError
        naming it."""
        _ffi.call("pilot_du_add_files", self.handle, _ffi.encode("file_urls", [
            _ffi.to_str(_ffi.to_bytes(f)) for f in file_urls]))

    def remove_files(self, file_urls):
        """A no-op, as in the original."""

    def files(self):
        """Extension: the unit's files, as dicts of name, size and sha256."""
        return _ffi.get_json("pilot_du_files", self.handle)

    def list(self):
        """File name -> {"pilot_data": the file's URLs in each PilotData,
        "size", "sha256"}."""
        holders = self.get_pilot_data()
        out = {}
        for f in self.files():
            name = os.path.basename(f["name"])
            out[name] = {"pilot_data": [pd.url_for_du(self) + "/" + name for pd in holders],
                         "size": f["size"], "sha256": f["sha256"]}
        return out

    def list_pilot_data(self):
        return _ffi.get_json("pilot_du_pilot_data", self.handle)

    def get_pilot_data(self):
        return [PilotData(pd_url=url) for url in self.list_pilot_data()]

    @property
    def pilot_data(self):
        return self.get_pilot_data()

    def add_pilot_data(self, pd):
        pd.submit_data_unit(data_unit=self)

    def export(self, target_dir):
        """Copies the unit's files into target_dir (created if missing), each
        checked against its recorded size and sha256."""
        _ffi.call("pilot_du_export", self.handle, _ffi.to_bytes(os.path.abspath(target_dir)))

    def cancel(self):
        pass

    def __eq__(self, other):
        return isinstance(other, DataUnit) and other.url == self.url

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.url)


def input_data(description):
    """The compute unit description without the input_data entries that are
    not data unit URLs, each named once in a warning on stderr: the original
    BigJob logged that their stage-in failed and ran the unit. The agent
    stages the others (a data unit whose files cannot be staged fails the
    unit with the reason)."""
    urls = description.get("input_data")
    if not isinstance(urls, (list, tuple)):
        return description
    keep = []
    for url in urls:
        if isinstance(url, (str, _ffi.text_type)) and ":du-" in url and "/bigdata:pds-" in url:
            keep.append(url)
        else:
            _warn_once("compute unit description: input_data entry %r is not a data unit URL; units that name it "
                       "run without it, as the original BigJob ran them after its stage-in failed (give data unit "
                       "URLs: DataUnit.get_url())" % (url,))
    if len(keep) == len(urls):
        return description
    out = dict(description)
    out["input_data"] = keep
    return out


_warned = set()


def _warn_once(message):
    """Prints a warning line on stderr, as the library's own warnings are,
    once per message (a loop of units must not print it for each)."""
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write("bigjob: warning: %s\n" % message)


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
