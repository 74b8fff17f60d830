/* Reconnecting a service by URL (pilot_service_open), waiting for all of its
 * units (pilot_service_wait), explaining units (pilot_unit_explain), the
 * service options max_attempts and finished_ttl, and PILOT_ENOKEY.
 * Environment: PILOT_TEST_URL (coordination URL), BIGJOB_AGENT (agent
 * binary), PILOT_TEST_DIR (a scratch directory), BIGJOB_HOME (where service
 * keys are kept; a scratch directory). Exit status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* has reports whether the JSON text s contains the fragment want. */
static int has(const char *s, const char *want) { return s != NULL && strstr(s, want) != NULL; }

/* explain returns pilot_unit_explain's JSON (free with pilot_string_free). */
static char *explain(pilot_unit u, const char *what) {
    char *js = NULL;
    expect(pilot_unit_explain(u, &js), PILOT_OK, NULL, what);
    check(js != NULL, "%s: JSON returned", what);
    return js;
}

int main(void) {
    const char *url = need("PILOT_TEST_URL"), *dir = need("PILOT_TEST_DIR"), *home = need("BIGJOB_HOME");
    char opts[1024], buf[1024];
    pilot_service s = 0, s2 = 0, s3 = 0;
    pilot_state st;

    /* options: max_attempts and finished_ttl are checked, naming the key */
    static const struct { const char *option, *want, *what; } bad[] = {
        {"\"max_attempts\": 0", "\"max_attempts\" must be a whole number", "max_attempts 0"},
        {"\"max_attempts\": 2.5", "max_attempts", "max_attempts 2.5"},
        {"\"max_attempts\": \"3\"", "max_attempts", "max_attempts as a string"},
        {"\"finished_ttl\": 0", "\"finished_ttl\" must be a number of seconds", "finished_ttl 0"},
        {"\"finished_ttl\": -5", "finished_ttl", "finished_ttl negative"},
        {"\"finished_ttl\": [1]", "finished_ttl", "finished_ttl a list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "{\"coordination_url\": \"%s\", \"quiet\": true, %s}", url, bad[i].option);
        expect(pilot_service_new(buf, &s), PILOT_EINVAL, bad[i].want, bad[i].what);
    }
    expect(pilot_service_new("{\"max_attempt\": 3}", &s), PILOT_EINVAL, "max_attempts", "misspelt key lists the known ones");

    /* pilot_service_open: bad input */
    expect(pilot_service_open(NULL, NULL, &s2), PILOT_EINVAL, "service_url is NULL", "NULL URL");
    expect(pilot_service_open("redis://localhost:1/pcs/pcs-1", NULL, NULL), PILOT_EINVAL, "out is NULL", "NULL out");
    snprintf(buf, sizeof buf, "%s/bigjob:bj-x:localhost", url);
    expect(pilot_service_open(buf, NULL, &s2), PILOT_EINVAL, "pcs", "a pilot URL is not a service URL");
    snprintf(buf, sizeof buf, "%s/pcs/pcs-00000000-0000-4000-8000-000000000000", url);
    expect(pilot_service_open(buf, "{\"quiet\": true}", &s2), PILOT_ENOTFOUND, "never existed", "unknown service");
    expect(pilot_service_open(buf, "{\"colour\": 1}", &s2), PILOT_EINVAL, "colour", "bad options");
    expect(pilot_service_wait(0, 0), PILOT_EBADHANDLE, "never valid", "wait on handle 0");
    expect(pilot_unit_explain(0, NULL), PILOT_EBADHANDLE, "never valid", "explain handle 0");

    /* a service with units and no pilot */
    snprintf(opts, sizeof opts,
             "{\"coordination_url\": \"%s\", \"quiet\": true, \"heartbeat_interval_ms\": 200, "
             "\"max_attempts\": 5, \"finished_ttl\": 600.5}",
             url);
    expect(pilot_service_new(opts, &s), PILOT_OK, NULL, "service_new with max_attempts and finished_ttl");
    pilot_unit small = 0, big = 0;
    expect(pilot_service_submit_unit(s, "{\"executable\": \"/bin/true\"}", &small), PILOT_OK, NULL, "submit small");
    expect(pilot_service_submit_unit(s, "{\"executable\": \"/bin/true\", \"number_of_processes\": 2}", &big),
           PILOT_OK, NULL, "submit big before any pilot");
    expect(pilot_unit_explain(small, NULL), PILOT_EINVAL, "json_out is NULL", "explain NULL out");

    char *js = explain(small, "explain without pilots");
    check(has(js, "\"pilots\":[]"), "no pilots: %s", js);
    check(has(js, "\"state\":\"Unknown\""), "queued unit is Unknown: %s", js);
    check(has(js, "\"queue\":\"service\""), "service queue: %s", js);
    check(has(js, "\"max_attempts\":5"), "max_attempts from the options: %s", js);
    check(has(js, "\"attempts\":0"), "not started: %s", js);
    check(has(js, "\"queue_length\":2"), "two units waiting: %s", js);
    check(has(js, "the service has no pilot"), "summary says there is no pilot: %s", js);
    pilot_string_free(js);

    /* reconnect by URL */
    char *surl = NULL, *surl2 = NULL, *sid = NULL;
    expect(pilot_service_url(s, &surl), PILOT_OK, NULL, "service_url");
    expect(pilot_service_id(s, &sid), PILOT_OK, NULL, "service_id");
    expect(pilot_service_open(surl, "{\"quiet\": true, \"max_attempts\": 9}", &s2), PILOT_OK, NULL, "service_open");
    expect(pilot_service_url(s2, &surl2), PILOT_OK, NULL, "reopened service_url");
    check(surl2 && strstr(surl2, sid) != NULL && strstr(surl2, "/pcs/") != NULL, "reopened URL %s names %s", surl2,
          sid);
    pilot_string_free(surl2);
    char *pilots = NULL;
    expect(pilot_service_pilots(s2, &pilots), PILOT_OK, NULL, "pilots of a service without pilots");
    check(pilots && strcmp(pilots, "[]") == 0, "no pilots yet: %s", pilots);
    pilot_string_free(pilots);
    expect(pilot_service_wait(s2, 0), PILOT_ENOPILOTS, "no live pilot", "wait with units and no pilot");
    expect(pilot_service_wait(s2, 5000), PILOT_ENOPILOTS, NULL, "a long wait does not hang without pilots");

    /* a pilot (created through the reconnected handle) too small for big */
    snprintf(buf, sizeof buf,
             "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, \"working_directory\": \"%s\"}",
             dir);
    pilot_job j = 0;
    expect(pilot_service_create_pilot(s2, buf, &j), PILOT_OK, NULL, "create_pilot on the reconnected service");
    expect(pilot_job_wait_state(j, PILOT_STATE_RUNNING, 60000, &st), PILOT_OK, NULL, "pilot running");
    expect(pilot_unit_wait(small, 60000, &st), PILOT_OK, NULL, "small unit runs");
    check(st == PILOT_STATE_DONE, "small unit Done, got %s", pilot_state_name(st));
    /* a running pilot fails a unit larger than every pilot; explain says why */
    expect(pilot_unit_wait(big, 60000, &st), PILOT_OK, NULL, "big unit ends");
    check(st == PILOT_STATE_FAILED, "big unit Failed, got %s", pilot_state_name(st));
    js = explain(big, "explain too large");
    check(has(js, "\"state\":\"Failed\""), "Failed: %s", js);
    check(has(js, "\"reason\":\"the unit needs 2 slots"), "reason: %s", js);
    check(has(js, "\"summary\":\"the unit is Failed: the unit needs 2 slots"), "summary: %s", js);
    check(has(js, "\"can_take\":false"), "the pilot cannot take it: %s", js);
    check(has(js, "\"why\":\"the unit needs 2 slots and the pilot has 1\""), "why: %s", js);
    check(has(js, "\"state\":\"Running\",\"slots\":1"), "the pilot is listed Running with 1 slot: %s", js);
    check(has(js, "\"last_heartbeat\":\"") && has(js, "\"heartbeat_age_s\":"), "heartbeat: %s", js);
    pilot_string_free(js);

    /* a running unit keeps the service waiting */
    pilot_unit sleeper = 0;
    expect(pilot_service_submit_unit(s2, "{\"executable\": \"/bin/sleep\", \"arguments\": [\"60\"]}", &sleeper),
           PILOT_OK, NULL, "submit through the reconnected handle");
    expect(pilot_service_wait(s2, 300), PILOT_ETIMEOUT, NULL, "a running unit keeps the service waiting");
    for (int i = 0; i < 600; i++) { /* until it runs, bounded */
        expect(pilot_unit_state(sleeper, &st), PILOT_OK, NULL, "sleeper state");
        if (st == PILOT_STATE_RUNNING) break;
        usleep(100 * 1000);
    }
    js = explain(sleeper, "explain running");
    check(has(js, "\"summary\":\"the unit is Running on pilot bigjob:bj-"), "summary of a running unit: %s", js);
    check(has(js, "(attempt 1 of 5)"), "attempt 1 of 5: %s", js);
    check(has(js, "\"pilot\":\"bigjob:bj-"), "its pilot (by name): %s", js);
    pilot_string_free(js);

    js = explain(small, "explain Done");
    check(has(js, "\"state\":\"Done\""), "Done: %s", js);
    check(has(js, "\"summary\":\"the unit is Done\""), "summary of a Done unit: %s", js);
    check(has(js, "\"attempts\":1"), "started once: %s", js);
    pilot_string_free(js);

    /* a third handle lists the pilot from the store */
    expect(pilot_service_open(surl, NULL, &s3), PILOT_OK, NULL, "service_open again");
    expect(pilot_service_pilots(s3, &pilots), PILOT_OK, NULL, "pilots of the reopened service");
    char *purl = NULL;
    expect(pilot_job_url(j, &purl), PILOT_OK, NULL, "job_url");
    snprintf(buf, sizeof buf, "[\"%s\"]", purl ? purl : "");
    check(pilots && strcmp(pilots, buf) == 0, "pilots %s, want %s", pilots, buf);
    pilot_string_free(pilots);
    pilot_string_free(purl);

    expect(pilot_unit_cancel(sleeper), PILOT_OK, NULL, "cancel sleeper");
    expect(pilot_service_wait(s3, 60000), PILOT_OK, NULL, "wait returns once every unit is final");
    expect(pilot_service_wait(s3, 0), PILOT_OK, NULL, "a zero timeout looks");
    expect(pilot_service_cancel(s3), PILOT_OK, NULL, "cancel through a reopened handle");
    expect(pilot_job_state(j, &st), PILOT_OK, NULL, "pilot state after service cancel");
    check(st == PILOT_STATE_DONE, "pilot Done after cancel, got %s", pilot_state_name(st));

    expect(pilot_unit_free(small), PILOT_OK, NULL, "free small");
    expect(pilot_unit_free(big), PILOT_OK, NULL, "free big");
    expect(pilot_unit_free(sleeper), PILOT_OK, NULL, "free sleeper");
    expect(pilot_job_free(j), PILOT_OK, NULL, "free job");
    expect(pilot_service_free(s3), PILOT_OK, NULL, "free s3");
    expect(pilot_service_free(s2), PILOT_OK, NULL, "free s2");
    pilot_string_free(surl);
    pilot_string_free(sid);

    /* without the signing key: waits and cancel work, submitting is PILOT_ENOKEY.
     * s stays open so that an embedded store stays up; t's own handle is freed
     * so that its key is not in memory any more. */
    pilot_service t = 0, t2 = 0;
    snprintf(opts, sizeof opts, "{\"coordination_url\": \"%s\", \"quiet\": true}", url);
    expect(pilot_service_new(opts, &t), PILOT_OK, NULL, "service t");
    char *turl = NULL, *tid = NULL;
    expect(pilot_service_url(t, &turl), PILOT_OK, NULL, "t url");
    expect(pilot_service_id(t, &tid), PILOT_OK, NULL, "t id");
    expect(pilot_service_free(t), PILOT_OK, NULL, "free t");
    snprintf(buf, sizeof buf, "%s/keys/%s.key", home, tid ? tid : "");
    check(access(buf, F_OK) == 0, "the key of t is kept in %s", buf);
    check(unlink(buf) == 0, "remove %s", buf);
    expect(pilot_service_open(turl, "{\"quiet\": true}", &t2), PILOT_OK, NULL, "open t without its key");
    pilot_unit nu = 0;
    expect(pilot_service_submit_unit(t2, "{\"executable\": \"/bin/true\"}", &nu), PILOT_ENOKEY, "signing key",
           "submit without the key");
    snprintf(buf, sizeof buf,
             "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, \"working_directory\": \"%s\"}",
             dir);
    expect(pilot_service_create_pilot(t2, buf, &j), PILOT_ENOKEY, "signing key", "create_pilot without the key");
    expect(pilot_service_wait(t2, 0), PILOT_OK, NULL, "wait works without the key");
    expect(pilot_service_cancel(t2), PILOT_OK, NULL, "cancel works without the key");
    expect(pilot_service_free(t2), PILOT_OK, NULL, "free t2");
    pilot_string_free(turl);
    pilot_string_free(tid);

    expect(pilot_service_free(s), PILOT_OK, NULL, "free s");
    expect(pilot_flush_all(1000), PILOT_OK, NULL, "flush_all");

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("service_open_test: all checks passed\n");
    return 0;
}
