/* Pilot-Data through pilot.h: a service, a Pilot-Data in a directory, a data
 * unit of one file, reconnected by URL, exported, replicated, refused input.
 * Environment: PILOT_TEST_URL, PILOT_TEST_DIR. Exit status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char *slurp(const char *path) {
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

int main(void) {
    const char *url = need("PILOT_TEST_URL"), *dir = need("PILOT_TEST_DIR");
    char opts[512], src[512], desc[1024], pddesc[1024], pddesc2[1024], out[512], path[600];
    snprintf(opts, sizeof opts, "{\"coordination_url\": \"%s\", \"quiet\": true}", url);
    snprintf(src, sizeof src, "%s/input.txt", dir);
    FILE *f = fopen(src, "w");
    fputs("data from C\n", f);
    fclose(f);

    pilot_pds pds = 0;
    expect(pilot_pds_new(opts, &pds), PILOT_OK, NULL, "pds_new");
    pilot_pd pd = 0, pd2 = 0;
    expect(pilot_pds_create_pilot_data(pds, "{\"service_url\": \"s3://bucket\"}", &pd), PILOT_EINVAL,
           "s3:// backend (Amazon S3) is not supported", "s3 refused");
    snprintf(pddesc, sizeof pddesc, "{\"service_url\": \"file://%s/pd1\"}", dir);
    expect(pilot_pds_create_pilot_data(pds, pddesc, &pd), PILOT_OK, NULL, "create pilot data");

    pilot_du du = 0;
    snprintf(desc, sizeof desc, "{\"file_urls\": [\"%s\", \"%s/missing.txt\"]}", src, dir);
    expect(pilot_pd_submit_data_unit(pd, desc, &du), PILOT_EINVAL, "missing.txt does not exist", "missing file");
    check(du == 0, "no data unit made for a missing file");
    snprintf(desc, sizeof desc, "{\"file_urls\": \"%s\"}", src); /* one string: a list of one */
    expect(pilot_pd_submit_data_unit(pd, desc, &du), PILOT_OK, NULL, "submit data unit");
    pilot_state st = -1;
    expect(pilot_du_state(du, &st), PILOT_OK, NULL, "du state");
    check(st == PILOT_STATE_RUNNING, "data unit Running, got %s", pilot_state_name(st));

    char *du_url = NULL, *files = NULL;
    expect(pilot_du_url(du, &du_url), PILOT_OK, NULL, "du url");
    expect(pilot_du_files(du, &files), PILOT_OK, NULL, "du files");
    check(strstr(files, "\"sha256\":\"") && strstr(files, "input.txt\""), "files record name and sha256: %s", files);

    /* another handle by URL, as another process would */
    pilot_du again = 0;
    expect(pilot_du_open(du_url, opts, &again), PILOT_OK, NULL, "du_open");
    snprintf(out, sizeof out, "%s/exported/here", dir);
    expect(pilot_du_export(again, out), PILOT_OK, NULL, "export");
    snprintf(path, sizeof path, "%s/input.txt", out);
    const char *got = slurp(path);
    check(got && strcmp(got, "data from C\n") == 0, "exported content: %s", got ? got : "(none)");

    /* replication */
    snprintf(pddesc2, sizeof pddesc2, "{\"service_url\": \"%s/pd2\"}", dir);
    expect(pilot_pds_create_pilot_data(pds, pddesc2, &pd2), PILOT_OK, NULL, "second pilot data");
    expect(pilot_pd_add_data_unit(pd2, again), PILOT_OK, NULL, "replicate");
    char *holders = NULL;
    expect(pilot_du_pilot_data(du, &holders), PILOT_OK, NULL, "holders");
    int n = 0;
    for (const char *p = holders; (p = strstr(p, ":pd-")) != NULL; p++) n++;
    check(n == 2, "two Pilot-Data hold the unit: %s", holders);

    expect(pilot_du_free(0), PILOT_EBADHANDLE, NULL, "free handle 0");
    expect(pilot_du_state(pd, &st), PILOT_EBADHANDLE, NULL, "a pilot data handle is not a data unit");

    pilot_string_free(du_url);
    pilot_string_free(files);
    pilot_string_free(holders);
    expect(pilot_du_free(again), PILOT_OK, NULL, "free again");
    expect(pilot_pds_free(pds), PILOT_OK, NULL, "free the service before its children");
    expect(pilot_du_free(du), PILOT_OK, NULL, "free du");
    expect(pilot_pd_free(pd2), PILOT_OK, NULL, "free pd2");
    expect(pilot_pd_free(pd), PILOT_OK, NULL, "free pd");
    check(pilot_live_handles() == 0, "every handle freed, yet %lld are live", (long long)pilot_live_handles());
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("data_test: all checks passed\n");
    return 0;
}
