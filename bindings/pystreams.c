/* pyweft: binary streams (weft_streams_*, weft_ostream_*) for weft/streams.py. */
#include "pyint.h"

#include <stdlib.h>
#include <string.h>

/* ---- streams a peer opens ---- */

/* Each carries a registration of its Python object, released after its
 * end event (the stream is freed when that event returns). */
static void weft__py_st_data(weft_stream *st, const uint8_t *p, size_t len, void *user) {
  (void)st;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res =
      PyObject_CallMethod(r->target, "_on_stream_data", "y#", (const char *)p, (Py_ssize_t)len);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
}

static void weft__py_st_end(weft_stream *st, int aborted, void *user) {
  (void)st;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res = PyObject_CallMethod(r->target, "_on_stream_end", "i", aborted);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
  weft__py_reg_free(r);
}

static void weft__py_st_open(weft_stream *st, const char *event, const weft_value *info,
                             weft_reply *reply, void *user) {
  pyweft_ext *x = user;
  pyweft_loop *pl = weft__py_ext_loop(x);
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *cap = weft__py_reply_capsule(reply, pl);
  PyObject *inf = pyweft_value_to_py(info);
  PyObject *ptr = weft__py_wrap_ptr(st, "weft_stream *");
  PyObject *obj = NULL;
  if (cap && inf && ptr)
    obj = PyObject_CallMethod(weft__py_ext_target(x), "_on_stream", "OOsOO",
                              weft__py_spark_obj(weft_stream_spark(st)), ptr, event, inf, cap);
  if (!obj) weft__py_store(pl);
  if (obj && obj != Py_None) {
    weft__py_reg *r = weft__py_reg_new(pl, obj);
    weft_stream_events ev = {sizeof(ev), weft__py_st_data, weft__py_st_end};
    if (r && weft_stream_set_events(st, &ev, r) != 0) weft__py_reg_free(r);
  }
  Py_XDECREF(obj);
  Py_XDECREF(ptr);
  Py_XDECREF(inf);
  Py_XDECREF(cap);
  PyGILState_Release(g);
}

int pyweft_streams_server(weft_server *s, pyweft_ext *x) {
  if (!s || !x) return WEFT_EINVAL;
  return weft_streams_server(s, weft__py_st_open, x, NULL);
}

int pyweft_streams_client(weft_client *c, pyweft_ext *x) {
  if (!c || !x) return WEFT_EINVAL;
  return weft_streams_client(c, weft__py_st_open, x, NULL);
}

/* ---- streams this side opens ---- */

struct pyweft_ostream {
  weft_ostream *os;
  weft__py_reg *r; /* the Python object, for its drain */
};

static void weft__py_os_drain(weft_ostream *os, void *user) {
  (void)os;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res = PyObject_CallMethod(r->target, "_on_drain", NULL);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
}

/* The strings of target[key] (a list), borrowed; 0 when absent. */
static size_t weft__py_names(PyObject *target, const char *key, const char **out, size_t cap) {
  PyObject *list = PyDict_GetItemString(target, key);
  size_t n = 0;
  if (!list || !PyList_Check(list)) return 0;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list) && n < cap; i++) {
    const char *s = PyUnicode_Check(PyList_GET_ITEM(list, i))
                        ? PyUnicode_AsUTF8(PyList_GET_ITEM(list, i))
                        : NULL;
    if (s) out[n++] = s;
  }
  return n;
}

PyObject *pyweft_ostream_open(pyweft_ext *x, weft_spark *spark, weft_client *c, const char *event,
                              PyObject *info, PyObject *target, PyObject *ack, PyObject *obj) {
  if (!x || !obj || (!spark && !c)) return Py_BuildValue("(iO)", WEFT_EINVAL, Py_None);
  if (target && target != Py_None && !PyDict_Check(target)) {
    PyErr_SetString(PyExc_TypeError, "a stream's target must be a dict");
    return NULL;
  }
  weft_value *v = NULL;
  if (info && info != Py_None && !(v = pyweft_value_from_py(info))) return NULL;
  const char *list[64];
  weft_stream_to to = {sizeof(to), 0, list, 0, list, 0};
  int routed = target && target != Py_None;
  if (routed) {
    to.n_rooms = weft__py_names(target, "rooms", list, 64);
    to.n_ids = to.n_rooms ? 0 : weft__py_names(target, "sockets", list, 64);
    to.broadcast = PyDict_GetItemString(target, "broadcast") == Py_True;
  }
  weft__py_reg *k = ack && ack != Py_None ? weft__py_reg_new(weft__py_ext_loop(x), ack) : NULL;
  struct pyweft_ostream *o = calloc(1, sizeof(*o));
  weft__py_reg *r = o ? weft__py_reg_new(weft__py_ext_loop(x), obj) : NULL;
  int rc = r ? 0 : WEFT_ENOMEM;
  if (rc == 0)
    rc = spark ? weft_ostream_open(spark, event, v, k ? weft__py_on_ack : NULL, k, &o->os)
               : weft_ostream_open_client(c, event, v, routed ? &to : NULL,
                                          k ? weft__py_on_ack : NULL, k, &o->os);
  weft_value_free(v);
  if (rc < 0) {
    if (k) weft__py_reg_free(k);
    if (r) weft__py_reg_free(r);
    free(o);
    return Py_BuildValue("(iO)", rc, Py_None);
  }
  o->r = r;
  weft_ostream_set_drain(o->os, weft__py_os_drain, r);
  PyObject *ptr = weft__py_wrap_ptr(o, "pyweft_ostream *");
  return ptr ? Py_BuildValue("(iN)", rc, ptr) : NULL;
}

PyObject *pyweft_ostream_write(pyweft_ostream *o, PyObject *data) {
  Py_buffer b;
  if (!o || !o->os) return PyLong_FromLong(WEFT_ECLOSED);
  if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) != 0) return NULL;
  int rc = weft_ostream_write(o->os, b.buf, (size_t)b.len);
  PyBuffer_Release(&b);
  return PyLong_FromLong(rc);
}

int pyweft_ostream_end(pyweft_ostream *o) {
  if (!o) return WEFT_EINVAL;
  int rc = weft_ostream_end(o->os);
  weft__py_reg_free(o->r);
  free(o);
  return rc;
}

size_t pyweft_ostream_pending(pyweft_ostream *o) { return o ? weft_ostream_pending(o->os) : 0; }

/* ---- routes clients ask for (weft_emitter_set_route_policy) ---- */

/* A list of str from C strings (a new reference, or NULL). */
static PyObject *weft__py_str_list(const char *const *v, size_t n) {
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *s = PyUnicode_FromString(v[i]);
    if (!s) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, s);
  }
  return l;
}

/* target._route_policy(spark, route dict) -> a bool (serve or refuse) or
 * a dict that may set "broadcast" and "with_sender". */
static int weft__py_route_policy(weft_spark *spark, weft_route *r, void *user) {
  pyweft_ext *x = user;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = WEFT_EUNAUTHORIZED;
  PyObject *args = r->args ? pyweft_value_to_py(r->args) : PyList_New(0);
  PyObject *rooms = weft__py_str_list(r->rooms, r->n_rooms);
  PyObject *ids = weft__py_str_list(r->ids, r->n_ids);
  PyObject *d =
      args && rooms && ids
          ? Py_BuildValue("{s:s,s:O,s:O,s:O,s:O,s:O}", "event", r->event, "args", args, "broadcast",
                          r->broadcast ? Py_True : Py_False, "rooms", rooms, "sockets", ids,
                          "with_sender", r->with_sender ? Py_True : Py_False)
          : NULL;
  PyObject *res = d ? PyObject_CallMethod(weft__py_ext_target(x), "_route_policy", "OO",
                                          weft__py_spark_obj(spark), d)
                    : NULL;
  if (!res) {
    weft__py_store(weft__py_ext_loop(x));
  } else if (PyDict_Check(res)) {
    PyObject *b = PyDict_GetItemString(res, "broadcast");
    PyObject *w = PyDict_GetItemString(res, "with_sender");
    if (b) r->broadcast = PyObject_IsTrue(b) == 1;
    if (w) r->with_sender = PyObject_IsTrue(w) == 1;
    rc = 0;
  } else {
    rc = PyObject_IsTrue(res) == 1 ? 0 : WEFT_EUNAUTHORIZED;
  }
  Py_XDECREF(res);
  Py_XDECREF(d);
  Py_XDECREF(ids);
  Py_XDECREF(rooms);
  Py_XDECREF(args);
  PyGILState_Release(g);
  return rc;
}

int pyweft_route_policy(pyweft_ext *x, int on) {
  weft_emitter *em = x ? pyweft_ext_emitter(x) : NULL;
  if (!em) return WEFT_EINVAL;
  return weft_emitter_set_route_policy(em, on ? weft__py_route_policy : NULL, on ? x : NULL, NULL);
}

PyObject *pyweft_route(pyweft_ext *x, const char *event, PyObject *args, int broadcast,
                       PyObject *rooms, PyObject *ids, int with_sender) {
  weft_emitter *em = x ? pyweft_ext_emitter(x) : NULL;
  if (!em || !PyList_Check(rooms) || !PyList_Check(ids)) return PyLong_FromLong(WEFT_EINVAL);
  weft_value *v = args && args != Py_None ? pyweft_value_from_py(args) : NULL;
  if (args && args != Py_None && !v) return NULL;
  const char *rv[64], *iv[64];
  PyObject *rd = PyDict_New(), *id = PyDict_New();
  weft_route r = {sizeof(r), event, v, broadcast, rv, 0, iv, 0, with_sender};
  if (rd && id) {
    PyDict_SetItemString(rd, "rooms", rooms);
    PyDict_SetItemString(id, "sockets", ids);
    r.n_rooms = weft__py_names(rd, "rooms", rv, 64);
    r.n_ids = weft__py_names(id, "sockets", iv, 64);
  }
  int rc = rd && id ? weft_emitter_route(em, &r) : WEFT_ENOMEM;
  Py_XDECREF(rd);
  Py_XDECREF(id);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}
