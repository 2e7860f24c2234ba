/*
 * weft extensions: named events with acknowledgements (the emitter) and
 * rooms. Both are plugins of the core, registered through plugin.h like any
 * application plugin, so they work over every transport and parser, and
 * every host exposes them from here.
 *
 * Wire format (docs/extensions.md): an emitted event is an ordinary message
 *   {"type": 0, "data": [event, arg1, ...], "id": N}     (id only with an ack)
 * and its answer
 *   {"type": 1, "id": N, "data": [null, value]}           resolved
 *   {"type": 1, "id": N, "data": [reason]}                rejected
 * which is primus-emitter's packet format with Node's error-first answer, so
 * a primus-emitter peer interoperates. Channels use types 2-4:
 *   {"type": 2, "ch": name, "data": msg}    a message on a channel
 *   {"type": 3, "ch": name}                 end (answered by an end)
 *   {"type": 4, "ch": name, "credit": n}    the receiver takes n more Rooms need no wire format of
 * their own: the server decides membership, and clients may ask through the emitter's reserved
 * events "weft::join" and "weft::leave" when the application allows it
 * (weft_rooms_set_client_policy).
 */
#ifndef WEFT_EXT_H
#define WEFT_EXT_H

#include "weft/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Emitter                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct weft_emitter weft_emitter;
typedef struct weft_reply weft_reply;

/* One received event, borrowed for the duration of the handler. */
typedef struct weft_event {
  const char *name;       /* NUL-terminated event name */
  const weft_value *args; /* the arguments, an array (possibly empty) */
  weft_spark *spark;      /* the sender, on a server; else NULL */
  weft_client *client;    /* the client it arrived on, on a client; else NULL */
  /* Non-NULL when the sender waits for an answer. The handler owns it from
   * here: it must call weft_reply_resolve() or weft_reply_reject() exactly
   * once, now or later; after the connection or the server's or client's
   * close that sends nothing (WEFT_ECLOSED) and only frees it. */
  weft_reply *reply;
} weft_event;

typedef void (*weft_event_cb)(const weft_event *ev, void *user);

/* The outcome of an emit that asked for an acknowledgement. */
typedef struct weft_ack {
  /* 0 resolved; WEFT_EREJECTED the peer rejected; WEFT_ETIMEDOUT no answer
   * in time; WEFT_ECLOSED the connection went away (or the emitter is being
   * freed) before an answer came. */
  int status;
  /* The resolved value or the rejection reason (borrowed); NULL when no
   * answer came. A resolve without a value gives a null value. */
  const weft_value *value;
  /* Non-NULL when the answer carries a callback (the peer answered with
   * weft_reply_resolve_cb): answering this reply calls it back across the
   * connection, with a callback of its own if wanted
   * (weft_reply_resolve_cb again: nmsg's nesting, to any depth). Answer it
   * inside the ack callback, or call weft_reply_keep() there and answer it
   * later (exactly once); a reply neither answered nor kept is dropped
   * (weft_reply_drop) when the ack callback returns. */
  weft_reply *reply;
} weft_ack;

typedef void (*weft_ack_cb)(const weft_ack *ack, void *user);

/* Errors the emitter meets on the wire: malformed extension messages, acks
 * with an unknown id (or arriving after their timeout), reserved names.
 * `spark` is the sender on a server, NULL on a client. The message is
 * dropped; the connection stays open. err->kind is "validation" for a
 * malformed event (code WEFT_EPARSE: an id that is not a positive
 * integer, data that is not an array, an event without data or a string
 * name, an ack without an id; Primacron's error::validation), else
 * "emitter". Without a
 * handler (weft_emitter_on_error), they go to the server's or client's
 * error event with that kind; channels' errors likewise, kind "channel". */
typedef void (*weft_emitter_error_cb)(weft_emitter *em, weft_spark *spark,
                                      const weft_error_info *err, void *user);

/* Attaches an emitter to a server (before it listens) or to a client (before
 * it opens), as the plugin named "weft.emitter". The emitter lives as long as
 * its server or client and is freed with it: *out stays valid until the
 * server's or client's close/destroy event. Messages that are not emitter
 * packets pass through to the data event unchanged.
 * Errors: WEFT_EINVAL, WEFT_ENOMEM, WEFT_EEXIST (already attached),
 * WEFT_ESTATE (listening or opened already). */
WEFT_EXTERN int weft_emitter_server(weft_server *server, weft_emitter **out);
WEFT_EXTERN int weft_emitter_client(weft_client *client, weft_emitter **out);

/* The emitter attached to a server or client, or NULL. */
WEFT_EXTERN weft_emitter *weft_emitter_of_server(weft_server *server);
WEFT_EXTERN weft_emitter *weft_emitter_of_client(weft_client *client);

/* Sets the handler of one event name (the name is copied); NULL removes it.
 * The name "*" sets the wildcard handler, called for every event that has
 * no handler of its own. An event that asks for an answer and finds no
 * handler at all is rejected with the reason "no handler for <name>".
 * `user` is passed back as is.
 *
 * Every registration of this header (handlers, policies, channel events)
 * takes a `free_user` (may be NULL): it runs with the old `user` when the
 * registration is replaced or removed, and when the extension is freed
 * with its server or client, so a host never tracks those lifetimes
 * itself. A `free_user` without a callback is WEFT_EINVAL.
 * Errors: WEFT_EINVAL (NULL or empty name, or longer than 255 bytes),
 * WEFT_ENOMEM. */
WEFT_EXTERN int weft_emitter_on(weft_emitter *em, const char *event, weft_event_cb cb, void *user,
                                void (*free_user)(void *user));

WEFT_EXTERN int weft_emitter_on_error(weft_emitter *em, weft_emitter_error_cb cb, void *user,
                                      void (*free_user)(void *user));

/* The default acknowledgement timeout in ms (10000); 0 waits forever. */
WEFT_EXTERN int weft_emitter_set_timeout(weft_emitter *em, uint32_t ms);

/* Emits `event` with `args` (an array, copied by encoding; NULL for none).
 * On a server `to` is the spark to send to; on a client it must be NULL.
 * With `cb`, the peer is asked for an answer and cb runs exactly once with
 * the outcome, never from inside this call; `timeout_ms` overrides the
 * default (WEFT_EMIT_DEFAULT_TIMEOUT keeps it). A client that is offline
 * queues the event as any write. Returns 0 or 1 as weft_spark_write (1:
 * above the high-water mark), or WEFT_EINVAL (bad name or args, a reserved
 * name, `to` given on a client or missing on a server), WEFT_ECLOSED, or
 * an encoding/queue error — in which case cb does not run. */
#define WEFT_EMIT_DEFAULT_TIMEOUT UINT32_MAX
WEFT_EXTERN int weft_emitter_emit(weft_emitter *em, weft_spark *to, const char *event,
                                  const weft_value *args, uint32_t timeout_ms, weft_ack_cb cb,
                                  void *user);

/* A client asks the server to put it in `room` or take it out, through the
 * reserved events "weft::join"/"weft::leave"; cb (optional) gets 0 when the
 * server's rooms policy allowed it, WEFT_EREJECTED with the reason when not.
 * Client emitters only. Errors as weft_emitter_emit, WEFT_EINVAL for an
 * invalid room name. Over tcp:// and ipc:// these leave as fast-tcp's join
 * / leave messages; with a cb, a weft server answers with its verdict,
 * and to an npm fast-tcp server (which joins but never answers, and
 * cannot refuse) cb gets 0 once the request is queued on the connection
 * (docs/fasttcp.md, "Room requests with an answer"). */
WEFT_EXTERN int weft_emitter_join(weft_emitter *em, const char *room, weft_ack_cb cb, void *user);
WEFT_EXTERN int weft_emitter_leave(weft_emitter *em, const char *room, weft_ack_cb cb, void *user);
/* Asks the server to take the client out of every room it is in (the
 * reserved event "weft::leave_all"; over fast-tcp, its "leave all rooms"
 * message, settled as weft_emitter_leave's). cb as for
 * weft_emitter_leave: 0, or WEFT_EREJECTED when the server's policy
 * refused one of the rooms. Client emitters only. Errors as
 * weft_emitter_emit (WEFT_EINVAL for NULL or a server's emitter). */
WEFT_EXTERN int weft_emitter_leave_all(weft_emitter *em, weft_ack_cb cb, void *user);

/* Emits to every open spark of the server (no answers): encodes once.
 * Returns the number of sparks reached or an error as weft_server_write. */
WEFT_EXTERN int weft_emitter_broadcast(weft_emitter *em, const char *event, const weft_value *args);

/* Builds the packet of an event without an ack, for writing it with any
 * write function (rooms, weft_server_write_to). The caller owns *out.
 * Errors: WEFT_EINVAL, WEFT_ENOMEM. */
WEFT_EXTERN int weft_emitter_packet(const char *event, const weft_value *args, weft_value **out);

/* Routing a client asks for (fast-tcp's {broadcast}, {rooms}, {sockets}):
 * the server sends `event` with `args` to every open spark (broadcast), or
 * to the members of `rooms` and the sparks named in `ids`. The sender is
 * left out of a broadcast and of rooms unless `with_sender`; ids are taken
 * as named. Every pointer is borrowed for the call. */
typedef struct weft_route {
  size_t size; /* sizeof(weft_route) */
  const char *event;
  const weft_value *args; /* an array, or NULL for none */
  int broadcast;
  const char *const *rooms;
  size_t n_rooms;
  const char *const *ids;
  size_t n_ids;
  int with_sender;
} weft_route;

/* A server's say on each route a client asks for (on by default, as in
 * fast-tcp: without a policy every route is served). Return 0 to serve
 * `r` — which the policy may rewrite: change its flags, or point its lists
 * at storage of its own that lives until it returns — or a negative WEFT_E*
 * code to refuse it (the sender's ack, when it asked for one, is rejected
 * with "route refused by the server's policy"; nothing is sent). */
typedef int (*weft_route_policy_cb)(weft_spark *sender, weft_route *r, void *user);

/* Sets the route policy of a server's emitter (NULL: serve every route).
 * Errors: WEFT_EINVAL (NULL or a client's emitter, free_user without cb). */
WEFT_EXTERN int weft_emitter_set_route_policy(weft_emitter *em, weft_route_policy_cb cb, void *user,
                                              void (*free_user)(void *user));
/* A client asks its server to route an event (the reserved event
 * "weft::route"; over fast-tcp, its broadcast / to-room / to-socket
 * messages). Returns as weft_client_write, or WEFT_EINVAL (a server's
 * emitter, a bad size or event name, args not an array, no recipients, a
 * room or id that is not a valid name). */
WEFT_EXTERN int weft_emitter_route(weft_emitter *em, const weft_route *r);

/* Binary streams a peer opens (fast-tcp's stream(event, info, ack) over
 * tcp:// and ipc://; the reserved events "weft::stream", "weft::chunk",
 * "weft::chunk_end" on any transport), on a server or a client. Flow
 * control is the connection's: pausing a stream stops reading its spark
 * or its client's connection (the peer's writes wait on TCP's window, then
 * on their credit: see weft_ostream_write; memory stays bounded); resuming
 * it reads again. Pausing stops every stream of that connection (one
 * socket); a paused ws:// client does not read the server's pings either.
 * A chunk for a stream never opened, an id opened twice, a routed stream
 * open with a malformed target or an ack, or more than 64 open streams on
 * one connection close that connection (1008) with an error event of kind
 * "stream" (a client then reconnects as after any close). A stream a
 * client routes (to sparks, rooms or everyone else) is relayed by the
 * server under its route policy and never reaches the open callback
 * (docs/fasttcp.md, "Streams"). */
typedef struct weft_stream weft_stream;
typedef struct weft_streams weft_streams;
typedef struct weft_stream_events {
  size_t size; /* sizeof(weft_stream_events) */
  /* A chunk, borrowed for the call. */
  void (*data)(weft_stream *st, const uint8_t *p, size_t len, void *user);
  /* The sender ended it (aborted 0) or its connection went (aborted 1);
   * the stream is freed when this returns. */
  void (*end)(weft_stream *st, int aborted, void *user);
} weft_stream_events;
/* A peer opened a stream: its event name, its info (null when none), and a
 * reply when the sender asked for an ack (answer it as any event's, when
 * the application wants: at the end, typically). Chunks before
 * weft_stream_set_events() are dropped. `st` lives until its end event
 * returns. */
typedef void (*weft_stream_open_cb)(weft_stream *st, const char *event, const weft_value *info,
                                    weft_reply *reply, void *user);
/* Turns streams on for a server (before it listens; the emitter must be
 * attached: it dispatches the reserved events). Errors: WEFT_EINVAL (NULL),
 * WEFT_ENOMEM, WEFT_EEXIST, WEFT_ESTATE (listening). */
WEFT_EXTERN int weft_streams_server(weft_server *server, weft_stream_open_cb cb, void *user,
                                    void (*free_user)(void *user));
/* The same for a client, before it opens (its emitter attached): streams
 * the server (or, routed by it, another client) opens arrive at cb, and
 * the client may open its own (weft_ostream_open_client). `free_user`
 * runs when the client is freed. Errors: WEFT_EINVAL (NULL), WEFT_ENOMEM,
 * WEFT_EEXIST, WEFT_ESTATE (opened already), WEFT_ECLOSED. */
WEFT_EXTERN int weft_streams_client(weft_client *client, weft_stream_open_cb cb, void *user,
                                    void (*free_user)(void *user));
/* The credit of a client's writers: the bytes its connection may hold
 * queued before weft_ostream_write stops taking chunks (1 MiB by default;
 * a server's writers use its high-water mark). Errors: WEFT_EINVAL (NULL,
 * 0, streams not on). */
WEFT_EXTERN int weft_streams_client_window(weft_client *client, size_t bytes);
/* The events of a stream (copied). Errors: WEFT_EINVAL (NULL, a bad size). */
WEFT_EXTERN int weft_stream_set_events(weft_stream *st, const weft_stream_events *events,
                                       void *user);
/* The spark a stream came from (NULL on a client), or the client it came
 * to (NULL on a server). */
WEFT_EXTERN weft_spark *weft_stream_spark(const weft_stream *st);
WEFT_EXTERN weft_client *weft_stream_client(const weft_stream *st);
/* Stop and resume reading the stream's connection. Errors: WEFT_EINVAL,
 * WEFT_ECLOSED. */
WEFT_EXTERN int weft_stream_pause(weft_stream *st);
WEFT_EXTERN int weft_stream_resume(weft_stream *st);

/* A stream this side opens: from a server to a spark (needs
 * weft_streams_server() and the emitter), or from a client to its server
 * (needs weft_streams_client() and the client's emitter; the client must
 * be open: a stream does not outlive its connection). Its event, info
 * (borrowed; NULL for none) and, with cb, an ack the peer answers when it
 * wants (the ack's id is the stream's, as fast-tcp requires; cb runs once,
 * never from inside this call, as weft_emitter_emit's, but without a
 * timeout: the peer answers at the end, however long the stream takes;
 * the connection's loss settles it with WEFT_ECLOSED). A client may
 * target it instead (fast-tcp's routed streams: to socket ids, rooms or
 * everyone but itself, served by a fast-tcp server; no ack then: cb must
 * be NULL; a weft server relays them under its route policy). *out is the application's until
 * weft_ostream_end(), which frees it whatever happens to the connection
 * (end streams before freeing their server or client; after that end only
 * frees). Returns 0 or 1 as weft_spark_write, or WEFT_EINVAL (NULL, an
 * invalid or reserved event name, streams or emitter missing, cb with a
 * target, a target without exactly one of broadcast/rooms/ids or with a
 * name that is invalid or holds ',' or '|'), WEFT_ESTATE (a client not
 * open), WEFT_ECLOSED, WEFT_ENOMEM, WEFT_ENOBUFS (queue full). */
typedef struct weft_ostream weft_ostream;
typedef struct weft_stream_to {
  size_t size; /* sizeof(weft_stream_to) */
  int broadcast;
  const char *const *rooms;
  size_t n_rooms;
  const char *const *ids;
  size_t n_ids;
} weft_stream_to;
WEFT_EXTERN int weft_ostream_open(weft_spark *spark, const char *event, const weft_value *info,
                                  weft_ack_cb cb, void *user, weft_ostream **out);
WEFT_EXTERN int weft_ostream_open_client(weft_client *client, const char *event,
                                         const weft_value *info, const weft_stream_to *to,
                                         weft_ack_cb cb, void *user, weft_ostream **out);
/* Sends one chunk (copied; not empty), under credit: a writer may have up
 * to its window queued on its connection (the server's high-water mark;
 * a client's weft_streams_client_window). With credit left the chunk is
 * queued and it returns 0, or 1 when the window is now used up; without
 * credit nothing is queued and it returns WEFT_ENOBUFS. Either way, after
 * 1 or WEFT_ENOBUFS the drain callback runs once the queue is below the
 * window again. So a writer holds at most window + one chunk (+ its
 * frame) in memory whatever the reader does: a reader that pauses stops
 * reading, the kernel's buffers fill and the queue stops shrinking.
 * Errors: WEFT_EINVAL (NULL, empty), WEFT_ECLOSED (the connection went),
 * WEFT_ENOBUFS, encoding and queue errors as weft_spark_write. */
WEFT_EXTERN int weft_ostream_write(weft_ostream *st, const void *p, size_t len);
/* The drain callback (NULL: none); it may write, end this stream or
 * others. Errors: WEFT_EINVAL (NULL stream). */
WEFT_EXTERN int weft_ostream_set_drain(weft_ostream *st, void (*cb)(weft_ostream *st, void *user),
                                       void *user);
/* Bytes queued on the stream's connection and not yet handed to the
 * kernel (0 once it went): what the credit is counted against. */
WEFT_EXTERN size_t weft_ostream_pending(const weft_ostream *st);
/* Sends the end and frees the stream, whatever it returns: 0, or
 * WEFT_EINVAL (NULL), WEFT_ECLOSED (the connection went; nothing sent),
 * a queue error (the end could not be queued). */
WEFT_EXTERN int weft_ostream_end(weft_ostream *st);

/* Answers an event. `value`/`reason` are borrowed (NULL: null, or the
 * reason "rejected"). The reply is freed by the call, whatever it returns:
 * 0, WEFT_ECLOSED (the sender is gone; nothing was sent), or an encoding or
 * queue error. WEFT_EINVAL only for a NULL reply. */
WEFT_EXTERN int weft_reply_resolve(weft_reply *reply, const weft_value *value);
WEFT_EXTERN int weft_reply_reject(weft_reply *reply, const weft_value *reason);
/* Rejects with the reason WEFT_REPLY_DROPPED: what a host does with a
 * reply its application let go of without answering (collected by the
 * garbage collector, a handler that returned without answering). The
 * sender sees the same text from every host. Errors as weft_reply_reject. */
#define WEFT_REPLY_DROPPED "no answer"
WEFT_EXTERN int weft_reply_drop(weft_reply *reply);
/* Resolves with `value` and a callback: the answer carries it, and the
 * peer's ack callback gets a reply (weft_ack.reply) that calls cb back
 * when answered — cb runs exactly once with that answer (which may carry a
 * callback in turn), or with WEFT_ETIMEDOUT after timeout_ms
 * (WEFT_EMIT_DEFAULT_TIMEOUT: the emitter's timeout; 0: none) or
 * WEFT_ECLOSED when the connection goes first: a callback never called is
 * released so. A peer that does not know callbacks (primus-emitter) sees
 * a plain answer, and cb ends at the timeout or the close. cb NULL is
 * weft_reply_resolve(). The reply is freed by the call whatever it
 * returns: 0, WEFT_ECLOSED (sender gone; cb will not run), WEFT_ENOMEM or
 * an encoding/queue error (cb will not run); WEFT_EINVAL for NULL reply. */
WEFT_EXTERN int weft_reply_resolve_cb(weft_reply *reply, const weft_value *value,
                                      uint32_t timeout_ms, weft_ack_cb cb, void *user);
/* Keeps the reply an ack callback got (weft_ack.reply) past the callback's
 * return, to answer later. Errors: WEFT_EINVAL (NULL). */
WEFT_EXTERN int weft_reply_keep(weft_reply *reply);

/* ------------------------------------------------------------------------ */
/* Rooms                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct weft_rooms weft_rooms;

/* A client asks to join or leave `room` (through the emitter's
 * "weft::join"/"weft::leave" events): return 0 to allow, a negative WEFT_E*
 * code to refuse. Without a policy, clients may not change membership. */
typedef int (*weft_rooms_policy_cb)(weft_spark *spark, const char *room, int join, void *user);

/* Attaches rooms to a server before it listens (the plugin "weft.rooms");
 * freed with the server. Sparks leave all their rooms when they disconnect,
 * and a room disappears when its last member leaves.
 * Errors: WEFT_EINVAL, WEFT_ENOMEM, WEFT_EEXIST, WEFT_ESTATE. */
WEFT_EXTERN int weft_rooms_server(weft_server *server, weft_rooms **out);
WEFT_EXTERN weft_rooms *weft_rooms_of_server(weft_server *server);

/* Lets clients join and leave rooms themselves (needs an emitter on the
 * server, attached before or after the rooms). NULL turns it off. */
WEFT_EXTERN int weft_rooms_set_client_policy(weft_rooms *rooms, weft_rooms_policy_cb cb, void *user,
                                             void (*free_user)(void *user));

/* Room names are 1..255 bytes of valid UTF-8 without NUL (WEFT_EINVAL).
 * Joining twice, or leaving a room one is not in, is no error (returns 0).
 * Errors: WEFT_EINVAL, WEFT_ECLOSED (the spark is closing or closed: it
 * leaves its rooms by itself, so join, leave and leave_all all say so, in
 * every host), WEFT_ENOMEM. */
WEFT_EXTERN int weft_rooms_join(weft_rooms *rooms, weft_spark *spark, const char *room);
WEFT_EXTERN int weft_rooms_leave(weft_rooms *rooms, weft_spark *spark, const char *room);
WEFT_EXTERN int weft_rooms_leave_all(weft_rooms *rooms, weft_spark *spark);

/* Membership queries. Counts are >= 0 or WEFT_EINVAL. The *_at accessors
 * return borrowed pointers valid until membership next changes, or NULL
 * past the end. The order is unspecified but stable while nothing changes. */
WEFT_EXTERN int weft_rooms_has(weft_rooms *rooms, weft_spark *spark, const char *room);
WEFT_EXTERN int weft_rooms_count(weft_rooms *rooms); /* rooms that exist */
WEFT_EXTERN const char *weft_rooms_name_at(weft_rooms *rooms, size_t i);
WEFT_EXTERN int weft_rooms_member_count(weft_rooms *rooms, const char *room);
WEFT_EXTERN weft_spark *weft_rooms_member_at(weft_rooms *rooms, const char *room, size_t i);
WEFT_EXTERN int weft_rooms_of_spark_count(weft_rooms *rooms, weft_spark *spark);
WEFT_EXTERN const char *weft_rooms_of_spark_at(weft_rooms *rooms, weft_spark *spark, size_t i);

/* Writes `msg` once to every spark that is in at least one of the `n_rooms`
 * rooms and whose id is not in `except` (spark ids; NULL/0 for none). Each
 * spark gets it once even when it is in several of the rooms; the frame is
 * encoded once. Unknown rooms are empty. Returns the number of sparks
 * reached, or WEFT_EINVAL (an invalid room name, NULL arrays with n > 0),
 * WEFT_ENOMEM, or an encoding error. */
WEFT_EXTERN int weft_rooms_write(weft_rooms *rooms, const char *const *room_names, size_t n_rooms,
                                 const char *const *except, size_t n_except, const weft_value *msg);

/* The same for an emitted event (no answers): needs the server's emitter. */
WEFT_EXTERN int weft_rooms_emit(weft_rooms *rooms, const char *const *room_names, size_t n_rooms,
                                const char *const *except, size_t n_except, const char *event,
                                const weft_value *args);

/* ------------------------------------------------------------------------ */
/* Channels                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Named channels multiplexed over one spark or client connection, each with
 * its own data, end and drain events and its own flow control. Either side
 * opens a channel by using its name: the first message on an unknown name
 * opens it on the receiving side (the open callback), so nothing has to be
 * declared first.
 *
 * Flow control counts messages: each side may send `window` messages (64
 * by default, weft_channels_set_window; both sides should agree) before the
 * receiver grants more. The receiver grants as the application consumes:
 * a paused channel (weft_channel_pause) keeps what arrives, at most one
 * window, and grants nothing until it resumes. A writer without credit
 * keeps its messages in the channel's own queue (weft_channel_write returns
 * 1) and gets a drain event once the queue is empty again.
 *
 * Ending is a handshake: weft_channel_end() sends an end; the peer's end
 * event runs and it answers with an end; then the end event runs here and
 * the channel is freed when it returns. A connection that goes away ends
 * all its channels (end events, at the spark's disconnection or the
 * client's close).
 */
typedef struct weft_channels weft_channels;
typedef struct weft_channel weft_channel;

typedef struct weft_channel_events {
  size_t size; /* sizeof(weft_channel_events) */
  /* A message (borrowed for the call). */
  void (*data)(weft_channel *ch, const weft_value *msg, void *user);
  /* The channel is over; it is freed when this returns. */
  void (*end)(weft_channel *ch, void *user);
  /* The queue of writes waiting for credit is empty again. */
  void (*drain)(weft_channel *ch, void *user);
} weft_channel_events;

/* The peer opened a channel: set its events here (or end it to refuse). */
typedef void (*weft_channel_open_cb)(weft_channel *ch, void *user);

/* Attaches channels to a server (before it listens) or a client (before it
 * opens), as the plugin "weft.channels"; freed with it.
 * Errors: WEFT_EINVAL, WEFT_ENOMEM, WEFT_EEXIST, WEFT_ESTATE. */
WEFT_EXTERN int weft_channels_server(weft_server *server, weft_channels **out);
WEFT_EXTERN int weft_channels_client(weft_client *client, weft_channels **out);
/* The channels attached to a server or client, or NULL. */
WEFT_EXTERN weft_channels *weft_channels_of_server(weft_server *server);
WEFT_EXTERN weft_channels *weft_channels_of_client(weft_client *client);

/* Channels opened by the peer are passed to cb. Without one, they are
 * refused (ended at once) and an error event of kind "channel" follows. */
WEFT_EXTERN int weft_channels_on_open(weft_channels *chs, weft_channel_open_cb cb, void *user,
                                      void (*free_user)(void *user));
/* Protocol errors (malformed channel packets): kind "channel"; the
 * connection stays open. `spark` is NULL on a client. */
WEFT_EXTERN int weft_channels_on_error(weft_channels *chs,
                                       void (*cb)(weft_channels *chs, weft_spark *spark,
                                                  const weft_error_info *err, void *user),
                                       void *user, void (*free_user)(void *user));
/* The flow-control window in messages (64); 1..65536, before any channel
 * exists. */
WEFT_EXTERN int weft_channels_set_window(weft_channels *chs, uint32_t messages);

/* Opens (or finds) the channel `name` (1..255 bytes of UTF-8) on `spark`
 * (servers) or on the client (spark NULL). Nothing is sent until the first
 * write. Errors: WEFT_EINVAL, WEFT_ECLOSED (the connection is not open, or
 * the channel is ending), WEFT_ENOMEM. */
WEFT_EXTERN int weft_channel_open(weft_channels *chs, weft_spark *spark, const char *name,
                                  weft_channel **out);
WEFT_EXTERN int weft_channel_set_events(weft_channel *ch, const weft_channel_events *events,
                                        void *user, void (*free_user)(void *user));
/* 0: sent; 1: queued until the peer grants credit (drain follows); or
 * WEFT_EINVAL, WEFT_ECLOSED (ending), WEFT_ENOMEM, an encoding error. */
WEFT_EXTERN int weft_channel_write(weft_channel *ch, const weft_value *msg);
/* Starts the end handshake; writes still queued are dropped, and so is
 * what arrives until the peer answers. The channel stays valid until its
 * end event (never run from inside this call). Errors: WEFT_EINVAL,
 * WEFT_ECLOSED (already ending). */
WEFT_EXTERN int weft_channel_end(weft_channel *ch);
WEFT_EXTERN int weft_channel_pause(weft_channel *ch);
WEFT_EXTERN int weft_channel_resume(weft_channel *ch);
WEFT_EXTERN const char *weft_channel_name(const weft_channel *ch);
WEFT_EXTERN weft_spark *weft_channel_spark(const weft_channel *ch);
/* Messages waiting for credit. */
WEFT_EXTERN size_t weft_channel_queued(const weft_channel *ch);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_EXT_H */
