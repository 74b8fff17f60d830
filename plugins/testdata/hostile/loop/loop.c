/* loop: a pre_unit hook that never returns. */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"loop\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}")

PILOT_EXPORT("hook_pre_unit") uint64_t hook_pre_unit(const char *req, int32_t len) {
  volatile uint64_t spins = 0;
  for (;;) spins++;
  return 0;
}
