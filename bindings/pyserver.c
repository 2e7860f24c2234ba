/* pyweft: servers, sparks and transforms (plugins) for the Python module. */
#include "pyint.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Server                                                                 */
/* ---------------------------------------------------------------------- */

static void weft__py_on_connection(weft_spark *spark, void *user) {
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *ptr = weft__py_wrap_ptr(spark, "weft_spark *");
  PyObject *obj =
      ptr ? PyObject_CallMethodObjArgs(r->target, r->pl->n_connection, ptr, NULL) : NULL;
  Py_XDECREF(ptr);
  if (!obj) {
    weft__py_store(r->pl);
    weft_spark_end(spark, NULL, 0); /* Python never got it: end it */
  } else if (weft_spark_set_user(spark, obj, weft__py_decref) != 0) {
    Py_DECREF(obj);
  } else {
    /* Now that the spark carries its object, the application hears of it. */
    PyObject *res = PyObject_CallMethod(r->target, "_on_connected", "O", obj);
    if (!res) weft__py_store(r->pl);
    Py_XDECREF(res);
  }
  PyGILState_Release(g);
}

static void weft__py_on_disconnection(weft_spark *spark, void *user) {
  weft__py_reg *r = user;
  PyObject *obj = weft_spark_get_user(spark);
  if (!obj) return;
  PyGILState_STATE g = PyGILState_Ensure();
  weft__py_call(r->pl, obj, r->pl->n_disconnection, NULL, NULL);
  PyGILState_Release(g);
}

static void weft__py_on_data(weft_spark *spark, const weft_value *msg, void *user) {
  weft__py_reg *r = user;
  PyObject *obj = weft_spark_get_user(spark);
  if (obj) weft__py_deliver(r->pl, obj, msg);
}

static void weft__py_on_drain(weft_spark *spark, void *user) {
  weft__py_reg *r = user;
  PyObject *obj = weft_spark_get_user(spark);
  if (!obj) return;
  PyGILState_STATE g = PyGILState_Ensure();
  weft__py_call(r->pl, obj, r->pl->n_drain, NULL, NULL);
  PyGILState_Release(g);
}

static void weft__py_on_error(weft_server *server, weft_spark *spark, const weft_error_info *err,
                              void *user) {
  (void)server;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *obj = spark ? weft_spark_get_user(spark) : NULL;
  PyObject *res =
      PyObject_CallMethod(r->target, "_on_error", "Oiss", obj ? obj : Py_None, err->code,
                          err->kind ? err->kind : "", err->message ? err->message : "");
  if (!res) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
}

static void weft__py_on_close(weft_server *server, void *user) {
  (void)server;
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  weft__py_call(r->pl, r->target, r->pl->n_close, NULL, NULL);
  PyGILState_Release(g);
}

int pyweft_server_set_target(weft_server *s, pyweft_loop *pl, PyObject *target) {
  if (!s || !pl || !target) return WEFT_EINVAL;
  weft__py_reg *r = weft__py_reg_new(pl, target);
  if (!r) return WEFT_ENOMEM;
  weft_server_events ev = {.size = sizeof(ev),
                           .connection = weft__py_on_connection,
                           .disconnection = weft__py_on_disconnection,
                           .data = weft__py_on_data,
                           .drain = weft__py_on_drain,
                           .error = weft__py_on_error,
                           .close = weft__py_on_close};
  int rc = weft_server_set_events(s, &ev, r, weft__py_reg_free);
  if (rc != 0) weft__py_reg_free(r);
  return rc;
}

static void weft__py_on_authorize(weft_auth *req, void *user) {
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *ptr = weft__py_wrap_ptr(req, "weft_auth *");
  PyObject *res = ptr ? PyObject_CallFunctionObjArgs(r->target, ptr, NULL) : NULL;
  Py_XDECREF(ptr);
  if (!res) {
    weft__py_store(r->pl);
    weft_auth_deny(req, 500, "authorization failed");
  }
  Py_XDECREF(res);
  PyGILState_Release(g);
}

int pyweft_server_set_authorize(weft_server *s, pyweft_loop *pl, PyObject *fn) {
  if (!s || !pl || !fn) return WEFT_EINVAL;
  if (fn == Py_None) return weft_server_set_authorize(s, NULL, NULL, NULL);
  weft__py_reg *r = weft__py_reg_new(pl, fn);
  if (!r) return WEFT_ENOMEM;
  int rc = weft_server_set_authorize(s, weft__py_on_authorize, r, weft__py_reg_free);
  if (rc != 0) weft__py_reg_free(r);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Writes, headers                                                        */
/* ---------------------------------------------------------------------- */

PyObject *pyweft_spark_write(weft_spark *spark, PyObject *obj) {
  weft_value *v = pyweft_value_from_py(obj);
  if (!v) return NULL;
  int rc = weft_spark_write(spark, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

PyObject *pyweft_spark_end(weft_spark *spark, PyObject *obj, int flags) {
  weft_value *v = NULL;
  if (obj && obj != Py_None) {
    v = pyweft_value_from_py(obj);
    if (!v) return NULL;
  }
  int rc = weft_spark_end(spark, v, flags);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

PyObject *pyweft_server_write(weft_server *s, PyObject *obj) {
  weft_value *v = pyweft_value_from_py(obj);
  if (!v) return NULL;
  int rc = weft_server_write(s, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

PyObject *pyweft_client_write(weft_client *c, PyObject *obj) {
  weft_value *v = pyweft_value_from_py(obj);
  if (!v) return NULL;
  int rc = weft_client_write(c, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

PyObject *pyweft_client_end(weft_client *c, PyObject *obj) {
  weft_value *v = NULL;
  if (obj && obj != Py_None) {
    v = pyweft_value_from_py(obj);
    if (!v) return NULL;
  }
  int rc = weft_client_end(c, v);
  weft_value_free(v);
  return PyLong_FromLong(rc);
}

static PyObject *weft__py_pairs(const void *h, size_t n,
                                int (*at)(const void *, size_t, const char **, const char **)) {
  PyObject *dict = PyDict_New();
  if (!dict) return NULL;
  for (size_t i = 0; i < n; i++) {
    const char *k = NULL, *v = NULL;
    if (at(h, i, &k, &v) != 0 || !k) continue;
    PyObject *val = PyUnicode_DecodeUTF8(v ? v : "", (Py_ssize_t)strlen(v ? v : ""), "replace");
    if (!val || PyDict_SetItemString(dict, k, val) != 0) {
      Py_XDECREF(val);
      Py_DECREF(dict);
      return NULL;
    }
    Py_DECREF(val);
  }
  return dict;
}

static int weft__py_header_at(const void *h, size_t i, const char **k, const char **v) {
  return weft_spark_header_at(h, i, k, v);
}
static int weft__py_query_at(const void *h, size_t i, const char **k, const char **v) {
  return weft_spark_query_at(h, i, k, v);
}

PyObject *pyweft_spark_headers(weft_spark *spark) {
  return weft__py_pairs(spark, weft_spark_header_count(spark), weft__py_header_at);
}

PyObject *pyweft_spark_query(weft_spark *spark) {
  return weft__py_pairs(spark, weft_spark_query_count(spark), weft__py_query_at);
}

/* ---------------------------------------------------------------------- */
/* Plugins                                                                */
/* ---------------------------------------------------------------------- */

static int weft__py_transform(weft__py_reg *r, PyObject *fn, weft_spark *spark,
                              const weft_value *msg, weft_value **replace) {
  if (!fn || fn == Py_None) return WEFT_PASS;
  int rc = WEFT_PASS;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *obj = spark ? weft_spark_get_user(spark) : NULL;
  PyObject *v = pyweft_value_to_py(msg);
  PyObject *res = v ? PyObject_CallFunctionObjArgs(fn, obj ? obj : Py_None, v, NULL) : NULL;
  if (!res) {
    weft__py_store(r->pl);
    rc = WEFT_EINVAL;
  } else if (res == r->drop) {
    rc = WEFT_SWALLOW;
  } else if (res != v || PyDict_Check(res) || PyList_Check(res)) {
    /* Containers are converted again: the transform may have changed them
     * in place and returned the same object. */
    *replace = pyweft_value_from_py(res);
    if (!*replace) {
      weft__py_store(r->pl);
      rc = WEFT_ETYPE;
    }
  }
  Py_XDECREF(v);
  Py_XDECREF(res);
  PyGILState_Release(g);
  return rc;
}

static int weft__py_incoming(weft_spark *spark, const weft_value *msg, weft_value **replace,
                             void *user) {
  weft__py_reg *r = user;
  return weft__py_transform(r, r->target, spark, msg, replace);
}

static int weft__py_outgoing(weft_spark *spark, const weft_value *msg, weft_value **replace,
                             void *user) {
  weft__py_reg *r = user;
  return weft__py_transform(r, r->outgoing, spark, msg, replace);
}

static const weft_plugin_ops weft__py_plugin_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = "python",
    .incoming = weft__py_incoming,
    .outgoing = weft__py_outgoing,
    .destroy = weft__py_reg_free,
};

static int weft__py_c_incoming(weft_client *c, const weft_value *msg, weft_value **replace,
                               void *user) {
  (void)c;
  weft__py_reg *r = user;
  return weft__py_transform(r, r->target, NULL, msg, replace);
}

static int weft__py_c_outgoing(weft_client *c, const weft_value *msg, weft_value **replace,
                               void *user) {
  (void)c;
  weft__py_reg *r = user;
  return weft__py_transform(r, r->outgoing, NULL, msg, replace);
}

static const weft_plugin_ops weft__py_client_plugin_ops = {
    .version = WEFT_PLUGIN_VERSION,
    .size = sizeof(weft_plugin_ops),
    .name = "python",
    .destroy = weft__py_reg_free,
    .client_incoming = weft__py_c_incoming,
    .client_outgoing = weft__py_c_outgoing,
};

/* A registration of the plugin "python" with its own copy of the ops: the
 * core keeps the pointer, and incoming_types differs per server or client.
 * The registration comes first, so weft__py_reg_free frees the block. */
typedef struct weft__py_plugin {
  weft__py_reg r;
  weft_plugin_ops ops;
} weft__py_plugin;

static weft__py_plugin *weft__py_plugin_reg(pyweft_loop *pl, PyObject *incoming, PyObject *outgoing,
                                            PyObject *drop, const weft_plugin_ops *ops,
                                            unsigned int types) {
  weft__py_plugin *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->r.pl = pl;
  Py_INCREF(incoming);
  p->r.target = incoming;
  Py_INCREF(outgoing);
  p->r.outgoing = outgoing;
  Py_INCREF(drop);
  p->r.drop = drop;
  p->ops = *ops;
  p->ops.incoming_types = types;
  return p;
}

int pyweft_client_use(weft_client *c, pyweft_loop *pl, PyObject *incoming, PyObject *outgoing,
                      PyObject *drop, unsigned int incoming_types) {
  if (!c || !pl || !incoming || !outgoing || !drop) return WEFT_EINVAL;
  weft__py_plugin *p = weft__py_plugin_reg(pl, incoming, outgoing, drop,
                                           &weft__py_client_plugin_ops, incoming_types);
  return p ? weft_client_use(c, &p->ops, &p->r) : WEFT_ENOMEM;
}

int pyweft_server_use(weft_server *s, pyweft_loop *pl, PyObject *incoming, PyObject *outgoing,
                      PyObject *drop, unsigned int incoming_types) {
  if (!s || !pl || !incoming || !outgoing || !drop) return WEFT_EINVAL;
  /* One registration per server: the Python layer chains every Python
   * plugin's transforms inside these two callables. */
  weft__py_plugin *p =
      weft__py_plugin_reg(pl, incoming, outgoing, drop, &weft__py_plugin_ops, incoming_types);
  return p ? weft_server_use(s, &p->ops, &p->r) : WEFT_ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* Spark ids                                                              */
/* ---------------------------------------------------------------------- */

static int weft__py_idgen(char *buf, size_t cap, void *user) {
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = 1;
  PyObject *res = PyObject_CallNoArgs(r->target);
  if (res && PyUnicode_Check(res)) {
    Py_ssize_t n = 0;
    const char *id = PyUnicode_AsUTF8AndSize(res, &n);
    if (id && n > 0 && (size_t)n < cap && !memchr(id, 0, (size_t)n)) {
      memcpy(buf, id, (size_t)n + 1);
      rc = 0;
    }
  }
  if (PyErr_Occurred()) weft__py_store(r->pl);
  Py_XDECREF(res);
  PyGILState_Release(g);
  return rc;
}

int pyweft_server_set_id_generator(weft_server *s, pyweft_loop *pl, PyObject *fn) {
  if (!s || !pl || !fn || !PyCallable_Check(fn)) return WEFT_EINVAL;
  weft__py_reg *r = weft__py_reg_new(pl, fn);
  if (!r) return WEFT_ENOMEM;
  int rc = weft_server_set_id_generator(s, weft__py_idgen, r, weft__py_reg_free);
  if (rc != 0) weft__py_reg_free(r);
  return rc;
}
