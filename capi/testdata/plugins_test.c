/* WASM plugins through pilot.h: load, list, call (hostile ones included),
 * and hooks named in the service options running in a fork pilot.
 * Environment: PILOT_TEST_URL, BIGJOB_AGENT, PILOT_TEST_DIR, and the
 * manifests PILOT_TEST_ALLOWLIST, PILOT_TEST_LOOP, PILOT_TEST_TRAP. Exit
 * status 0 on success. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    const char *url = need("PILOT_TEST_URL"), *dir = need("PILOT_TEST_DIR");
    const char *allowlist = need("PILOT_TEST_ALLOWLIST"), *loop = need("PILOT_TEST_LOOP"), *trap = need("PILOT_TEST_TRAP");
    char *info = NULL, *answer = NULL;
    expect(pilot_plugin_load(allowlist, &info), PILOT_OK, NULL, "load allowlist");
    check(info && strstr(info, "\"kinds\":[\"pre_unit\"]") && strstr(info, "\"engine\":\"interpreter\"") &&
              strstr(info, "\"grants\":[") && strstr(info, "the variables \\\"SITE_POLICY\\\" in each unit's environment"),
          "info %s", info ? info : "(null)");
    pilot_string_free(info);
    expect(pilot_plugin_load(allowlist, NULL), PILOT_OK, NULL, "load again");
    expect(pilot_plugin_load("/nonexistent/plugin.json", NULL), PILOT_ENOTFOUND, "no such file", "missing manifest");
    expect(pilot_plugin_load(NULL, NULL), PILOT_EINVAL, "manifest_path is NULL", "NULL path");
    expect(pilot_plugin_load(loop, NULL), PILOT_OK, NULL, "load loop");
    expect(pilot_plugin_load(trap, NULL), PILOT_OK, NULL, "load trap");

    char *list = NULL;
    expect(pilot_plugins(&list), PILOT_OK, NULL, "plugins");
    check(list && strstr(list, "\"name\":\"allowlist\"") && strstr(list, "\"name\":\"loop\""), "list %s",
          list ? list : "(null)");
    pilot_string_free(list);

    const char *rm = "{\"unit\": {\"executable\": \"rm\", \"arguments\": [], \"environment\": []}}";
    expect(pilot_plugin_call("allowlist", "hook_pre_unit", rm, NULL, &answer), PILOT_OK, NULL, "call allowlist");
    check(answer && strstr(answer, "\"action\":\"refuse\""), "answer %s", answer ? answer : "(null)");
    pilot_string_free(answer);
    const char *echo = "{\"unit\": {\"executable\": \"echo\", \"arguments\": [], \"environment\": []}}";
    expect(pilot_plugin_call("allowlist", "hook_pre_unit", echo, NULL, &answer), PILOT_OK, NULL, "a granted rewrite");
    check(answer && strstr(answer, "SITE_POLICY=allowlist-1.0"), "answer %s", answer ? answer : "(null)");
    pilot_string_free(answer);
    expect(pilot_plugin_call("nosuch", "hook_pre_unit", rm, NULL, &answer), PILOT_ENOTFOUND, "no plugin named nosuch",
           "unknown plugin");
    expect(pilot_plugin_call("allowlist", "adaptor_submit", "{}", NULL, &answer), PILOT_EINVAL,
           "not an export of a pre_unit plugin", "wrong export");
    expect(pilot_plugin_call("allowlist", "hook_pre_unit", "{not json", NULL, &answer), PILOT_EINVAL,
           "not valid JSON", "bad JSON");
    expect(pilot_plugin_call("loop", "hook_pre_unit", rm, NULL, &answer), PILOT_EADAPTOR,
           "did not return within its timeout of 300ms", "endless loop");
    const char *trapping = "{\"unit\": {\"executable\": \"trap\"}}";
    expect(pilot_plugin_call("trap", "hook_pre_unit", trapping, NULL, &answer), PILOT_EADAPTOR, "wasm error: unreachable",
           "trap");
    expect(pilot_plugin_call("trap", "hook_pre_unit", rm, NULL, &answer), PILOT_OK, NULL, "the call after a trap");
    pilot_string_free(answer);

    /* hooks from the service options */
    char opts[1024];
    snprintf(opts, sizeof opts, "{\"coordination_url\": \"%s\", \"quiet\": true, \"hooks\": [\"allowlist\"]}", url);
    pilot_service s = 0;
    pilot_job j = 0;
    pilot_unit ok = 0, refused = 0;
    pilot_state st = 0;
    expect(pilot_service_new(opts, &s), PILOT_OK, NULL, "service_new with hooks");
    char pd[1024];
    snprintf(pd, sizeof pd, "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, \"working_directory\": \"%s\"}",
             dir);
    expect(pilot_service_create_pilot(s, pd, &j), PILOT_OK, NULL, "create_pilot");
    expect(pilot_job_submit_unit(j, "{\"executable\": \"/bin/echo\", \"arguments\": [\"$SITE_POLICY\"]}", &ok), PILOT_OK,
           NULL, "submit allowed");
    expect(pilot_job_submit_unit(j, "{\"executable\": \"/usr/bin/id\"}", &refused), PILOT_OK, NULL, "submit refused");
    expect(pilot_unit_wait(ok, 60000, &st), PILOT_OK, NULL, "wait allowed");
    check(st == PILOT_STATE_DONE, "allowed unit Done, got %s", pilot_state_name(st));
    expect(pilot_unit_wait(refused, 60000, &st), PILOT_OK, NULL, "wait refused");
    check(st == PILOT_STATE_FAILED, "refused unit Failed, got %s", pilot_state_name(st));
    char *details = NULL;
    expect(pilot_unit_details(refused, &details), PILOT_OK, NULL, "details");
    check(details && strstr(details, "refused by pre_unit hook allowlist"), "reason in %s", details ? details : "(null)");
    pilot_string_free(details);
    expect(pilot_service_cancel(s), PILOT_OK, NULL, "cancel");
    pilot_unit_free(ok);
    pilot_unit_free(refused);
    pilot_job_free(j);
    pilot_service_free(s);

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
