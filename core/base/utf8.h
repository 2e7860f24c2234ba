/* UTF-8 validation (strict: no overlongs, surrogates, or code points past
 * U+10FFFF). No I/O, no allocation. */
#ifndef WEFT__UTF8_H
#define WEFT__UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Incremental: the state starts at WEFT__UTF8_ACCEPT; after the last chunk
 * the text is valid iff the state is WEFT__UTF8_ACCEPT; WEFT__UTF8_REJECT is
 * final. A code point may be split across chunks. States are below 256
 * (callers keep them in a byte). */
#define WEFT__UTF8_ACCEPT 0u
#define WEFT__UTF8_REJECT 12u
uint32_t weft__utf8_step(uint32_t state, const uint8_t *p, size_t len);
/* 1 when p[0..len) is valid UTF-8. */
int weft__utf8_valid(const uint8_t *p, size_t len);
/* The offset of the first byte of the first invalid (or truncated)
 * sequence, or len when all of it is valid. */
size_t weft__utf8_check(const uint8_t *p, size_t len);

#endif
