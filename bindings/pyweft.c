/* pyweft: callbacks, values and loop stepping for the Python module. */
#include "pyweft.h"

#include <stdlib.h>
#include <string.h>

struct pyweft_loop {
  weft_loop *loop;
  PyObject *errors; /* list of exceptions raised in callbacks */
  /* interned method names */
  PyObject *n_connection, *n_disconnection, *n_data, *n_drain, *n_error, *n_close, *n_event;
};

/* One registration: the loop it reports exceptions to and its callables. */
typedef struct weft__py_reg {
  pyweft_loop *pl;
  PyObject *target;
  PyObject *outgoing;
  PyObject *drop;
} weft__py_reg;

/* ---------------------------------------------------------------------- */
/* Loop                                                                   */
/* ---------------------------------------------------------------------- */

static void weft__py_loop_free(pyweft_loop *pl) {
  Py_XDECREF(pl->errors);
  Py_XDECREF(pl->n_connection);
  Py_XDECREF(pl->n_disconnection);
  Py_XDECREF(pl->n_data);
  Py_XDECREF(pl->n_drain);
  Py_XDECREF(pl->n_error);
  Py_XDECREF(pl->n_close);
  Py_XDECREF(pl->n_event);
  free(pl);
}

pyweft_loop *pyweft_loop_new(void) {
  pyweft_loop *pl = calloc(1, sizeof(*pl));
  if (!pl) return (pyweft_loop *)PyErr_NoMemory();
  pl->errors = PyList_New(0);
  pl->n_connection = PyUnicode_InternFromString("_on_connection");
  pl->n_disconnection = PyUnicode_InternFromString("_on_disconnection");
  pl->n_data = PyUnicode_InternFromString("_on_data");
  pl->n_drain = PyUnicode_InternFromString("_on_drain");
  pl->n_error = PyUnicode_InternFromString("_on_error");
  pl->n_close = PyUnicode_InternFromString("_on_close");
  pl->n_event = PyUnicode_InternFromString("_on_event");
  if (!pl->errors || !pl->n_connection || !pl->n_disconnection || !pl->n_data || !pl->n_drain ||
      !pl->n_error || !pl->n_close || !pl->n_event) {
    weft__py_loop_free(pl);
    return NULL;
  }
  int rc = weft_loop_new(&pl->loop);
  if (rc != 0) {
    weft__py_loop_free(pl);
    PyErr_Format(PyExc_OSError, "weft_loop_new: %s", weft_strerror(rc));
    return NULL;
  }
  return pl;
}

weft_loop *pyweft_loop_get(pyweft_loop *pl) { return pl ? pl->loop : NULL; }
int pyweft_loop_fd(pyweft_loop *pl) { return pl ? weft_loop_fd(pl->loop) : -1; }
int pyweft_loop_timeout(pyweft_loop *pl) { return pl ? weft_loop_timeout(pl->loop) : -1; }

/* Stores the current Python exception on the loop (GIL held). */
void weft__py_store(pyweft_loop *pl) {
  PyObject *type = NULL, *exc = NULL, *tb = NULL;
  PyErr_Fetch(&type, &exc, &tb);
  if (!type) return;
  PyErr_NormalizeException(&type, &exc, &tb);
  if (tb && exc) PyException_SetTraceback(exc, tb);
  if (!pl || !exc || PyList_Append(pl->errors, exc) != 0) {
    /* Could not store it: report rather than lose it. */
    PyErr_Restore(type, exc, tb);
    PyErr_WriteUnraisable(NULL);
    return;
  }
  Py_XDECREF(type);
  Py_XDECREF(tb);
  Py_DECREF(exc);
}

PyObject *pyweft_loop_run_once(pyweft_loop *pl) {
  if (!pl) {
    PyErr_SetString(PyExc_ValueError, "loop is NULL");
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = weft_loop_run_once(pl->loop);
  Py_END_ALLOW_THREADS Py_ssize_t n = PyList_GET_SIZE(pl->errors);
  if (n == 0) return PyLong_FromLong(rc);
  PyObject *errs = pl->errors;
  PyObject *fresh = PyList_New(0);
  if (!fresh) return NULL;
  pl->errors = fresh;
  if (n == 1) {
    PyObject *exc = PyList_GET_ITEM(errs, 0);
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(errs);
    return NULL;
  }
  PyObject *group =
      PyObject_CallFunction(PyExc_BaseExceptionGroup, "sO", "several weft callbacks raised", errs);
  Py_DECREF(errs);
  if (group) {
    PyErr_SetObject((PyObject *)Py_TYPE(group), group);
    Py_DECREF(group);
  }
  return NULL;
}

int pyweft_loop_close(pyweft_loop *pl) {
  if (!pl) return WEFT_EINVAL;
  int rc = weft_loop_close(pl->loop);
  if (rc != 0) return rc;
  weft__py_loop_free(pl);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                 */
/* ---------------------------------------------------------------------- */

PyObject *pyweft_value_to_py(const weft_value *v) {
  switch (weft_value_type(v)) {
  case WEFT_NULL: Py_RETURN_NONE;
  case WEFT_BOOL: {
    int b = 0;
    weft_value_get_bool(v, &b);
    return PyBool_FromLong(b);
  }
  case WEFT_INT: {
    int64_t i = 0;
    weft_value_get_int(v, &i);
    return PyLong_FromLongLong(i);
  }
  case WEFT_FLOAT: {
    double d = 0;
    weft_value_get_float(v, &d);
    return PyFloat_FromDouble(d);
  }
  case WEFT_STRING: {
    const char *s = NULL;
    size_t len = 0;
    weft_value_get_string(v, &s, &len);
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogatepass");
  }
  case WEFT_BINARY: {
    const uint8_t *p = NULL;
    size_t len = 0;
    weft_value_get_binary(v, &p, &len);
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)len);
  }
  case WEFT_ARRAY: {
    size_t n = weft_value_len(v);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
      PyObject *item = pyweft_value_to_py(weft_value_array_at(v, i));
      if (!item) {
        Py_DECREF(list);
        return NULL;
      }
      PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
  }
  case WEFT_MAP: {
    size_t n = weft_value_len(v);
    PyObject *dict = PyDict_New();
    if (!dict) return NULL;
    for (size_t i = 0; i < n; i++) {
      PyObject *key = pyweft_value_to_py(weft_value_map_key_at(v, i));
      if (key && PyList_Check(key)) { /* msgpack allows array keys */
        PyObject *t = PyList_AsTuple(key);
        Py_DECREF(key);
        key = t;
      }
      PyObject *val = key ? pyweft_value_to_py(weft_value_map_value_at(v, i)) : NULL;
      int rc = val ? PyDict_SetItem(dict, key, val) : -1;
      Py_XDECREF(key);
      Py_XDECREF(val);
      if (rc != 0) {
        Py_DECREF(dict);
        return NULL;
      }
    }
    return dict;
  }
  }
  PyErr_SetString(PyExc_ValueError, "unknown weft value type");
  return NULL;
}

static weft_value *weft__py_from_py(PyObject *obj, int depth) {
  if (depth > WEFT_VALUE_MAX_DEPTH) {
    PyErr_SetString(PyExc_ValueError, "value nested too deeply");
    return NULL;
  }
  weft_value *v = NULL;
  if (obj == Py_None) {
    v = weft_value_new_null();
  } else if (PyBool_Check(obj)) {
    v = weft_value_new_bool(obj == Py_True);
  } else if (PyLong_Check(obj)) {
    int overflow = 0;
    long long i = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow) {
      PyErr_SetString(PyExc_OverflowError, "int does not fit in 64 bits");
      return NULL;
    }
    if (i == -1 && PyErr_Occurred()) return NULL;
    v = weft_value_new_int((int64_t)i);
  } else if (PyFloat_Check(obj)) {
    v = weft_value_new_float(PyFloat_AS_DOUBLE(obj));
  } else if (PyUnicode_Check(obj)) {
    Py_ssize_t len = 0;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &len);
    if (!s) return NULL;
    v = weft_value_new_string(s, (size_t)len);
  } else if (PyBytes_Check(obj)) {
    v = weft_value_new_binary(PyBytes_AS_STRING(obj), (size_t)PyBytes_GET_SIZE(obj));
  } else if (PyByteArray_Check(obj) || PyMemoryView_Check(obj)) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) != 0) return NULL;
    v = weft_value_new_binary(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
  } else if (PyList_Check(obj) || PyTuple_Check(obj)) {
    PyObject *seq = PySequence_Fast(obj, "not a sequence");
    if (!seq) return NULL;
    v = weft_value_new_array();
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; v && i < n; i++) {
      weft_value *item = weft__py_from_py(PySequence_Fast_GET_ITEM(seq, i), depth + 1);
      if (!item) {
        weft_value_free(v);
        Py_DECREF(seq);
        return NULL;
      }
      if (weft_value_array_push(v, item) != 0) {
        weft_value_free(v);
        v = NULL;
      }
    }
    Py_DECREF(seq);
  } else if (PyDict_Check(obj)) {
    v = weft_value_new_map();
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (v && PyDict_Next(obj, &pos, &key, &val)) {
      weft_value *item = weft__py_from_py(val, depth + 1);
      if (!item) {
        weft_value_free(v);
        return NULL;
      }
      int rc;
      if (PyUnicode_Check(key)) {
        Py_ssize_t len = 0;
        const char *s = PyUnicode_AsUTF8AndSize(key, &len);
        if (!s) {
          weft_value_free(item);
          weft_value_free(v);
          return NULL;
        }
        rc = weft_value_map_add(v, s, (size_t)len, item);
      } else {
        weft_value *k = weft__py_from_py(key, depth + 1);
        if (!k) {
          weft_value_free(item);
          weft_value_free(v);
          return NULL;
        }
        rc = weft_value_map_add_value(v, k, item);
      }
      if (rc != 0) {
        weft_value_free(v);
        v = NULL;
      }
    }
  } else {
    PyErr_Format(PyExc_TypeError, "weft cannot send a value of type %.200s", Py_TYPE(obj)->tp_name);
    return NULL;
  }
  if (!v) PyErr_NoMemory();
  return v;
}

weft_value *pyweft_value_from_py(PyObject *obj) { return weft__py_from_py(obj, 0); }

static PyObject *weft__py_code_error(int rc) {
  return PyErr_Format(PyExc_ValueError, "%s: %s", weft_err_name(rc), weft_strerror(rc));
}

PyObject *pyweft_encode(const char *parser, PyObject *obj) {
  weft_value *v = pyweft_value_from_py(obj);
  if (!v) return NULL;
  uint8_t *out = NULL;
  size_t len = 0;
  int rc = weft_value_encode(parser, v, &out, &len);
  weft_value_free(v);
  if (rc != 0) return weft__py_code_error(rc);
  PyObject *res = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)len);
  weft_free(out);
  return res;
}

PyObject *pyweft_decode(const char *parser, PyObject *data) {
  Py_buffer view;
  if (PyObject_GetBuffer(data, &view, PyBUF_C_CONTIGUOUS) != 0) return NULL;
  weft_value *v = NULL;
  int rc = weft_value_decode(parser, view.buf, (size_t)view.len, &v, NULL);
  PyBuffer_Release(&view);
  if (rc != 0) return weft__py_code_error(rc);
  PyObject *res = pyweft_value_to_py(v);
  weft_value_free(v);
  return res;
}

PyObject *pyweft_error_codes(void) {
  PyObject *list = PyList_New(0);
  if (!list) return NULL;
#define WEFT__PY_ERR(name, msg)                                                                    \
  do {                                                                                             \
    PyObject *t = Py_BuildValue("(iss)", WEFT_E##name, "E" #name, msg);                            \
    if (!t || PyList_Append(list, t) != 0) {                                                       \
      Py_XDECREF(t);                                                                               \
      Py_DECREF(list);                                                                             \
      return NULL;                                                                                 \
    }                                                                                              \
    Py_DECREF(t);                                                                                  \
  } while (0);
  WEFT_ERRNO_MAP(WEFT__PY_ERR)
#undef WEFT__PY_ERR
  return list;
}

/* ---------------------------------------------------------------------- */
/* Registrations                                                          */
/* ---------------------------------------------------------------------- */

static weft__py_reg *weft__py_reg_new(pyweft_loop *pl, PyObject *target) {
  weft__py_reg *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->pl = pl;
  Py_INCREF(target);
  r->target = target;
  return r;
}

static void weft__py_reg_free(void *user) {
  weft__py_reg *r = user;
  if (!r) return;
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(r->target);
  Py_XDECREF(r->outgoing);
  Py_XDECREF(r->drop);
  PyGILState_Release(g);
  free(r);
}

static void weft__py_decref(void *obj) {
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF((PyObject *)obj);
  PyGILState_Release(g);
}

/* Calls method `name` of `obj` with the arguments; stores an exception. */
static void weft__py_call(pyweft_loop *pl, PyObject *obj, PyObject *name, PyObject *a,
                          PyObject *b) {
  if (!obj) return;
  PyObject *res = PyObject_CallMethodObjArgs(obj, name, a, b, NULL);
  if (!res) weft__py_store(pl);
  Py_XDECREF(res);
}

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
  if (!obj) return;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *v = pyweft_value_to_py(msg);
  if (!v)
    weft__py_store(r->pl);
  else
    weft__py_call(r->pl, obj, r->pl->n_data, v, NULL);
  Py_XDECREF(v);
  PyGILState_Release(g);
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

int pyweft_server_use(weft_server *s, pyweft_loop *pl, PyObject *incoming, PyObject *outgoing,
                      PyObject *drop) {
  if (!s || !pl || !incoming || !outgoing || !drop) return WEFT_EINVAL;
  weft__py_reg *r = weft__py_reg_new(pl, incoming);
  if (!r) return WEFT_ENOMEM;
  Py_INCREF(outgoing);
  r->outgoing = outgoing;
  Py_INCREF(drop);
  r->drop = drop;
  /* One registration per server: the Python layer chains every Python
   * plugin's transforms inside these two callables. */
  return weft_server_use(s, &weft__py_plugin_ops, r);
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
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *v = pyweft_value_to_py(msg);
  if (!v)
    weft__py_store(r->pl);
  else
    weft__py_call(r->pl, r->target, r->pl->n_data, v, NULL);
  Py_XDECREF(v);
  PyGILState_Release(g);
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
static PyObject *weft__py_spark_obj(weft_spark *spark) {
  PyObject *obj = spark ? weft_spark_get_user(spark) : NULL;
  return obj ? obj : Py_None;
}

/* Replies: a capsule over a small box, so a reply collected unanswered is
 * rejected (and freed) by the capsule's destructor. */
typedef struct weft__py_reply_box {
  weft_reply *reply;
} weft__py_reply_box;

#define WEFT__PY_REPLY "weft.reply"

static void weft__py_reply_del(PyObject *cap) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) {
    PyErr_Clear();
    return;
  }
  if (b->reply) {
    weft_value *why = weft_value_new_string("reply dropped", 13);
    weft_reply_reject(b->reply, why);
    weft_value_free(why);
  }
  free(b);
}

PyObject *pyweft_reply_answer(PyObject *cap, int resolve, PyObject *value) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) return NULL;
  if (!b->reply) return PyLong_FromLong(WEFT_ESTATE); /* answered already */
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

int pyweft_reply_pending(PyObject *cap) {
  weft__py_reply_box *b = PyCapsule_GetPointer(cap, WEFT__PY_REPLY);
  if (!b) {
    PyErr_Clear();
    return 0;
  }
  return b->reply != NULL;
}

static void weft__py_on_event(const weft_event *ev, void *user) {
  pyweft_ext *x = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *args = pyweft_value_to_py(ev->args);
  PyObject *cap = Py_None;
  Py_INCREF(cap);
  if (ev->reply) {
    weft__py_reply_box *b = malloc(sizeof(*b));
    Py_DECREF(cap);
    cap = b ? PyCapsule_New(b, WEFT__PY_REPLY, weft__py_reply_del) : NULL;
    if (cap) {
      b->reply = ev->reply;
    } else {
      free(b);
      weft_reply_reject(ev->reply, NULL); /* never lost: answered and freed */
    }
  }
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
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *v = pyweft_value_to_py(msg);
  if (!v)
    weft__py_store(r->pl);
  else
    weft__py_call(r->pl, r->target, r->pl->n_data, v, NULL);
  Py_XDECREF(v);
  PyGILState_Release(g);
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

/* Acks: the registration holds the Python callable fn(status, value). */
static void weft__py_on_ack(const weft_ack *ack, void *user) {
  weft__py_reg *r = user;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *v = ack->value ? pyweft_value_to_py(ack->value) : (Py_INCREF(Py_None), Py_None);
  PyObject *res = v ? PyObject_CallFunction(r->target, "iO", ack->status, v) : NULL;
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
  int rc = join ? weft_emitter_join(x->em, room, weft__py_on_ack, r)
                : weft_emitter_leave(x->em, room, weft__py_on_ack, r);
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

PyObject *pyweft_rooms_send(pyweft_ext *x, PyObject *rooms, PyObject *except, const char *event,
                            PyObject *payload) {
  if (!x || !x->rooms) return PyLong_FromLong(WEFT_EINVAL);
  const char **rv = NULL, **ev = NULL;
  size_t nr = 0, ne = 0;
  weft_value *v = NULL;
  PyObject *res = NULL;
  if (weft__py_strv(rooms, &rv, &nr) != 0 || weft__py_strv(except, &ev, &ne) != 0) goto out;
  if (event ? weft__py_args(payload, &v) != 0 : !(v = pyweft_value_from_py(payload))) goto out;
  int rc = event ? weft_rooms_emit(x->rooms, rv, nr, ev, ne, event, v)
                 : weft_rooms_write(x->rooms, rv, nr, ev, ne, v);
  res = PyLong_FromLong(rc);
out:
  weft_value_free(v);
  free(rv);
  free(ev);
  return res;
}

PyObject *pyweft_write_to(weft_server *s, PyObject *sparks, const char *event, PyObject *payload) {
  if (!s || !sparks || !PyList_Check(sparks)) {
    PyErr_SetString(PyExc_TypeError, "expected a list of sparks");
    return NULL;
  }
  Py_ssize_t n = PyList_GET_SIZE(sparks);
  weft_spark **v = calloc(n ? (size_t)n : 1, sizeof(*v));
  if (!v) return PyErr_NoMemory();
  PyObject *res = NULL;
  weft_value *msg = NULL, *args = NULL;
  for (Py_ssize_t i = 0; i < n; i++) {
    v[i] = weft__py_unwrap_ptr(PyList_GET_ITEM(sparks, i), "weft_spark *");
    if (!v[i]) goto out;
  }
  int rc;
  if (event) {
    if (weft__py_args(payload, &args) != 0) goto out;
    rc = weft_emitter_packet(event, args, &msg);
  } else {
    msg = pyweft_value_from_py(payload);
    if (!msg) goto out;
    rc = 0;
  }
  if (rc == 0) rc = weft_server_write_to(s, msg, v, (size_t)n);
  res = PyLong_FromLong(rc);
out:
  weft_value_free(msg);
  weft_value_free(args);
  free(v);
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
