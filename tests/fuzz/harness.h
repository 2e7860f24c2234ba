/*
 * What the server fuzz targets share: the application of their servers.
 */
#ifndef WEFT_FUZZ_HARNESS_H
#define WEFT_FUZZ_HARNESS_H

#include "weft/weft.h"

/* Echoes each message to its spark; a 3-character string ends the spark
 * with it instead (so inputs reach a server-side end): then returns 1. */
static inline int fuzz_echo_or_end(weft_spark *sp, const weft_value *msg) {
  if (weft_value_type(msg) == WEFT_STRING && weft_value_len(msg) == 3) {
    weft_spark_end(sp, msg, 0);
    return 1;
  }
  weft_spark_write(sp, msg);
  return 0;
}

#endif
