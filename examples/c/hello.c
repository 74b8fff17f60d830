/*
 * hello.c runs the workload of the seed example (examples/example.py) through
 * the C interface of libpilot (pilot.h): one fork pilot with one process, four
 * /bin/echo units with an environment variable expanded in their arguments,
 * wait, cancel.
 *
 * The coordination store is redis://localhost:6379, or $PILOT_COORDINATION_URL
 * if set; with no Redis on localhost the library uses your lasting local
 * coordination store (and says so on stderr). Each unit's output lands in
 * $HOME/agent/bj-<pilot uuid>/sj-<unit uuid>/stdout.txt.
 *
 * Build (after make install):
 *   cc -o hello hello.c $(pkg-config --cflags --libs pilot)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_NAME "hello"
#include "example.h"

#define NUMBER_JOBS 4

int main(void) {
    pilot_service pcs = 0;
    pilot_job pilot = 0;
    pilot_dataservice cds = 0;
    pilot_unit units[NUMBER_JOBS] = {0};
    char quoted[4096], workdir[4096], options[4200], description[4400], json[1024];
    int ok = 0;

    /* Progress lines appear as they are printed, even through a pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (coordination_options(options, sizeof options) != 0) return EXIT_FAILURE;

    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0') {
        fprintf(stderr, "hello: HOME is not set\n");
        return EXIT_FAILURE;
    }
    int len = snprintf(workdir, sizeof workdir, "%s/agent", home);
    if (len < 0 || (size_t)len >= sizeof workdir || json_quote(quoted, sizeof quoted, workdir) != 0) {
        fprintf(stderr, "hello: HOME is too long\n");
        return EXIT_FAILURE;
    }
    snprintf(description, sizeof description,
             "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, "
             "\"working_directory\": %s, \"walltime\": 10}",
             quoted);

    CHECK(pilot_service_new(options, &pcs), "create the pilot compute service");
    CHECK(pilot_service_create_pilot(pcs, description, &pilot), "create the pilot");

    CHECK(pilot_dataservice_new(&cds), "create the compute data service");
    CHECK(pilot_dataservice_add_service(cds, pcs), "add the service to the compute data service");

    printf("Finished Pilot-Job setup. Submitting compute units\n");

    for (int i = 0; i < NUMBER_JOBS; i++) {
        snprintf(json, sizeof json,
                 "{\"executable\": \"/bin/echo\", "
                 "\"arguments\": [\"Hello\", \"$ENV1\", \"I am CU number %d\"], "
                 "\"environment\": [\"ENV1=World\"], "
                 "\"number_of_processes\": 1, \"spmd_variation\": \"single\", "
                 "\"output\": \"stdout.txt\", \"error\": \"stderr.txt\"}",
                 i);
        CHECK(pilot_dataservice_submit_unit(cds, json, &units[i]), "submit a compute unit");
    }

    printf("Waiting for compute units to complete\n");
    CHECK(pilot_dataservice_wait(cds, -1), "wait for the compute units");

    printf("Terminate Pilot Jobs\n");
    CHECK(pilot_service_cancel(pcs), "cancel the pilot compute service");
    ok = 1;

cleanup:
    /* After a failure, do not leave the pilot's agent running. */
    if (!ok && pilot != 0) {
        pilot_status st = pilot_job_cancel(pilot);
        if (st != PILOT_OK) report("cancel the pilot after the failure", st);
    }
    for (int i = 0; i < NUMBER_JOBS; i++) FREE(pilot_unit_free, units[i]);
    FREE(pilot_dataservice_free, cds);
    FREE(pilot_job_free, pilot);
    FREE(pilot_service_free, pcs);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
