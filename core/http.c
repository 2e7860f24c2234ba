/*
 * The HTTP side of a server: routing under the pathname, the spec, 426 for
 * plain requests, CORS, origins, trusted proxies, authorization (answered
 * now or later) and the 101 upgrade.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *status_text(int status) {
  switch (status) {
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 414: return "URI Too Long";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return status >= 500 ? "Server Error" : "Client Error";
  }
}

static int origin_allowed(const weft_server *s, const char *origin) {
  if (!origin || s->n_origins == 0) return 1;
  for (size_t i = 0; i < s->n_origins; i++)
    if (strcmp(s->origins[i], "*") == 0 || weft__strcaseeq(s->origins[i], origin)) return 1;
  return 0;
}

static int send_raw(weft__conn *c, const char *head, size_t hlen, const void *body, size_t blen) {
  weft__payload *p = weft__payload_new(WEFT__P_RAW, NULL, hlen + blen);
  if (!p) return WEFT_ENOMEM;
  memcpy(p->data, head, hlen);
  if (blen) memcpy(p->data + hlen, body, blen);
  int rc = weft__conn_enqueue(c, p);
  weft__payload_release(p);
  return rc;
}

void weft__http_respond(weft__conn *c, int status, const char *ctype, const char *body,
                        const char *extra) {
  weft__http_respond_body(c, status, ctype, body, body ? strlen(body) : 0, extra);
}

void weft__http_respond_body(weft__conn *c, int status, const char *ctype, const void *body,
                             size_t blen, const char *extra) {
  const char *origin = c->req.storage ? weft__http_get(&c->req, "Origin") : NULL;
  char cors[512] = "";
  if (origin && origin_allowed(c->server, origin) && strlen(origin) < 300)
    snprintf(cors, sizeof(cors),
             "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\n"
             "Vary: Origin\r\n",
             origin);
  int head_only = c->req.method && strcmp(c->req.method, "HEAD") == 0;
  char head[1536];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Cache-Control: no-store, no-cache, must-revalidate, max-age=0\r\n"
                   "Connection: close\r\n%s%s\r\n",
                   status, status_text(status), ctype ? ctype : "text/plain", blen, cors,
                   extra ? extra : "");
  if (n < 0 || (size_t)n >= sizeof(head)) {
    weft__conn_abort(c);
    return;
  }
  if (send_raw(c, head, (size_t)n, body, head_only ? 0 : blen) != 0) {
    weft__conn_abort(c);
    return;
  }
  weft__server_pending_remove(c->server, c);
  weft__conn_linger(c);
}

static void respond_json_error(weft__conn *c, int status, const char *message) {
  weft_value *m = weft_value_new_map();
  const char *text = message ? message : status_text(status);
  weft_value_map_add(m, "error", 5, weft_value_new_string(text, strlen(text)));
  uint8_t *json = NULL;
  size_t len = 0;
  if (!m || weft_value_encode("json", m, &json, &len) != 0) {
    weft_value_free(m);
    weft__http_respond(c, status, "application/json", "{\"error\":\"Unauthorized\"}", NULL);
    return;
  }
  weft_value_free(m);
  char *body = malloc(len + 1);
  if (body) {
    memcpy(body, json, len);
    body[len] = '\0';
  }
  weft_free(json);
  weft__http_respond(c, status, "application/json", body ? body : "{}", NULL);
  free(body);
}

static void respond_spec(weft__conn *c) {
  weft_server *s = c->server;
  char body[512], ping[16];
  if (s->ping_interval)
    snprintf(ping, sizeof(ping), "%u", s->ping_interval);
  else
    strcpy(ping, "false");
  weft_value *path = weft_value_new_string(s->pathname, strlen(s->pathname));
  uint8_t *pj = NULL;
  size_t pl = 0;
  if (!path || weft_value_encode("json", path, &pj, &pl) != 0 || pl > 300) {
    weft_value_free(path);
    weft_free(pj);
    weft__http_respond(c, 500, "text/plain", "Internal Server Error", NULL);
    return;
  }
  weft_value_free(path);
  snprintf(body, sizeof(body),
           "{\"pingInterval\":%s,\"pathname\":%.*s,\"version\":\"%s\",\"parser\":\"%s\","
           "\"transformer\":\"%s\"}",
           ping, (int)pl, (const char *)pj, WEFT_VERSION_STRING, s->parser->name,
           s->transport->name);
  weft_free(pj);
  weft__http_respond(c, 200, "application/json", body, NULL);
}

static void respond_preflight(weft__conn *c) {
  const char *req_headers = weft__http_get(&c->req, "Access-Control-Request-Headers");
  char extra[512];
  snprintf(extra, sizeof(extra),
           "Access-Control-Allow-Methods: GET, HEAD, PUT, POST, DELETE, OPTIONS\r\n"
           "Access-Control-Max-Age: 2592000\r\n%s%.300s%s",
           req_headers ? "Access-Control-Allow-Headers: " : "", req_headers ? req_headers : "",
           req_headers ? "\r\n" : "");
  weft__http_respond(c, 200, "text/plain", "", extra);
}

/* Splits and decodes the query string into key/value pairs kept in one
 * allocation: the pointer array followed by the strings. */
static int parse_query(weft__conn *c) {
  const char *q = c->req.query;
  if (!q || !*q) return 0;
  size_t n = 1, qlen = strlen(q);
  for (const char *p = q; *p; p++)
    n += *p == '&';
  char **arr = malloc(2 * n * sizeof(char *) + 2 * (qlen + n));
  if (!arr) return WEFT_ENOMEM;
  char *out = (char *)(arr + 2 * n);
  size_t k = 0;
  const char *p = q;
  while (*p) {
    size_t len = strcspn(p, "&");
    if (len > 0) {
      const char *eq = memchr(p, '=', len);
      size_t klen = eq ? (size_t)(eq - p) : len;
      arr[2 * k] = out;
      out += weft__url_decode(out, p, klen) + 1;
      arr[2 * k + 1] = out;
      out +=
          (eq ? weft__url_decode(out, eq + 1, len - klen - 1) : weft__url_decode(out, "", 0)) + 1;
      k++;
    }
    p += len;
    if (*p == '&') p++;
  }
  c->query = arr;
  c->n_query = k;
  return 0;
}

static int is_trusted(const weft_server *s, const char *ip) {
  for (size_t i = 0; i < s->n_proxies; i++)
    if (strcmp(s->proxies[i], ip) == 0) return 1;
  return 0;
}

/* Behind a trusted proxy the client is the leftmost X-Forwarded-For entry. */
static void forwarded_address(weft__conn *c) {
  if (!is_trusted(c->server, c->address)) return;
  const char *xff = weft__http_get(&c->req, "X-Forwarded-For");
  if (!xff) return;
  while (*xff == ' ')
    xff++;
  size_t len = strcspn(xff, ", ");
  char ip[64];
  if (len == 0 || len >= sizeof(ip)) return;
  memcpy(ip, xff, len);
  ip[len] = '\0';
  struct sockaddr_storage ss;
  if (weft__sockaddr(ip, 0, &ss) != 0) return; /* not an address: ignore */
  strcpy(c->address, ip);
  const char *xfp = weft__http_get(&c->req, "X-Forwarded-Port");
  if (xfp) {
    int port = atoi(xfp);
    if (port > 0 && port < 65536) c->rport = port;
  }
}

static int path_matches(const weft_server *s, const char *path) {
  return strncmp(path, s->pathname, strlen(s->pathname)) == 0;
}

void weft__http_upgrade_allowed(weft__conn *c) {
  weft_server *s = c->server;
  char accept[29];
  if (weft__ws_check_upgrade(&c->req, accept) != 0) {
    weft__http_respond(c, 400, "text/plain", "Bad Request", NULL);
    return;
  }
  char ext[160] = "";
  if (s->pmd) {
    weft__pmd_params pp;
    char resp[128];
    if (weft__pmd_negotiate(weft__http_get(&c->req, "Sec-WebSocket-Extensions"), &pp, resp,
                            sizeof(resp)) == 0 &&
        pp.enabled) {
      snprintf(ext, sizeof(ext), "Sec-WebSocket-Extensions: %s\r\n", resp);
      c->pmd = 1;
    }
  }
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                   accept, ext);
  if (send_raw(c, head, (size_t)n, NULL, 0) != 0) {
    weft__conn_abort(c);
    return;
  }
  weft__server_pending_remove(s, c);
  c->reader.allow_rsv1 = c->pmd;
  c->reader.pmd = c->pmd ? s->pmd : NULL;
  c->state = WEFT__C_OPEN;
  weft__spark_opened(c);
}

void weft__http_request(weft__conn *c) {
  weft_server *s = c->server;
  weft__http_head *h = &c->req;
  if (s->state != WEFT__SRV_LISTENING) {
    weft__http_respond(c, 503, "text/plain", "Service Unavailable", NULL);
    return;
  }
  /* Assets and the static folder (plain HTTP only: upgrades go on below). */
  const char *up = weft__http_get(h, "Upgrade");
  if ((!up || !weft__http_has_token(up, "websocket")) && weft__static_request(c)) return;
  if (!path_matches(s, h->path)) {
    weft__http_respond(c, 404, "text/plain", "Not Found", NULL);
    return;
  }
  if (!origin_allowed(s, weft__http_get(h, "Origin"))) {
    weft__http_respond(c, 403, "text/plain", "Forbidden", NULL);
    return;
  }
  const char *upgrade = weft__http_get(h, "Upgrade");
  if (!upgrade || !weft__http_has_token(upgrade, "websocket")) {
    size_t plen = strlen(s->pathname);
    if (strcmp(h->method, "OPTIONS") == 0) {
      respond_preflight(c);
    } else if ((strcmp(h->method, "GET") == 0 || strcmp(h->method, "HEAD") == 0) &&
               strcmp(h->path + plen, "/spec") == 0) {
      respond_spec(c);
    } else {
      weft__http_respond(c, 426, "text/plain", "Upgrade Required", NULL);
    }
    return;
  }
  char accept[29];
  int rc = weft__ws_check_upgrade(h, accept);
  if (rc == WEFT_EUNSUPPORTED) {
    weft__http_respond(c, 426, "text/plain", "Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
    return;
  }
  if (rc != 0) {
    weft__http_respond(c, 400, "text/plain", "Bad Request", NULL);
    return;
  }
  if (parse_query(c) != 0) {
    weft__http_respond(c, 500, "text/plain", "Internal Server Error", NULL);
    return;
  }
  forwarded_address(c);
  if (!s->auth_cb) {
    weft__http_upgrade_allowed(c);
    return;
  }
  weft_auth *a = calloc(1, sizeof(*a));
  if (!a) {
    weft__http_respond(c, 500, "text/plain", "Internal Server Error", NULL);
    return;
  }
  a->conn = c;
  c->auth = a;
  c->state = WEFT__C_AUTH;
  /* The answer may take its time; the handshake deadline no longer applies
   * (an unanswered request still ends when the peer goes away). */
  weft__server_pending_remove(s, c);
  s->auth_cb(a, s->auth_user);
}

/* ---- weft_auth ---- */

const char *weft_auth_header(const weft_auth *a, const char *name) {
  return a && a->conn && name ? weft__http_get(&a->conn->req, name) : NULL;
}
const char *weft_auth_address(const weft_auth *a) { return a && a->conn ? a->conn->address : NULL; }
const char *weft_auth_url(const weft_auth *a) { return a && a->conn ? a->conn->req.target : NULL; }
const char *weft_auth_query(const weft_auth *a, const char *key) {
  return a && a->conn ? weft_spark_query(a->conn, key) : NULL;
}

static weft__conn *auth_take(weft_auth *a) {
  weft__conn *c = a->conn;
  if (c) c->auth = NULL;
  free(a);
  if (c && c->state != WEFT__C_AUTH) return NULL;
  return c;
}

int weft_auth_allow(weft_auth *a) {
  if (!a) return WEFT_EINVAL;
  weft__conn *c = auth_take(a);
  if (!c) return WEFT_ECLOSED;
  if (c->server->state != WEFT__SRV_LISTENING) {
    weft__http_respond(c, 503, "text/plain", "Service Unavailable", NULL);
    return WEFT_ECLOSED;
  }
  weft__http_upgrade_allowed(c);
  if (c->state == WEFT__C_OPEN) weft__conn_process_pending(c);
  return 0;
}

int weft_auth_deny(weft_auth *a, int status, const char *message) {
  if (!a) return WEFT_EINVAL;
  weft__conn *c = auth_take(a);
  if (!c) return WEFT_ECLOSED;
  if (status < 400 || status > 599) status = 401;
  respond_json_error(c, status, message);
  return 0;
}
