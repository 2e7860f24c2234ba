/* pyweft: the extensions (emitter, rooms, channels) for the Python module. */
#include "pyint.h"
#include "weft/adapter.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Extensions: emitter, rooms, channels (include/weft/ext.h)              */
/* ---------------------------------------------------------------------- */

/* One per server or client with extensions: the loop, the Python target
 * and the extension handles. Freed by the plugin "python.ext"'s destroy,
 * with the server or client (after every extension callback). */
struct pyweft_ext {
  pyweft_loop *pl;
  PyObject *target;
  weft_emitter *em;
  weft_rooms *rooms;
  weft_channels *chs;
  int policy;
};

static void weft__py_ext_free(void *user) {
  pyweft_ext *x = user;
  if (!x) return;
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(x->target);
  PyGILState_Release(g);
  free(x);
}

static const weft_plugin_ops weft__py_ext_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = "python.ext",
    .destroy = weft__py_ext_free,
};

/* The Python object of a spark (borrowed), or None. */
PyObject *weft__py_spark_obj(weft_spark *spark) {
  PyObject *obj = spark ? weft_spark_get_user(spark) : NULL;
  return obj ? obj : Py_None;
}

/* Replies: a capsule over a small box, so a reply collected unanswered is
 * rejected (and freed) by the capsule's destructor. */
typedef struct weft__py_reply_box {
  weft_reply *reply;
  pyweft_loop *pl; /* for the callbacks an answer carries */
} weft__py_reply_box;

#define WEFT__PY_REPLY "weft.reply"

static void weft__py_reply_del(PyObject *cap) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) {
    PyErr_Clear();
    return;
  }
  if (b->reply) weft_reply_drop(b->reply);
  free(b);
}

PyObject *pyweft_reply_answer(PyObject *cap, int resolve, PyObject *value) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) return NULL;
  if (!b->reply) return PyLong_FromLong(WEFT_ESTATE); /* answered already */
  if (resolve < 0) {
    weft_reply *r = b->reply;
    b->reply = NULL;
    return PyLong_FromLong(weft_reply_drop(r));
  }
  weft_value *v = NULL;
  if (value && value != Py_None) {
    v = pyweft_value_from_py(value);
    if (!v) return NULL; /* unanswered: the caller may answer again */
  }
  weft_reply *r = b->reply;
  b->reply = NULL;
  int rc = resolve ? weft_reply_resolve(r, v) : weft_reply_reject(r, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

/* A capsule over `reply` (now the capsule's), or NULL (then the reply is
 * dropped: answered and freed). */
static PyObject *weft__py_reply_cap(weft_reply *reply, pyweft_loop *pl) {
  weft__py_reply_box *b = malloc(sizeof(*b));
  PyObject *cap = b ? PyCapsule_New(b, WEFT__PY_REPLY, weft__py_reply_del) : NULL;
  if (!cap) {
    free(b);
    weft_reply_drop(reply);
    return NULL;
  }
  b->reply = reply;
  b->pl = pl;
  return cap;
}

PyObject *pyweft_reply_answer_cb(PyObject *cap, PyObject *value, PyObject *fn,
                                 uint32_t timeout_ms) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) return NULL;
  if (!b->reply) return PyLong_FromLong(WEFT_ESTATE); /* answered already */
  if (!fn || !PyCallable_Check(fn)) {
    PyErr_SetString(PyExc_TypeError, "the callback must be callable");
    return NULL;
  }
  weft_value *v = NULL;
  if (value && value != Py_None) {
    v = pyweft_value_from_py(value);
    if (!v) return NULL; /* unanswered: the caller may answer again */
  }
  weft__py_reg *r = weft__py_reg_new(b->pl, fn);
  if (!r) {
    weft_value_free(v);
    return PyErr_NoMemory();
  }
  weft_reply *reply = b->reply;
  b->reply = NULL;
  int rc = weft_reply_resolve_cb(reply, v, timeout_ms, weft__py_on_ack, r);
  if (rc) weft__py_reg_free(r); /* not sent: fn never runs */
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

int pyweft_reply_pending(PyObject *cap) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) {
    PyErr_Clear();
    return 0;
  }
  return b->reply != NULL;
}

PyObject *weft__py_reply_capsule(weft_reply *r, pyweft_loop *pl) {
  if (!r) {
    Py_INCREF(Py_None);
    return Py_None;
  }
  return weft__py_reply_cap(r, pl); /* NULL: never lost, answered and freed */
}

pyweft_loop *weft__py_ext_loop(pyweft_ext *x) { return x->pl; }
PyObject *weft__py_ext_target(pyweft_ext *x) { return x->target; }

static void weft__py_on_event(const weft_event *ev, void *user) {
  pyweft_ext *x = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *args = pyweft_value_to_py(ev->args);
  PyObject *cap = weft__py_reply_capsule(ev->reply, x->pl);
  PyObject *res = NULL;
  if (args && cap)
    res = PyObject_CallMethod(x->target, "_on_emit", "OsOO", weft__py_spark_obj(ev->spark),
                              ev->name, args, cap);
  if (!res) weft__py_store(x->pl);
  Py_XDECREF(res);
  Py_XDECREF(args);
  Py_XDECREF(cap);
  PyGILState_Release(g);
}

static void weft__py_ext_error(pyweft_ext *x, weft_spark *spark, const weft_error_info *err) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res =
      PyObject_CallMethod(x->target, "_on_ext_error", "Oiss", weft__py_spark_obj(spark), err->code,
                          err->kind ? err->kind : "", err->message ? err->message : "");
  if (!res) weft__py_store(x->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
}

static void weft__py_em_error(weft_emitter *em, weft_spark *spark, const weft_error_info *err,
                              void *user) {
  (void)em;
  weft__py_ext_error(user, spark, err);
}

static void weft__py_ch_error(weft_channels *chs, weft_spark *spark, const weft_error_info *err,
                              void *user) {
  (void)chs;
  weft__py_ext_error(user, spark, err);
}

static int weft__py_policy(weft_spark *spark, const char *room, int join, void *user) {
  pyweft_ext *x = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res =
      PyObject_CallMethod(x->target, "_rooms_policy", "Osi", weft__py_spark_obj(spark), room, join);
  int rc = WEFT_EUNAUTHORIZED;
  if (!res) {
    weft__py_store(x->pl);
  } else if (PyLong_Check(res)) {
    rc = (int)PyLong_AsLong(res);
    if (rc > 0) rc = 0;
  }
  Py_XDECREF(res);
  PyGILState_Release(g);
  return rc;
}

/* Channels: each carries a registration of its Python object, released
 * after its end event (the channel is freed when that event returns). */
static void weft__py_ch_data(weft_channel *ch, const weft_value *msg, void *user) {
  (void)ch;
  weft__py_reg *r = user;
  weft__py_deliver(r->pl, r->target, msg);
}

static void weft__py_ch_drain(weft_channel *ch, void *user) {
  (void)ch;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  weft__py_call(r->pl, r->target, r->pl->n_drain, NULL, NULL);
  PyGILState_Release(g);
}

static void weft__py_ch_end(weft_channel *ch, void *user) {
  (void)ch;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *res = PyObject_CallMethod(r->target, "_on_end", NULL);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
  weft__py_reg_free(r);
}

static int weft__py_ch_bind(pyweft_loop *pl, weft_channel *ch, PyObject *obj) {
  weft__py_reg *r = weft__py_reg_new(pl, obj);
  if (!r) return WEFT_ENOMEM;
  weft_channel_events ev = {.size = sizeof(ev),
                            .data = weft__py_ch_data,
                            .end = weft__py_ch_end,
                            .drain = weft__py_ch_drain};
  int rc = weft_channel_set_events(ch, &ev, r, NULL);
  if (rc != 0) weft__py_reg_free(r);
  return rc;
}

static void weft__py_ch_open(weft_channel *ch, void *user) {
  pyweft_ext *x = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *ptr = weft__py_wrap_ptr(ch, "weft_channel *");
  PyObject *obj = ptr ? PyObject_CallMethod(x->target, "_on_channel", "OO",
                                            weft__py_spark_obj(weft_channel_spark(ch)), ptr)
                      : NULL;
  Py_XDECREF(ptr);
  if (!obj) weft__py_store(x->pl);
  if (!obj || obj == Py_None || weft__py_ch_bind(x->pl, ch, obj) != 0)
    weft_channel_end(ch); /* refused */
  Py_XDECREF(obj);
  PyGILState_Release(g);
}

static pyweft_ext *weft__py_ext_new(pyweft_loop *pl, PyObject *target) {
  pyweft_ext *x = calloc(1, sizeof(*x));
  if (!x) return NULL;
  x->pl = pl;
  Py_INCREF(target);
  x->target = target;
  return x;
}

/* Wires the extensions' callbacks to the target. */
static int weft__py_ext_wire(pyweft_ext *x, uint32_t window) {
  int rc = 0;
  if (x->em) {
    if (!rc) rc = weft_emitter_on(x->em, "*", weft__py_on_event, x, NULL);
    if (!rc) rc = weft_emitter_on_error(x->em, weft__py_em_error, x, NULL);
  }
  if (x->chs) {
    if (!rc) rc = weft_channels_on_open(x->chs, weft__py_ch_open, x, NULL);
    if (!rc) rc = weft_channels_on_error(x->chs, weft__py_ch_error, x, NULL);
    if (!rc && window) rc = weft_channels_set_window(x->chs, window);
  }
  return rc;
}

int pyweft_ext_server(weft_server *s, pyweft_loop *pl, PyObject *target, int emitter, int rooms,
                      int channels, uint32_t window, pyweft_ext **out) {
  if (!s || !pl || !target || !out) return WEFT_EINVAL;
  pyweft_ext *x = weft__py_ext_new(pl, target);
  if (!x) return WEFT_ENOMEM;
  /* The holder first: from here the server frees x. */
  int rc = weft_server_use(s, &weft__py_ext_ops, x);
  if (rc != 0) return rc; /* destroy ran */
  if (!rc && emitter) rc = weft_emitter_server(s, &x->em);
  if (!rc && rooms) rc = weft_rooms_server(s, &x->rooms);
  if (!rc && channels) rc = weft_channels_server(s, &x->chs);
  if (!rc) rc = weft__py_ext_wire(x, window);
  *out = rc ? NULL : x;
  return rc;
}

int pyweft_ext_client(weft_client *c, pyweft_loop *pl, PyObject *target, int emitter, int channels,
                      uint32_t window, pyweft_ext **out) {
  if (!c || !pl || !target || !out) return WEFT_EINVAL;
  pyweft_ext *x = weft__py_ext_new(pl, target);
  if (!x) return WEFT_ENOMEM;
  int rc = weft_client_use(c, &weft__py_ext_ops, x);
  if (rc != 0) return rc;
  if (!rc && emitter) rc = weft_emitter_client(c, &x->em);
  if (!rc && channels) rc = weft_channels_client(c, &x->chs);
  if (!rc) rc = weft__py_ext_wire(x, window);
  *out = rc ? NULL : x;
  return rc;
}

weft_emitter *pyweft_ext_emitter(pyweft_ext *x) { return x ? x->em : NULL; }
weft_rooms *pyweft_ext_rooms(pyweft_ext *x) { return x ? x->rooms : NULL; }

int pyweft_ext_set_policy(pyweft_ext *x, int on) {
  if (!x || !x->rooms) return WEFT_EINVAL;
  return weft_rooms_set_client_policy(x->rooms, on ? weft__py_policy : NULL, on ? x : NULL, NULL);
}

/* Acks: the registration holds the Python callable fn(status, value), or
 * fn(status, value, reply) when the answer carries a callback. */
void weft__py_on_ack(const weft_ack *ack, void *user) {
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *v = ack->value ? pyweft_value_to_py(ack->value) : (Py_INCREF(Py_None), Py_None);
  PyObject *cap = NULL;
  if (ack->reply && weft_reply_keep(ack->reply) == 0) cap = weft__py_reply_cap(ack->reply, r->pl);
  PyObject *res = !v    ? NULL
                  : cap ? PyObject_CallFunction(r->target, "iOO", ack->status, v, cap)
                        : PyObject_CallFunction(r->target, "iO", ack->status, v);
  Py_XDECREF(cap);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  Py_XDECREF(v);
  PyGILState_Release(g);
  weft__py_reg_free(r);
}

/* args: a list or tuple (or None). */
static int weft__py_args(PyObject *args, weft_value **out) {
  *out = NULL;
  if (!args || args == Py_None) return 0;
  if (!PyList_Check(args) && !PyTuple_Check(args)) {
    PyErr_SetString(PyExc_TypeError, "event arguments must be a list or tuple");
    return -1;
  }
  *out = pyweft_value_from_py(args);
  return *out ? 0 : -1;
}

PyObject *pyweft_emit(pyweft_ext *x, weft_spark *to, const char *event, PyObject *args,
                      uint32_t timeout_ms, PyObject *fn) {
  if (!x || !x->em) return PyLong_FromLong(WEFT_EINVAL);
  weft_value *v;
  if (weft__py_args(args, &v) != 0) return NULL;
  weft__py_reg *r = NULL;
  if (fn && fn != Py_None) {
    r = weft__py_reg_new(x->pl, fn);
    if (!r) {
      weft_value_free(v);
      return PyErr_NoMemory();
    }
  }
  int rc = weft_emitter_emit(x->em, to, event, v, timeout_ms, r ? weft__py_on_ack : NULL, r);
  weft_value_free(v);
  if (rc < 0 && r) weft__py_reg_free(r);
  return PyLong_FromLong(rc);
}

PyObject *pyweft_emit_broadcast(pyweft_ext *x, const char *event, PyObject *args) {
  if (!x || !x->em) return PyLong_FromLong(WEFT_EINVAL);
  weft_value *v;
  if (weft__py_args(args, &v) != 0) return NULL;
  int rc = weft_emitter_broadcast(x->em, event, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

PyObject *pyweft_emit_membership(pyweft_ext *x, const char *room, int join, PyObject *fn) {
  if (!x || !x->em || !fn) return PyLong_FromLong(WEFT_EINVAL);
  weft__py_reg *r = weft__py_reg_new(x->pl, fn);
  if (!r) return PyErr_NoMemory();
  int rc = join < 0 ? weft_emitter_leave_all(x->em, weft__py_on_ack, r)
           : join   ? weft_emitter_join(x->em, room, weft__py_on_ack, r)
                    : weft_emitter_leave(x->em, room, weft__py_on_ack, r);
  if (rc < 0) weft__py_reg_free(r);
  return PyLong_FromLong(rc);
}

/* Presence (weft/adapter.h): fn(status, [ids]) once, from the loop. */
static void weft__py_on_presence(weft_server *s, int status, const char *const *ids, size_t n,
                                 void *user) {
  weft__py_reg *r = user;
  (void)s;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *list = PyList_New((Py_ssize_t)n), *res = NULL;
  for (size_t i = 0; list && i < n; i++) {
    PyObject *id = PyUnicode_FromString(ids[i]);
    if (!id) {
      Py_CLEAR(list);
      break;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, id);
  }
  if (list) res = PyObject_CallFunction(r->target, "iO", status, list);
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  Py_XDECREF(list);
  PyGILState_Release(g);
  weft__py_reg_free(r);
}

PyObject *pyweft_presence(pyweft_ext *x, weft_server *s, const char *room, PyObject *fn) {
  if (!x || !s || !room || !fn) return PyLong_FromLong(WEFT_EINVAL);
  weft__py_reg *r = weft__py_reg_new(x->pl, fn);
  if (!r) return PyErr_NoMemory();
  int rc = weft_server_presence(s, room, weft__py_on_presence, r);
  if (rc < 0) weft__py_reg_free(r);
  return PyLong_FromLong(rc);
}

/* A list of str as a C array of borrowed UTF-8 pointers (valid while the
 * list's strings live). */
static int weft__py_strv(PyObject *list, const char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!list || list == Py_None) return 0;
  if (!PyList_Check(list)) {
    PyErr_SetString(PyExc_TypeError, "expected a list of str");
    return -1;
  }
  Py_ssize_t len = PyList_GET_SIZE(list);
  if (len == 0) return 0;
  const char **v = calloc((size_t)len, sizeof(*v));
  if (!v) {
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < len; i++) {
    PyObject *s = PyList_GET_ITEM(list, i);
    v[i] = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
    if (!v[i]) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "expected a list of str");
      free(v);
      return -1;
    }
  }
  *out = v;
  *n = (size_t)len;
  return 0;
}

PyObject *pyweft_server_send(weft_server *s, PyObject *rooms, PyObject *ids, PyObject *except,
                             const char *event, PyObject *payload) {
  weft_recipients to = {.size = sizeof(to)};
  const char **rv = NULL, **iv = NULL, **ev = NULL;
  weft_value *v = NULL;
  PyObject *res = NULL;
  if (weft__py_strv(rooms, &rv, &to.n_rooms) != 0 || weft__py_strv(ids, &iv, &to.n_ids) != 0 ||
      weft__py_strv(except, &ev, &to.n_except) != 0)
    goto out;
  to.rooms = rv;
  to.ids = iv;
  to.except = ev;
  if (event ? weft__py_args(payload, &v) != 0 : !(v = pyweft_value_from_py(payload))) goto out;
  /* No rooms and no ids: everyone (but `except`), as weft_server_send(NULL). */
  res = PyLong_FromLong(event ? weft_server_send_event(s, &to, event, v)
                              : weft_server_send(s, &to, v));
out:
  weft_value_free(v);
  free(rv);
  free(iv);
  free(ev);
  return res;
}

/* Channels */
PyObject *pyweft_channel_open(pyweft_ext *x, weft_spark *spark, const char *name, PyObject *obj) {
  if (!x || !x->chs || !obj) return Py_BuildValue("(iO)", WEFT_EINVAL, Py_None);
  weft_channel *ch = NULL;
  int rc = weft_channel_open(x->chs, spark, name, &ch);
  if (rc == 0) rc = weft__py_ch_bind(x->pl, ch, obj);
  if (rc != 0) return Py_BuildValue("(iO)", rc, Py_None);
  PyObject *ptr = weft__py_wrap_ptr(ch, "weft_channel *");
  return ptr ? Py_BuildValue("(iN)", rc, ptr) : NULL;
}

PyObject *pyweft_channel_write(weft_channel *ch, PyObject *obj) {
  weft_value *v = pyweft_value_from_py(obj);
  if (!v) return NULL;
  int rc = weft_channel_write(ch, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}
