/* Private helpers of the capi package: C code cgo cannot express in Go. */
#ifndef PILOT_CAPI_HELPERS_H
#define PILOT_CAPI_HELPERS_H
#include "pilot.h"

/* const char, so that cgo's generated prototypes match pilot.h exactly. */
typedef const char pilot_cchar;

/* Sets this thread's last error, taking ownership of msg (malloc'ed). */
void capi_set_error(char *msg);

/* Call a C function pointer from Go. */
void capi_call_state(pilot_state_fn fn, void *user_data, int32_t kind, const char *id,
                     pilot_state state, const char *state_name, const char *pilot_id);
void capi_call_log(pilot_log_fn fn, void *user_data, int32_t level, const char *message);
#endif
