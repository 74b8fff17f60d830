/* check.h: the assertions of the C test programs. check() records a failed
 * condition with the library's last error; expect() checks a status and,
 * if contains is not NULL, that the last error mentions it. main() returns
 * 1 when failures is not 0. */
#ifndef CHECK_H
#define CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pilot.h"

static int failures = 0;

static void check(int ok, const char *what, ...) {
    if (ok) return;
    va_list ap;
    va_start(ap, what);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, what, ap);
    fprintf(stderr, " (last error: %s)\n", pilot_last_error());
    va_end(ap);
    failures++;
}

static void expect(pilot_status got, pilot_status want, const char *contains, const char *what) {
    check(got == want, "%s: status %d, want %d", what, got, want);
    if (contains) check(strstr(pilot_last_error(), contains) != NULL, "%s: error %s should mention %s", what,
                        pilot_last_error(), contains);
}

/* need returns the environment variable name, or exits with status 2
 * saying it must be set (the tests' inputs). */
static const char *need(const char *name) {
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "set %s\n", name);
        exit(2);
    }
    return v;
}

#endif
