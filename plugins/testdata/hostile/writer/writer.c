/* writer: a pre_unit hook that writes "hello" to the file its unit's
 * executable names and refuses the unit with write_file's status. */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"writer\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}")

PILOT_EXPORT("hook_pre_unit") uint64_t hook_pre_unit(const char *req, int32_t len) {
  char path[1024];
  const char *p = pilot_json_value(req, (size_t)len, "executable");
  if (p == NULL || pilot_json_string(&p, req + len, path, sizeof path) < 0) {
    return pilot_answer_str("{\"error\":\"no executable\"}");
  }
  int32_t r = pilot_host_write_file(path, (int32_t)strlen(path), "hello", 5);
  if (r == 0) return pilot_answer_str("{\"action\":\"refuse\",\"message\":\"written\"}");
  if (r == -1) return pilot_answer_str("{\"action\":\"refuse\",\"message\":\"denied\"}");
  return pilot_answer_str("{\"action\":\"refuse\",\"message\":\"failed\"}");
}
