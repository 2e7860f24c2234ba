/* pyweft: clients for the Python module. */
#include "pyint.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Client                                                                 */
/* ---------------------------------------------------------------------- */

#define WEFT__PY_CLIENT_EVENT(fn, name)                                                            \
  static void fn(weft_client *c, void *user) {                                                     \
    (void)c;                                                                                       \
    weft__py_reg *r = user;                                                                        \
    PyGILState_STATE g = PyGILState_Ensure();                                                      \
    PyObject *res = PyObject_CallMethod(r->target, "_on_event", "s", name);                        \
    if (!res) weft__py_store(r->pl);                                                               \
    Py_XDECREF(res);                                                                               \
    PyGILState_Release(g);                                                                         \
  }
WEFT__PY_CLIENT_EVENT(weft__py_c_open, "open")
WEFT__PY_CLIENT_EVENT(weft__py_c_close, "close")
WEFT__PY_CLIENT_EVENT(weft__py_c_end, "end")
WEFT__PY_CLIENT_EVENT(weft__py_c_timeout, "timeout")
WEFT__PY_CLIENT_EVENT(weft__py_c_online, "online")
WEFT__PY_CLIENT_EVENT(weft__py_c_offline, "offline")
WEFT__PY_CLIENT_EVENT(weft__py_c_destroy, "destroy")
#undef WEFT__PY_CLIENT_EVENT

#define WEFT__PY_CLIENT_RECONNECT(fn, name)                                                        \
  static void fn(weft_client *c, const weft_reconnect_info *info, void *user) {                    \
    (void)c;                                                                                       \
    weft__py_reg *r = user;                                                                        \
    PyGILState_STATE g = PyGILState_Ensure();                                                      \
    PyObject *res = PyObject_CallMethod(r->target, "_on_event", "sIII", name, info->attempt,       \
                                        info->retries, info->delay_ms);                            \
    if (!res) weft__py_store(r->pl);                                                               \
    Py_XDECREF(res);                                                                               \
    PyGILState_Release(g);                                                                         \
  }
WEFT__PY_CLIENT_RECONNECT(weft__py_c_reconnect_scheduled, "reconnect scheduled")
WEFT__PY_CLIENT_RECONNECT(weft__py_c_reconnect, "reconnect")
WEFT__PY_CLIENT_RECONNECT(weft__py_c_reconnected, "reconnected")
WEFT__PY_CLIENT_RECONNECT(weft__py_c_reconnect_failed, "reconnect failed")
WEFT__PY_CLIENT_RECONNECT(weft__py_c_reconnect_timeout, "reconnect timeout")
#undef WEFT__PY_CLIENT_RECONNECT

static void weft__py_c_data(weft_client *c, const weft_value *msg, void *user) {
  (void)c;
  weft__py_reg *r = user;
  weft__py_deliver(r->pl, r->target, msg);
}

static void weft__py_c_error(weft_client *c, const weft_error_info *err, void *user) {
  (void)c;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res = PyObject_CallMethod(r->target, "_on_event", "sissiz", "error", err->code,
                                      err->kind ? err->kind : "", err->message ? err->message : "",
                                      err->status, err->body);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
}

static void weft__py_c_id(weft_client *c, const char *id, void *user) {
  (void)c;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res = PyObject_CallMethod(r->target, "_on_event", "sz", "id", id);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
}

int pyweft_client_set_target(weft_client *c, pyweft_loop *pl, PyObject *target) {
  if (!c || !pl || !target) return WEFT_EINVAL;
  weft__py_reg *r = weft__py_reg_new(pl, target);
  if (!r) return WEFT_ENOMEM;
  weft_client_events ev = {.size = sizeof(ev),
                           .open = weft__py_c_open,
                           .data = weft__py_c_data,
                           .error = weft__py_c_error,
                           .close = weft__py_c_close,
                           .end = weft__py_c_end,
                           .timeout = weft__py_c_timeout,
                           .reconnect_scheduled = weft__py_c_reconnect_scheduled,
                           .reconnect = weft__py_c_reconnect,
                           .reconnected = weft__py_c_reconnected,
                           .reconnect_failed = weft__py_c_reconnect_failed,
                           .online = weft__py_c_online,
                           .offline = weft__py_c_offline,
                           .id = weft__py_c_id,
                           .destroy = weft__py_c_destroy,
                           .reconnect_timeout = weft__py_c_reconnect_timeout};
  int rc = weft_client_set_events(c, &ev, r, weft__py_reg_free);
  if (rc != 0) weft__py_reg_free(r);
  return rc;
}
