/*
 * Whether this process may dump core or be traced: prctl(PR_SET_DUMPABLE) and
 * prctl(PR_GET_DUMPABLE), for system/hardening.py.
 *
 * Why hand-written: the os module has no binding for prctl(2), and ctypes, the one
 * way the standard library has to call it, costs about 2.5 ms to import on every
 * start (secure-up decrypts a 10,000-key file in about 110 ms in all, and is
 * measured against sops doing the same). python-prctl builds against libcap's
 * headers and is unmaintained. Two system calls, no state, nothing allocated.
 * Where this module was not built, hardening.py calls prctl through ctypes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

/* set_dumpable(flag): make the process dumpable (true) or not (false); OSError if refused. */
static PyObject *set_dumpable(PyObject *module, PyObject *flag) {
    (void)module;
    int wanted = PyObject_IsTrue(flag);
    if (wanted < 0) {
        return NULL;
    }
#ifdef __linux__
    if (prctl(PR_SET_DUMPABLE, (unsigned long)wanted, 0UL, 0UL, 0UL) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_OSError, "prctl(2) exists on Linux only");
    return NULL;
#endif
}

/* get_dumpable() -> int: 0 (not dumpable), 1 (dumpable) or 2 (dumpable, root-owned core). */
static PyObject *get_dumpable(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
#ifdef __linux__
    int state = prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL);
    if (state < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(state);
#else
    PyErr_SetString(PyExc_OSError, "prctl(2) exists on Linux only");
    return NULL;
#endif
}

static PyMethodDef methods[] = {
    {"set_dumpable", set_dumpable, METH_O, "Make this process dumpable or not (prctl)."},
    {"get_dumpable", get_dumpable, METH_NOARGS, "This process's dumpable state (prctl)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dumpable", "prctl(PR_SET_DUMPABLE) for secure_up.system.hardening",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__dumpable(void) { return PyModule_Create(&module); }
