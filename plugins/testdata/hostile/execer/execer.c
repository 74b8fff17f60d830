/* execer: a pre_unit hook that asks the host to run the unit's arguments
 * as a command and refuses the unit with the host's exec result, so that a
 * test sees what the host did. Its manifest allows only echo. */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"execer\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}")

static char buf[8192], result[4096], answer[8192];

PILOT_EXPORT("hook_pre_unit") uint64_t hook_pre_unit(const char *req, int32_t len) {
  const char *p = pilot_json_value(req, (size_t)len, "arguments");
  const char *q = p;
  while (q != NULL && q < req + len && *q != ']') q++;
  if (p == NULL || q >= req + len) return pilot_answer_str("{\"error\":\"no arguments\"}");
  size_t n = 0;
  pilot_json_append(buf, sizeof buf, &n, "{\"argv\":");
  if (n + (size_t)(q + 1 - p) + 2 > sizeof buf) return pilot_answer_str("{\"error\":\"arguments too long\"}");
  memcpy(buf + n, p, (size_t)(q + 1 - p));
  n += (size_t)(q + 1 - p);
  buf[n] = 0;
  pilot_json_append(buf, sizeof buf, &n, "}");
  int32_t rn = pilot_host_exec(buf, (int32_t)n);
  if (rn < 0 || rn >= (int32_t)sizeof result) return pilot_answer_str("{\"error\":\"exec failed\"}");
  pilot_host_result(result, rn);
  result[rn] = 0;
  size_t a = 0;
  pilot_json_append(answer, sizeof answer, &a, "{\"action\":\"refuse\",\"message\":");
  pilot_json_quote(answer, sizeof answer, &a, result);
  pilot_json_append(answer, sizeof answer, &a, "}");
  return pilot_answer(answer, a);
}
