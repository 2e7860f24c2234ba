/*
 * Streams a client routes through a server (fast-tcp's stream(event, info,
 * {broadcast | rooms | sockets}): the server pipes it on, as npm
 * fast-tcp's server does). Under the route policy (weft__route_decide, as
 * for routed events), each recipient gets a stream of the server's own
 * (weft_ostream_open) with the same event and info, and every chunk as it
 * comes; the end ends them all. Flow control: each recipient's stream has
 * its credit; when a write uses one up, the sender's stream is paused
 * until every recipient drained (the slowest reader sets the pace; chunks
 * already read when the pause takes hold are queued past the credit, so a
 * relay holds at most window + one read's chunks per recipient). A
 * recipient that goes, or whose queue refuses a chunk, is dropped from the
 * relay (its stream ended where it can be); the others go on. A refused route reads
 * the stream and sends it nowhere. Only this node's sparks: a routed
 * stream is not published to other nodes.
 */
#include <stdlib.h>

#include "streams.h"

typedef struct relay {
  weft_stream *in;
  weft_ostream **out;
  size_t n;
  size_t window; /* each recipient's credit: the server's high-water mark */
  int paused;
} relay;

static void drop(relay *r, size_t i) {
  weft_ostream_end(r->out[i]); /* frees it; ECLOSED when its spark went */
  r->out[i] = r->out[--r->n];
  if (r->paused && !r->n) { /* nobody left to drain: read on (and drop) */
    r->paused = 0;
    weft_stream_resume(r->in);
  }
}

static int blocked(const relay *r) {
  for (size_t i = 0; i < r->n; i++)
    if (weft_ostream_pending(r->out[i]) >= r->window) return 1;
  return 0;
}

static void on_drain(weft_ostream *os, void *user) {
  relay *r = user;
  (void)os;
  if (r->paused && !blocked(r)) {
    r->paused = 0;
    weft_stream_resume(r->in);
  }
}

static void on_data(weft_stream *st, const uint8_t *p, size_t len, void *user) {
  relay *r = user;
  (void)st;
  for (size_t i = 0; i < r->n;) {
    int rc = weft__ostream_write_over(r->out[i], p, len);
    if (rc < 0) {
      drop(r, i); /* gone, or its queue is full of other traffic */
      continue;
    }
    if (rc == 1 && !r->paused && weft_stream_pause(r->in) == 0) r->paused = 1;
    i++;
  }
}

static void on_end(weft_stream *st, int aborted, void *user) {
  relay *r = user;
  (void)st, (void)aborted;
  while (r->n)
    drop(r, r->n - 1);
  free(r->out);
  free(r);
}

int weft__relay_open(weft_stream *in, weft_spark *sender, const char *event, const weft_value *info,
                     const weft_value *target) {
  weft__route_names names;
  weft_route route;
  int rc = weft__route_target(target, &names, &route);
  if (rc) return rc;
  route.event = event;
  route.args = NULL;
  const char *except[1] = {weft_spark_id(sender)};
  weft_recipients to = {.except = except};
  weft_spark **sparks = NULL;
  size_t n = 0;
  relay *r = calloc(1, sizeof(*r));
  if (!r) return WEFT_ENOMEM;
  r->in = in;
  r->window = weft_spark_server(sender)->hwm;
  if (weft__route_decide(sender, &route, &to) == 0 &&
      weft__server_select(weft_spark_server(sender), &to, &sparks, &n) == 0 && n &&
      !(r->out = calloc(n, sizeof(*r->out))))
    n = 0;
  for (size_t i = 0; i < n; i++) {
    weft_ostream *os;
    if (weft_ostream_open(sparks[i], event, info, NULL, NULL, &os) < 0) continue;
    weft_ostream_set_drain(os, on_drain, r);
    r->out[r->n++] = os;
  }
  free(sparks);
  weft_stream_events ev = {sizeof(ev), on_data, on_end};
  weft_stream_set_events(in, &ev, r);
  return 0;
}
