/*
 * The loop's log: records of what happened (listening, connections,
 * refusals, errors, reconnects), off by default, handed to one callback
 * per loop (weft_loop_set_log) that a host wires to its own logger. A
 * record below the loop's level costs one comparison.
 */
#ifndef WEFT__LOG_H
#define WEFT__LOG_H

#include "loop.h"

/* Whether records of `level` are wanted. */
static inline int weft__log_on(const weft_loop *loop, int level) {
  return level <= loop->log_level;
}

/* Hands one record to the loop's callback (fields as weft_log_record's);
 * the message is formatted from `fmt` into a buffer of the call's. */
void weft__log(weft_loop *loop, int level, const char *event, weft_server *server,
               weft_client *client, const char *spark, const char *kind, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 8, 9)))
#endif
    ;

#endif
