/* Shared by streams.c (streams a peer opens) and ostream.c (streams this
 * side opens, with credit): one weft_streams per server or client. */
#ifndef WEFT_EXT_STREAMS_H
#define WEFT_EXT_STREAMS_H

#include "base/map.h"
#include "ext_internal.h"

#define WEFT__STREAMS_PLUGIN "weft.streams"
#define WEFT__STREAMS_MAX 64
#define WEFT__STREAMS_WINDOW ((size_t)1 << 20)

struct weft_streams {
  weft_server *server; /* one of the two */
  weft_client *client;
  weft_stream_open_cb cb;
  void *user;
  void (*free_user)(void *);
  weft__map by_target; /* spark or client -> its first incoming stream */
  uint32_t next_id;    /* of the streams it opens without an ack */
  size_t window;       /* a client's writers' credit (a server's: its hwm) */
  weft_ostream *out;   /* the open outgoing streams, doubly linked */
};

/* ostream.c: the target (spark, or the client when sp is NULL) is gone:
 * its outgoing streams fail from now on. */
void weft__ostreams_gone(weft_streams *ss, void *target);
/* The target's queue shrank: writers that ran out of credit and have it
 * again hear their drain. */
void weft__ostreams_drained(weft_streams *ss, void *target);
/* weft_ostream_write without the credit check (a relay's chunks that were
 * read before its pause took hold): 0, or 1 when out of credit now (its
 * drain is owed), or an error. */
int weft__ostream_write_over(weft_ostream *os, const void *p, size_t len);
/* The server or client is freed: the outgoing streams the application
 * still holds only wait for weft_ostream_end() to free them. */
void weft__ostreams_detach(weft_streams *ss);

#endif
