/* A recovery session (resume.c, resume_x.c; decisions #23 and #24). */
#ifndef WEFT__RESUME_H
#define WEFT__RESUME_H

#include "primus.h"

typedef struct weft__rs_tag { /* where a message a claim keeps came from */
  char node[WEFT__RS_NODE_LEN];
  uint64_t seq;
} weft__rs_tag;

struct weft__rs {
  weft__rs *next; /* the server's detached list */
  char id[64];
  char token[24];
  weft__payload **ring; /* circular: the last `len` messages end at `sent` */
  uint32_t cap, len, head;
  uint64_t sent;    /* messages queued in the session */
  uint64_t replay;  /* the client's count when it resumed */
  uint64_t expires; /* loop time (ms) when detached */
  char **rooms;
  size_t n_rooms;
  uint8_t recovered;
  uint8_t parked;   /* its owner stores it in the cluster (decision #24) */
  uint8_t lossy;    /* a message could not be stored there: not movable */
  uint8_t pending;  /* a claim from another node, its spark held */
  uint8_t overflow; /* the claim kept more than it may */
  /* a claim's: the spark, its deadline, what this node sent and delivered
   * since the claim began, with origins */
  weft_server *server;
  weft_spark *spark;
  uv_timer_t *deadline;
  weft__payload **buf;
  weft__rs_tag *tags;
  uint32_t nbuf, capbuf;
};

void weft__rs_free(weft__rs *r);
int weft__rs_ring_push(weft__rs *r, uint32_t max, weft__payload *p, int strict);
int weft__rs_new_token(weft_server *s, char *out);
int weft__rs_parse(const char *q, size_t *idlen, const char **tok, size_t *toklen, uint64_t *count);
int weft__rs_names(const weft__rs *r, const weft_recipients *to);
/* resume_x.c: a message kept by a claim (tagged with its origin). */
void weft__rs_pending_keep(weft_server *s, weft__rs *r, weft__payload *p);
/* The server goes: a claim ends (its spark is let go). */
void weft__rs_pending_end(weft__rs *r);

#endif
