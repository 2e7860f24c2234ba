/* Small definitions every layer uses. */
#ifndef WEFT__COMMON_H
#define WEFT__COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The struct holding `ptr` as its member `member`. */
/* printf-style checking of a function's format (argument `f`, values from `a`). */
#if defined(__GNUC__) || defined(__clang__)
#define WEFT__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WEFT__PRINTF(f, a)
#endif

#define WEFT__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define WEFT__COUNT(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__) || defined(__clang__)
#define WEFT__PREFETCH(p) __builtin_prefetch((p), 1)
/* For a rare path kept out of a hot function's register pressure. */
#define WEFT__NOINLINE __attribute__((noinline))
#else
#define WEFT__PREFETCH(p) ((void)(p))
#define WEFT__NOINLINE
#endif

/* A copy of a NUL-terminated string, or NULL when out of memory. */
char *weft__strdup(const char *s);
/* The first n bytes of s, NUL-terminated (s need not be). */
char *weft__strndup(const char *s, size_t n);
/* ASCII case-insensitive equality (1 equal, 0 not): of NUL-terminated
 * strings, and of n bytes (stopping early at a NUL in both). Not
 * strcasecmp: that follows the locale a host may set (Python sets
 * LC_CTYPE), and under a Turkish one "KEEP-ALIVE" is not "keep-alive". */
static inline int weft__ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }
static inline int weft__strncaseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x != y && weft__ascii_lower(x) != weft__ascii_lower(y)) return 0;
    if (!x) return 1;
  }
  return 1;
}
static inline int weft__strcaseeq(const char *a, const char *b) {
  return weft__strncaseeq(a, b, SIZE_MAX);
}
/* Base64 (RFC 4648, padded): the length of n bytes encoded, and the
 * encoding of in[0..n) into out[0..weft__b64_len(n)) (not NUL-terminated). */
size_t weft__b64_len(size_t n);
void weft__b64_encode(uint8_t *out, const uint8_t *in, size_t n);

#endif
