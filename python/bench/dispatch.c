/* The binding-layer cost of one call, hand-written (bench/python.sh
 * dispatch; issue #15 item 3): the calling convention a hand-written
 * CPython module of weft would use (METH_FASTCALL, a handle in a capsule),
 * doing what SWIG's wrapper of pyweft_addr does (a pointer in, an int
 * out), so that python/bench/dispatch.py can time the two side by side.
 * Not part of the package. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *addr(PyObject *self, PyObject *const *args, Py_ssize_t n) {
  (void)self;
  if (n != 1) return PyErr_Format(PyExc_TypeError, "addr() takes 1 argument");
  void *p = PyCapsule_GetPointer(args[0], "weft_spark");
  if (!p) return NULL;
  return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)p);
}

static PyObject *handle(PyObject *self, PyObject *arg) {
  (void)self;
  return PyCapsule_New((void *)(uintptr_t)PyLong_AsUnsignedLongLong(arg), "weft_spark", NULL);
}

static PyMethodDef methods[] = {
    {"addr", (PyCFunction)(void (*)(void))addr, METH_FASTCALL, NULL},
    {"handle", handle, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dispatch", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__dispatch(void) { return PyModule_Create(&module); }
