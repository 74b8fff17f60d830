"""BigJob's compute API over libpilot: PilotComputeService, PilotCompute,
ComputeUnit and the (decentral) ComputeDataService.

Waits call the library with short timeouts in a loop, so that Ctrl-C works
and no wait spins. Submitted units are written to the coordination store in
the background; every call on a unit waits for that, so scripts see the same
states as in BigJob."""
from __future__ import absolute_import

import atexit
import ctypes
import logging
import os
import sys
import weakref

from pilot import _ffi, data
from pilot.errors import PilotError
from pilot.description import DEFAULT_WALLTIME, textual
from pilot.state import FINAL

logger = logging.getLogger("bigjob")

# Keys of ComputeUnit.explain() that the library leaves out when empty (None
# here, so that every explanation has the same keys).
_EXPLAIN_OPTIONAL = ("pilot", "lost_reason", "reason")
_OUTLOOK_OPTIONAL = ("last_heartbeat", "why")


def _submit_many(fn, handle, descriptions, make):
    """Submits a list of descriptions in one library call (extension)."""
    cuds = [data.input_data(textual(_ffi.as_dict("compute unit description %d" % i, d))) for i, d in enumerate(descriptions)]
    if not cuds:
        return []
    handles = (_ffi.c_handle * len(cuds))()
    _ffi.call(fn, handle, _ffi.encode("compute unit descriptions", cuds), handles, len(cuds))
    return [make(d, h) for d, h in zip(descriptions, handles)]


class _Callbacks(object):
    """State callbacks of one object: BigJob's set_callback(member, cb), where
    cb is a pilot.api.Callback (its cb(obj, member, value) is called) or any
    callable taking (obj, member, value). Calls come from a library thread,
    in order."""

    def __init__(self, owner, setter, kind):
        self._owner, self._setter, self._kind = owner, setter, kind
        self._cbs = []
        self._fn = None

    def add(self, member, cb):
        if member != "state":
            raise PilotError("only the member 'state' has callbacks, not %r" % (member,))
        self._cbs.append(cb)
        if self._fn is None:
            self._fn = _ffi.STATE_FN(self._deliver)  # kept referenced while registered
            _ffi.call(self._setter, self._owner.handle, self._fn, None)

    def clear(self):
        self._cbs = []
        if self._fn is not None and self._owner._handle:
            _ffi.call(self._setter, self._owner.handle, _ffi.STATE_FN(), None)
        self._fn = None

    def _deliver(self, user_data, kind, oid, state, name, pilot_id):
        if kind != self._kind:
            return
        value = _ffi.to_str(name)
        for cb in list(self._cbs):
            try:
                if hasattr(cb, "cb"):
                    cb.cb(self._owner, "state", value)
                else:
                    cb(self._owner, "state", value)
            except Exception:
                logger.exception("state callback failed")


class PilotComputeService(_ffi.Handle):
    """Creates pilots on resources (fork://localhost, ...) and holds the
    service-wide queue that its pilots share.

    PilotComputeService(pcs_url=url) reconnects to a service by its URL
    (get_url(): redis://[pw@]host:port/pcs/pcs-<uuid>) from any process, for
    instance after the script that created it exited without cancel(): wait()
    then waits for all of its units, list_pilots() returns its pilots and
    cancel() ends it. Units and pilots can be added to a reconnected service
    only where its signing key is (~/.bigjob/keys, or $BIGJOB_HOME/keys, of the
    user who created it); elsewhere that raises PilotError with status
    _ffi.ENOKEY."""

    _free = "pilot_service_free"

    def __init__(self, coordination_url="redis://localhost", pcs_url=None, hooks=None, max_attempts=None,
                 finished_ttl=None):
        """Extensions: hooks: hook plugins, by loaded name or plugin.json
        path, for every pilot whose description names none (see
        pilot.load_plugin). max_attempts: how often a unit of the service
        queue may be started; when the pilot running it is lost, it goes back
        to the queue for another pilot until then, and is Failed after
        (default 3). finished_ttl: seconds the records of finished units and
        pilots are kept in the coordination store (default 86400). Both are
        set when the service is created; a reconnected service keeps its own."""
        if not coordination_url:
            raise Exception("No COORDINATION_URL specified - abort")
        if pcs_url is not None:
            if max_attempts is not None or finished_ttl is not None:
                raise PilotError("max_attempts and finished_ttl are set when a service is created; "
                                 "a service reconnected with pcs_url keeps its own")
            opts = _ffi.options(hooks=hooks)
            h = _ffi.new_handle("pilot_service_open", _ffi.url_arg("pcs_url", pcs_url), opts)
        else:
            _ffi.url_arg("coordination_url", coordination_url)
            coordination_url = _ffi.coordination_url(coordination_url)  # advert:// stands for the default
            opts = _ffi.options(coordination_url, hooks, max_attempts, finished_ttl)
            h = _ffi.new_handle("pilot_service_new", opts)
        _ffi.Handle.__init__(self, h)
        self.id = _ffi.get_string("pilot_service_id", self.handle)
        self.url = _ffi.get_string("pilot_service_url", self.handle)
        self.coordination_url = coordination_url
        if pcs_url is not None:
            self.coordination_url = self.url[:self.url.rindex("/pcs/")]
        self.coordination_queue = "PilotComputeServiceQueue-" + self.id
        self.pilot_computes = []
        if pcs_url is not None:
            for url in _ffi.get_json("pilot_service_pilots", self.handle):
                try:
                    self.pilot_computes.append(PilotCompute(pilot_compute_service=self, pilot_url=url))
                except PilotError as e:
                    if e.status != _ffi.ENOTFOUND:
                        raise
                    logger.debug("pilot %s of service %s: its records expired", url, self.id)

    def create_pilot(self, pilot_compute_description=None, **kwargs):
        """Starts a pilot and returns its PilotCompute at once (state Unknown)."""
        pcd = pilot_compute_description
        if pcd is None:
            pcd = kwargs.pop("pilot_compute_description", None)
        pcd = _ffi.as_dict("pilot compute description", pcd)
        h = _ffi.new_handle("pilot_service_create_pilot", self.handle, _ffi.encode("pilot compute description", pcd))
        pc = PilotCompute(pilot_compute_service=self, pilot_compute_description=pcd, _handle=h)
        self.pilot_computes.append(pc)
        _started.append((self.url, pc.get_url(), weakref.ref(pc)))
        return pc

    def list_pilots(self):
        """The PilotCompute objects of this service (for a reconnected
        service: its pilots when it was reconnected, and those created
        since)."""
        return list(self.pilot_computes)

    def get_url(self):
        """Extension: redis://[pw@]host:port/pcs/pcs-<uuid>, for
        PilotComputeService(pcs_url=...)."""
        return self.url

    def get_id(self):
        """Extension: pcs-<uuid>."""
        return self.id

    def wait(self):
        """Extension: returns when every unit of the service is final,
        whichever process submitted it. Raises PilotError (status
        _ffi.ENOPILOTS) when units remain but no pilot of the service is
        live to run them."""
        _ffi.wait(lambda ms: _ffi.call("pilot_service_wait", self.handle, ms), progress=self.get_progress)

    def watch_progress(self):
        """Extension: follows the service's progress from the store's event
        stream (pilot-cli watch): returns a ProgressWatch; its next(every)
        returns the progress (as get_progress, with units_per_s, eta_s and
        the latest failures [{unit, reason}]) at once the first time, then
        once something changed or every seconds passed. Close it when done."""
        return ProgressWatch(self)

    def get_progress(self):
        """Extension: where the service's run stands now, as a dict: units
        (submitted), counts ({state: units}), open (not final), pilots
        ([{name, state, slots, busy, heartbeat_age_s, reason}]), canceled,
        final (and units_per_s, eta_s: -1 here; pilot-cli watch follows
        them). Read from counters the store keeps: cheap at any size."""
        return _ffi.get_json("pilot_service_progress", self.handle)

    def cancel(self):
        """Cancels every pilot (and the units still queued); returns when no
        process of them is left. The service takes no units afterwards."""
        _ffi.call("pilot_service_cancel", self.handle)

    def report(self, path):
        """Extension: writes the report of the service's run to the file
        path: one self-contained HTML page (it needs no network when
        opened) with the totals (units, throughput, busy against allocated
        slot time), a timeline of every unit on its pilot's slots, each
        pilot's slot utilisation over time, the distributions of queue wait
        and run time, the failures grouped by reason and per-host figures.
        It covers every pilot and unit of the service, whichever process
        created them. Returns path."""
        _ffi.call("pilot_service_report", self.handle, _ffi.to_bytes(os.path.abspath(path)))
        return path

    def list_units(self):
        """Extension: every unit of the service, whichever process submitted
        it, oldest first, as dicts: "id", "short_id", "url", "state",
        "queue" ("service", or the name of the pilot it was submitted to),
        "pilot" (the URL of the pilot that holds or ran it; "" while none has
        taken it), "submitted", "started", "ended" (epoch seconds, 0 until
        then) and "exit_code" (None until known). It reads every unit record
        of the service (pilot-cli units PCS_URL prints it)."""
        units = _ffi.get_json("pilot_service_units", self.handle)
        for u in units:
            u.setdefault("exit_code", None)
        return units

    def __repr__(self):
        s = "{\n"
        for pc in self.pilot_computes:
            s += " PJ: %s, State: %s;" % (pc.get_url(), pc.get_state())
        return s + "\n}"


# The pilots this process created (weak references: they do not keep the
# handles alive), with their service's URL: at exit, those still running are
# named on stderr (remind_at_exit), so that a script that crashed, or forgot
# to cancel, leaves a way to find and cancel them.
_started = []
remind_at_exit = True
_pid = os.getpid()


@atexit.register
def _remind_of_running_pilots():
    if not remind_at_exit or os.getpid() != _pid:
        return
    running = {}
    for url, pilot_url, ref in _started:
        try:
            pc = ref()
            if pc is None or not pc._handle:  # collected: reconnect by URL
                pc = PilotCompute(pilot_url=pilot_url)
            if pc.get_state() not in FINAL:
                running.setdefault(url, []).append(pilot_url)
        except Exception:  # interpreter shutdown, store gone: say nothing
            pass
    for url, pcs in sorted(running.items()):
        n = len(pcs)
        sys.stderr.write("pilot: %d pilot%s of this script %s still running in %s (a pilot ends at its walltime, "
                         "%d minutes unless its description says otherwise); list them with `pilot-cli pilots %s`, "
                         "cancel them with `pilot-cli cancel %s`\n"
                         % (n, "" if n == 1 else "s", "is" if n == 1 else "are", url, DEFAULT_WALLTIME, url, url))
    sys.stderr.flush()


class PilotCompute(_ffi.Handle):
    """A pilot. Built by PilotComputeService.create_pilot, or reconnected with
    PilotCompute(pilot_url="redis://host:port/bigjob:bj-<uuid>:<host>")."""

    _free = "pilot_job_free"

    def __init__(self, pilot_compute_service=None, bigjob_object=None, pilot_compute_description=None,
                 pilot_url=None, _handle=None):
        if _handle is None:
            if pilot_url is None:
                raise PilotError("PilotCompute needs pilot_url=... to reconnect; create pilots with "
                                 "PilotComputeService.create_pilot")
            _handle = _ffi.new_handle("pilot_job_open", _ffi.url_arg("pilot_url", pilot_url), _ffi.options())
        _ffi.Handle.__init__(self, _handle)
        self.pilot_compute_service = pilot_compute_service
        self.pilot_compute_description = pilot_compute_description
        self.id = _ffi.get_string("pilot_job_id", self.handle)
        self._url = _ffi.get_string("pilot_job_url", self.handle)
        self.coordination_queue = self._url[self._url.index("/", len("redis://")) + 1:] + ":queue"
        self._callbacks = _Callbacks(self, "pilot_job_set_callback", 1)

    def get_url(self):
        """redis://[pw@]host:port/bigjob:bj-<uuid>:<host>: reconnectable."""
        return self._url

    def get_state(self):
        """The pilot's state, or None if its record cannot be read."""
        try:
            return _ffi.get_state("pilot_job_state", self.handle)
        except PilotError as e:
            if e.status == _ffi.ENOTFOUND:
                return None
            raise

    def get_service_url(self):
        """Extension: the URL of the pilot's PilotComputeService, for
        PilotComputeService(pcs_url=...)."""
        return _ffi.get_string("pilot_job_service_url", self.handle)

    def get_details(self):
        """The pilot record: state, start_time, end_queue_time, end_time,
        last_contact, description, ..., and bigjob_id."""
        return _ffi.get_json("pilot_job_details", self.handle)

    def get_free_nodes(self):
        """Slots not taken by the units its agent owns (each counted with its
        real size)."""
        out = ctypes.c_int32(0)
        _ffi.call("pilot_job_free_slots", self.handle, ctypes.byref(out))
        return out.value

    def submit_compute_unit(self, compute_unit_description):
        """Queues a unit on this pilot and returns its ComputeUnit."""
        cud = _ffi.as_dict("compute unit description", compute_unit_description)
        h = _ffi.new_handle("pilot_job_submit_unit", self.handle,
                            _ffi.encode("compute unit description", data.input_data(textual(cud))))
        cu = ComputeUnit(compute_unit_description=cud, _handle=h, _owner=self)
        return cu

    def submit_compute_units(self, compute_unit_descriptions):
        """Extension: queues many units on this pilot in a few round trips;
        returns their ComputeUnits in order."""
        return _submit_many("pilot_job_submit_units", self.handle, compute_unit_descriptions,
                            lambda d, h: ComputeUnit(compute_unit_description=d, _handle=h, _owner=self))

    def list_compute_units(self):
        """The units of this pilot, reconnected from their URLs: those
        submitted to it and those it took from its service's queue (units a
        ComputeDataService or PilotComputeService.submit_compute_unit
        queued); a unit given back and taken by another pilot is listed
        there."""
        return [ComputeUnit(cu_url=url) for url in _ffi.get_json("pilot_job_units", self.handle)]

    def wait(self):
        """Returns when every unit submitted to this pilot is final, or the
        pilot is (at once if it has no units). Raises PilotError (status
        _ffi.ENOPILOTS) when the pilot failed with units it had not
        finished."""
        pcs = self.pilot_compute_service
        _ffi.wait(lambda ms: _ffi.call("pilot_job_wait", self.handle, ms),
                  progress=pcs.get_progress if pcs is not None else None)

    def wait_state(self, state, timeout=None):
        """Extension: waits until the pilot is in state (e.g. State.Running)
        or final, for at most timeout seconds (None: no limit); returns the
        state it is in."""
        if state not in _ffi.STATE_CODES:
            raise PilotError("wait_state: unknown state %r" % (state,))
        code = _ffi.STATE_CODES[state]
        _ffi.wait(lambda ms: _ffi.call("pilot_job_wait_state", self.handle, code, ms, None), timeout)
        return self.get_state()

    def cancel(self):
        """Stops the pilot: its units are killed (Canceled), it ends Done."""
        _ffi.call("pilot_job_cancel", self.handle)

    def set_callback(self, member, cb):
        self._callbacks.add(member, cb)

    def unset_callback(self, member):
        self._callbacks.clear()

    def reinitialize(self, *args, **kwargs):
        pass

    def __repr__(self):
        return self._url[self._url.index("/", len("redis://")) + 1:]


class ComputeUnit(_ffi.Handle):
    """A compute unit. Built by submit_compute_unit, or reconnected with
    ComputeUnit(cu_url=...)."""

    _free = "pilot_unit_free"

    def __init__(self, compute_unit_description=None, compute_data_service=None, cu_url=None,
                 _handle=None, _owner=None):
        if _handle is None:
            if cu_url is None:
                raise PilotError("ComputeUnit needs cu_url=... to reconnect; submit units with "
                                 "submit_compute_unit")
            _handle = _ffi.new_handle("pilot_unit_open", _ffi.url_arg("cu_url", cu_url), _ffi.options())
        _ffi.Handle.__init__(self, _handle)
        self._owner = _owner  # keeps the submitting object alive
        self.compute_unit_description = compute_unit_description
        self.subjob_description = compute_unit_description
        self.compute_data_service = compute_data_service
        self._id = self._url = self._callbacks = None  # read from the library when first needed

    @property
    def id(self):
        if self._id is None:
            self._id = _ffi.get_string("pilot_unit_id", self.handle)
        return self._id

    @property
    def url(self):
        """<cds url>/<id> for units of a ComputeDataService (as BigJob), else get_url()."""
        cds = self.compute_data_service
        if cds is not None and getattr(cds, "url", None):
            return cds.url + "/" + self.id
        return self.get_url()

    def get_id(self):
        """cu-<uuid>; the unit's sandbox directory is sj-<uuid>."""
        return self.id

    def get_url(self):
        """The unit's reconnectable URL."""
        if self._url is None:
            self._url = _ffi.get_string("pilot_unit_url", self.handle)
        return self._url

    def get_state(self):
        return _ffi.get_state("pilot_unit_state", self.handle)

    @property
    def state(self):
        return self.get_state()

    def get_details(self):
        """The unit record (state, timestamps, run_host, exit_code, reason,
        sandbox, Executable, Arguments, NumberOfProcesses, ...)."""
        return _ffi.get_json("pilot_unit_details", self.handle)

    def get_local_working_directory(self):
        """The unit's working directory on its pilot's host, once it started
        (None before)."""
        return _ffi.get_string("pilot_unit_sandbox", self.handle) or None

    def explain(self):
        """Extension: why the unit is not running yet, or what became of it
        (pilot-cli explain), as a dict: unit, state, queue ("service", the
        pilot's name, or "placement" while a ComputeDataServiceCentral holds
        it), queue_length, slots, pilot (the name of the pilot that
        owns it, or None), attempts, max_attempts, lost_reason (why its last run was lost,
        or None), reason (why it failed or was canceled, or None), summary (one
        sentence) and pilots: the pilots that could run it, each a dict with
        name, state, slots, last_heartbeat (or None), heartbeat_age_s (-1
        before its agent started), can_take and why (or None)."""
        e = _ffi.get_json("pilot_unit_explain", self.handle)
        for key in _EXPLAIN_OPTIONAL:
            e.setdefault(key, None)
        for p in e.get("pilots") or []:
            for key in _OUTLOOK_OPTIONAL:
                p.setdefault(key, None)
        return e

    def get_subjob(self):
        from bigjob.bigjob_manager import subjob
        return subjob._wrap(self)

    def wait(self):
        """Returns when the unit is Done, Failed or Canceled. Raises
        PilotError (status _ffi.ENOPILOTS) when the unit waits in the service
        queue and no live pilot is left to run it."""
        _ffi.wait(lambda ms: _ffi.call("pilot_unit_wait", self.handle, ms, None))
        return self.get_state()

    def cancel(self):
        """Kills the unit (its whole process group); it ends Canceled."""
        _ffi.call("pilot_unit_cancel", self.handle)

    def set_callback(self, member, cb):
        if self._callbacks is None:
            self._callbacks = _Callbacks(self, "pilot_unit_set_callback", 2)
        self._callbacks.add(member, cb)

    def unset_callback(self, member):
        if self._callbacks is not None:
            self._callbacks.clear()


class ProgressWatch(_ffi.Handle):
    """A watch on a PilotComputeService's progress (see watch_progress)."""

    _free = "pilot_progress_free"

    def __init__(self, pcs):
        _ffi.Handle.__init__(self, _ffi.new_handle("pilot_progress_open", pcs.handle))
        self.pilot_compute_service = pcs

    def next(self, every=1.0):
        out = []
        _ffi.wait(lambda ms: out.append(_ffi.get_json("pilot_progress_next", self.handle,
                                                      max(1, int(every * 1000)), ms)))
        return out[-1]

    def close(self):
        self._release()


class ComputeDataService(_ffi.Handle):
    """BigJob's decentral ComputeDataService: units go to the service-wide
    queue of an attached PilotComputeService, where any of its pilots takes
    them as it has room. Units are accepted before any pilot runs. Several
    services may be attached (units are spread over them in turn)."""

    _free = "pilot_dataservice_free"
    _new = "pilot_dataservice_new"

    def __init__(self, cds_url=None):
        if cds_url is not None:
            raise PilotError("reconnecting a ComputeDataService by URL is not supported")
        _ffi.Handle.__init__(self, _ffi.new_handle(self._new))
        self.id = _ffi.get_string("pilot_dataservice_id", self.handle)
        self.url = None
        self.compute_units = {}
        self.data_units = {}
        self.pilot_job_services = []
        self.pilot_data_services = []
        self._canceled = False

    def add_pilot_compute_service(self, pcs):
        if not isinstance(pcs, PilotComputeService):
            raise PilotError("add_pilot_compute_service needs a PilotComputeService, not %s" % type(pcs).__name__)
        _ffi.call("pilot_dataservice_add_service", self.handle, pcs.handle)
        self.pilot_job_services.append(pcs)
        if self.url is None:
            self.url = _cds_url(pcs.coordination_url, self.id)

    def remove_pilot_compute_service(self, pcs):
        _ffi.call("pilot_dataservice_remove_service", self.handle, pcs.handle)
        self.pilot_job_services.remove(pcs)

    def list_pilot_compute(self):
        """The PilotCompute objects of the attached services."""
        return [pc for pcs in self.pilot_job_services for pc in pcs.list_pilots()]

    def submit_compute_unit(self, compute_unit_description):
        """Queues a unit; returns its ComputeUnit (state Unknown)."""
        cud = _ffi.as_dict("compute unit description", compute_unit_description)
        if not self.pilot_job_services:
            raise PilotError("No PilotComputeService found. Please add a PilotComputeService with "
                             "add_pilot_compute_service before submitting compute units.")
        h = _ffi.new_handle("pilot_dataservice_submit_unit", self.handle,
                            _ffi.encode("compute unit description", data.input_data(textual(cud))))
        cu = ComputeUnit(compute_unit_description=cud, compute_data_service=self, _handle=h, _owner=self)
        self.compute_units[cu.id] = cu
        return cu

    def wait(self):
        """Returns when every unit submitted here is final; data units must be
        Running too. Raises PilotError (status _ffi.ENOPILOTS) when units
        remain but no live pilot is left to run them, rather than return as
        if they had run. A unit refused at submission is not waited for: its
        own calls (get_state, wait) raise the refusal."""
        services = self.pilot_job_services
        _ffi.wait(lambda ms: _ffi.call("pilot_dataservice_wait", self.handle, ms),
                  progress=services[0].get_progress if len(services) == 1 else None)
        for du in list(self.data_units.values()):
            du.wait()

    def get_details(self):
        """The details of every pilot of the attached services."""
        return _ffi.get_json("pilot_dataservice_details", self.handle)

    def cancel(self):
        """Ends this data service (pilots and units are canceled with
        pilot_compute_service.cancel(), as in BigJob)."""
        self._canceled = True

    def get_state(self):
        return "Done" if self._canceled else "Running"

    def get_id(self):
        return self.id

    # Pilot-Data side (see pilot.data)
    def add_pilot_data_service(self, pds):
        self.pilot_data_services.append(pds)

    def remove_pilot_data_service(self, pds):
        self.pilot_data_services.remove(pds)

    def list_pilot_data(self):
        return list(self.pilot_data_services)

    def submit_data_unit(self, data_unit_description):
        du = data.schedule_data_unit(self.pilot_data_services, data_unit_description)
        self.data_units[du.id] = du
        return du

    def list_data_units(self):
        return list(self.data_units.items())

    def get_data_unit(self, du_id):
        return self.data_units.get(du_id)



def _cds_url(coordination_url, cds_id):
    """redis://<host>/bigjob:cds-<uuid>, as BigJob (which drops the port)."""
    rest = coordination_url.split("://", 1)[-1]
    host = rest.split("/", 1)[0].split("@")[-1].split(":")[0]
    return "redis://%s/bigjob:%s" % (host, cds_id)


ComputeDataServiceDecentral = ComputeDataService


class ComputeDataServiceCentral(ComputeDataService):
    """BigJob's central ComputeDataService: this process places each unit
    itself, once the data units of its input_data are Running, on a Running
    pilot with free slots for it, preferring pilots whose affinity labels
    (affinity_datacenter_label, affinity_machine_label) equal the unit's, or
    else those of the PilotData holding its input data. Until then the unit
    is held (state Unknown); get_details/explain say why. Units not placed
    when this object goes away stay held until pcs.cancel()."""

    _new = "pilot_dataservice_new_central"


class ComputeUnitService(object):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("Please use ComputeDataService.")


class DataUnitService(object):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("Please use ComputeDataService.")

