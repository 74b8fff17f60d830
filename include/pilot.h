/*
 * pilot.h — the C interface of libpilot, a Go reimplementation of BigJob,
 * the Pilot-Job framework.
 *
 * A pilot compute service (pilot_service) starts pilots (pilot_job) on
 * resources such as fork://localhost; compute units (pilot_unit) are
 * submitted to one pilot, or to the service-wide queue that all pilots of the
 * service pull from (late binding; pilot_dataservice spreads units over
 * several services). Pilots and units are coordinated through Redis; with no
 * Redis on a loopback address the user's lasting local coordination store
 * stands in for it (a redis-server on a private socket in ~/.bigjob/store,
 * started if need be; see docs/ARCHITECTURE.md).
 *
 * Conventions
 *
 *   Status. Every function that can fail returns a pilot_status: PILOT_OK
 *   (0) or a negative PILOT_E* code. On failure, pilot_last_error() describes
 *   what went wrong and how to fix it. Nothing aborts the process: bad
 *   handles, NULL pointers and invalid JSON are errors like any other, and a
 *   failure inside the library is PILOT_EINTERNAL.
 *
 *   Threads. Every function may be called from any thread at any time.
 *   Handles are not tied to a thread. The last error is per thread.
 *   Calls that wait (pilot_*_wait, cancel) block only the calling thread.
 *
 *   Handles. A handle is a 64-bit number; 0 is never valid and a freed
 *   handle is never reused, so using one is PILOT_EBADHANDLE, not a crash.
 *   Free every handle you get with its pilot_*_free function. Freeing a
 *   service does not cancel its pilots (they run on, as in BigJob, and can
 *   be reached again by URL); pilots and units obtained from a service stay
 *   usable until they are freed themselves.
 *
 *   Strings. Input strings are UTF-8, borrowed for the duration of the call.
 *   A string returned through a char** belongs to the caller, who releases it
 *   with pilot_string_free() (never free()). A returned const char* is
 *   borrowed: static, or valid as its function says. Strings passed to a
 *   callback are valid only during the callback.
 *
 *   JSON. Descriptions are JSON objects with BigJob's keys (see
 *   docs/ARCHITECTURE.md and the pilot.PilotComputeDescription /
 *   ComputeUnitDescription docs): numbers may be given as strings,
 *   "environment" as an object or a list of "K=V", unknown keys are kept.
 *   Details are JSON objects of strings.
 *
 *   Timeouts are in milliseconds: a negative timeout waits for ever, 0 only
 *   looks. PILOT_ETIMEOUT means the wait ended, not that the object failed.
 *
 *   Fork. Do not use the library in a child created by fork() after the
 *   first call (the Go runtime does not survive fork); exec a new program or
 *   use posix_spawn.
 */
#ifndef PILOT_H
#define PILOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; pilot_abi_version() returns the library's. */
#define PILOT_ABI_VERSION 1

typedef uint64_t pilot_service;     /* a pilot compute service */
typedef uint64_t pilot_job;         /* a pilot (the batch job running an agent) */
typedef uint64_t pilot_unit;        /* a compute unit */
typedef uint64_t pilot_dataservice; /* a compute data service */
typedef uint64_t pilot_progress;    /* a watch on a service's progress */
typedef int32_t pilot_status;       /* PILOT_OK or a negative PILOT_E* code */
typedef int32_t pilot_state;        /* PILOT_STATE_* */

/* Status codes. */
#define PILOT_OK 0
#define PILOT_ERROR -1       /* failed; read pilot_last_error() */
#define PILOT_EINVAL -2      /* an argument is invalid (NULL, bad JSON, bad description) */
#define PILOT_EBADHANDLE -3  /* the handle is 0, unknown, freed, or of another kind */
#define PILOT_ENOTFOUND -4   /* no such pilot or unit (URL), or no adaptor for a scheme */
#define PILOT_ETIMEOUT -5    /* the wait ended before the state was reached */
#define PILOT_ECLOSED -7     /* the object's service was closed */
#define PILOT_EADAPTOR -8    /* the resource refused or failed to start the pilot */
#define PILOT_EVERSION -9    /* ABI version mismatch */
#define PILOT_EINTERNAL -10  /* a bug in the library; the message has the details */
#define PILOT_ESTORE -11     /* the coordination store (Redis) cannot be reached, or a wait
                                could not read it for store_grace_ms */
#define PILOT_ENOPILOTS -12  /* a wait cannot finish: no live pilot is left */
#define PILOT_ENOKEY -13     /* this process does not have the signing key of a service it
                                reconnected to (pilot_service_open), so it cannot add units or
                                pilots to it; waits, listings and cancel work. The key is kept in
                                $BIGJOB_HOME/keys/<service id>.key (default ~/.bigjob), mode 0600,
                                by the process that created the service */

/* States, with BigJob's names (pilot_state_name). */
#define PILOT_STATE_UNKNOWN 0  /* "Unknown": created, queued; not yet taken by an agent */
#define PILOT_STATE_NEW 1      /* "New": a unit taken by an agent, not started */
#define PILOT_STATE_PENDING 2  /* "Pending" */
#define PILOT_STATE_RUNNING 3  /* "Running" */
#define PILOT_STATE_DONE 4     /* "Done" (final) */
#define PILOT_STATE_CANCELED 5 /* "Canceled" (final) */
#define PILOT_STATE_FAILED 6   /* "Failed" (final) */
#define PILOT_STATE_STAGING 7  /* "Staging": a unit's files are being staged */

/* Kinds of object a callback reports on. */
#define PILOT_KIND_JOB 1
#define PILOT_KIND_UNIT 2

/* Log levels (as Go's log/slog). */
#define PILOT_LOG_DEBUG -4
#define PILOT_LOG_INFO 0
#define PILOT_LOG_WARN 4
#define PILOT_LOG_ERROR 8

/*
 * A state change. kind is PILOT_KIND_JOB or PILOT_KIND_UNIT; id is
 * "bj-<uuid>" or "cu-<uuid>"; pilot_id is the pilot running a unit ("" if
 * none, and for pilots). Callbacks of one registration arrive in the order
 * the changes happened, one at a time, on a library thread. A callback must
 * return promptly; it may call any pilot_* function except setting or
 * clearing its own registration.
 */
typedef void (*pilot_state_fn)(void *user_data, int32_t kind, const char *id,
                               pilot_state state, const char *state_name,
                               const char *pilot_id);

/* A log message (borrowed for the call). */
typedef void (*pilot_log_fn)(void *user_data, int32_t level, const char *message);

/* ----------------------------------------------------------------------------
 * Library
 */

/* The ABI version of the library; compare with PILOT_ABI_VERSION. */
int32_t pilot_abi_version(void);

/* The library version, e.g. "0.1.0". Static: never freed. */
const char *pilot_version(void);

/* The coordination URL a service made with url would use (free with
 * pilot_string_free): url itself; for NULL or "", $BIGJOB_COORDINATION_URL,
 * else "redis://localhost:6379"; and that default for a URL of the original
 * BigJob's Advert backend (advert://, sqlasyncadvert://), which is gone, with
 * a warning on stderr. Errors: PILOT_EINVAL (url_out is NULL). */
pilot_status pilot_coordination_url(const char *url, char **url_out);

/* The last error of this thread: a message naming what failed and how to fix
 * it, or "" after success. Borrowed: valid until the next failing call on
 * this thread. */
const char *pilot_last_error(void);

/* Clears this thread's last error. */
void pilot_clear_error(void);

/* Releases a string returned through a char** parameter (every one of them
 * is the caller's and is released with this, never with free()). NULL is
 * allowed. */
void pilot_string_free(char *s);

/* BigJob's name of a state ("Done"); "" for an unknown value. Static. */
const char *pilot_state_name(pilot_state state);

/* 1 if state is final (Done, Canceled, Failed), else 0. */
int32_t pilot_state_is_final(pilot_state state);

/* Routes the library's log messages at min_level and above to fn.
 * fn == NULL restores the default, which discards them. */
pilot_status pilot_set_log_handler(pilot_log_fn fn, void *user_data, int32_t min_level);

/* Waits until every unit submitted so far by this process is written to the
 * coordination store (units are written in the background). Call it before
 * exiting if you do not free your services; timeout as above. */
pilot_status pilot_flush_all(int64_t timeout_ms);

/* The number of handles of this process not freed yet (services, pilots,
 * units, data services, whatever made them): for leak checks. */
int64_t pilot_live_handles(void);

/* ----------------------------------------------------------------------------
 * Pilot compute service (BigJob's PilotComputeService)
 */

/* Creates a service. options_json may be NULL (all defaults) or an object:
 *   "coordination_url"      Redis URL, default "redis://localhost:6379"; forms:
 *                           redis://host[:port], redis://password@host:port,
 *                           redis://@host:port, redis://user:password@host,
 *                           rediss://host:port?ca=<pem file>
 *   "agent_path"            the pilot-agent binary (default: $BIGJOB_AGENT,
 *                           next to the program, or on PATH)
 *   "no_embedded"           true: no local store stands in when nothing listens
 *                           on a loopback address (also BIGJOB_NO_EMBEDDED_REDIS=1)
 *   "quiet"                 true: do not print the warning that says so
 *   "heartbeat_interval_ms" agent heartbeat, default 1000
 *   "heartbeat_timeout_ms"  a running pilot silent this long is Failed, default 10000
 *   "store_grace_ms"        an agent without its store this long stops, default 60000
 *   "stop_timeout_ms"       how long cancel waits for an agent, default 10000
 *   "record_ttl_s"          lifetime of finished records, default 604800 (7 days)
 *   "hooks"                 hook plugins (loaded plugins' names or plugin.json
 *                           paths) of every pilot whose description has no
 *                           "hooks" key; see pilot_plugin_load
 *   "max_attempts"          how often a unit of the service queue may be
 *                           started: a unit whose pilot is lost while it runs
 *                           goes back to the queue until it was started this
 *                           often, then it is Failed; a whole number >= 1,
 *                           default 3
 *   "finished_ttl"          seconds (a number > 0; fractions round up to whole
 *                           seconds) the records of finished units and pilots,
 *                           and of a canceled service, are kept; default 86400
 * Unknown keys and bad values are PILOT_EINVAL naming the key; null means the
 * default. "max_attempts" and "finished_ttl" are fixed when the service is
 * created: the *_open functions accept and ignore them (the service's own
 * values apply).
 * Errors: PILOT_EINVAL (bad options or URL), PILOT_ESTORE. */
pilot_status pilot_service_new(const char *options_json, pilot_service *out);

/* Reconnects to a service by its URL (pilot_service_url, BigJob's
 * PilotComputeService.get_url()): redis://[pw@]host:port/pcs/pcs-<uuid>, from
 * any process, e.g. after the one that created it exited without canceling.
 * options_json as for pilot_service_new (NULL for defaults; "coordination_url"
 * is ignored, the URL names the store). The handle works with every
 * pilot_service_* function: pilot_service_pilots lists the pilots the service
 * had when it was opened and those created through the handle since;
 * pilot_service_wait waits for every unit of the service, whichever process
 * submitted it; pilot_service_cancel cancels it. Adding units or pilots needs
 * the service's signing key (PILOT_ENOKEY otherwise). Freeing the handle does
 * not cancel the service. No empty store is started: the store must be
 * running, or be the local store with its records kept on disk.
 * Errors: PILOT_EINVAL (not a service URL, bad options), PILOT_ENOTFOUND (no
 * such service, or its records expired), PILOT_ESTORE. */
pilot_status pilot_service_open(const char *service_url, const char *options_json, pilot_service *out);

/* Writes what is pending and releases the handle. Pilots are not canceled. */
pilot_status pilot_service_free(pilot_service s);

/* "pcs-<uuid>" and "<coordination url>/pcs/pcs-<uuid>"; free with pilot_string_free. */
pilot_status pilot_service_id(pilot_service s, char **out);
pilot_status pilot_service_url(pilot_service s, char **out);

/* Starts a pilot from a pilot compute description (JSON object with at least
 * "service_url" and "number_of_processes") and returns at once; the pilot is
 * Unknown until its agent runs. Errors: PILOT_EINVAL, PILOT_ENOTFOUND (no
 * adaptor for the scheme), PILOT_EADAPTOR. */
pilot_status pilot_service_create_pilot(pilot_service s, const char *description_json, pilot_job *out);

/* The URLs of the service's pilots, as a JSON array; free with pilot_string_free.
 * For a reconnected service: the pilots it had when opened, then those created
 * through the handle. */
pilot_status pilot_service_pilots(pilot_service s, char **json_out);

/* Queues a unit (JSON compute unit description) on the service-wide queue:
 * any pilot of the service may run it; accepted before any pilot exists.
 * The unit is written in the background; every call on it waits for that. */
pilot_status pilot_service_submit_unit(pilot_service s, const char *description_json, pilot_unit *out);

/* Queues n units (a JSON array of n descriptions) in few round trips and
 * stores their handles in out[0..n-1]. On error no handle is stored unless
 * the message says how many units were submitted before it. */
pilot_status pilot_service_submit_units(pilot_service s, const char *descriptions_json, pilot_unit *out, size_t n);

/* Waits until the units submitted through s are written; returns the first
 * submission error not reported yet. */
pilot_status pilot_service_flush(pilot_service s, int64_t timeout_ms);

/* Waits until every unit of the service is final, whichever process submitted
 * it (units submitted through s are written first). Meanwhile this process
 * watches the service's pilots, so a lost pilot's units are requeued or fail
 * even when the process that created the pilot is gone. Returns PILOT_OK at
 * once when the service has no unfinished unit; PILOT_ETIMEOUT when the
 * timeout ends first; PILOT_ENOPILOTS when units remain but no pilot of the
 * service is live; PILOT_ESTORE when the store could not be read for
 * store_grace_ms. Timeout as above (negative: no limit). */
pilot_status pilot_service_wait(pilot_service s, int64_t timeout_ms);

/* Cancels every pilot of the service (their agents kill their units) and the
 * units still queued; returns when no process of the pilots is left. The
 * service then takes no new units or pilots and its signing key file is
 * deleted. */
pilot_status pilot_service_cancel(pilot_service s);

/* Writes the report of the service's run to the file path (replaced, through
 * a temporary file in the same directory): one self-contained HTML page
 * that opens without network access, with the run's totals (units,
 * throughput, busy against allocated slot time), a timeline of every unit
 * on its pilot's slots, each pilot's slot utilisation over time, the
 * distributions of queue wait and run time, the failures grouped by reason
 * and per-host figures. It reads every pilot and unit record of the service,
 * whichever process made them (pilot-cli report PCS_URL -o FILE does the
 * same). Errors: PILOT_EINVAL (path NULL or empty), PILOT_ESTORE, PILOT_ERROR
 * (the file cannot be written; the message names it). */
pilot_status pilot_service_report(pilot_service s, const char *path);

/* Where the run of service s stands now, as a JSON object; free with
 * pilot_string_free. Keys: service, time (epoch seconds), units (submitted),
 * counts ({state: units}), open (units not final), units_per_s and eta_s
 * (-1 here: they need a watch), pilots ([{name, state, slots, busy (slots its running units hold),
 * heartbeat_age_s (-1 before its agent started or once it ended), reason}]),
 * failures ([] here), canceled, final (every unit submitted is final, the
 * service was canceled, or every pilot it had ended). The counts are kept
 * by the store as units change state: nothing is scanned. */
pilot_status pilot_service_progress(pilot_service s, char **json_out);

/* Follows the progress of service s through its event stream (pilot-cli
 * watch); its pilots are watched for liveness meanwhile. Free with
 * pilot_progress_free. */
pilot_status pilot_progress_open(pilot_service s, pilot_progress *out);
/* The progress (as pilot_service_progress, with units_per_s over the last
 * 10 s, eta_s, and the latest failures, newest first: [{unit, reason}]): now
 * on the first call; then once something changed (no more often than every
 * 250 ms) or every_ms (> 0) passed. PILOT_ETIMEOUT when timeout_ms (-1: no
 * limit) ends first. One thread at a time calls it on a handle. */
pilot_status pilot_progress_next(pilot_progress w, int64_t every_ms, int64_t timeout_ms, char **json_out);
pilot_status pilot_progress_free(pilot_progress w);

/* Calls fn for every state change of the service's pilots and units.
 * fn == NULL stops the callbacks and returns after any call in progress. */
pilot_status pilot_service_set_callback(pilot_service s, pilot_state_fn fn, void *user_data);

/* Every unit of the service, whichever process submitted it, oldest first, as
 * a JSON array of objects {"id", "short_id", "url", "state", "queue" ("service"
 * or the name of the pilot it was submitted to), "pilot" (the URL of the pilot
 * that holds or ran it, "" while none has taken it), "submitted", "started",
 * "ended" (epoch seconds, 0 until then), "exit_code" (once known)}; free with
 * pilot_string_free. It reads every unit record of the service, in batches.
 * Errors: PILOT_ESTORE. */
pilot_status pilot_service_units(pilot_service s, char **json_out);

/* ----------------------------------------------------------------------------
 * Pilot (BigJob's PilotCompute)
 */

/* Reconnects to a pilot by its URL, redis://[pw@]host:port/bigjob:bj-<uuid>:<host>.
 * options_json as for pilot_service_new (NULL for defaults). */
pilot_status pilot_job_open(const char *pilot_url, const char *options_json, pilot_job *out);

/* Releases the handle (the pilot runs on). */
pilot_status pilot_job_free(pilot_job j);

/* "bj-<uuid>"; the reconnectable URL; free with pilot_string_free. */
pilot_status pilot_job_id(pilot_job j, char **out);
pilot_status pilot_job_url(pilot_job j, char **out);
/* The URL of the pilot's service (redis://host:port/pcs/pcs-<uuid>, as
 * pilot_service_open takes); free with pilot_string_free. */
pilot_status pilot_job_service_url(pilot_job j, char **out);

pilot_status pilot_job_state(pilot_job j, pilot_state *out);

/* The pilot record as a JSON object (state, start_time, end_queue_time,
 * end_time, last_contact, description, bigjob_id, ...); free with
 * pilot_string_free. */
pilot_status pilot_job_details(pilot_job j, char **json_out);

/* The pilot compute description, canonical JSON; free with pilot_string_free. */
pilot_status pilot_job_description(pilot_job j, char **json_out);

/* Slots not taken by the units the agent owns (BigJob's get_free_nodes). */
pilot_status pilot_job_free_slots(pilot_job j, int32_t *out);

/* BigJob's barrier: returns PILOT_OK when every unit submitted to this pilot
 * is final, or the pilot is; PILOT_ETIMEOUT when the timeout ends first. */
pilot_status pilot_job_wait(pilot_job j, int64_t timeout_ms);

/* Waits until the pilot's state is target, or final; *out (may be NULL) gets
 * the state reached. */
pilot_status pilot_job_wait_state(pilot_job j, pilot_state target, int64_t timeout_ms, pilot_state *out);

/* Stops the pilot: its agent kills its units (Canceled) and ends (Done).
 * Returns when no process of the pilot is left. */
pilot_status pilot_job_cancel(pilot_job j);

/* Queues a unit on this pilot (background write, as pilot_service_submit_unit).
 * A unit needing more slots than the pilot has is PILOT_EINVAL. */
pilot_status pilot_job_submit_unit(pilot_job j, const char *description_json, pilot_unit *out);

/* Queues n units on this pilot (see pilot_service_submit_units). */
pilot_status pilot_job_submit_units(pilot_job j, const char *descriptions_json, pilot_unit *out, size_t n);

/* The URLs of the units submitted to this pilot, oldest first, as a JSON
 * array; free with pilot_string_free. */
pilot_status pilot_job_units(pilot_job j, char **json_out);

/* Callbacks for this pilot and its units (see pilot_service_set_callback). */
pilot_status pilot_job_set_callback(pilot_job j, pilot_state_fn fn, void *user_data);

/* ----------------------------------------------------------------------------
 * Compute unit (BigJob's ComputeUnit)
 */

/* Reconnects to a unit by its URL (pilot_unit_url). */
pilot_status pilot_unit_open(const char *unit_url, const char *options_json, pilot_unit *out);

pilot_status pilot_unit_free(pilot_unit u);

/* "cu-<uuid>" (its sandbox is sj-<uuid>); the reconnectable URL; free with
 * pilot_string_free. */
pilot_status pilot_unit_id(pilot_unit u, char **out);
pilot_status pilot_unit_url(pilot_unit u, char **out);

pilot_status pilot_unit_state(pilot_unit u, pilot_state *out);

/* Waits until the unit is final; *out (may be NULL) gets the state. */
pilot_status pilot_unit_wait(pilot_unit u, int64_t timeout_ms, pilot_state *out);

/* The unit record as a JSON object (state, start_time, end_queue_time,
 * end_time, run_host, exit_code, reason, sandbox, Executable, ...); free with
 * pilot_string_free. */
pilot_status pilot_unit_details(pilot_unit u, char **json_out);

/* The compute unit description with defaults applied, canonical JSON; free
 * with pilot_string_free. */
pilot_status pilot_unit_description(pilot_unit u, char **json_out);

/* The unit's working directory on its pilot's host, "" before it starts; free
 * with pilot_string_free. */
pilot_status pilot_unit_sandbox(pilot_unit u, char **out);

/* Why the unit is not running yet, or what became of it (pilot-cli explain),
 * as a JSON object in *json_out (free with pilot_string_free):
 *   "unit"           "cu-<uuid>"
 *   "state"          its state name ("Unknown" while queued)
 *   "queue"          "service" (the service-wide queue), or the name of the
 *                    pilot it was submitted to ("bigjob:bj-<uuid>:<host>")
 *   "queue_length"   units waiting in that queue, itself included
 *   "slots"          slots it needs
 *   "pilot"          the name of the pilot that owns it now (absent when
 *                    none)
 *   "attempts"       how often it was started
 *   "max_attempts"   the service's max_attempts
 *   "lost_reason"    why its last run was lost (absent when none was)
 *   "reason"         why it failed or was canceled (absent otherwise)
 *   "summary"        one sentence: what it waits for, or what it does
 *   "pilots"         an array (empty when the service has no pilot) of the
 *                    pilots that could run it (its own pilot, or every pilot
 *                    of the service), each {"name", "state", "slots",
 *                    "last_heartbeat" (RFC 3339, absent before the agent
 *                    started), "heartbeat_age_s" (-1 before the agent
 *                    started), "can_take" (true/false), "why" (why it cannot
 *                    take the unit, or why it has not yet; absent otherwise)}
 * A unit whose record was pruned is described by the state this process saw.
 * Errors: PILOT_EINVAL (json_out NULL), PILOT_ENOTFOUND (record pruned and
 * never seen), PILOT_ESTORE. */
pilot_status pilot_unit_explain(pilot_unit u, char **json_out);

/* Cancels the unit: a queued unit at once, a running one by killing its
 * process group; returns once the unit is final. */
pilot_status pilot_unit_cancel(pilot_unit u);

/* Callbacks for this unit (see pilot_service_set_callback). */
pilot_status pilot_unit_set_callback(pilot_unit u, pilot_state_fn fn, void *user_data);

/* ----------------------------------------------------------------------------
 * What a coordination store holds, whichever process made it (pilot-cli's
 * services, pilots and short ids). options_json as for pilot_service_new
 * (NULL for defaults); these calls never start an empty local store.
 */

/* The services of the store at coordination_url, oldest first, as a JSON array
 * of objects {"id", "short_id", "url", "state" ("Active" or "Canceled"),
 * "created" (epoch seconds), "pilots", "open_units" (units not final yet)};
 * free with pilot_string_free. Errors: PILOT_EINVAL (bad URL), PILOT_ESTORE. */
pilot_status pilot_store_services(const char *coordination_url, const char *options_json, char **json_out);

/* The pilots of the store at url, a coordination URL (every service's), or of
 * one service, url a service URL (redis://host:port/pcs/pcs-<uuid>): oldest
 * first, a JSON array of objects {"id", "short_id", "url", "state",
 * "service", "service_url", "created", "slots", "reason" (why it ended, if
 * it did)}; free with pilot_string_free. Pilots of a process that exited
 * without canceling them are listed as long as their records live.
 * Errors: PILOT_EINVAL, PILOT_ESTORE. */
pilot_status pilot_store_pilots(const char *url, const char *options_json, char **json_out);

/* The URL of the object ref names in the store at coordination_url (free with
 * pilot_string_free): ref is a URL (returned as it is) or a short id, the kind
 * prefix pcs-, bj- or sj- and a unique prefix of the uuid (listings print
 * "sj-1f2e3d4c"), or a bare uuid prefix. kind, "service", "pilot", "unit" or
 * NULL for any, restricts what ref may name. Errors: PILOT_ENOTFOUND (no such
 * object), PILOT_EINVAL (a malformed or ambiguous short id; the message names
 * two of the objects it matches), PILOT_ESTORE. */
pilot_status pilot_resolve(const char *coordination_url, const char *ref, const char *kind,
                           const char *options_json, char **url_out);

/* ----------------------------------------------------------------------------
 * WASM plugins (plugins/ABI.md): third-party resource adaptors and unit hooks
 *
 * A plugin is a WebAssembly module with a manifest (plugin.json) that pins its
 * sha256 and grants its limits and capabilities. Inside this library plugins
 * run on wazero's interpreter (the compiler needs a signal stack that Go does
 * not set up in shared libraries); agents run hooks compiled.
 */

/* Loads the plugin whose manifest is at manifest_path into the process. An
 * adaptor plugin serves its URL schemes (e.g. "tsp://localhost", and
 * "tsp+ssh://host") to create_pilot from then on; a hook plugin can be named
 * by its name in a pilot description's "hooks" list. Loading the same plugin
 * again succeeds. If info_json is not NULL it receives the plugin's info:
 *   {"name", "version", "kinds": ["adaptor"|"pre_unit"|"post_unit"],
 *    "schemes", "digest": "<sha256 of the manifest>", "engine",
 *    "grants": ["<what it may do outside its sandbox, in plain words>", ...]}
 * (free with pilot_string_free).
 * Errors: PILOT_ENOTFOUND (no such manifest or module), PILOT_EINVAL (the
 * plugin is refused: the message names why, e.g. a sha256 that does not
 * match, a missing export, a wrong ABI version, a scheme already served, a
 * grant no plugin may have such as LD_PRELOAD in capabilities.exec_env). */
pilot_status pilot_plugin_load(const char *manifest_path, char **info_json);

/* The info of every loaded plugin, as a JSON array sorted by name; free with
 * pilot_string_free. */
pilot_status pilot_plugins(char **json_out);

/* Calls export_name of the loaded plugin name with request_json and returns
 * its JSON answer, as the host would (for testing plugins): e.g.
 * "hook_pre_unit" with {"unit": {...}}. The call runs under the plugin's
 * limits; commands and files act on this machine, with work_dir (NULL: none)
 * as $WORKDIR. The answer is returned as the plugin gave it, an
 * {"error": ...} answer included (free with pilot_string_free). Errors: PILOT_ENOTFOUND (no such plugin),
 * PILOT_EINVAL (bad JSON, not an export of the plugin), PILOT_EADAPTOR (the
 * plugin trapped, ran out of memory or time, or its hook_pre_unit answer
 * rewrites the unit beyond its manifest's grants, so that an agent would not
 * run the unit: the message says which). */
pilot_status pilot_plugin_call(const char *name, const char *export_name, const char *request_json,
                               const char *work_dir, char **answer_json);

/* ----------------------------------------------------------------------------
 * Compute data service (BigJob's ComputeDataService)
 */

/* A decentral data service: units go to the service queue of an attached
 * service, where any of its pilots takes them. */
pilot_status pilot_dataservice_new(pilot_dataservice *out);
/* A central data service (BigJob's ComputeDataServiceCentral): this process
 * holds each unit until its input data units are Running and a Running
 * pilot has free slots for it, preferring pilots whose affinity labels equal
 * the unit's (or those of its input data's Pilot-Data), then puts it on that
 * pilot's queue. pilot_unit_explain says why a held unit waits. */
pilot_status pilot_dataservice_new_central(pilot_dataservice *out);
/* Frees the handle; a central data service stops placing (units not placed
 * stay held until their service is canceled). */
pilot_status pilot_dataservice_free(pilot_dataservice c);

/* "cds-<uuid>"; free with pilot_string_free. */
pilot_status pilot_dataservice_id(pilot_dataservice c, char **out);

/* Attaches or detaches a service; units go to attached services in turn. */
pilot_status pilot_dataservice_add_service(pilot_dataservice c, pilot_service s);
pilot_status pilot_dataservice_remove_service(pilot_dataservice c, pilot_service s);

/* Queues a unit on an attached service's queue (background write). */
pilot_status pilot_dataservice_submit_unit(pilot_dataservice c, const char *description_json, pilot_unit *out);

/* Waits until every unit submitted through c is final: PILOT_OK,
 * PILOT_ETIMEOUT, or PILOT_ENOPILOTS when no live pilot is left to run them. */
pilot_status pilot_dataservice_wait(pilot_dataservice c, int64_t timeout_ms);

/* The details of every pilot of the attached services, as a JSON array; free
 * with pilot_string_free. */
pilot_status pilot_dataservice_details(pilot_dataservice c, char **json_out);

/* ----------------------------------------------------------------------------
 * Pilot-Data (BigJob's PilotDataService, PilotData and DataUnit). Their
 * records are in the coordination store: any process reopens them by URL
 * (redis://host:port/bigdata:pds-<uuid>[:pd-<uuid>|:du-<uuid>]). A data
 * unit's files are kept in the Pilot-Data's location (file:///path or a
 * path), each recorded with its size and sha256 and checked on every copy.
 * A Pilot-Data made by a service, and a data unit made by a Pilot-Data, keep
 * their parent handle's resources alive until they are freed. Every string
 * returned is freed with pilot_string_free; every *_json argument is UTF-8
 * JSON. Descriptions take the loose BigJob forms (see the Python module).
 */

typedef uint64_t pilot_pds; /* a pilot data service */
typedef uint64_t pilot_pd;  /* a Pilot-Data */
typedef uint64_t pilot_du;  /* a data unit */

pilot_status pilot_pds_new(const char *options_json, pilot_pds *out);
pilot_status pilot_pds_open(const char *pds_url, const char *options_json, pilot_pds *out);
pilot_status pilot_pds_free(pilot_pds pds);
pilot_status pilot_pds_url(pilot_pds pds, char **url_out);

/* Makes a Pilot-Data ({"service_url": ...}; its directory is created). A
 * location that cannot be used is PILOT_EINVAL naming service_url. */
pilot_status pilot_pds_create_pilot_data(pilot_pds pds, const char *description_json, pilot_pd *out);

/* The URLs of the service's Pilot-Data, as a JSON array. */
pilot_status pilot_pds_pilot_data(pilot_pds pds, char **urls_json_out);

pilot_status pilot_pd_open(const char *pd_url, const char *options_json, pilot_pd *out);
pilot_status pilot_pd_free(pilot_pd pd);
pilot_status pilot_pd_url(pilot_pd pd, char **url_out);
pilot_status pilot_pd_description(pilot_pd pd, char **json_out);

/* Makes a data unit of the files of {"file_urls": [...]}, copied into pd;
 * returns when they are in place (the unit is then Running). A missing file
 * is PILOT_EINVAL naming it, and nothing is made. A copy that failed leaves
 * the unit Failed: *out is set and the status is an error. */
pilot_status pilot_pd_submit_data_unit(pilot_pd pd, const char *description_json, pilot_du *out);

/* Copies data unit du into pd too (replication), every file checked. */
pilot_status pilot_pd_add_data_unit(pilot_pd pd, pilot_du du);

/* The URLs of the data units kept in pd, as a JSON array. */
pilot_status pilot_pd_data_units(pilot_pd pd, char **urls_json_out);

pilot_status pilot_du_open(const char *du_url, const char *options_json, pilot_du *out);
pilot_status pilot_du_free(pilot_du du);

/* The URL compute units name in input_data and output_data. */
pilot_status pilot_du_url(pilot_du du, char **url_out);

/* PILOT_STATE_PENDING while its files are placed, RUNNING once they are,
 * FAILED if a copy failed. */
pilot_status pilot_du_state(pilot_du du, pilot_state *out);

/* Waits until du is Running (PILOT_OK); its failure as an error; timeout as
 * for the other waits. */
pilot_status pilot_du_wait(pilot_du du, int64_t timeout_ms);

/* Its files, as a JSON array of {"name", "size", "sha256"}. */
pilot_status pilot_du_files(pilot_du du, char **json_out);

/* The URLs of the Pilot-Data that hold du, as a JSON array. */
pilot_status pilot_du_pilot_data(pilot_du du, char **urls_json_out);

/* Copies local files (a JSON array of paths) into du, in every Pilot-Data
 * that holds it. A missing file is PILOT_EINVAL naming it. */
pilot_status pilot_du_add_files(pilot_du du, const char *paths_json);

/* Copies du's files into the local directory dir (created if missing), each
 * checked against its recorded size and sha256. */
pilot_status pilot_du_export(pilot_du du, const char *dir);

#ifdef __cplusplus
}
#endif

#endif /* PILOT_H */
