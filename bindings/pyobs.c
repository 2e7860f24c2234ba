/* pyweft: the loop's log and a server's metrics for the Python module
 * (see pyweft.h). The Python side (weft/_log.py) hands the records to the
 * standard logging module. */
#include "pyweft.h"

#include <stdlib.h>
#include <string.h>

/* The log function of one loop, freed by the core when replaced or when the
 * loop is freed. */
typedef struct weft__py_log {
  pyweft_loop *pl;
  PyObject *fn;
  int busy; /* fn is running: records it causes are not delivered */
} weft__py_log;

static void weft__py_log_free(void *user) {
  weft__py_log *lg = user;
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(lg->fn);
  PyGILState_Release(g);
  free(lg);
}

static PyObject *weft__py_text(const char *s) {
  if (!s) Py_RETURN_NONE;
  return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "backslashreplace");
}

static void weft__py_on_log(const weft_log_record *r, void *user) {
  weft__py_log *lg = user;
  if (lg->busy) return;
  PyGILState_STATE g = PyGILState_Ensure();
  lg->busy = 1;
  int origin = r->server ? 1 : r->client ? 2 : 0;
  PyObject *event = weft__py_text(r->event), *msg = event ? weft__py_text(r->message) : NULL;
  PyObject *spark = msg ? weft__py_text(r->spark) : NULL;
  PyObject *kind = spark ? weft__py_text(r->kind) : NULL;
  PyObject *res =
      kind ? PyObject_CallFunction(lg->fn, "iOOiOO", r->level, event, msg, origin, spark, kind)
           : NULL;
  if (!res) weft__py_store(lg->pl);
  Py_XDECREF(res);
  Py_XDECREF(event);
  Py_XDECREF(msg);
  Py_XDECREF(spark);
  Py_XDECREF(kind);
  lg->busy = 0;
  PyGILState_Release(g);
}

int pyweft_loop_set_log(pyweft_loop *pl, int level, PyObject *fn) {
  weft_loop *loop = pyweft_loop_get(pl);
  if (!loop || level < WEFT_LOG_OFF || level > WEFT_LOG_DEBUG) return WEFT_EINVAL;
  if (!fn || fn == Py_None || level == WEFT_LOG_OFF)
    return weft_loop_set_log(loop, WEFT_LOG_OFF, NULL, NULL, NULL);
  if (!PyCallable_Check(fn)) return WEFT_EINVAL;
  weft__py_log *lg = calloc(1, sizeof(*lg));
  if (!lg) return WEFT_ENOMEM;
  lg->pl = pl;
  Py_INCREF(fn);
  lg->fn = fn;
  int rc = weft_loop_set_log(loop, level, weft__py_on_log, lg, weft__py_log_free);
  if (rc != 0) weft__py_log_free(lg);
  return rc;
}

PyObject *pyweft_server_metrics(weft_server *s) {
  weft_metrics m;
  memset(&m, 0, sizeof(m));
  m.size = sizeof(m);
  int rc = weft_server_metrics(s, &m);
  if (rc != 0)
    return PyErr_Format(PyExc_ValueError, "%s: %s", weft_err_name(rc), weft_strerror(rc));
  PyObject *d = PyDict_New();
  const char *name;
  uint64_t v = 0;
  for (size_t i = 0; d && (name = weft_metrics_at(&m, i, &v)) != NULL; i++) {
    PyObject *n = PyLong_FromUnsignedLongLong(v);
    if (!n || PyDict_SetItemString(d, name, n) != 0) Py_CLEAR(d);
    Py_XDECREF(n);
  }
  return d;
}

PyObject *pyweft_server_metrics_text(weft_server *s) {
  long n = weft_server_metrics_text(s, NULL, 0);
  if (n < 0)
    return PyErr_Format(PyExc_ValueError, "%s: %s", weft_err_name((int)n), weft_strerror((int)n));
  char *buf = malloc((size_t)n + 1);
  if (!buf) return PyErr_NoMemory();
  long got = weft_server_metrics_text(s, buf, (size_t)n + 1);
  PyObject *res = PyUnicode_DecodeUTF8(buf, got < n ? got : n, "backslashreplace");
  free(buf);
  return res;
}
