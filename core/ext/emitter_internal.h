/* The emitter's state (emitter.c), shared with its replies (replies.c). */
#ifndef WEFT_EXT_EMITTER_INTERNAL_H
#define WEFT_EXT_EMITTER_INTERNAL_H

#include <uv.h>

#include "base/map.h"
#include "ext_internal.h"

typedef struct pending {
  uint32_t id;
  void *target; /* the spark or client asked */
  uint64_t deadline;
  weft_ack_cb cb;
  void *user;
  struct pending *tprev, *tnext; /* the target's list */
  struct pending *dprev, *dnext; /* the emitter's list, by deadline */
} pending;

struct weft_reply {
  weft_emitter *em; /* NULL once the emitter is freed: answering only frees it */
  void *target;     /* NULL once the target is gone */
  uint32_t id;
  weft_reply *prev, *next; /* the target's list */
};

typedef struct target {
  pending *pend;
  weft_reply *replies;
} target;

typedef struct handler {
  uint64_t hash;
  char *name;
  weft_event_cb cb;
  void *user;
  void (*user_free)(void *);
  struct handler *next; /* same hash */
} handler;

/* Small objects are recycled: pending acks and replies alike. */
typedef union recycled {
  pending p;
  weft_reply r;
  union recycled *next;
} recycled;
#define RECYCLE_MAX 1024

struct weft_emitter {
  weft_server *server;
  weft_client *client;
  weft_loop *loop;
  weft__map handlers; /* name hash -> handler chain */
  handler wildcard;
  weft_emitter_error_cb err_cb;
  void *err_user;
  void (*err_free)(void *);
  uint32_t timeout_ms, next_id;
  weft__map by_id;   /* id -> pending */
  weft__map targets; /* spark/client -> target */
  pending *dhead, *dtail;
  uv_timer_t *timer;
  recycled *free_list;
  size_t n_free;
  weft__route *route;    /* a server's client-originated routing (route.c) */
  weft_reply *ack_reply; /* the reply given to the ack callback running now */
  weft_reply *orphans;   /* replies whose target is gone, not answered yet */
};

void *weft__em_take(weft_emitter *em);
void weft__em_give(weft_emitter *em, void *p);
/* The state kept for a spark or client (created when asked), or NULL. */
target *weft__em_target_of(weft_emitter *em, void *t, int create);
void weft__em_target_maybe_free(weft_emitter *em, void *t, target *tg);
int weft__em_write_to(weft_emitter *em, void *t, const weft_value *msg);
/* A pending ack for cb on t, its id in *id_out (timeout_ms 0: none). */
/* Forgets a pending ack without calling it (its answer could not be sent). */
void weft__em_cancel_pending(weft_emitter *em, uint32_t id);
int weft__em_add_pending(weft_emitter *em, void *t, uint32_t timeout_ms, weft_ack_cb cb, void *user,
                         uint32_t *id_out);

/* replies.c */
weft_reply *weft__reply_new(weft_emitter *em, void *t, uint32_t id);
void weft__reply_reject_str(weft_reply *r, const char *why);
/* Settles an ack: cb(status, value) with the reply of the callback the
 * answer carried (cb_id, 0: none), dropped after cb unless cb answered or
 * kept it. */
void weft__ack_settle(weft_emitter *em, weft_ack_cb cb, void *user, int status,
                      const weft_value *value, void *t, int64_t cb_id);

#endif
