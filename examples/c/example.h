/*
 * example.h: what the C examples share: quoting a string as JSON, the
 * service options, and checking libpilot calls. Each example defines EXAMPLE_NAME (its name, for
 * messages) before including this file.
 */
#ifndef PILOT_EXAMPLE_H
#define PILOT_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pilot.h"

#ifndef EXAMPLE_NAME
#error "define EXAMPLE_NAME before including example.h"
#endif

/* Writes s to out (of the given size) as a JSON string literal, quotes
 * included. Returns 0, or -1 if it does not fit. */
static int json_quote(char *out, size_t size, const char *s) {
    size_t n = 0;
    if (size < 3) return -1;
    out[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        int len;
        if (c == '"' || c == '\\')
            len = snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20)
            len = snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            len = snprintf(esc, sizeof esc, "%c", c);
        if (n + (size_t)len + 2 > size) return -1; /* room for the closing quote and NUL */
        memcpy(out + n, esc, (size_t)len);
        n += (size_t)len;
    }
    out[n++] = '"';
    out[n] = '\0';
    return 0;
}

/* Writes the service options, {"coordination_url": ...}, with
 * $PILOT_COORDINATION_URL (default redis://localhost:6379) to out (of the
 * given size). Returns 0, or -1, said on stderr, if it does not fit. */
static int coordination_options(char *out, size_t size) {
    char quoted[8500];
    const char *url = getenv("PILOT_COORDINATION_URL");
    if (url == NULL || *url == '\0') url = "redis://localhost:6379";
    int len = -1;
    if (json_quote(quoted, sizeof quoted, url) == 0) len = snprintf(out, size, "{\"coordination_url\": %s}", quoted);
    if (len < 0 || (size_t)len >= size) {
        fprintf(stderr, EXAMPLE_NAME ": PILOT_COORDINATION_URL is too long\n");
        return -1;
    }
    return 0;
}

/* Reports a failed call with the library's description of the error. */
static void report(const char *what, pilot_status status) {
    fprintf(stderr, EXAMPLE_NAME ": %s failed (status %d): %s\n", what, (int)status, pilot_last_error());
}

/* Evaluates a pilot_* call; on failure reports it and jumps to cleanup. */
#define CHECK(call, what)                 \
    do {                                  \
        pilot_status st_ = (call);        \
        if (st_ != PILOT_OK) {            \
            report((what), st_);          \
            goto cleanup;                 \
        }                                 \
    } while (0)

/* Frees a handle in cleanup; a failure makes the program fail (ok = 0). */
#define FREE(fn, handle)                       \
    do {                                       \
        if ((handle) != 0) {                   \
            pilot_status st_ = fn(handle);     \
            if (st_ != PILOT_OK) {             \
                report(#fn, st_);              \
                ok = 0;                        \
            }                                  \
        }                                      \
    } while (0)

#endif
