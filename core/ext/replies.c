/*
 * The emitter's replies: answers to events, and the callbacks an answer
 * may carry (nmsg's remote callbacks, nested to any depth): an answer sent
 * with weft_reply_resolve_cb() is {"type": 1, "data": [null, value], "id":
 * id, "cb": cb_id}, where cb_id is a pending ack of the answering side; the
 * side that gets it hands its ack callback a reply for cb_id, and answering
 * that reply calls the callback back across the connection, with a
 * callback again if it likes. primus-emitter ignores the "cb" member.
 *
 * A callback never called is released: the side waiting for it has a
 * pending ack, settled at the emitter's timeout (ETIMEDOUT) or when the
 * connection goes (ECLOSED); the side holding the reply drops it when the
 * ack callback returns without answering or keeping it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emitter_internal.h"

/* ---- replies ---- */

weft_reply *weft__reply_new(weft_emitter *em, void *t, uint32_t id) {
  target *tg = weft__em_target_of(em, t, 1);
  weft_reply *r = tg ? weft__em_take(em) : NULL;
  if (!r) {
    if (tg) weft__em_target_maybe_free(em, t, tg);
    return NULL;
  }
  r->em = em;
  r->target = t;
  r->id = id;
  r->next = tg->replies;
  if (tg->replies) tg->replies->prev = r;
  tg->replies = r;
  return r;
}

static int reply_send(weft_reply *r, const weft_value *first, const weft_value *second,
                      uint32_t cb_id) {
  if (!r) return WEFT_EINVAL;
  weft_emitter *em = r->em;
  void *t = r->target;
  int rc = WEFT_ECLOSED;
  if (!em) { /* its emitter was freed first */
    free(r);
    return rc;
  }
  if (em->ack_reply == r) em->ack_reply = NULL; /* answered: not dropped after the ack */
  if (!t) {                                     /* an orphan */
    if (r->prev)
      r->prev->next = r->next;
    else
      em->orphans = r->next;
    if (r->next) r->next->prev = r->prev;
  }
  if (t) {
    target *tg = weft__em_target_of(em, t, 0);
    if (r->prev)
      r->prev->next = r->next;
    else if (tg)
      tg->replies = r->next;
    if (r->next) r->next->prev = r->prev;
    weft_value items[2], data, map, kv[8];
    items[0] = weft__value_view(first);
    if (second) items[1] = weft__value_view(second);
    memset(&data, 0, sizeof(data));
    data.type = WEFT_ARRAY;
    data.len = second ? 2 : 1;
    data.u.items = items;
    weft__ext_packet_map(&map, kv, 1, &data, r->id);
    if (cb_id) { /* {"type": 1, "data": [...], "id": id, "cb": cb_id} */
      weft__ext_str(&kv[6], "cb");
      weft__ext_int(&kv[7], cb_id);
      map.len = 4;
    }
    rc = weft__em_write_to(em, t, &map);
    if (rc > 0) rc = 0;
    if (tg) weft__em_target_maybe_free(em, t, tg);
  }
  weft__em_give(em, r);
  return rc;
}

int weft_reply_resolve(weft_reply *r, const weft_value *value) {
  weft_value null = {.type = WEFT_NULL};
  return reply_send(r, &null, value ? value : &null, 0);
}

int weft_reply_reject(weft_reply *r, const weft_value *reason) {
  weft_value dflt;
  weft__ext_str(&dflt, "rejected");
  if (reason && reason->type == WEFT_NULL) reason = NULL; /* null would read as resolved */
  return reply_send(r, reason ? reason : &dflt, NULL, 0);
}

int weft_reply_drop(weft_reply *r) {
  weft_value why;
  weft__ext_str(&why, WEFT_REPLY_DROPPED);
  return weft_reply_reject(r, &why);
}

void weft__reply_reject_str(weft_reply *r, const char *why) {
  weft_value v;
  weft__ext_str(&v, why);
  weft_reply_reject(r, &v);
}

int weft_reply_resolve_cb(weft_reply *r, const weft_value *value, uint32_t timeout_ms,
                          weft_ack_cb cb, void *user) {
  if (!r) return WEFT_EINVAL;
  if (!cb) return weft_reply_resolve(r, value);
  weft_emitter *em = r->em;
  if (!em || !r->target) return weft_reply_resolve(r, value); /* WEFT_ECLOSED, r freed */
  uint32_t id = 0;
  int rc = weft__em_add_pending(
      em, r->target, timeout_ms == WEFT_EMIT_DEFAULT_TIMEOUT ? em->timeout_ms : timeout_ms, cb,
      user, &id);
  if (rc) {
    weft__reply_reject_str(r, "no memory for a callback");
    return rc;
  }
  weft_value null = {.type = WEFT_NULL};
  rc = reply_send(r, &null, value ? value : &null, id);
  if (rc) weft__em_cancel_pending(em, id); /* not sent: cb never runs */
  return rc;
}

int weft_reply_keep(weft_reply *r) {
  if (!r) return WEFT_EINVAL;
  if (r->em && r->em->ack_reply == r) r->em->ack_reply = NULL;
  return 0;
}

void weft__ack_settle(weft_emitter *em, weft_ack_cb cb, void *user, int status,
                      const weft_value *value, void *t, int64_t cb_id) {
  weft_reply *r = NULL;
  /* Without memory for the reply the peer's callback is never called: its
   * side releases it at its timeout. */
  if (status == 0 && cb_id > 0 && t) r = weft__reply_new(em, t, (uint32_t)cb_id);
  weft_reply *outer = em->ack_reply;
  em->ack_reply = r;
  weft_ack a = {status, value, r};
  cb(&a, user);
  if (r && em->ack_reply == r) weft_reply_drop(r);
  em->ack_reply = outer;
}
