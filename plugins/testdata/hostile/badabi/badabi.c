/* badabi: a module that speaks plugin ABI version 2 (written without the
 * kit, which only speaks version 1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

__attribute__((export_name("pilot_abi_version"))) int32_t version(void) { return 2; }
__attribute__((export_name("pilot_alloc"))) void *alloc(int32_t n) { return malloc(n > 0 ? (size_t)n : 1); }
__attribute__((export_name("pilot_free"))) void release(void *p) { free(p); }
__attribute__((export_name("plugin_info"))) uint64_t info(void) {
  static const char s[] = "{\"name\":\"badabi\",\"version\":\"1\",\"kinds\":[\"pre_unit\"]}";
  char *b = alloc(sizeof s - 1);
  memcpy(b, s, sizeof s - 1);
  return (uint64_t)(uintptr_t)b << 32 | (sizeof s - 1);
}
