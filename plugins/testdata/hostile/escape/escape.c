/* escape: a pre_unit hook that tries to run native code of its own through
 * whatever its manifest grants, scripted by keys of the unit's description
 * so that one module serves every vector the tests try (each test seals its
 * own manifest for it):
 *
 *   "escape_write": "out/evil.so", "escape_hex": "7f454c46..."
 *       write_file the decoded bytes at that path (relative to $WORKDIR),
 *       twice if "escape_again" is present;
 *   "escape_exec": {"argv": [...], "env": [...]}
 *       exec that request;
 *   "escape_answer": {"action": "continue", "unit": {...}}
 *       answer that, instead of the default refusal.
 *
 * In escape_exec and escape_answer, @WD@ stands for the unit's working
 * directory. The default answer refuses the unit with the message
 * {"write": <write_file status or null>, "exec": <exec result or null>},
 * so that a test sees what the host did. */
#include <stdio.h>

#include "pilot_plugin.h"

PILOT_PLUGIN_INFO("{\"name\":\"escape\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}")

/* json_end returns the end of the JSON value at p (an object, array,
 * string or literal), or NULL. */
static const char *json_end(const char *p, const char *end) {
  int depth = 0, in_str = 0;
  for (const char *s = p; s < end; s++) {
    char c = *s;
    if (in_str) {
      if (c == '\\') s++;
      else if (c == '"') {
        in_str = 0;
        if (depth == 0) return s + 1;
      }
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return s + 1;
      if (depth < 0) return s;
    } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n')) {
      return s;
    }
  }
  return depth == 0 && !in_str ? end : NULL;
}

/* raw returns a malloc'd copy of the value of key with every @WD@ replaced
 * by wd (wd_len bytes, already JSON-escaped), or NULL. */
static char *raw(const char *req, int32_t len, const char *key, const char *wd, size_t wd_len, size_t *n) {
  const char *v = pilot_json_value(req, (size_t)len, key);
  if (v == NULL) return NULL;
  const char *e = json_end(v, req + len);
  if (e == NULL) return NULL;
  size_t cap = (size_t)(e - v) * (wd_len + 1) + 1, o = 0;
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  for (const char *s = v; s < e;) {
    if (e - s >= 4 && memcmp(s, "@WD@", 4) == 0) {
      memcpy(out + o, wd, wd_len);
      o += wd_len;
      s += 4;
    } else {
      out[o++] = *s++;
    }
  }
  out[o] = 0;
  *n = o;
  return out;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

PILOT_EXPORT("hook_pre_unit") uint64_t hook_pre_unit(const char *req, int32_t len) {
  const char *end = req + len;
  const char *wd = pilot_json_value(req, (size_t)len, "working_directory");
  const char *wd_end = wd != NULL ? json_end(wd, end) : NULL;
  if (wd == NULL || wd_end == NULL || *wd != '"') return pilot_answer_str("{\"error\":\"no working_directory\"}");
  wd++;
  size_t wd_len = (size_t)(wd_end - 1 - wd);

  char status[32] = "null";
  char path[1024];
  const char *p = pilot_json_value(req, (size_t)len, "escape_write");
  const char *h = pilot_json_value(req, (size_t)len, "escape_hex");
  if (p != NULL && h != NULL && *h == '"' && pilot_json_string(&p, end, path, sizeof path) >= 0) {
    const char *he = json_end(h, end);
    size_t n = he != NULL ? (size_t)(he - h - 2) / 2 : 0;
    char *data = malloc(n + 1);
    if (data == NULL) return pilot_answer_str("{\"error\":\"out of memory\"}");
    for (size_t i = 0; i < n; i++) data[i] = (char)(hexval(h[1 + 2 * i]) * 16 + hexval(h[2 + 2 * i]));
    int32_t r = pilot_host_write_file(path, (int32_t)strlen(path), data, (int32_t)n);
    if (r == 0 && pilot_json_value(req, (size_t)len, "escape_again") != NULL)
      r = pilot_host_write_file(path, (int32_t)strlen(path), data, (int32_t)n);
    free(data);
    snprintf(status, sizeof status, "%d", (int)r);
  }

  size_t n = 0;
  char *result = NULL;
  char *exec = raw(req, len, "escape_exec", wd, wd_len, &n);
  if (exec != NULL) {
    int32_t rn = pilot_host_exec(exec, (int32_t)n);
    free(exec);
    if (rn >= 0 && (result = malloc((size_t)rn + 1)) != NULL) {
      pilot_host_result(result, rn);
      result[rn] = 0;
    }
  }

  char *answer = raw(req, len, "escape_answer", wd, wd_len, &n);
  if (answer != NULL) {
    uint64_t a = pilot_answer(answer, n);
    free(answer);
    free(result);
    return a;
  }
  size_t cap = 64 + (result != NULL ? strlen(result) : 4), m = 0, q = 0;
  char *msg = malloc(cap), *out = malloc(2 * cap + 64);
  if (msg == NULL || out == NULL) return pilot_answer_str("{\"error\":\"out of memory\"}");
  msg[0] = 0;
  pilot_json_append(msg, cap, &m, "{\"write\":");
  pilot_json_append(msg, cap, &m, status);
  pilot_json_append(msg, cap, &m, ",\"exec\":");
  pilot_json_append(msg, cap, &m, result != NULL ? result : "null");
  pilot_json_append(msg, cap, &m, "}");
  out[0] = 0;
  pilot_json_append(out, 2 * cap + 64, &q, "{\"action\":\"refuse\",\"message\":");
  pilot_json_quote(out, 2 * cap + 64, &q, msg);
  pilot_json_append(out, 2 * cap + 64, &q, "}");
  uint64_t a = pilot_answer(out, q);
  free(msg);
  free(out);
  free(result);
  return a;
}
