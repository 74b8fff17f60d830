/*
 * outputs: a post_unit hook plugin in C. A unit that ended Done but lacks
 * one of the files its description declares in "expected_outputs" (paths
 * relative to its working directory) is turned into Failed, naming what is
 * missing:
 *
 *   {"executable": "/bin/sh", "arguments": ["-c", "make"], "expected_outputs": ["result.dat"]}
 */
#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"outputs\",\"version\":\"1.0.0\",\"kinds\":[\"post_unit\"]}")

#define MAX_PATH 1024
#define MAX_ANSWER 4096

PILOT_EXPORT("hook_post_unit") uint64_t hook_post_unit(const char *req, int32_t len) {
  const char *end = req + len;
  char state[16], path[MAX_PATH], answer[MAX_ANSWER];
  const char *p = pilot_json_value(req, (size_t)len, "state");
  if (p == NULL || pilot_json_string(&p, end, state, sizeof state) < 0 || strcmp(state, "Done") != 0) {
    return pilot_answer_str("{\"action\":\"continue\"}");
  }
  p = pilot_json_value(req, (size_t)len, "expected_outputs");
  if (p == NULL || *p != '[') {
    return pilot_answer_str("{\"action\":\"continue\"}");
  }
  size_t n = 0;
  int missing = 0, r;
  pilot_json_append(answer, sizeof answer, &n, "{\"action\":\"fail\",\"message\":");
  char message[MAX_ANSWER] = "expected outputs missing:";
  size_t m = strlen(message);
  while ((r = pilot_json_strings(&p, end, path, sizeof path)) == 1) {
    int64_t size = pilot_stat(path);
    if (size >= 0) continue;
    missing++;
    /* what does not fit in the message is left out */
    if (pilot_json_append(message, sizeof message, &m, missing > 1 ? ", " : " ") == 0 &&
        pilot_json_append(message, sizeof message, &m, path) == 0 && size == PILOT_STAT_DENIED) {
      pilot_json_append(message, sizeof message, &m, " (outside the working directory)");
    }
  }
  if (r < 0) {
    return pilot_answer_str("{\"error\":\"expected_outputs must be a list of paths (strings of at most 1023 bytes)\"}");
  }
  if (missing == 0) {
    return pilot_answer_str("{\"action\":\"continue\"}");
  }
  if (pilot_json_quote(answer, sizeof answer, &n, message) < 0 || pilot_json_append(answer, sizeof answer, &n, "}") < 0) {
    return pilot_answer_str("{\"action\":\"fail\",\"message\":\"expected outputs missing\"}");
  }
  return pilot_answer(answer, n);
}
