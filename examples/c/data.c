/*
 * data.c runs the Pilot-Data pattern of examples/scripts/pilot_data.py
 * through the C interface of libpilot (pilot.h): a Pilot-Data in a directory
 * (file://), an input data unit made from a local file, an empty output data
 * unit, one fork pilot, a /bin/cat unit that reads the input data unit
 * (input_data) and leaves its stdout and stderr in the output data unit
 * (output_data: [{du_url: ["std*"]}]), the output exported into a directory,
 * the input replicated into a second Pilot-Data, cancel.
 *
 * The coordination store is redis://localhost:6379, or $PILOT_COORDINATION_URL
 * if set; with no Redis on localhost the library uses your lasting local
 * coordination store (and says so on stderr). Everything it writes (the
 * input file, both Pilot-Data, the pilot's sandboxes, the export) is in a
 * fresh directory under $TMPDIR (or /tmp), removed at the end.
 *
 * Build (after make install):
 *   cc -o data data.c $(pkg-config --cflags --libs pilot)
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE_NAME "data"
#include "example.h"

#define INPUT "Hello World!\n"

/* Fails the program, with a message, unless cond holds. */
#define EXPECT(cond, ...)                     \
    do {                                      \
        if (!(cond)) {                        \
            fprintf(stderr, "data: ");        \
            fprintf(stderr, __VA_ARGS__);     \
            fprintf(stderr, "\n");            \
            goto cleanup;                     \
        }                                     \
    } while (0)

/* Joins prefix, dir and name into out (of the given size) as
 * prefix+dir/name, and quotes the result as JSON into quoted. Returns 0, or
 * -1 if either does not fit. */
static int path_in(char *out, size_t size, char *quoted, size_t qsize, const char *prefix, const char *dir,
                   const char *name) {
    int len = snprintf(out, size, "%s%s/%s", prefix, dir, name);
    if (len < 0 || (size_t)len >= size) return -1;
    return json_quote(quoted, qsize, out);
}

/* Reads the whole (small) file at path into out, NUL-terminated. Returns 0,
 * or -1 if it cannot be read. */
static int read_file(const char *path, char *out, size_t size) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    int failed = ferror(f);
    fclose(f);
    return failed ? -1 : 0;
}

/* Counts the Pilot-Data URLs (":pd-") in a JSON array of them. */
static int count_pilot_data(const char *urls_json) {
    int n = 0;
    for (const char *p = urls_json; (p = strstr(p, ":pd-")) != NULL; p++) n++;
    return n;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int main(void) {
    pilot_service pcs = 0;
    pilot_job pilot = 0;
    pilot_unit unit = 0;
    pilot_pds pds = 0;
    pilot_pd pd = 0, replica = 0;
    pilot_du du_in = 0, du_out = 0;
    char *in_url = NULL, *out_url = NULL, *out_files = NULL, *holders = NULL;
    char dir[4096], path[4200], quoted[8500], quoted_in[8500], quoted_out[8500];
    char options[8600], description[17200], content[256];
    int ok = 0;

    /* Progress lines appear as they are printed, even through a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (coordination_options(options, sizeof options) != 0) return EXIT_FAILURE;

    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0') tmp = "/tmp";
    int len = snprintf(dir, sizeof dir, "%s/pilot-data-example-XXXXXX", tmp);
    if (len < 0 || (size_t)len >= sizeof dir - 64) {
        fprintf(stderr, "data: TMPDIR is too long\n");
        return EXIT_FAILURE;
    }
    if (mkdtemp(dir) == NULL) {
        perror("data: make a directory under TMPDIR");
        return EXIT_FAILURE;
    }

    /* The local file the input data unit is made of. */
    EXPECT(path_in(path, sizeof path, quoted, sizeof quoted, "", dir, "test.txt") == 0, "the path is too long");
    FILE *f = fopen(path, "w");
    EXPECT(f != NULL, "cannot write %s", path);
    int written = fputs(INPUT, f) >= 0;
    EXPECT(fclose(f) == 0 && written, "cannot write %s", path);
    char input_data_unit[8600];
    snprintf(input_data_unit, sizeof input_data_unit, "{\"file_urls\": [%s]}", quoted);

    CHECK(pilot_pds_new(options, &pds), "create the pilot data service");
    EXPECT(path_in(path, sizeof path, quoted, sizeof quoted, "file://", dir, "pilot-data") == 0,
           "the path is too long");
    snprintf(description, sizeof description, "{\"service_url\": %s}", quoted);
    CHECK(pilot_pds_create_pilot_data(pds, description, &pd), "create the Pilot-Data");

    CHECK(pilot_pd_submit_data_unit(pd, input_data_unit, &du_in), "submit the input data unit");
    CHECK(pilot_pd_submit_data_unit(pd, "{\"file_urls\": []}", &du_out), "submit the output data unit");
    CHECK(pilot_du_wait(du_in, -1), "wait for the input data unit");
    printf("Input data unit: Running\n");

    CHECK(pilot_service_new(options, &pcs), "create the pilot compute service");
    EXPECT(path_in(path, sizeof path, quoted, sizeof quoted, "", dir, "agent") == 0, "the path is too long");
    snprintf(description, sizeof description,
             "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, "
             "\"working_directory\": %s, \"walltime\": 10}",
             quoted);
    CHECK(pilot_service_create_pilot(pcs, description, &pilot), "create the pilot");

    CHECK(pilot_du_url(du_in, &in_url), "read the input data unit's URL");
    CHECK(pilot_du_url(du_out, &out_url), "read the output data unit's URL");
    EXPECT(json_quote(quoted_in, sizeof quoted_in, in_url) == 0 &&
               json_quote(quoted_out, sizeof quoted_out, out_url) == 0,
           "a data unit URL is too long");
    snprintf(description, sizeof description,
             "{\"executable\": \"/bin/cat\", \"arguments\": [\"test.txt\"], "
             "\"input_data\": [%s], \"output_data\": [{%s: [\"std*\"]}], "
             "\"output\": \"stdout.txt\", \"error\": \"stderr.txt\"}",
             quoted_in, quoted_out);
    CHECK(pilot_job_submit_unit(pilot, description, &unit), "submit the compute unit");
    pilot_state state = PILOT_STATE_UNKNOWN;
    CHECK(pilot_unit_wait(unit, -1, &state), "wait for the compute unit");
    printf("Compute unit: %s\n", pilot_state_name(state));
    EXPECT(state == PILOT_STATE_DONE, "the compute unit ended %s, not Done", pilot_state_name(state));

    CHECK(pilot_du_files(du_out, &out_files), "list the output data unit's files");
    EXPECT(strstr(out_files, "/stdout.txt\"") && strstr(out_files, "/stderr.txt\""),
           "the output data unit lacks stdout.txt or stderr.txt: %s", out_files);
    printf("Output files: stderr.txt, stdout.txt\n");

    EXPECT(path_in(path, sizeof path, quoted, sizeof quoted, "", dir, "exported") == 0, "the path is too long");
    CHECK(pilot_du_export(du_out, path), "export the output data unit");
    EXPECT(path_in(path, sizeof path, quoted, sizeof quoted, "", dir, "exported/stdout.txt") == 0, "the path is too long");
    EXPECT(read_file(path, content, sizeof content) == 0, "cannot read %s", path);
    EXPECT(strcmp(content, INPUT) == 0, "exported stdout.txt holds %s, not %s", content, INPUT);
    printf("Exported: %s", content);

    EXPECT(path_in(path, sizeof path, quoted, sizeof quoted, "", dir, "replica") == 0, "the path is too long");
    snprintf(description, sizeof description, "{\"service_url\": %s}", quoted);
    CHECK(pilot_pds_create_pilot_data(pds, description, &replica), "create the second Pilot-Data");
    CHECK(pilot_pd_add_data_unit(replica, du_in), "replicate the input data unit");
    CHECK(pilot_du_pilot_data(du_in, &holders), "list the Pilot-Data of the input data unit");
    int replicas = count_pilot_data(holders);
    printf("Replicas: %d\n", replicas);
    EXPECT(replicas == 2, "two Pilot-Data should hold the input data unit: %s", holders);

    printf("Terminate Pilot Jobs\n");
    CHECK(pilot_service_cancel(pcs), "cancel the pilot compute service");
    ok = 1;

cleanup:
    /* After a failure, do not leave the pilot's agent running. */
    if (!ok && pilot != 0) {
        pilot_status st = pilot_job_cancel(pilot);
        if (st != PILOT_OK) report("cancel the pilot after the failure", st);
    }
    pilot_string_free(in_url);
    pilot_string_free(out_url);
    pilot_string_free(out_files);
    pilot_string_free(holders);
    FREE(pilot_unit_free, unit);
    FREE(pilot_job_free, pilot);
    FREE(pilot_service_free, pcs);
    FREE(pilot_du_free, du_in);
    FREE(pilot_du_free, du_out);
    FREE(pilot_pd_free, replica);
    FREE(pilot_pd_free, pd);
    FREE(pilot_pds_free, pds);
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        perror("data: remove the example's directory");
        ok = 0;
    }
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
