/*
 * The engine.io client's polling: the handshake GET, the polls (one at a
 * time, each started when the last came back), the posts (one at a time,
 * carrying everything queued meanwhile), each a request of its own
 * (http/fetch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dial.h"

#define WEFT__EIO_ANSWER_SLACK (1u << 20)

void weft__eio_dtarget(eio_dconn *d, const char *transport, char *out, size_t cap) {
  snprintf(out, cap, "%s?EIO=4&transport=%s&t=%x.%x%s%s%s%s", d->url.path, transport,
           (unsigned)uv_now(d->loop->uv), ++d->requests, d->sid[0] ? "&sid=" : "", d->sid,
           d->query[0] ? "&" : "", d->query);
}

int weft__eio_dhandshake(eio_dconn *d, const uint8_t *json, size_t len) {
  weft_value *v = NULL;
  if (weft_value_decode("json", json, len, &v, NULL) != 0) return WEFT_EPROTO;
  const weft_value *sid = weft_value_map_get(v, "sid", 3);
  const weft_value *ups = weft_value_map_get(v, "upgrades", 8);
  int64_t pi = 0, pt = 0;
  weft_value_get_int(weft_value_map_get(v, "pingInterval", 12), &pi);
  weft_value_get_int(weft_value_map_get(v, "pingTimeout", 11), &pt);
  const char *s;
  size_t n;
  int rc = WEFT_EPROTO;
  if (weft_value_get_string(sid, &s, &n) == 0 && n > 0 && n < sizeof(d->sid) &&
      !memchr(s, '&', n) && pi > 0 && pt > 0 && pi < 0x7fffffff && pt < 0x7fffffff) {
    memcpy(d->sid, s, n);
    d->sid[n] = '\0';
    d->ping_interval = (uint32_t)pi;
    d->ping_timeout = (uint32_t)pt;
    for (size_t i = 0; i < weft_value_len(ups); i++)
      if (weft_value_get_string(weft_value_array_at(ups, i), &s, &n) == 0 && n == 9 &&
          memcmp(s, "websocket", 9) == 0)
        d->can_upgrade = 1;
    rc = 0;
  }
  weft_value_free(v);
  return rc;
}

/* A request of an open session that failed: no answer at all (the
 * server went away) closes it as a dropped WebSocket does; an answer that
 * is not 200 (a session the server no longer knows) is a protocol error. */
static int request_failed(eio_dconn *d, const weft__http_result *r, const char *what) {
  if (r->error == 0 && r->status == 200) return 0;
  if (!d->open && r->error) {
    weft__eio_dfail(d, r->error, r->kind, r->message);
  } else if (!d->open) {
    weft__eio_drefused(d, r->status, r->body, r->len);
  } else if (r->error || r->status == 0) {
    weft__eio_dclosed(d);
  } else {
    char msg[64];
    snprintf(msg, sizeof(msg), "%s answered with HTTP %d", what, r->status);
    weft__eio_dfail(d, WEFT_EPROTO, "protocol", msg);
  }
  return 1;
}

static void on_get(const weft__http_result *r, void *user) {
  eio_dconn *d = user;
  d->get = NULL;
  if (d->lingering) { /* cancelled, waiting for this answer to go */
    uv_timer_stop(&d->timer);
    weft__eio_drelease(d);
    return;
  }
  if (d->done || request_failed(d, r, "poll")) return;
  size_t at = 0;
  weft__eio_packet pk;
  int rc;
  while (!d->done && (rc = weft__eio_payload_next(r->body, r->body ? r->len : 0, &at, &pk)) != 0) {
    if (rc < 0) {
      weft__eio_dfail(d, WEFT_EPROTO, "protocol", "malformed engine.io payload");
      return;
    }
    if (d->open) {
      weft__eio_din(d, &pk);
    } else if (pk.type != WEFT__EIO_OPEN || weft__eio_dhandshake(d, pk.data, pk.len) != 0) {
      weft__eio_dfail(d, WEFT_EPROTO, "protocol", "no engine.io open packet");
      return;
    } else {
      weft__eio_dopened(d);
    }
  }
  if (d->done || d->upgraded) return;
  if (d->pausing)
    weft__eio_dmaybe_upgrade(d);
  else if ((rc = weft__eio_dpoll(d)) != 0)
    weft__eio_dfail(d, rc, "connect", NULL);
}

int weft__eio_drequest(eio_dconn *d, const uint8_t *body, size_t len, weft__http_fetch_cb cb,
                       weft__http_fetch **out) {
  char target[2400];
  weft__eio_dtarget(d, "polling", target, sizeof(target));
  weft__http_request req = {body ? "POST" : "GET",
                            target,
                            "*/*",
                            d->headers.data,
                            d->headers.len,
                            body,
                            len,
                            body ? "text/plain;charset=UTF-8" : NULL,
                            body ? 64 : d->max_length * 8 + WEFT__EIO_ANSWER_SLACK,
                            NULL};
  return weft__http_fetch_request(d->loop, &d->url, &req, d->tls, cb, d, out);
}

int weft__eio_dpoll(eio_dconn *d) {
  if (d->get || d->done) return 0;
  return weft__eio_drequest(d, NULL, 0, on_get, &d->get);
}

static void on_post(const weft__http_result *r, void *user) {
  eio_dconn *d = user;
  d->post = NULL;
  if (d->done || request_failed(d, r, "post")) return;
  if (d->pausing)
    weft__eio_dmaybe_upgrade(d);
  else
    weft__eio_dpost(d);
}

void weft__eio_dpost(eio_dconn *d) {
  if (d->post || d->done || !d->q_len || d->upgraded) return;
  size_t len = d->q_len - 1;
  for (size_t i = 0; i < d->q_len; i++)
    len += weft__eio_packet_len(d->q[i]);
  uint8_t *body = malloc(len ? len : 1);
  if (!body) {
    weft__eio_dfail(d, WEFT_ENOMEM, "io", NULL);
    return;
  }
  weft__eio_payload_fill(body, d->q, d->q_len);
  for (size_t i = 0; i < d->q_len; i++)
    weft__payload_release(d->q[i]);
  d->q_len = d->q_bytes = 0;
  int rc = weft__eio_drequest(d, body, len, on_post, &d->post);
  free(body);
  if (rc) weft__eio_dfail(d, rc, "connect", NULL);
}
