/*
 * SWIG interface of weft's low-level Python module, `weft.lowlevel`.
 *
 * Handles are SWIG pointer objects. Plain weft_* calls are wrapped as they
 * are (they return weft codes; the Python package maps negative codes to
 * weft.Error subclasses in weft/errors.py). Callbacks, values and the loop
 * step go through the hand-written C layer in pyweft.c (see pyweft.h):
 * SWIG never converts values element by element.
 */
%module(package="weft") lowlevel

%{
#include "pyweft.h"
%}

%include <stdint.i>

/* Handles come back through out-parameters: a tuple (code, handle). */
%typemap(in, numinputs=0) weft_server **out (weft_server *tmp = NULL) { $1 = &tmp; }
%typemap(argout) weft_server **out {
  $result = Py_BuildValue("(NN)", $result, SWIG_NewPointerObj(*$1, $descriptor(weft_server *), 0));
}
%typemap(in, numinputs=0) weft_client **out (weft_client *tmp = NULL) { $1 = &tmp; }
%typemap(argout) weft_client **out {
  $result = Py_BuildValue("(NN)", $result, SWIG_NewPointerObj(*$1, $descriptor(weft_client *), 0));
}

%typemap(in, numinputs=0) pyweft_ext **out (pyweft_ext *tmp = NULL) { $1 = &tmp; }
%typemap(argout) pyweft_ext **out {
  $result = Py_BuildValue("(NN)", $result, SWIG_NewPointerObj(*$1, $descriptor(pyweft_ext *), 0));
}

%wrapper %{
PyObject *weft__py_wrap_ptr(void *ptr, const char *type) {
  swig_type_info *ti = SWIG_TypeQuery(type);
  if (!ti) return PyErr_Format(PyExc_RuntimeError, "weft: no SWIG type %s", type);
  return SWIG_NewPointerObj(ptr, ti, 0);
}
void *weft__py_unwrap_ptr(PyObject *obj, const char *type) {
  swig_type_info *ti = SWIG_TypeQuery(type);
  void *ptr = NULL;
  if (!ti || !SWIG_IsOK(SWIG_ConvertPtr(obj, &ptr, ti, 0)) || !ptr) {
    PyErr_Format(PyExc_TypeError, "weft: expected a %s", type);
    return NULL;
  }
  return ptr;
}
%}

%inline %{
/* weft_server_destroy with its options spelled out. */
int pyweft_server_destroy(weft_server *server, int reconnect, uint32_t timeout_ms) {
  weft_destroy_options o = {.size = sizeof(o), .reconnect = reconnect, .timeout_ms = timeout_ms};
  return weft_server_destroy(server, &o);
}
/* The address of a handle, to key dictionaries by. unsigned long long, not
 * uintptr_t: SWIG's stdint.i maps uintptr_t to a 32-bit unsigned int. */
unsigned long long pyweft_addr(void *ptr) { return (unsigned long long)(uintptr_t)ptr; }
%}

%ignore weft__py_wrap_ptr;
%ignore weft__py_unwrap_ptr;
%ignore weft__py_store;
%include "pyweft.h"

/* Errors and versions */
const char *weft_err_name(int code);
const char *weft_strerror(int code);
unsigned weft_version(void);
const char *weft_version_string(void);
int weft_parser_exists(const char *name);
int weft_transformer_exists(const char *name);
const char *weft_transformer_at(size_t i);

/* Server */
typedef struct weft_server weft_server;
typedef struct weft_spark weft_spark;
typedef struct weft_auth weft_auth;
typedef struct weft_client weft_client;
typedef struct weft_loop weft_loop;

int weft_server_new(weft_loop *loop, weft_server **out);
int weft_server_set_transformer(weft_server *server, const char *transformer);
int weft_server_set_parser(weft_server *server, const char *parser);
int weft_server_set_ping_interval(weft_server *server, uint32_t ms);
int weft_server_set_max_length(weft_server *server, size_t bytes);
int weft_server_set_compression(weft_server *server, int on);
int weft_server_set_high_water_mark(weft_server *server, size_t bytes);
int weft_server_set_max_queue(weft_server *server, size_t bytes);
enum { WEFT_QUEUE_CLOSE = 0, WEFT_QUEUE_DROP = 1 };
int weft_server_set_queue_policy(weft_server *server, int policy);
int weft_server_add_origin(weft_server *server, const char *origin);
int weft_server_add_trusted_proxy(weft_server *server, const char *ip);
int weft_server_set_tls(weft_server *server, const char *cert_file, const char *key_file);
int weft_server_listen(weft_server *server, const char *url);
int weft_server_port(const weft_server *server);
const char *weft_server_pathname(const weft_server *server);
const char *weft_server_url(const weft_server *server, size_t i);
int weft_server_set_unix_mode(weft_server *server, unsigned mode);
size_t weft_server_spark_count(const weft_server *server);
int weft_server_set_metrics_path(weft_server *server, const char *path);

/* The loop's log levels (weft_loop_set_log; pyweft_loop_set_log). */
enum { WEFT_LOG_OFF = 0, WEFT_LOG_ERROR, WEFT_LOG_WARN, WEFT_LOG_INFO, WEFT_LOG_DEBUG };

/* Sparks */
const char *weft_spark_id(const weft_spark *spark);
const char *weft_spark_header(const weft_spark *spark, const char *name);
const char *weft_spark_address(const weft_spark *spark);
int weft_spark_port(const weft_spark *spark);
const char *weft_spark_url(const weft_spark *spark);
const char *weft_spark_query(const weft_spark *spark, const char *key);
size_t weft_spark_buffered_amount(const weft_spark *spark);

/* Authorization requests */
const char *weft_auth_header(const weft_auth *req, const char *name);
const char *weft_auth_address(const weft_auth *req);
const char *weft_auth_url(const weft_auth *req);
const char *weft_auth_query(const weft_auth *req, const char *key);
int weft_auth_allow(weft_auth *req);
int weft_auth_deny(weft_auth *req, int status, const char *message);

/* Client */
int weft_client_new(weft_loop *loop, const char *url, weft_client **out);
int weft_client_set_transformer(weft_client *c, const char *transformer);
int weft_client_set_parser(weft_client *c, const char *parser);
int weft_client_set_reconnect(weft_client *c, uint32_t min_ms, uint32_t max_ms, uint32_t retries,
                              double factor);
int weft_client_set_strategy(weft_client *c, const char *strategy);
int weft_client_set_timeout(weft_client *c, uint32_t ms);
int weft_client_set_ping_timeout(weft_client *c, uint32_t ms);
int weft_client_set_max_length(weft_client *c, size_t bytes);
int weft_client_set_queue_limit(weft_client *c, size_t bytes);
int weft_client_set_retry_refused(weft_client *c, int on);
int weft_client_add_header(weft_client *c, const char *name, const char *value);
int weft_client_set_ca_file(weft_client *c, const char *path);
int weft_client_set_verify(weft_client *c, int on);
int weft_client_open(weft_client *c);
size_t weft_client_buffered_amount(const weft_client *c);
int weft_client_id(weft_client *c);
int weft_client_set_online(weft_client *c, int online);
int weft_client_destroy(weft_client *c);
int weft_client_state(const weft_client *c);

/* Batching and extensions (include/weft/ext.h); values, callbacks and
 * lists go through pyweft.c above. */
int weft_server_set_batching(weft_server *server, size_t max_bytes);
int weft_client_set_batching(weft_client *c, size_t max_bytes);
typedef struct weft_emitter weft_emitter;
typedef struct weft_rooms weft_rooms;
typedef struct weft_channel weft_channel;
int weft_emitter_set_timeout(weft_emitter *em, uint32_t ms);
int weft_rooms_join(weft_rooms *rooms, weft_spark *spark, const char *room);
int weft_rooms_leave(weft_rooms *rooms, weft_spark *spark, const char *room);
int weft_rooms_leave_all(weft_rooms *rooms, weft_spark *spark);
int weft_rooms_has(weft_rooms *rooms, weft_spark *spark, const char *room);
int weft_rooms_count(weft_rooms *rooms);
const char *weft_rooms_name_at(weft_rooms *rooms, size_t i);
int weft_rooms_member_count(weft_rooms *rooms, const char *room);
weft_spark *weft_rooms_member_at(weft_rooms *rooms, const char *room, size_t i);
int weft_rooms_of_spark_count(weft_rooms *rooms, weft_spark *spark);
const char *weft_rooms_of_spark_at(weft_rooms *rooms, weft_spark *spark, size_t i);
const char *weft_channel_name(const weft_channel *ch);
int weft_channel_end(weft_channel *ch);
int weft_channel_pause(weft_channel *ch);
int weft_channel_resume(weft_channel *ch);
size_t weft_channel_queued(const weft_channel *ch);
