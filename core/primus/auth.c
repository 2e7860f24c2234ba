/*
 * What a Primus server answers before a spark exists: the authorization of
 * an upgrade (Primus's authorize, answered now or later through weft_auth)
 * and the spec at <path>/spec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "primus.h"

/* ---- weft_auth ---- */

/* The request's details are the spark's (it exists from the request on). */
static const weft_spark *auth_spark(const weft_auth *a) { return a ? a->spark : NULL; }

const char *weft_auth_header(const weft_auth *a, const char *name) {
  return weft_spark_header(auth_spark(a), name);
}

const char *weft_auth_address(const weft_auth *a) { return weft_spark_address(auth_spark(a)); }
const char *weft_auth_url(const weft_auth *a) { return weft_spark_url(auth_spark(a)); }

int weft_auth_port(const weft_auth *a) {
  if (!a) return WEFT_EINVAL;
  return a->spark ? weft_spark_port(a->spark) : WEFT_ECLOSED;
}

const char *weft_auth_query(const weft_auth *a, const char *key) {
  return weft_spark_query(auth_spark(a), key);
}

/* Releases `a`; the spark it was for, when it still waits for the answer. */
static weft_spark *auth_take(weft_auth *a) {
  weft_spark *c = a->spark;
  if (c) c->auth = NULL;
  free(a);
  return c && c->state == WEFT__SP_NEW ? c : NULL;
}

int weft_auth_allow(weft_auth *a) {
  if (!a) return WEFT_EINVAL;
  weft_spark *c = auth_take(a);
  if (!c) return WEFT_ECLOSED;
  if (c->server->state != WEFT__SRV_LISTENING) {
    c->conn.tran->listener.reject(&c->conn, 503, NULL);
    return WEFT_ECLOSED;
  }
  if (!weft__rs_hold(c)) c->conn.tran->listener.accept(&c->conn);
  return 0;
}

int weft_auth_deny(weft_auth *a, int status, const char *message) {
  if (!a) return WEFT_EINVAL;
  weft_spark *c = auth_take(a);
  if (!c) return WEFT_ECLOSED;
  if (status < 400 || status > 599) status = 401;
  c->conn.tran->listener.reject(&c->conn, status,
                                message ? message : weft__http_status_text(status));
  return 0;
}

/* ---- the spec ---- */

int weft__server_route(weft__http_conn *hc, const char *rest, void *user) {
  weft_server *s = user;
  const char *m = weft__http_method(&hc->req.head);
  if (strcmp(rest, "/spec") != 0 || (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)) return 0;
  char body[512], ping[16];
  if (s->ping_interval)
    snprintf(ping, sizeof(ping), "%u", s->ping_interval);
  else
    strcpy(ping, "false");
  const char *path = hc->ep->path;
  weft_value *pv = weft_value_new_string(path, strlen(path));
  uint8_t *pj = NULL;
  size_t pl = 0;
  if (!pv || weft_value_encode("json", pv, &pj, &pl) != 0 || pl > 300) {
    weft_value_free(pv);
    weft_free(pj);
    weft__http_respond_status(hc, 500, NULL);
    return 1;
  }
  weft_value_free(pv);
  /* Side by side: every transformer served, so a client can fall back. */
  char more[128] = "";
  for (size_t i = 0, at = 0; s->n_transports > 1 && i < s->n_transports; i++)
    at += (size_t)snprintf(more + at, sizeof(more) - at, "%s\"%s\"%s",
                           i ? "," : ",\"transformers\":[", s->transports[i]->name,
                           i + 1 == s->n_transports ? "]" : "");
  int n = snprintf(body, sizeof(body),
                   "{\"pingInterval\":%s,\"pathname\":%.*s,\"version\":\"%s\",\"parser\":\"%s\","
                   "\"transformer\":\"%s\"%s}",
                   ping, (int)pl, (const char *)pj, WEFT_VERSION_STRING, s->parser->name,
                   s->transport->name, more);
  weft_free(pj);
  weft__http_respond(hc, 200, "application/json", body, (size_t)n, NULL);
  return 1;
}
