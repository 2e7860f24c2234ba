/*
 * Answering a request (see server.h): the status line and the headers
 * every answer carries (length, no caching, CORS for an allowed Origin),
 * then either the end of the connection or, with keep-alive, the next
 * request on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "runtime/log.h"
#include "runtime/payload.h"
#include "server.h"

const char *weft__http_status_text(int status) {
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
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return status >= 500 ? "Server Error" : "Client Error";
  }
}

const int weft__http_statuses[16] = {200, 204, 400, 401, 402, 403, 404, 405,
                                     408, 414, 426, 429, 431, 500, 503, 0};

size_t weft__http_status_index(int status) {
  for (size_t i = 0; i < 15; i++)
    if (weft__http_statuses[i] == status) return i;
  return 15;
}

/* Whether the request says it has a body (chunked, or a Content-Length
 * that is not 0), or may have one (two Content-Lengths: a proxy may go by
 * either). */
static int has_body(const weft__http_head *h) {
  const char *cl = weft__http_get(h, "Content-Length");
  return weft__http_get(h, "Transfer-Encoding") || (cl && cl[strspn(cl, "0")]) ||
         (cl && weft__http_count(h, "Content-Length") > 1);
}

/* Answers to pipelined requests queued and not yet written, beyond which
 * the next answer ends the connection: a client that pipelines requests
 * for a large file and never reads would otherwise have them all queued. */
#define WEFT__HTTP_KEEP_QUEUED (256 * 1024)

/* May the connection stay open after this answer? Not when the request
 * came with a body nobody read: its bytes would be taken for the next
 * request (a proxy in front would see one request where weft sees two). */
static int keeps(const weft__http_conn *hc) {
  const weft__http_head *h = &hc->req.head;
  return h->storage && h->version_minor >= 1 && !hc->ep->stopping && !hc->once &&
         !weft__http_header_has(h, "Connection", "close") && (hc->body_taken || !has_body(h)) &&
         hc->io.queued < WEFT__HTTP_KEEP_QUEUED;
}

/* Appends s[0..n) at *o when it fits before end (else marks it full). */
static void put(char **o, const char *end, const char *s, size_t n) {
  if (!*o || (size_t)(end - *o) < n) {
    *o = NULL;
    return;
  }
  memcpy(*o, s, n);
  *o += n;
}

static void puts0(char **o, const char *end, const char *s) { put(o, end, s, strlen(s)); }
/* A string literal's bytes, its length known when compiled. */
#define PUT_LIT(o, end, lit) put(o, end, lit, sizeof(lit) - 1)

static void put_uint(char **o, const char *end, size_t v) {
  char num[24];
  size_t k = sizeof(num);
  do
    num[--k] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  put(o, end, num + k, sizeof(num) - k);
}

/* The status line and headers into head[0..cap): a Content-Length of
 * `blen`, or (chunked) a chunked body. Returns the length, 0 when it does
 * not fit. Copies rather than snprintf: every keep-alive answer of the
 * HTTP transports (a Vibe POST's, each long poll's) comes through here. */
static size_t format_head(weft__http_conn *hc, char *head, size_t cap, int status,
                          const char *ctype, size_t blen, int chunked, int keep,
                          const char *extra) {
  weft__http_site *site = hc->ep->site;
  site->answers[weft__http_status_index(status)]++;
  if (status >= 400 && weft__log_on(hc->ep->loop, WEFT_LOG_INFO))
    weft__log(hc->ep->loop, WEFT_LOG_INFO, "refused", site->owner, NULL, NULL, NULL,
              "%d %s to %s:%d for %s %s", status, weft__http_status_text(status),
              weft__http_req_address(&hc->req), hc->req.port,
              weft__http_method(&hc->req.head) ? weft__http_method(&hc->req.head) : "-",
              weft__http_target(&hc->req.head) ? weft__http_target(&hc->req.head) : "-");
  char cors[512];
  size_t cors_len = weft__http_cors(hc, cors, sizeof(cors));
  char *o = head;
  const char *end = head + cap;
  PUT_LIT(&o, end, "HTTP/1.1 ");
  put_uint(&o, end, status < 0 ? 0 : (size_t)status);
  put(&o, end, " ", 1);
  puts0(&o, end, weft__http_status_text(status));
  PUT_LIT(&o, end, "\r\nContent-Type: ");
  puts0(&o, end, ctype ? ctype : "text/plain");
  if (chunked) {
    PUT_LIT(&o, end, "\r\nTransfer-Encoding: chunked");
  } else {
    PUT_LIT(&o, end, "\r\nContent-Length: ");
    put_uint(&o, end, blen);
  }
  PUT_LIT(&o, end,
          "\r\nCache-Control: no-store, no-cache, must-revalidate, max-age=0\r\nConnection: ");
  if (keep)
    PUT_LIT(&o, end, "keep-alive\r\n");
  else
    PUT_LIT(&o, end, "close\r\n");
  put(&o, end, cors, cors_len);
  if (extra) puts0(&o, end, extra);
  PUT_LIT(&o, end, "\r\n");
  /* One byte to spare, as snprintf's NUL needed. */
  return o && o < end ? (size_t)(o - head) : 0;
}

int weft__http_answer(weft__http_conn *hc, int status, const char *ctype, const void *body,
                      size_t blen, const char *extra, int keep, void (*fill)(uint8_t *, void *),
                      void *fill_user) {
  if (hc->state == WEFT__HC_CLOSED || hc->state == WEFT__HC_LINGER) return WEFT_ECLOSED;
  keep = keep && keeps(hc);
  const char *method = weft__http_method(&hc->req.head);
  int head_only = method && strcmp(method, "HEAD") == 0;
  char head[1536];
  size_t n = format_head(hc, head, sizeof(head), status, ctype, blen, 0, keep, extra);
  size_t send = head_only ? 0 : blen;
  weft__payload *p = n ? weft__payload_take(hc->ep->loop, WEFT__P_RAW, NULL, n + send) : NULL;
  if (!p) {
    weft__http_abort(hc);
    return WEFT_ENOMEM;
  }
  memcpy(p->data, head, n);
  if (send && fill)
    fill(p->data + n, fill_user);
  else if (send)
    memcpy(p->data + n, body, send);
  int rc = weft__stream_enqueue(&hc->io, p);
  weft__payload_release(p);
  if (rc) {
    weft__http_abort(hc);
    return rc;
  }
  if (keep)
    weft__http_next(hc);
  else
    weft__http_linger(hc);
  return 0;
}

/* ---- streaming answers ---- */

int weft__http_answer_stream(weft__http_conn *hc, int status, const char *ctype,
                             const char *extra) {
  if (hc->state == WEFT__HC_CLOSED || hc->state == WEFT__HC_LINGER) return WEFT_ECLOSED;
  char head[1536];
  size_t n = format_head(hc, head, sizeof(head), status, ctype, 0, 1, 0, extra);
  weft__payload *p = n ? weft__payload_take(hc->ep->loop, WEFT__P_RAW, head, n) : NULL;
  int rc = p ? weft__stream_enqueue(&hc->io, p) : WEFT_ENOMEM;
  weft__payload_release(p);
  if (rc) {
    weft__http_abort(hc);
    return rc;
  }
  weft__http_park(hc);
  weft__http_site_handshake_done(hc->ep->site, hc);
  return 0;
}

int weft__http_chunk(weft__http_conn *hc, const char *pre, const void *body, size_t blen,
                     const char *post, size_t limit, size_t *queued) {
  if (hc->state != WEFT__HC_HELD) return WEFT_ECLOSED;
  size_t a = strlen(pre), c = strlen(post), len = a + blen + c;
  char size[24]; /* the chunk's size in hex, then CRLF (no snprintf: one per event) */
  size_t k = sizeof(size) - 2;
  memcpy(size + k, "\r\n", 2);
  size_t v = len;
  do {
    size[--k] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  size_t sl = sizeof(size) - k;
  memmove(size, size + k, sl);
  k = sl;
  weft__payload *p = weft__payload_take(hc->ep->loop, WEFT__P_RAW, NULL, k + len + 2);
  if (!p) return WEFT_ENOMEM;
  if (hc->io.held + weft__stream_cost(p) > limit) {
    weft__payload_release(p);
    return WEFT_ENOBUFS;
  }
  uint8_t *d = p->data;
  memcpy(d, size, k);
  memcpy(d + k, pre, a);
  memcpy(d + k + a, body, blen);
  memcpy(d + k + a + blen, post, c);
  memcpy(d + k + len, "\r\n", 2);
  int rc = weft__stream_enqueue(&hc->io, p);
  weft__payload_release(p);
  if (queued) *queued = hc->io.queued;
  return rc;
}

void weft__http_chunk_end(weft__http_conn *hc) {
  if (hc->state != WEFT__HC_HELD) return;
  weft__payload *p = weft__payload_take(hc->ep->loop, WEFT__P_RAW, "0\r\n\r\n", 5);
  if (p) weft__stream_enqueue(&hc->io, p);
  weft__payload_release(p);
  weft__http_linger(hc);
}

void weft__http_respond(weft__http_conn *hc, int status, const char *ctype, const void *body,
                        size_t blen, const char *extra) {
  /* A success (a file, the spec, the metrics, a preflight) keeps the
   * connection for the next request, as HTTP/1.1 clients expect; a refusal
   * ends it. */
  weft__http_answer(hc, status, ctype, body, blen, extra, status >= 200 && status < 300, NULL,
                    NULL);
}

void weft__http_respond_status(weft__http_conn *hc, int status, const char *extra) {
  const char *text = weft__http_status_text(status);
  weft__http_respond(hc, status, "text/plain", text, strlen(text), extra);
}

void weft__http_refuse(weft__http_conn *hc, int status, const char *message) {
  if (status < 400 || status > 599) status = 401;
  if (message)
    weft__http_respond_error(hc, status, message);
  else
    weft__http_respond_status(hc, status, NULL);
}

void weft__http_respond_error(weft__http_conn *hc, int status, const char *message) {
  const char *text = message ? message : weft__http_status_text(status);
  /* {"error": text} with text escaped as a JSON string. */
  size_t n = strlen(text);
  char *body = malloc(n * 6 + 16);
  if (!body) {
    weft__http_respond(hc, status, "application/json", "{}", 2, NULL);
    return;
  }
  size_t o = 0;
  memcpy(body, "{\"error\":\"", 10);
  o = 10;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      body[o++] = '\\';
      body[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(body + o, 7, "\\u%04x", c);
    } else {
      body[o++] = (char)c;
    }
  }
  memcpy(body + o, "\"}", 2);
  o += 2;
  weft__http_respond(hc, status, "application/json", body, o, NULL);
  free(body);
}
