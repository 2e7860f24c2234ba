/* The loop's log (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int weft_loop_set_log(weft_loop *loop, int level, weft_log_cb cb, void *user,
                      void (*free_user)(void *)) {
  if (!loop || level < WEFT_LOG_OFF || level > WEFT_LOG_DEBUG || (level && !cb)) return WEFT_EINVAL;
  if (loop->log_free && loop->log_user != user) loop->log_free(loop->log_user);
  loop->log_level = cb ? level : WEFT_LOG_OFF;
  loop->log_cb = cb;
  loop->log_user = user;
  loop->log_free = free_user;
  return 0;
}

void weft__log(weft_loop *loop, int level, const char *event, weft_server *server,
               weft_client *client, const char *spark, const char *kind, const char *fmt, ...) {
  if (!weft__log_on(loop, level) || !loop->log_cb) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  weft_log_record r = {level, event, msg, server, client, spark, kind};
  loop->log_cb(&r, loop->log_user);
}
