/*
 * A server's counters and gauges (kept as it works, a few additions per
 * message), read as a plain structure (weft_server_metrics) or as
 * Prometheus's text exposition (weft_server_metrics_text, and at an
 * opt-in HTTP path: weft_server_set_metrics_path).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "primus.h"

/* The error kinds counted by name; anything else is "other". */
static const char *const kinds[WEFT__KINDS] = {
    "json", "msgpack", "raw",    "protocol", "toobig",  "utf8", "timeout", "queue", "transform",
    "io",   "tls",     "encode", "emitter",  "channel", "http", "connect", "other",
};

void weft__metrics_error(weft_server *s, const char *kind) {
  size_t i = 0;
  while (i < WEFT__KINDS - 1 && (!kind || strcmp(kinds[i], kind) != 0))
    i++;
  s->m.errors[i]++;
}

/* The counters of weft_metrics by name, in the struct's order: what hosts
 * build their own metrics objects from, so none keeps its own list. */
static const struct {
  const char *name;
  size_t at;
} fields[] = {
#define FIELD(f)                                                                                   \
  { #f, offsetof(weft_metrics, f) }
    FIELD(connections_open),       FIELD(connections_total),        FIELD(handshakes_total),
    FIELD(refused_total),          FIELD(messages_in_total),        FIELD(messages_out_total),
    FIELD(bytes_in_total),         FIELD(bytes_out_total),          FIELD(queue_bytes),
    FIELD(queue_refused_total),    FIELD(heartbeat_timeouts_total), FIELD(errors_total),
    FIELD(polling_requests_total),
#undef FIELD
};

const char *weft_metrics_at(const weft_metrics *m, size_t i, uint64_t *value) {
  if (!m || i >= sizeof(fields) / sizeof(*fields) || m->size < fields[i].at + sizeof(uint64_t))
    return NULL;
  if (value) memcpy(value, (const char *)m + fields[i].at, sizeof(*value));
  return fields[i].name;
}

int weft_server_metrics(const weft_server *s, weft_metrics *out) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || !out || out->size < sizeof(size_t)) return WEFT_EINVAL;
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  for (size_t t = 0; t < WEFT__TRANSPORTS_MAX; t++) {
    m.connections_open += s->m.open[t];
    m.connections_total += s->m.opened[t];
    m.messages_in_total += s->m.msgs_in[t];
    m.messages_out_total += s->m.msgs_out[t];
    m.bytes_in_total += s->m.bytes_in[t];
    m.bytes_out_total += s->m.bytes_out[t];
    m.polling_requests_total += s->m.polls[t];
  }
  m.handshakes_total = s->m.handshakes;
  for (size_t i = 0; i < 16; i++)
    if (weft__http_statuses[i] >= 400 || weft__http_statuses[i] == 0)
      m.refused_total += s->site.answers[i];
  for (weft_spark *c = s->open_head; c; c = c->next)
    if (c->state == WEFT__SP_OPEN) m.queue_bytes += c->conn.tran->conn.queued(&c->conn, NULL);
  m.queue_refused_total = s->m.queue_refused;
  m.heartbeat_timeouts_total = s->m.timeouts;
  for (size_t i = 0; i < WEFT__KINDS; i++)
    m.errors_total += s->m.errors[i];
  size_t n = out->size < sizeof(m) ? out->size : sizeof(m);
  memcpy(out, &m, n);
  out->size = n;
  return 0;
}

/* ---- the text exposition ---- */

typedef struct text {
  char *buf;
  size_t cap, len;
} text;

WEFT__PRINTF(2, 3) static void put(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->len < t->cap ? t->buf + t->len : NULL, t->len < t->cap ? t->cap - t->len : 0,
                    fmt, ap);
  va_end(ap);
  if (n > 0) t->len += (size_t)n;
}

static void family(text *t, const char *name, const char *type, const char *help) {
  put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One series per transport (every transport this build has: a series
 * that exists keeps existing). */
static void per_transport(text *t, const char *name, const uint64_t *v) {
  for (size_t i = 0; weft__transport_at(i) && i < WEFT__TRANSPORTS_MAX; i++)
    put(t, "%s{transport=\"%s\"} %llu\n", name, weft__transport_at(i), (unsigned long long)v[i]);
}

long weft_server_metrics_text(const weft_server *s, char *buf, size_t cap) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s || (!buf && cap)) return WEFT_EINVAL;
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  weft_server_metrics(s, &m);
  text t = {buf, cap, 0};
  family(&t, "weft_connections", "gauge", "Open connections (sparks).");
  per_transport(&t, "weft_connections", s->m.open);
  family(&t, "weft_connections_total", "counter", "Connections (sparks) opened.");
  per_transport(&t, "weft_connections_total", s->m.opened);
  family(&t, "weft_handshakes_total", "counter", "Upgrade requests that reached authorization.");
  put(&t, "weft_handshakes_total %llu\n", (unsigned long long)m.handshakes_total);
  family(&t, "weft_http_responses_total", "counter",
         "HTTP answers by status: refused handshakes and plain requests.");
  for (size_t i = 0; i < 16; i++) {
    int code = weft__http_statuses[i];
    if (code)
      put(&t, "weft_http_responses_total{code=\"%d\"} %llu\n", code,
          (unsigned long long)s->site.answers[i]);
    else
      put(&t, "weft_http_responses_total{code=\"other\"} %llu\n",
          (unsigned long long)s->site.answers[i]);
  }
  family(&t, "weft_polling_requests_total", "counter",
         "HTTP requests of polling sessions (handshakes, polls, posts).");
  per_transport(&t, "weft_polling_requests_total", s->m.polls);
  family(&t, "weft_messages_received_total", "counter", "Messages received from sparks.");
  per_transport(&t, "weft_messages_received_total", s->m.msgs_in);
  family(&t, "weft_messages_sent_total", "counter", "Messages queued to sparks (each delivery).");
  per_transport(&t, "weft_messages_sent_total", s->m.msgs_out);
  family(&t, "weft_received_bytes_total", "counter", "Message bytes received from sparks.");
  per_transport(&t, "weft_received_bytes_total", s->m.bytes_in);
  family(&t, "weft_sent_bytes_total", "counter", "Message bytes queued to sparks.");
  per_transport(&t, "weft_sent_bytes_total", s->m.bytes_out);
  family(&t, "weft_queue_bytes", "gauge", "Bytes queued to sparks and not yet written.");
  put(&t, "weft_queue_bytes %llu\n", (unsigned long long)m.queue_bytes);
  family(&t, "weft_queue_refused_total", "counter", "Writes refused by a full queue.");
  put(&t, "weft_queue_refused_total %llu\n", (unsigned long long)m.queue_refused_total);
  family(&t, "weft_heartbeat_timeouts_total", "counter", "Sparks dropped for a missed heartbeat.");
  put(&t, "weft_heartbeat_timeouts_total %llu\n", (unsigned long long)m.heartbeat_timeouts_total);
  family(&t, "weft_errors_total", "counter", "Error events by kind.");
  for (size_t i = 0; i < WEFT__KINDS; i++)
    put(&t, "weft_errors_total{kind=\"%s\"} %llu\n", kinds[i], (unsigned long long)s->m.errors[i]);
  return (long)t.len;
}

/* ---- served over HTTP ---- */

static void metrics_page(weft__http_conn *hc, void *user) {
  weft_server *s = user;
  long n = weft_server_metrics_text(s, NULL, 0);
  char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (!buf) {
    weft__http_respond_status(hc, 500, NULL);
    return;
  }
  weft_server_metrics_text(s, buf, (size_t)n + 1);
  weft__http_respond(hc, 200, "text/plain; version=0.0.4; charset=utf-8", buf, (size_t)n, NULL);
  free(buf);
}

int weft_server_set_metrics_path(weft_server *s, const char *path) {
  if (weft__server_gone(s)) return WEFT_ECLOSED;
  if (!s) return WEFT_EINVAL;
  if (path && (path[0] != '/' || strpbrk(path, "?# \r\n"))) return WEFT_EINVAL;
  char *copy = path ? weft__strdup(path) : NULL;
  if (path && !copy) return WEFT_ENOMEM;
  free(s->site.page_path);
  s->site.page_path = copy;
  s->site.page = metrics_page;
  s->site.page_user = s;
  return 0;
}
