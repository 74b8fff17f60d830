/* trap: a pre_unit hook that traps on units whose executable is "trap". */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"trap\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}")

PILOT_EXPORT("hook_pre_unit") uint64_t hook_pre_unit(const char *req, int32_t len) {
  char exe[64];
  const char *p = pilot_json_value(req, (size_t)len, "executable");
  if (p != NULL && pilot_json_string(&p, req + len, exe, sizeof exe) >= 0 && strcmp(exe, "trap") == 0) {
    __builtin_trap();
  }
  return pilot_answer_str("{\"action\":\"continue\"}");
}
