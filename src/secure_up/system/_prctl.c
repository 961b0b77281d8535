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
 * only: no state, nothing allocated. Where this module was not built, hardening.py
 * and process.py call prctl through ctypes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifdef __linux__
#define PRCTL_OR_FAIL(call)                                                                \
    do {                                                                                   \
        if ((call) < 0) {                                                                  \
            return PyErr_SetFromErrno(PyExc_OSError);                                      \
        }                                                                                  \
    } while (0)
#else
#define PRCTL_OR_FAIL(call)                                                                \
    do {                                                                                   \
        PyErr_SetString(PyExc_OSError, "prctl(2) exists on Linux only");                   \
        return NULL;                                                                       \
    } while (0)
#endif

/* set_dumpable(flag): make the process dumpable (true) or not (false); OSError if refused. */
static PyObject *set_dumpable(PyObject *module, PyObject *flag) {
    (void)module;
    int wanted = PyObject_IsTrue(flag);
    if (wanted < 0) {
        return NULL;
    }
    PRCTL_OR_FAIL(prctl(PR_SET_DUMPABLE, (unsigned long)wanted, 0UL, 0UL, 0UL));
    Py_RETURN_NONE;
}

/* get_dumpable() -> int: 0 (not dumpable), 1 (dumpable) or 2 (dumpable, root-owned core). */
static PyObject *get_dumpable(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
#ifdef __linux__
    int state = prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL);
    PRCTL_OR_FAIL(state);
    return PyLong_FromLong(state);
#else
    PRCTL_OR_FAIL(-1);
#endif
}

/* set_parent_death_signal(signum): the signal this process gets when its parent dies. */
static PyObject *set_parent_death_signal(PyObject *module, PyObject *number) {
    (void)module;
    long signum = PyLong_AsLong(number);
    if (signum == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (signum < 0 || signum > 64) {
        PyErr_SetString(PyExc_ValueError, "not a signal number");
        return NULL;
    }
    PRCTL_OR_FAIL(prctl(PR_SET_PDEATHSIG, (unsigned long)signum, 0UL, 0UL, 0UL));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"set_dumpable", set_dumpable, METH_O, "Make this process dumpable or not (prctl)."},
    {"get_dumpable", get_dumpable, METH_NOARGS, "This process's dumpable state (prctl)."},
    {"set_parent_death_signal", set_parent_death_signal, METH_O,
     "The signal this process gets when its parent dies (prctl)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_prctl", "prctl(2) for secure_up.system: see _prctl.c", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__prctl(void) { return PyModule_Create(&module); }
