/*
 * pyint.h: what the files of the hand-written C layer share (pyweft.c:
 * loop, values, registrations; pyserver.c: servers, sparks, transforms;
 * pyclient.c: clients; pyext.c: extensions; pyobs.c: logs, metrics).
 * Internal: SWIG never sees it. Every function is called with the GIL held
 * unless it says otherwise.
 */
#ifndef PYWEFT_INT_H
#define PYWEFT_INT_H

#include "pyweft.h"

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

/* A registration holding a new reference to `target`; NULL when out of
 * memory. Freed by weft__py_reg_free (takes the GIL: a free_user). */
weft__py_reg *weft__py_reg_new(pyweft_loop *pl, PyObject *target);
void weft__py_reg_free(void *user);
/* Py_XDECREF taking the GIL (a free_user for a PyObject *). */
void weft__py_decref(void *obj);
/* Calls method `name` of `obj` with the arguments; stores an exception. */
void weft__py_call(pyweft_loop *pl, PyObject *obj, PyObject *name, PyObject *a, PyObject *b);
/* A message for obj's data handler (a spark, client or channel), converted
 * and called with the GIL taken; a failure is stored. */
void weft__py_deliver(pyweft_loop *pl, PyObject *obj, const weft_value *msg);

/* pyext.c, for pystreams.c: the Python object of a spark (borrowed) or
 * None; a reply as the capsule weft.Reply answers (a new reference, None
 * for NULL; NULL when out of memory: r is rejected then); an extension's
 * loop and target; the ack callback of a registration fn(status, value)
 * (frees it). */
PyObject *weft__py_spark_obj(weft_spark *spark);
PyObject *weft__py_reply_capsule(weft_reply *r, pyweft_loop *pl);
pyweft_loop *weft__py_ext_loop(pyweft_ext *x);
PyObject *weft__py_ext_target(pyweft_ext *x);
void weft__py_on_ack(const weft_ack *ack, void *user);

#endif /* PYWEFT_INT_H */
