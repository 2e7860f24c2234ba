/* pyweft: the loop, values and registrations of the Python module's C layer. */
#include "pyint.h"

#include <stdlib.h>
#include <string.h>

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

weft__py_reg *weft__py_reg_new(pyweft_loop *pl, PyObject *target) {
  weft__py_reg *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->pl = pl;
  Py_INCREF(target);
  r->target = target;
  return r;
}

void weft__py_reg_free(void *user) {
  weft__py_reg *r = user;
  if (!r) return;
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(r->target);
  Py_XDECREF(r->outgoing);
  Py_XDECREF(r->drop);
  PyGILState_Release(g);
  free(r);
}

void weft__py_decref(void *obj) {
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF((PyObject *)obj);
  PyGILState_Release(g);
}

/* Calls method `name` of `obj` with the arguments; stores an exception. */
void weft__py_call(pyweft_loop *pl, PyObject *obj, PyObject *name, PyObject *a, PyObject *b) {
  if (!obj) return;
  PyObject *res = PyObject_CallMethodObjArgs(obj, name, a, b, NULL);
  if (!res) weft__py_store(pl);
  Py_XDECREF(res);
}

void weft__py_deliver(pyweft_loop *pl, PyObject *obj, const weft_value *msg) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *v = pyweft_value_to_py(msg);
  if (!v)
    weft__py_store(pl);
  else
    weft__py_call(pl, obj, pl->n_data, v, NULL);
  Py_XDECREF(v);
  PyGILState_Release(g);
}
