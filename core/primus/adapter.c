/*
 * Where messages leave this process (weft/adapter.h): the server's adapter,
 * and the local deliveries of an already encoded message that both the
 * sending node and the receiving nodes use.
 */
#include <stdlib.h>

#include "primus.h"

int weft_server_set_adapter(weft_server *s, const weft_adapter_ops *ops, void *user) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (ops && (ops->version != WEFT_ADAPTER_VERSION || ops->size < sizeof(*ops) || !ops->publish))
    return WEFT_EINVAL;
  if (ops && s->adapter && (s->adapter != ops || s->adapter_user != user)) return WEFT_EEXIST;
  s->adapter = ops;
  s->adapter_user = ops ? user : NULL;
  return 0;
}

void weft__server_publish(weft_server *s, const weft_recipients *to, const weft__payload *p) {
  /* The adapter first: it tells the sessions the message's sequence. */
  if (s->adapter)
    s->adapter->publish(s, to, p->data, p->len, (p->kind & WEFT__P_BINARY) != 0, s->adapter_user);
  if (s->rs_detached) weft__rs_capture(s, to, (weft__payload *)p);
  s->rs_from = NULL;
  s->rs_seq = 0;
}

void weft__server_publish_value(weft_server *s, const weft_recipients *to, const weft_value *msg) {
  if (!s->adapter && !s->rs_detached) return;
  weft__payload *p;
  int rc = weft__server_encode(s, msg, &p);
  if (rc) {
    weft__server_error(s, NULL, rc, "encode", "message not published to the other nodes");
    return;
  }
  weft__server_publish(s, to, p);
  weft__payload_release(p);
}

int weft__server_payload_to(weft_server *s, weft__payload *p, const weft_value *msg,
                            weft_spark *const *sparks, size_t n) {
  int sent = 0;
  /* Sparks ended by an error event stay allocated until the walk is over,
   * so later entries are still safe to look at. */
  weft__server_iter_begin(s);
  for (size_t i = 0; i < n; i++) {
    weft_spark *c = sparks[i];
    if (!c || c->server != s || c->state != WEFT__SP_OPEN) continue;
    int rc = weft__spark_send_payload(c, p, msg);
    if (rc >= 0)
      sent++;
    else if (rc != WEFT_ENOBUFS) /* a full queue has said so itself */
      weft__server_error(s, c, rc, "queue", "message not delivered to this spark");
  }
  weft__server_iter_end(s);
  return sent;
}
