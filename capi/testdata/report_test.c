/* The report of a run from C (pilot_service_report): a 1-slot fork pilot
 * runs a unit that ends Done and one that ends Failed; the report file
 * carries their numbers. Environment: PILOT_TEST_URL (coordination URL),
 * BIGJOB_AGENT (agent binary), PILOT_TEST_DIR (a scratch directory). Exit
 * status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* slurp returns the contents of path (free with free), or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

int main(void) {
    const char *url = need("PILOT_TEST_URL"), *dir = need("PILOT_TEST_DIR");
    char buf[1024], path[1024];
    pilot_service s = 0;
    pilot_job j = 0;
    pilot_unit u[2] = {0, 0};
    pilot_state st;

    snprintf(buf, sizeof buf, "{\"coordination_url\": \"%s\", \"quiet\": true}", url);
    expect(pilot_service_new(buf, &s), PILOT_OK, NULL, "service_new");
    snprintf(buf, sizeof buf,
             "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, \"working_directory\": \"%s\"}", dir);
    expect(pilot_service_create_pilot(s, buf, &j), PILOT_OK, NULL, "create_pilot");
    expect(pilot_job_wait_state(j, PILOT_STATE_RUNNING, 60000, &st), PILOT_OK, NULL, "pilot running");
    expect(pilot_job_submit_units(j, "[{\"executable\": \"/bin/true\"}, {\"executable\": \"/bin/false\"}]", u, 2),
           PILOT_OK, NULL, "submit units");
    expect(pilot_job_wait(j, 60000), PILOT_OK, NULL, "units final");

    expect(pilot_service_report(0, "x.html"), PILOT_EBADHANDLE, "never valid", "report of handle 0");
    expect(pilot_service_report(s, NULL), PILOT_EINVAL, "path", "NULL path");
    expect(pilot_service_report(s, ""), PILOT_EINVAL, "path is empty", "empty path");
    snprintf(path, sizeof path, "%s/no/such/dir/run.html", dir);
    expect(pilot_service_report(s, path), PILOT_ERROR, "no/such/dir", "a directory that does not exist");

    snprintf(path, sizeof path, "%s/run.html", dir);
    expect(pilot_service_report(s, path), PILOT_OK, NULL, "report");
    char *page = slurp(path);
    check(page != NULL, "%s was written", path);
    if (page) {
        check(strstr(page, "<td data-k=\"units\" data-v=\"2\">") != NULL, "the report counts 2 units");
        check(strstr(page, "<td data-k=\"done\" data-v=\"1\">") != NULL, "the report counts 1 unit done");
        check(strstr(page, "<td data-k=\"failed\" data-v=\"1\">") != NULL, "the report counts 1 unit failed");
        check(strstr(page, "data-reason=\"exit code 1\" data-units=\"1\"") != NULL, "the failure's reason");
        check(strstr(page, "data-lanes=\"1\"") != NULL, "one lane for the pilot's one slot");
        free(page);
    }

    expect(pilot_service_cancel(s), PILOT_OK, NULL, "cancel");
    for (int i = 0; i < 2; i++) pilot_unit_free(u[i]);
    pilot_job_free(j);
    expect(pilot_service_free(s), PILOT_OK, NULL, "free");
    if (failures) return 1;
    printf("all checks passed\n");
    return 0;
}
