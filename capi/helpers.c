#include <stdlib.h>
#include "helpers.h"

/* The last error of each thread. Exported functions run on the caller's
 * thread, so the Go side sets it on the right one. */
static __thread char *last_error = NULL;

void capi_set_error(char *msg) {
    free(last_error);
    last_error = msg;
}

const char *pilot_last_error(void) { return last_error ? last_error : ""; }

void pilot_clear_error(void) { capi_set_error(NULL); }

void pilot_string_free(char *s) { free(s); }

static const char *const state_names[] = {"Unknown", "New", "Pending", "Running",
                                          "Done", "Canceled", "Failed", "Staging"};

const char *pilot_state_name(pilot_state state) {
    if (state < 0 || state >= (pilot_state)(sizeof state_names / sizeof state_names[0])) return "";
    return state_names[state];
}

int32_t pilot_state_is_final(pilot_state state) {
    return state == PILOT_STATE_DONE || state == PILOT_STATE_CANCELED || state == PILOT_STATE_FAILED;
}

void capi_call_state(pilot_state_fn fn, void *user_data, int32_t kind, const char *id,
                     pilot_state state, const char *state_name, const char *pilot_id) {
    fn(user_data, kind, id, state, state_name, pilot_id);
}

void capi_call_log(pilot_log_fn fn, void *user_data, int32_t level, const char *message) {
    fn(user_data, level, message);
}
