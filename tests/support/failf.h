/*
 * The first failure of a test run that drives a loop: callbacks record it
 * with CHECK() or failf() in the fixture's `fail` buffer (char[]), and the
 * test body reports it after the loop returned. WEFT_TEST_FAILF(type)
 * defines `static void failf(type *f, int line, const char *fmt, ...)` for
 * a fixture type with such a buffer.
 */
#ifndef WEFT_TEST_FAILF_H
#define WEFT_TEST_FAILF_H

#include <stdarg.h>
#include <stdio.h>

#define WEFT_TEST_FAILF(type)                                                                      \
  static void failf(type *f, int line, const char *fmt, ...) {                                     \
    if (f->fail[0]) return;                                                                        \
    int n = snprintf(f->fail, sizeof(f->fail), "line %d: ", line);                                 \
    va_list ap;                                                                                    \
    va_start(ap, fmt);                                                                             \
    vsnprintf(f->fail + n, sizeof(f->fail) - (size_t)n, fmt, ap);                                  \
    va_end(ap);                                                                                    \
  }

#define CHECK(f, cond)                                                                             \
  do {                                                                                             \
    if (!(cond)) failf((f), __LINE__, "%s", #cond);                                                \
  } while (0)

#endif
