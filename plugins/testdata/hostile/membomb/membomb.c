/* membomb: a pre_unit hook that allocates until malloc fails, then aborts,
 * as C code that checks malloc does. Its answer on "small" units is fine. */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"membomb\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}")

/* The blocks stay reachable, so the compiler cannot drop the allocations. */
static void *volatile hoard;

PILOT_EXPORT("hook_pre_unit") uint64_t hook_pre_unit(const char *req, int32_t len) {
  if (pilot_json_value(req, (size_t)len, "small") == NULL) {
    for (;;) {
      void **p = malloc(64 * 1024);
      if (p == NULL) abort();
      *p = hoard;
      hoard = p;
    }
  }
  return pilot_answer_str("{\"action\":\"continue\"}");
}
