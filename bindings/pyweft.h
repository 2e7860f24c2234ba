/*
 * pyweft: the hand-written C layer under the SWIG-generated Python module.
 *
 * It holds Python callables in C, takes the GIL per callback, converts
 * values between Python objects and weft_value in C, and stores an exception
 * raised in a callback on its loop so that pyweft_loop_run_once() re-raises
 * it after the loop step: never lost, never fatal.
 *
 * Every function here is called with the GIL held. Functions returning
 * PyObject * return a new reference, or NULL with a Python exception set.
 * Functions returning int return a weft code (0 or positive success, a
 * negative WEFT_E* code on failure) unless they say otherwise.
 */
#ifndef PYWEFT_H
#define PYWEFT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <weft/ext.h>
#include <weft/options.h>
#include <weft/plugin.h>
#include <weft/weft.h>

/* A weft loop plus what the Python layer needs: the list of exceptions
 * raised in callbacks since the last step, and interned method names. */
typedef struct pyweft_loop pyweft_loop;

/* Implemented by the SWIG module (bindings/weft.i): wraps a handle as the
 * module's pointer object of C type `type` ("weft_spark *"). */
PyObject *weft__py_wrap_ptr(void *ptr, const char *type);
/* The reverse: the handle of a pointer object of C type `type`, or NULL
 * with TypeError set. */
void *weft__py_unwrap_ptr(PyObject *obj, const char *type);

/* Stores the pending Python exception on the loop, for pyweft_loop_run_once()
 * to raise (for the callbacks of pyobs.c). */
void weft__py_store(pyweft_loop *pl);

/* A new loop; NULL with MemoryError/OSError set on failure. */
pyweft_loop *pyweft_loop_new(void);
/* The weft loop underneath (for the plain weft_* calls). */
weft_loop *pyweft_loop_get(pyweft_loop *pl);
int pyweft_loop_fd(pyweft_loop *pl);
int pyweft_loop_timeout(pyweft_loop *pl);
/* One non-blocking step with the GIL released. Returns the int of
 * weft_loop_run_once(); raises the first exception stored by a callback
 * during the step (an ExceptionGroup when there were several). */
PyObject *pyweft_loop_run_once(pyweft_loop *pl);
/* Closes and frees the loop; WEFT_ESTATE (nothing freed) while handles live. */
int pyweft_loop_close(pyweft_loop *pl);

/* The loop's log (weft_loop_set_log; pyobs.c): records up to `level`
 * (WEFT_LOG_OFF..WEFT_LOG_DEBUG) go to fn(level, event, message, origin,
 * spark, kind), origin 1 for a server's record, 2 for a client's, 0 else;
 * spark and kind are str or None; the message is decoded as UTF-8 with
 * backslashreplace (it may quote bytes from the network). An exception fn
 * raises is stored (raised after the step). A record that fn itself causes
 * (a write from a logging handler that fails, …) is not delivered: no
 * recursion. fn None or level WEFT_LOG_OFF turns it off. Returns the weft
 * code (WEFT_EINVAL: a level out of range, or not callable). */
int pyweft_loop_set_log(pyweft_loop *pl, int level, PyObject *fn);
/* weft_server_metrics as a dict of the struct's field names to ints; NULL
 * with ValueError set when the core refuses. */
PyObject *pyweft_server_metrics(weft_server *s);
/* weft_server_metrics_text as a str. */
PyObject *pyweft_server_metrics_text(weft_server *s);

/* Values. */
PyObject *pyweft_value_to_py(const weft_value *v);
/* Converts; NULL with TypeError/OverflowError/ValueError set. */
weft_value *pyweft_value_from_py(PyObject *obj);
/* Encodes obj with a parser into bytes; raises on bad values. The weft code
 * of a failed encode is raised as pyweft's RuntimeError carrying the code. */
PyObject *pyweft_encode(const char *parser, PyObject *obj);
PyObject *pyweft_decode(const char *parser, PyObject *data);
/* (code, name, message) for every WEFT_E* code. */
PyObject *pyweft_error_codes(void);

/* Server: `target` receives _on_connection(spark_ptr) -> spark object (kept
 * as the spark's user data), then _on_connected(spark object), _on_error(spark or None, code, kind,
 * message), _on_close(); spark objects receive _on_data(msg), _on_drain(), _on_disconnection(). The
 * target is released after the close event. */
int pyweft_server_set_target(weft_server *s, pyweft_loop *pl, PyObject *target);
/* Authorization: fn(auth_ptr) is called for every upgrade; the Python side
 * answers with weft_auth_allow/deny. An exception denies with 500. */
int pyweft_server_set_authorize(weft_server *s, pyweft_loop *pl, PyObject *fn);
/* Spark ids from fn() -> str (weft_server_set_id_generator): anything else,
 * an empty or too long id, or an exception (stored) falls back to the
 * default id. The core releases fn with the server. */
int pyweft_server_set_id_generator(weft_server *s, pyweft_loop *pl, PyObject *fn);
/* The plugin "python" of transforms (one per server; the Python layer
 * chains its plugins inside): incoming/outgoing are callables (or None)
 * fn(spark_object, msg) returning the message (the same object passes it on,
 * another replaces it) or `drop` (the message is swallowed). An exception
 * drops the message (error event of kind "transform") and is stored.
 * `incoming_types`: the weft_plugin_ops field, the union of what the
 * chained transforms look at (0: every type). */
int pyweft_server_use(weft_server *s, pyweft_loop *pl, PyObject *incoming, PyObject *outgoing,
                      PyObject *drop, unsigned int incoming_types);
/* The same on a client (weft_client_use; before it opens): the callables
 * get None as their first argument. */
int pyweft_client_use(weft_client *c, pyweft_loop *pl, PyObject *incoming, PyObject *outgoing,
                      PyObject *drop, unsigned int incoming_types);

/* Writes: raise TypeError/OverflowError for values that cannot convert,
 * else return the weft code. */
PyObject *pyweft_spark_write(weft_spark *spark, PyObject *obj);
PyObject *pyweft_spark_end(weft_spark *spark, PyObject *obj, int flags);
PyObject *pyweft_server_write(weft_server *s, PyObject *obj);
PyObject *pyweft_client_write(weft_client *c, PyObject *obj);
PyObject *pyweft_client_end(weft_client *c, PyObject *obj);
/* Headers and query of a spark as dicts. */
PyObject *pyweft_spark_headers(weft_spark *spark);
PyObject *pyweft_spark_query(weft_spark *spark);

/* Client: `target` receives _on_data(msg) and _on_event(name, *args) for
 * every other event; released after the destroy event. */
int pyweft_client_set_target(weft_client *c, pyweft_loop *pl, PyObject *target);

/* Extensions (include/weft/ext.h). A pyweft_ext belongs to its server or
 * client (freed with it, by the plugin "python.ext"); the Python layer never
 * uses it after the close (server) or destroy (client) event.
 *
 * The target receives _on_emit(spark or None, name, args list, reply or
 * None), _on_ext_error(spark or None, code, kind, message), _on_channel(spark
 * or None, channel_ptr) -> channel object (None refuses), and on servers
 * _rooms_policy(spark, room, join) -> 0 or a negative WEFT_E* code (an
 * exception refuses with WEFT_EUNAUTHORIZED and is stored). `window` 0
 * keeps the channels' default. Attach before listen/open. */
typedef struct pyweft_ext pyweft_ext;
int pyweft_ext_server(weft_server *s, pyweft_loop *pl, PyObject *target, int emitter, int rooms,
                      int channels, uint32_t window, pyweft_ext **out);
int pyweft_ext_client(weft_client *c, pyweft_loop *pl, PyObject *target, int emitter, int channels,
                      uint32_t window, pyweft_ext **out);
/* The extension handles (NULL when not attached). */
weft_emitter *pyweft_ext_emitter(pyweft_ext *x);
weft_rooms *pyweft_ext_rooms(pyweft_ext *x);
/* Turns the client rooms policy (target._rooms_policy) on or off. */
int pyweft_ext_set_policy(pyweft_ext *x, int on);

/* A reply is a capsule: answered at most once (later calls return
 * WEFT_ESTATE); collected unanswered, it is dropped (weft_reply_drop: the
 * sender sees WEFT_REPLY_DROPPED, "no answer", as from every host).
 * `resolve`: 1 resolves with value, 0 rejects with it, -1 drops (value
 * unused). A value that cannot convert raises and leaves the reply
 * unanswered. */
PyObject *pyweft_reply_answer(PyObject *reply, int resolve, PyObject *value);
/* Resolves with value and a callback (weft_reply_resolve_cb): fn(status,
 * value[, reply]) runs once when the peer calls it back (the reply when
 * that answer carries a callback again), or with WEFT_ETIMEDOUT /
 * WEFT_ECLOSED. Returns the core's code (fn never runs unless 0). An
 * emit's fn(status, value, reply) gets the reply so too. */
PyObject *pyweft_reply_answer_cb(PyObject *reply, PyObject *value, PyObject *fn,
                                 uint32_t timeout_ms);
/* 1 while the reply is unanswered. */
int pyweft_reply_pending(PyObject *reply);

/* Emits `event` with `args` (list/tuple or None); with fn, fn(status,
 * value) runs once with the outcome (never from inside this call and never
 * when this returns an error). `to` is the spark on servers, NULL on
 * clients. Returns the weft code. */
PyObject *pyweft_emit(pyweft_ext *x, weft_spark *to, const char *event, PyObject *args,
                      uint32_t timeout_ms, PyObject *fn);
PyObject *pyweft_emit_broadcast(pyweft_ext *x, const char *event, PyObject *args);
/* A client's weft::join (join=1), weft::leave (0) or weft::leave_all (-1,
 * room ignored) request; fn as for emit. */
PyObject *pyweft_emit_membership(pyweft_ext *x, const char *room, int join, PyObject *fn);
/* weft_server_presence: fn(status, [spark ids]) runs once (never from
 * inside this call, never when this returns an error). Returns the code. */
PyObject *pyweft_presence(pyweft_ext *x, weft_server *s, const char *room, PyObject *fn);
/* weft_server_send (event NULL: payload is the message) or
 * weft_server_send_event (payload is the argument list): rooms, ids and
 * except are lists of str or None (weft/options.h's weft_recipients; no
 * rooms and no ids: every open spark). Returns the sparks reached or the
 * weft code. */
PyObject *pyweft_server_send(weft_server *s, PyObject *rooms, PyObject *ids, PyObject *except,
                             const char *event, PyObject *payload);
/* Opens (or finds) a channel and binds obj (_on_data(msg), _on_drain(),
 * _on_end(); released after the end event): (code, channel_ptr or None). */
PyObject *pyweft_channel_open(pyweft_ext *x, weft_spark *spark, const char *name, PyObject *obj);
PyObject *pyweft_channel_write(weft_channel *ch, PyObject *obj);

/* Streams (weft_streams_*, weft_ostream_*; pystreams.c). Turned on for a
 * server before it listens or a client before it opens, with x's emitter:
 * a stream a peer opens calls x's target
 * _on_stream(spark | None, stream_ptr, event, info, reply | None) -> obj |
 * None (None: refused, its chunks dropped); then obj._on_stream_data(bytes)
 * and obj._on_stream_end(aborted). */
int pyweft_streams_server(weft_server *s, pyweft_ext *x);
int pyweft_streams_client(weft_client *c, pyweft_ext *x);
/* A stream this side opens: from a spark's server (spark) or a client (c,
 * spark NULL), with info (None: null), target (None, or {"sockets" |
 * "rooms": [str]} or {"broadcast": True}: a client's routed stream), ack
 * (None, or fn(status, value)); obj._on_drain() runs after a write ran out
 * of credit, once there is some again. Returns (rc, handle | None); the
 * handle is freed by pyweft_ostream_end. */
typedef struct pyweft_ostream pyweft_ostream;
PyObject *pyweft_ostream_open(pyweft_ext *x, weft_spark *spark, weft_client *c, const char *event,
                              PyObject *info, PyObject *target, PyObject *ack, PyObject *obj);
/* write: 0, 1 (the window is used up), WEFT_ENOBUFS (no credit: nothing
 * sent) or an error; end: sends the end and frees the handle. */
PyObject *pyweft_ostream_write(pyweft_ostream *o, PyObject *data);
int pyweft_ostream_end(pyweft_ostream *o);
size_t pyweft_ostream_pending(pyweft_ostream *o);

/* Routes clients ask for: the server's policy target._route_policy(spark,
 * {"event", "args", "broadcast", "rooms", "sockets", "with_sender"}) ->
 * a bool, or a dict setting "broadcast" / "with_sender" (on: 1; 0 serves
 * every route); and a client's request (rooms, ids: lists of str). */
int pyweft_route_policy(pyweft_ext *x, int on);
PyObject *pyweft_route(pyweft_ext *x, const char *event, PyObject *args, int broadcast,
                       PyObject *rooms, PyObject *ids, int with_sender);

#endif /* PYWEFT_H */
