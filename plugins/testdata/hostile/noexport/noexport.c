/* noexport: says it is a post_unit hook but lacks hook_post_unit. */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"noexport\",\"version\":\"1\",\"kinds\":[\"post_unit\"]}")
