/* Exercises libpilot through pilot.h as a C host would, bad input included.
 * Environment: PILOT_TEST_URL (coordination URL), BIGJOB_AGENT (agent
 * binary), PILOT_TEST_DIR (a scratch directory). Exit status 0 on success. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Callbacks: record the states of one unit in order. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char seen[512];
static char unit_id[64];
static pthread_t main_thread;
static int off_main_thread = 1;

static void on_state(void *ud, int32_t kind, const char *id, pilot_state state, const char *name,
                     const char *pilot_id) {
    (void)pilot_id;
    check(ud == (void *)&seen, "callback user_data passed through");
    check(strcmp(name, pilot_state_name(state)) == 0, "state name %s matches code %d", name, state);
    if (pthread_equal(pthread_self(), main_thread)) off_main_thread = 0;
    pthread_mutex_lock(&mu);
    if (kind == PILOT_KIND_UNIT && strcmp(id, unit_id) == 0) {
        strncat(seen, name, sizeof seen - strlen(seen) - 2);
        strcat(seen, " ");
    }
    pthread_mutex_unlock(&mu);
}

static void *other_thread(void *arg) {
    (void)arg;
    /* the error of the main thread is not visible here */
    check(strcmp(pilot_last_error(), "") == 0, "last error is per thread");
    pilot_unit u;
    expect(pilot_unit_state(0, NULL), PILOT_EBADHANDLE, "never valid", "handle 0 from a second thread");
    (void)u;
    return NULL;
}

int main(void) {
    const char *url = need("PILOT_TEST_URL"), *dir = need("PILOT_TEST_DIR");
    main_thread = pthread_self();

    /* library */
    check(pilot_abi_version() == PILOT_ABI_VERSION, "ABI version");
    check(strlen(pilot_version()) > 0, "version");
    check(strcmp(pilot_state_name(PILOT_STATE_DONE), "Done") == 0, "state name");
    check(strcmp(pilot_state_name(99), "") == 0, "unknown state name");
    check(pilot_state_is_final(PILOT_STATE_CANCELED) && !pilot_state_is_final(PILOT_STATE_RUNNING), "is_final");
    pilot_string_free(NULL);

    /* bad input, no service needed */
    pilot_service s = 0;
    expect(pilot_service_new(NULL, NULL), PILOT_EINVAL, "out is NULL", "NULL out");
    expect(pilot_service_new("{not json", &s), PILOT_EINVAL, "options_json", "invalid options JSON");
    expect(pilot_service_new("{\"colour\": 1}", &s), PILOT_EINVAL, "colour", "unknown option");
    check(strstr(pilot_last_error(), "known keys: coordination_url, agent_path,") &&
              strstr(pilot_last_error(), "max_attempts, finished_ttl)"),
          "an unknown option's error lists the known ones: %s", pilot_last_error());
    expect(pilot_service_new("{\"coordination_url\": \"tcp://x\"}", &s), PILOT_EINVAL, "tcp", "bad URL");
    /* the original's Advert backend is gone: its URLs stand for the default store */
    char *advert = NULL, *dflt = NULL;
    expect(pilot_coordination_url("advert://x/?dbtype=sqlite3", &advert), PILOT_OK, NULL, "advert URL");
    expect(pilot_coordination_url(NULL, &dflt), PILOT_OK, NULL, "default URL");
    check(advert && dflt && strcmp(advert, dflt) == 0 && strncmp(dflt, "redis://", 8) == 0, "advert %s default %s",
          advert ? advert : "(null)", dflt ? dflt : "(null)");
    pilot_string_free(advert);
    pilot_string_free(dflt);
    expect(pilot_coordination_url("redis://h:1", NULL), PILOT_EINVAL, "url_out is NULL", "NULL url_out");
    expect(pilot_unit_state(0, NULL), PILOT_EBADHANDLE, "never valid", "handle 0");
    pilot_state st;
    expect(pilot_unit_state(0x0300000000ABCDEFull, &st), PILOT_EBADHANDLE, "unknown or was freed", "unknown handle");
    pthread_t th;
    pthread_create(&th, NULL, other_thread, NULL);
    pthread_join(th, NULL);
    pilot_clear_error();
    check(strcmp(pilot_last_error(), "") == 0, "clear_error");
    expect(pilot_job_open(NULL, NULL, NULL), PILOT_EINVAL, "is NULL", "NULL URL");
    pilot_job j = 0;
    expect(pilot_job_open("redis://localhost:1/not-a-pilot", NULL, &j), PILOT_EINVAL, "not a pilot name",
           "bad pilot URL");

    /* a service */
    char opts[1024];
    snprintf(opts, sizeof opts, "{\"coordination_url\": \"%s\", \"quiet\": true, \"heartbeat_interval_ms\": 200}",
             url);
    check(pilot_live_handles() == 0, "refused calls make no handle, yet %lld are live", (long long)pilot_live_handles());
    expect(pilot_service_new(opts, &s), PILOT_OK, NULL, "service_new");
    check(strcmp(pilot_last_error(), "") == 0, "success clears the last error");
    expect(pilot_job_state((pilot_job)s, &st), PILOT_EBADHANDLE, "is a pilot_service, not a pilot_job",
           "wrong kind of handle");
    char *sid = NULL;
    expect(pilot_service_id(s, &sid), PILOT_OK, NULL, "service_id");
    check(sid && strncmp(sid, "pcs-", 4) == 0, "service id %s", sid ? sid : "(null)");
    pilot_string_free(sid);

    expect(pilot_service_create_pilot(s, "{\"service_url\": \"fork://localhost\"}", &j), PILOT_EINVAL,
           "number_of_processes", "missing key");
    expect(pilot_service_create_pilot(s, "{\"service_url\": \"nosuch://x\", \"number_of_processes\": 1}", &j),
           PILOT_ENOTFOUND, "no adaptor", "unknown scheme");
    char pd[1024];
    snprintf(pd, sizeof pd,
             "{\"service_url\": \"fork://localhost\", \"number_of_processes\": \"2\", \"working_directory\": \"%s\"}",
             dir);
    expect(pilot_service_create_pilot(s, pd, &j), PILOT_OK, NULL, "create_pilot");
    expect(pilot_job_wait_state(j, PILOT_STATE_RUNNING, 60000, &st), PILOT_OK, NULL, "wait running");
    check(st == PILOT_STATE_RUNNING, "pilot running, got %s", pilot_state_name(st));

    pilot_unit u = 0;
    expect(pilot_job_submit_unit(j, "{\"executable\": \"/bin/echo\", \"number_of_processes\": \"abc\"}", &u),
           PILOT_EINVAL, "\"abc\" is not a whole number", "bad number");
    expect(pilot_job_submit_unit(j, "{\"executable\": \"/bin/true\", \"number_of_processes\": 3}", &u), PILOT_EINVAL,
           "has only 2", "unit larger than the pilot");
    expect(pilot_job_submit_unit(j, "[1, 2]", &u), PILOT_EINVAL, "JSON object", "not an object");
    expect(pilot_job_submit_unit(j, NULL, &u), PILOT_EINVAL, "is NULL", "NULL description");

    /* a unit with callbacks */
    expect(pilot_job_set_callback(j, on_state, &seen), PILOT_OK, NULL, "set_callback");
    expect(pilot_job_submit_unit(
               j, "{\"executable\": \"/bin/sh\", \"arguments\": [\"-c\", \"'echo $GREETING; exit 3'\"], "
                  "\"environment\": {\"GREETING\": \"hi\"}}",
               &u),
           PILOT_OK, NULL, "submit_unit");
    char *uid = NULL;
    expect(pilot_unit_id(u, &uid), PILOT_OK, NULL, "unit_id");
    pthread_mutex_lock(&mu);
    snprintf(unit_id, sizeof unit_id, "%s", uid);
    pthread_mutex_unlock(&mu);
    pilot_string_free(uid);
    expect(pilot_unit_wait(u, 60000, &st), PILOT_OK, NULL, "unit_wait");
    check(st == PILOT_STATE_FAILED, "exit 3 is Failed, got %s", pilot_state_name(st));
    char *details = NULL;
    expect(pilot_unit_details(u, &details), PILOT_OK, NULL, "unit_details");
    check(details && strstr(details, "\"exit_code\":\"3\""), "details carry exit_code 3: %s", details);
    pilot_string_free(details);
    char *sandbox = NULL;
    expect(pilot_unit_sandbox(u, &sandbox), PILOT_OK, NULL, "sandbox");
    check(sandbox && strstr(sandbox, "/sj-") != NULL, "sandbox %s", sandbox);
    pilot_string_free(sandbox);
    /* the final callback may still be on its way: wait for it, bounded */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&mu);
        int done = strstr(seen, "Failed") != NULL;
        pthread_mutex_unlock(&mu);
        if (done) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    expect(pilot_job_set_callback(j, NULL, NULL), PILOT_OK, NULL, "unset callback");
    check(strcmp(seen, "Unknown New Running Failed ") == 0, "callbacks in order: got '%s'", seen);
    check(off_main_thread, "callbacks arrive on a library thread");

    /* reconnect by URL */
    char *purl = NULL, *uurl = NULL;
    expect(pilot_job_url(j, &purl), PILOT_OK, NULL, "job_url");
    expect(pilot_unit_url(u, &uurl), PILOT_OK, NULL, "unit_url");
    pilot_job j2 = 0;
    pilot_unit u2 = 0;
    expect(pilot_job_open(purl, "{\"quiet\": true}", &j2), PILOT_OK, NULL, "job_open");
    expect(pilot_unit_open(uurl, NULL, &u2), PILOT_OK, NULL, "unit_open");
    expect(pilot_unit_state(u2, &st), PILOT_OK, NULL, "reconnected state");
    check(st == PILOT_STATE_FAILED, "reconnected unit state");
    pilot_string_free(purl);
    pilot_string_free(uurl);

    /* bulk submit */
    pilot_unit many[3];
    expect(pilot_job_submit_units(j, "[{\"executable\": \"/bin/true\"}]", many, 3), PILOT_EINVAL, "n is 3",
           "count mismatch");
    expect(pilot_job_submit_units(j, "[{\"executable\": \"/bin/true\"}, {\"executable\": \"/bin/true\"}, "
                                     "{\"executable\": \"/bin/true\"}]",
                                  many, 3),
           PILOT_OK, NULL, "submit_units");
    expect(pilot_job_wait(j, 60000), PILOT_OK, NULL, "job_wait");
    for (int i = 0; i < 3; i++) {
        expect(pilot_unit_state(many[i], &st), PILOT_OK, NULL, "bulk unit state");
        check(st == PILOT_STATE_DONE, "bulk unit %d done", i);
        expect(pilot_unit_free(many[i]), PILOT_OK, NULL, "free bulk unit");
    }

    /* a wait that times out is not a failure of the unit */
    pilot_unit sleeper = 0;
    expect(pilot_job_submit_unit(j, "{\"executable\": \"/bin/sleep\", \"arguments\": [\"60\"]}", &sleeper),
           PILOT_OK, NULL, "submit sleeper");
    expect(pilot_unit_wait(sleeper, 50, &st), PILOT_ETIMEOUT, NULL, "wait times out");
    expect(pilot_unit_cancel(sleeper), PILOT_OK, NULL, "cancel unit");
    expect(pilot_unit_wait(sleeper, 0, &st), PILOT_OK, NULL, "canceled is final");
    check(st == PILOT_STATE_CANCELED, "unit canceled, got %s", pilot_state_name(st));

    /* the data service */
    pilot_dataservice c = 0;
    expect(pilot_dataservice_new(&c), PILOT_OK, NULL, "dataservice_new");
    expect(pilot_dataservice_submit_unit(c, "{\"executable\": \"/bin/true\"}", &u2), PILOT_ERROR, "no pilot compute service",
           "cds without a service");
    expect(pilot_dataservice_add_service(c, s), PILOT_OK, NULL, "add_service");
    pilot_unit cu = 0;
    expect(pilot_dataservice_submit_unit(c, "{\"executable\": \"/bin/true\"}", &cu), PILOT_OK, NULL, "cds submit");
    expect(pilot_dataservice_wait(c, 60000), PILOT_OK, NULL, "cds wait");
    expect(pilot_unit_state(cu, &st), PILOT_OK, NULL, "cds unit state");
    check(st == PILOT_STATE_DONE, "cds unit done");

    /* freeing in any order; freed handles are errors, not crashes */
    expect(pilot_service_free(s), PILOT_OK, NULL, "service_free with children alive");
    expect(pilot_unit_state(u, &st), PILOT_OK, NULL, "a unit outlives its service handle");
    expect(pilot_service_cancel(s), PILOT_EBADHANDLE, "unknown or was freed", "freed service");
    expect(pilot_job_cancel(j), PILOT_OK, NULL, "job_cancel");
    expect(pilot_job_state(j, &st), PILOT_OK, NULL, "job state after cancel");
    check(st == PILOT_STATE_DONE, "canceled pilot is Done, got %s", pilot_state_name(st));
    expect(pilot_unit_free(u), PILOT_OK, NULL, "unit_free");
    expect(pilot_unit_free(u), PILOT_EBADHANDLE, "unknown or was freed", "double free");
    expect(pilot_unit_free(u2), PILOT_OK, NULL, "free reconnected unit");
    expect(pilot_unit_free(sleeper), PILOT_OK, NULL, "free sleeper");
    expect(pilot_unit_free(cu), PILOT_OK, NULL, "free cds unit");
    expect(pilot_dataservice_free(c), PILOT_OK, NULL, "dataservice_free");
    expect(pilot_job_free(j2), PILOT_OK, NULL, "free reconnected job");
    expect(pilot_job_free(j), PILOT_OK, NULL, "job_free");
    expect(pilot_flush_all(1000), PILOT_OK, NULL, "flush_all");
    check(pilot_live_handles() == 0, "every handle freed, yet %lld are live", (long long)pilot_live_handles());

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("abi_test: all checks passed\n");
    return 0;
}
