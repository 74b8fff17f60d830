/*
 * pilot_plugin.h - the C kit for pilot plugins, ABI version 1 (plugins/ABI.md).
 *
 * Include it in exactly one .c file of a plugin: it defines the exports
 * every plugin has (pilot_abi_version, pilot_alloc, pilot_free) and declares
 * the host's imports. The plugin adds plugin_info (PILOT_PLUGIN_INFO) and the
 * exports of its kinds, e.g. hook_post_unit. Build a WASI reactor with
 * Debian's clang and wasi-libc:
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *         -I plugins/pdk/c -o my.wasm my.c
 *
 * Buffers: the host allocates a request with pilot_alloc, and frees both the
 * request and the answer with pilot_free after the call. Answers must
 * therefore come from pilot_alloc (pilot_answer does that).
 *
 * The JSON helpers read the flat request shapes of ABI.md without a parser:
 * pilot_json_* look up the first occurrence of a key anywhere in the
 * document. Requests put their scalar fields before "unit" for that reason.
 */
#ifndef PILOT_PLUGIN_H
#define PILOT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PILOT_ABI_VERSION 1
#define PILOT_EXPORT(name) __attribute__((export_name(name)))
#define PILOT_IMPORT(name) __attribute__((import_module("pilot"), import_name(name)))

/* Host imports (ABI.md, Imports). */
PILOT_IMPORT("log") void pilot_host_log(int32_t level, const char *msg, int32_t len);
PILOT_IMPORT("config") int32_t pilot_host_config(char *buf, int32_t limit);
PILOT_IMPORT("exec") int32_t pilot_host_exec(const char *req, int32_t len);
PILOT_IMPORT("result") int32_t pilot_host_result(char *buf, int32_t limit);
PILOT_IMPORT("stat") int64_t pilot_host_stat(const char *path, int32_t len);
PILOT_IMPORT("write_file") int32_t pilot_host_write_file(const char *path, int32_t path_len,
                                                        const char *data, int32_t data_len);

enum { PILOT_DEBUG = -1, PILOT_INFO = 0, PILOT_WARN = 1, PILOT_ERROR = 2 };
enum { PILOT_STAT_MISSING = -1, PILOT_STAT_DENIED = -2 };

/* The exports every plugin has. */
PILOT_EXPORT("pilot_abi_version") int32_t pilot_abi_version(void) { return PILOT_ABI_VERSION; }
PILOT_EXPORT("pilot_alloc") void *pilot_alloc(int32_t n) { return malloc(n > 0 ? (size_t)n : 1); }
PILOT_EXPORT("pilot_free") void pilot_free(void *p) { free(p); }

/* pilot_answer copies n bytes of s into a buffer from pilot_alloc and packs
 * it as an export's result: ptr << 32 | len. */
static inline uint64_t pilot_answer(const char *s, size_t n) {
  char *b = pilot_alloc((int32_t)n);
  if (b == NULL) return 0;
  memcpy(b, s, n);
  return (uint64_t)(uintptr_t)b << 32 | (uint64_t)n;
}

static inline uint64_t pilot_answer_str(const char *s) { return pilot_answer(s, strlen(s)); }

/* PILOT_PLUGIN_INFO defines plugin_info, answering the JSON literal info. */
#define PILOT_PLUGIN_INFO(info) \
  PILOT_EXPORT("plugin_info") uint64_t plugin_info(void) { return pilot_answer_str(info); }

static inline void pilot_log(int32_t level, const char *msg) {
  pilot_host_log(level, msg, (int32_t)strlen(msg));
}

/* pilot_stat gives the size of path (relative to the unit's working
 * directory), PILOT_STAT_MISSING, or PILOT_STAT_DENIED. */
static inline int64_t pilot_stat(const char *path) {
  return pilot_host_stat(path, (int32_t)strlen(path));
}

/* pilot_json_value returns a pointer to the value of the first "key" in
 * json[0..len), past the colon and blanks, or NULL. */
static inline const char *pilot_json_value(const char *json, size_t len, const char *key) {
  size_t k = strlen(key);
  const char *end = json + len;
  for (const char *p = json; p + k + 2 <= end; p++) {
    if (p[0] != '"' || memcmp(p + 1, key, k) != 0 || p[k + 1] != '"') continue;
    const char *q = p + k + 2;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
    if (q < end && *q == ':') {
      q++;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
      return q < end ? q : NULL;
    }
  }
  return NULL;
}

/* pilot_json_string decodes the JSON string at *p (which must point at its
 * opening quote) into out (cap bytes, NUL-terminated; \u escapes outside
 * ASCII become '?'), advances *p past it, and returns its length, or -1 if
 * it is not a string or does not fit. */
static inline int pilot_json_string(const char **p, const char *end, char *out, size_t cap) {
  const char *s = *p;
  size_t n = 0;
  if (s >= end || *s != '"') return -1;
  for (s++; s < end && *s != '"'; s++) {
    char c = *s;
    if (c == '\\') {
      if (++s >= end) return -1;
      switch (*s) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          unsigned v = 0;
          for (int i = 0; i < 4; i++) {
            if (++s >= end) return -1;
            char h = *s;
            v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
          }
          c = v < 0x80 ? (char)v : '?';
          break;
        }
        default: c = *s; /* \" \\ \/ */
      }
    }
    if (n + 1 >= cap) return -1;
    out[n++] = c;
  }
  if (s >= end) return -1;
  out[n] = 0;
  *p = s + 1;
  return (int)n;
}

/* pilot_json_strings iterates over an array of strings: start it with
 * *p = pilot_json_value(...) pointing at '['; each call stores the next
 * element in out and returns 1, or returns 0 at the end, -1 on an element
 * that is not a string or does not fit. */
static inline int pilot_json_strings(const char **p, const char *end, char *out, size_t cap) {
  const char *s = *p;
  while (s < end && (*s == '[' || *s == ',' || *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) s++;
  if (s >= end || *s == ']') return 0;
  if (pilot_json_string(&s, end, out, cap) < 0) return -1;
  *p = s;
  return 1;
}

/* pilot_json_quote appends s to out (used bytes *n of cap) as a JSON
 * string; returns 0, or -1 if it does not fit. */
static inline int pilot_json_quote(char *out, size_t cap, size_t *n, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t i = *n;
  if (i + 1 >= cap) return -1;
  out[i++] = '"';
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (i + 7 >= cap) return -1;
    if (c == '"' || c == '\\') {
      out[i++] = '\\';
      out[i++] = (char)c;
    } else if (c < 0x20) {
      memcpy(out + i, "\\u00", 4);
      out[i + 4] = hex[c >> 4];
      out[i + 5] = hex[c & 15];
      i += 6;
    } else {
      out[i++] = (char)c;
    }
  }
  out[i++] = '"';
  out[i] = 0;
  *n = i;
  return 0;
}

/* pilot_json_append appends s as it is to out (used bytes *n of cap,
 * NUL-terminated); returns 0, or -1 (and appends nothing) if it does not fit. */
static inline int pilot_json_append(char *out, size_t cap, size_t *n, const char *s) {
  size_t k = strlen(s);
  if (*n + k + 1 > cap) return -1;
  memcpy(out + *n, s, k + 1);
  *n += k;
  return 0;
}

#endif /* PILOT_PLUGIN_H */
