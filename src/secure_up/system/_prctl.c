/*
 * The three prctl(2) calls secure-up makes: PR_SET_DUMPABLE and PR_GET_DUMPABLE
 * (system/hardening.py: no core dump, no ptrace of our memory) and PR_SET_PDEATHSIG
 * (system/process.py: a child run off a terminal gets SIGTERM when we die).
 *
 * Why hand-written: the os module has no binding for prctl(2), and ctypes, the one
 * way the standard library has to call it, costs about 2.5 ms to import on every
 * start (secure-up decrypts a 10,000-key file in about 105 ms in all, and runs a CI
 * job's command in about 73, each measured against sops doing the same).
 * python-prctl builds against libcap's headers and is unmaintained. System calls
 * only: no state, nothing allocated. hardening.prctl_call() takes this module, or
 * ctypes where it was not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

/* prctl(option, argument) -> int: prctl(2) with its last three arguments 0; OSError if refused. */
static PyObject *call_prctl(PyObject *module, PyObject *const *args, Py_ssize_t count) {
    (void)module;
    if (count != 2) {
        PyErr_SetString(PyExc_TypeError, "prctl(option, argument) takes two integers");
        return NULL;
    }
    unsigned long option = PyLong_AsUnsignedLong(args[0]);
    if (option == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    unsigned long argument = PyLong_AsUnsignedLong(args[1]);
    if (argument == (unsigned long)-1 && PyErr_Occurred()) {
        return NULL;
    }
#ifdef __linux__
    int result = prctl((int)option, argument, 0UL, 0UL, 0UL);
    if (result < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(result);
#else
    (void)option;
    (void)argument;
    PyErr_SetString(PyExc_OSError, "prctl(2) exists on Linux only");
    return NULL;
#endif
}

static PyMethodDef methods[] = {
    {"prctl", (PyCFunction)(void (*)(void))call_prctl, METH_FASTCALL,
     "prctl(option, argument) -> int, its last three arguments 0; OSError if refused."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_prctl", "prctl(2) for secure_up.system: see _prctl.c", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__prctl(void) { return PyModule_Create(&module); }
