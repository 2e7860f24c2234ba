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
#include <weft/options.h>
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

/* The public headers themselves: every function they declare is wrapped
 * unless ignored below, so coverage follows the ABI. */
%define WEFT_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) { $1 = &tmp; }
%typemap(argout) TYPE **out {
  $result = Py_BuildValue("(NN)", $result, SWIG_NewPointerObj(*$1, $descriptor(TYPE *), 0));
}
%enddef
WEFT_OUT_HANDLE(weft_loop)
WEFT_OUT_HANDLE(weft_emitter)
WEFT_OUT_HANDLE(weft_rooms)
WEFT_OUT_HANDLE(weft_channels)
WEFT_OUT_HANDLE(weft_channel)

/* Values in: any Python value, converted in C (pyweft_value_from_py). */
%typemap(in) const weft_value * {
  if ($input == Py_None) { $1 = NULL; } else {
    $1 = pyweft_value_from_py($input);
    if (!$1) SWIG_fail;
  }
}
%typemap(freearg) const weft_value * { weft_value_free((weft_value *)$1); }
%typemap(in, numinputs=0) weft_value **out (weft_value *tmp = NULL) { $1 = &tmp; }
%typemap(argout) weft_value **out {
  PyObject *o = *$1 ? pyweft_value_to_py(*$1) : (Py_INCREF(Py_None), Py_None);
  weft_value_free(*$1);
  $result = Py_BuildValue("(NN)", $result, o);
}
/* Bytes in: any buffer (bytes, bytearray, memoryview), borrowed for the call. */
%typemap(in) (const void *data, size_t len) (Py_buffer view = {0}) {
  if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0) SWIG_fail;
  $1 = view.buf;
  $2 = (size_t)view.len;
}
%typemap(freearg) (const void *data, size_t len) {
  if (view$argnum.obj) PyBuffer_Release(&view$argnum);
}
/* A pre-shared key (weft_server_set_psk, weft_client_set_psk): the same. */
%apply (const void *data, size_t len) { (const void *key, size_t len) };
/* (name, value) pairs out. */
%typemap(in, numinputs=0) const char **OUTSTR (const char *tmp = NULL) { $1 = &tmp; }
%typemap(argout) const char **OUTSTR {
  %append_output(*$1 ? PyUnicode_FromString(*$1) : (Py_INCREF(Py_None), Py_None));
}
%apply const char **OUTSTR { const char **name, const char **value, const char **key };

/* Callbacks, user pointers and the value API: the hand-written C above
 * (pyweft.c) covers them; SWIG cannot call back into Python from C. Whole
 * families go by pattern: the value API (values convert in C, never
 * element by element), the loop's libuv and blocking entry points (the
 * asyncio driver steps the loop), and iterations with a C callback (the
 * package keeps its own objects). */
%rename("$ignore", regextarget=1) "^weft_value_";
%rename("$ignore", regextarget=1) "^weft_loop_(new_uv|uv|run|post)$";
%rename("$ignore", regextarget=1) "_foreach$";
/* C user pointers (a spark's, a plugin's): the package keeps its objects. */
%rename("$ignore", regextarget=1) "^weft_spark_[gs]et_user$|^weft_(server|client)_plugin$";
%ignore weft_loop_set_log;
%ignore weft_free;
%ignore weft_server_set_events;
%ignore weft_client_set_events;
%ignore weft_server_set_id_generator;
%ignore weft_server_set_authorize;
%ignore weft_server_use;
%ignore weft_client_use;
%ignore weft_emitter_on;
%ignore weft_emitter_on_error;
%ignore weft_emitter_emit;
%ignore weft_emitter_join;
%ignore weft_emitter_leave;
%ignore weft_emitter_leave_all;
%ignore weft_rooms_set_client_policy;
%ignore weft_channels_on_open;
%ignore weft_channels_on_error;
%ignore weft_channel_set_events;
%ignore weft_reply_resolve;
%ignore weft_reply_reject;
%ignore weft_reply_drop;
/* Connection-state recovery: the client's callback is not bound (the
 * "recovery" option turns it on; Client.recovered reads
 * weft_client_recovered). */
%ignore weft_client_set_recovery;
%ignore weft_client_recovery_cb;
/* Structs of callbacks and records only C fills. */
%ignore weft_server_events;
%ignore weft_client_events;
%ignore weft_plugin_ops;
%ignore weft_channel_events;
%ignore weft_event;
%ignore weft_ack;
%ignore weft_log_record;

%immutable;
%include "weft/weft.h"
%include "weft/plugin.h"
%include "weft/options.h"
%include "weft/ext.h"

/* The package calls the C wrappers themselves: lowlevel.py's proxy
 * functions only forward their arguments, and that Python frame was half of
 * a binding call's cost (bench/python.sh dispatch; docs/decisions.md #16).
 * Classes (weft_option, ...) stay as SWIG made them. */
%pythoncode %{
def _direct() -> None:
    import types
    g = globals()
    for name, fn in list(g.items()):
        if isinstance(fn, types.FunctionType) and fn.__module__ == __name__:
            c = getattr(_lowlevel, name, None)
            if c is not None:
                g[name] = c
_direct()
del _direct
%}
