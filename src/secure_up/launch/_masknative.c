/*
 * The masker's inner loop, native: one pass over a buffer that finds every form's
 * occurrences and writes the masked output, with no Python step per occurrence.
 *
 * Why hand-written: every Aho-Corasick or hyperscan binding on PyPI hands each
 * occurrence to Python (a tuple or a callback), and output dense with occurrences
 * (the secret "aaaa" in "aaaa...", or values back to back) then costs a Python step
 * per byte: about 1 MB/s. The one library that merges overlapping occurrences
 * natively (the Rust crate "masker") has no Python binding. This file is the part
 * that must not run in Python; everything else stays in launch/masking.py, which
 * also keeps the pure-Python path as the reference the tests compare this with.
 *
 * What it computes (launch/masking.py documents the rules):
 *   - Automaton(keys, extended): a DFA over the keys (whole forms and 64-byte pieces
 *     of long forms), with, per state, the length of the longest key that ends there,
 *     the index of the one extended key (a piece of a long form; all are 64 bytes,
 *     so at most one ends at any byte) that ends there, and the length of the
 *     longest suffix that is a proper prefix of a key (the tail the masker holds back).
 *   - scan(buffer) -> (components, hits, tail): the union of all key occurrences as
 *     sorted, disjoint (start, end) pairs, packed as native 64-bit integers
 *     (overlapping occurrences are one component, touching ones stay two); the
 *     occurrences of extended keys as (index, start, end) for the long-form logic in
 *     Python; the held-back tail's length.
 *   - render(buffer, components, extra, decided, open_until, replacement) ->
 *     (output, span_end): launch/masking.py's Masker._advance over the components
 *     merged with the extra spans (a sorted list of (start, end)).
 *
 * Bounds: the DFA has at most MAX_TABLE transitions (the caller falls back to the
 * Python path beyond, see launch/masking.py); scan and render are linear in the
 * buffer plus what they return; every index is checked against the buffer's length.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The most DFA transitions an automaton may hold (4 bytes each: 64 MiB). */
#define MAX_TABLE (1L << 24)
/* Set in a transition whose target state ends a key (row offsets stay below it). */
#define MATCH (1 << 30)

typedef struct {
    PyObject_HEAD
    int32_t nstates;
    int32_t nclasses;      /* a power of two: a row offset >> shift is its state */
    int32_t shift;
    uint8_t classes[256];  /* byte -> class; 0 for bytes in no key */
    int32_t *next;         /* nstates * nclasses transitions */
    int32_t *longest;      /* per state: longest key ending here, 0 if none */
    int32_t *extended;     /* per state: the extended key ending here, -1 if none */
    int32_t *tail;         /* per state: longest suffix that is a proper prefix of a key */
    int32_t *key_length;   /* per key */
    int32_t max_length;    /* the longest key */
} Automaton;

/* Trie under construction: children as sibling lists (built once, then a DFA). */
typedef struct {
    int32_t *first_child, *next_sibling, *depth, *key;
    uint8_t *byte;
    int32_t count, capacity;
} Trie;

static int trie_grow(Trie *t) {
    int32_t capacity = t->capacity ? t->capacity * 2 : 1024;
    if (capacity <= t->capacity) return -1;
    int32_t **arrays[] = {&t->first_child, &t->next_sibling, &t->depth, &t->key};
    for (size_t i = 0; i < 4; i++) {
        int32_t *grown = PyMem_Realloc(*arrays[i], (size_t)capacity * sizeof(int32_t));
        if (grown == NULL) return -1;
        *arrays[i] = grown;
    }
    uint8_t *bytes = PyMem_Realloc(t->byte, (size_t)capacity);
    if (bytes == NULL) return -1;
    t->byte = bytes;
    t->capacity = capacity;
    return 0;
}

static int32_t trie_new(Trie *t, int32_t depth, uint8_t byte) {
    if (t->count == t->capacity && trie_grow(t) < 0) return -1;
    int32_t node = t->count++;
    t->first_child[node] = -1;
    t->next_sibling[node] = -1;
    t->depth[node] = depth;
    t->key[node] = -1;
    t->byte[node] = byte;
    return node;
}

static int32_t trie_child(const Trie *t, int32_t node, uint8_t byte) {
    for (int32_t child = t->first_child[node]; child >= 0; child = t->next_sibling[child])
        if (t->byte[child] == byte) return child;
    return -1;
}

static void trie_free(Trie *t) {
    PyMem_Free(t->first_child);
    PyMem_Free(t->next_sibling);
    PyMem_Free(t->depth);
    PyMem_Free(t->key);
    PyMem_Free(t->byte);
}

static void automaton_clear(Automaton *self) {
    PyMem_Free(self->next);
    PyMem_Free(self->longest);
    PyMem_Free(self->extended);
    PyMem_Free(self->tail);
    PyMem_Free(self->key_length);
    self->next = self->longest = self->extended = self->tail = self->key_length = NULL;
}

static void Automaton_dealloc(Automaton *self) {
    automaton_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Automaton(keys: list[bytes], extended: list[bool]) */
static int Automaton_init(Automaton *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"keys", "extended", NULL};
    PyObject *keys, *extended;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!", kwlist, &PyList_Type, &keys,
                                     &PyList_Type, &extended))
        return -1;
    Py_ssize_t nkeys = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(extended) != nkeys || nkeys > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "keys and extended differ in length");
        return -1;
    }
    automaton_clear(self);
    self->max_length = 0;
    self->key_length = PyMem_Malloc((size_t)(nkeys ? nkeys : 1) * sizeof(int32_t));
    if (self->key_length == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Trie t = {0};
    int32_t *queue = NULL, *fail = NULL;
    int ok = 0;
    if (trie_new(&t, 0, 0) < 0) goto done;
    memset(self->classes, 0, sizeof(self->classes));
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *item = PyList_GET_ITEM(keys, k);
        if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) == 0 ||
            PyBytes_GET_SIZE(item) > INT32_MAX / 2) {
            PyErr_SetString(PyExc_ValueError, "keys must be non-empty bytes");
            goto done;
        }
        const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(item);
        Py_ssize_t size = PyBytes_GET_SIZE(item);
        int32_t node = 0;
        for (Py_ssize_t i = 0; i < size; i++) {
            self->classes[data[i]] = 1;
            int32_t child = trie_child(&t, node, data[i]);
            if (child < 0) {
                child = trie_new(&t, (int32_t)(i + 1), data[i]);
                if (child < 0) goto done;
                t.next_sibling[child] = t.first_child[node];
                t.first_child[node] = child;
            }
            node = child;
        }
        t.key[node] = (int32_t)k;
        self->key_length[k] = (int32_t)size;
        if (size > self->max_length) self->max_length = (int32_t)size;
    }
    /* Byte classes: one per byte that occurs in a key, 0 for all others (when every
       byte occurs in some key, each byte is its own class). */
    int32_t used = 0;
    for (int b = 0; b < 256; b++) used += self->classes[b];
    int32_t nclasses = 1, shift = 0;  /* a power of two, at least the classes in use */
    while (nclasses < (used == 256 ? 256 : used + 1)) {
        nclasses *= 2;
        shift++;
    }
    for (int b = 0, c = 1; b < 256; b++) {
        if (used == 256)
            self->classes[b] = (uint8_t)b;
        else if (self->classes[b])
            self->classes[b] = (uint8_t)c++;
    }
    if ((int64_t)t.count * nclasses > MAX_TABLE) {  /* so row offsets stay below MATCH */
        PyErr_SetString(PyExc_OverflowError, "too many key bytes for one automaton");
        goto done;
    }
    size_t n = (size_t)t.count;
    self->next = PyMem_Malloc(n * (size_t)nclasses * sizeof(int32_t));
    self->longest = PyMem_Malloc(n * sizeof(int32_t));
    self->extended = PyMem_Malloc(n * sizeof(int32_t));
    self->tail = PyMem_Malloc(n * sizeof(int32_t));
    queue = PyMem_Malloc(n * sizeof(int32_t));
    fail = PyMem_Malloc(n * sizeof(int32_t));
    if (!self->next || !self->longest || !self->extended || !self->tail || !queue || !fail) {
        PyErr_NoMemory();
        goto done;
    }
    /* Breadth first: a state's failure state (shorter) is complete before it. */
    int32_t head = 0, end = 0;
    queue[end++] = 0;
    fail[0] = 0;
    while (head < end) {
        int32_t s = queue[head++];
        int32_t *row = self->next + (size_t)s * (size_t)nclasses;
        const int32_t *fail_row = self->next + (size_t)fail[s] * (size_t)nclasses;
        for (int32_t c = 0; c < nclasses; c++) row[c] = s == 0 ? 0 : fail_row[c];
        for (int32_t child = t.first_child[s]; child >= 0; child = t.next_sibling[child]) {
            int32_t c = self->classes[t.byte[child]];
            fail[child] = s == 0 ? 0 : fail_row[c];
            row[c] = child;
            queue[end++] = child;
        }
        int32_t k = t.key[s];
        self->longest[s] = k >= 0 ? t.depth[s] : (s == 0 ? 0 : self->longest[fail[s]]);
        int is_extended = k >= 0 && PyObject_IsTrue(PyList_GET_ITEM(extended, k)) == 1;
        self->extended[s] = is_extended ? k : (s == 0 ? -1 : self->extended[fail[s]]);
        self->tail[s] = t.first_child[s] >= 0 ? t.depth[s] : (s == 0 ? 0 : self->tail[fail[s]]);
    }
    /* The scan's one load per byte: each transition holds its target's row offset,
       with MATCH set when a key ends in the target (then scan looks further). */
    for (size_t i = 0; i < n * (size_t)nclasses; i++) {
        int32_t target = self->next[i];
        int32_t flag = self->longest[target] > 0 ? MATCH : 0;
        self->next[i] = target * nclasses | flag;
    }
    self->nstates = t.count;
    self->nclasses = nclasses;
    self->shift = shift;
    ok = 1;
done:
    trie_free(&t);
    PyMem_Free(queue);
    PyMem_Free(fail);
    if (!ok) automaton_clear(self);
    return ok ? 0 : -1;
}

static int ready(Automaton *self) {
    if (self->next == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the automaton was not built");
        return 0;
    }
    return 1;
}

/* Components found so far: (start, end) pairs, sorted, disjoint or touching. */
typedef struct {
    int64_t *pairs;
    Py_ssize_t top, capacity;
} Stack;

/* Add the occurrence [start, stop) (stop at least every earlier one's): overlapping
   components become one, touching ones stay two. -1 when out of memory. */
static int stack_add(Stack *st, int64_t start, int64_t stop) {
    while (st->top > 0 && st->pairs[2 * st->top - 1] > start) {
        if (st->pairs[2 * st->top - 2] < start) start = st->pairs[2 * st->top - 2];
        st->top--;
    }
    if (st->top == st->capacity) {
        Py_ssize_t grown = st->capacity ? st->capacity * 2 : 64;
        int64_t *bigger = PyMem_Realloc(st->pairs, (size_t)grown * 2 * sizeof(int64_t));
        if (bigger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        st->pairs = bigger;
        st->capacity = grown;
    }
    st->pairs[2 * st->top] = start;
    st->pairs[2 * st->top + 1] = stop;
    st->top++;
    return 0;
}

/* A key ends at byte i in the state at table offset row: record it. */
static int matched(const Automaton *self, int32_t row, Py_ssize_t i, Stack *st, PyObject *hits) {
    int32_t state = row >> self->shift;
    /* Only the longest key ending here counts: shorter ones are its suffixes. */
    if (stack_add(st, (int64_t)i + 1 - self->longest[state], (int64_t)i + 1) < 0) return -1;
    int32_t key = self->extended[state];
    if (key < 0) return 0;
    PyObject *hit = Py_BuildValue("(inn)", key, i + 1 - self->key_length[key], i + 1);
    if (hit == NULL) return -1;
    int failed = PyList_Append(hits, hit);
    Py_DECREF(hit);
    return failed;
}

/* One chain of the DFA over [from, to), recording keys that end at or after `report`. */
#define STEP(row, i, report, st, hits)                                          \
    do {                                                                        \
        int32_t step_ = next[(row) + classes[data[i]]];                         \
        (row) = step_ & (MATCH - 1);                                            \
        if ((step_ & MATCH) && (i) >= (report)) {                               \
            int32_t state_ = (row) >> shift;                                    \
            int64_t start_ = (int64_t)(i) + 1 - longest[state_];                \
            Py_ssize_t top_ = (st)->top;                                        \
            /* Dense output: the key grows the last component; nothing else. */  \
            if (top_ > 0 && extended[state_] < 0 &&                             \
                (st)->pairs[2 * top_ - 1] > start_ &&                           \
                (st)->pairs[2 * top_ - 2] <= start_)                            \
                (st)->pairs[2 * top_ - 1] = (int64_t)(i) + 1;                   \
            else if (matched(self, (row), (i), (st), (hits)) < 0)               \
                goto done;                                                      \
        }                                                                       \
    } while (0)

/* Buffers at least this long are scanned as two halves at once (the second half from
   max_length bytes before its start, so that its states are right at its start): a
   DFA step waits on the load before it, and two independent chains overlap. */
#define TWO_CHAINS (1 << 14)

/* scan(buffer) -> (components: bytes, hits: list[tuple[int, int, int]], tail: int) */
static PyObject *Automaton_scan(Automaton *self, PyObject *arg) {
    Py_buffer view;
    if (!ready(self) || PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *data = view.buf;
    const Py_ssize_t size = view.len;
    Stack first = {0}, second = {0};
    PyObject *hits = PyList_New(0), *later = PyList_New(0), *result = NULL;
    if (hits == NULL || later == NULL) goto done;
    const int32_t *next = self->next, *longest = self->longest, *extended = self->extended;
    const uint8_t *classes = self->classes;
    const int32_t shift = self->shift;
    int32_t row = 0, row2 = 0;  /* a state's offset in the table */
    Py_ssize_t mid = size, from2 = size;
    if (size >= TWO_CHAINS && self->max_length < size / 4) {
        mid = size / 2;
        from2 = mid - self->max_length;
    }
    Py_ssize_t i = 0, j = from2;
    for (; i < mid && j < size; i++, j++) {
        STEP(row, i, 0, &first, hits);
        STEP(row2, j, mid, &second, later);
    }
    for (; i < mid; i++) STEP(row, i, 0, &first, hits);
    for (; j < size; j++) STEP(row2, j, mid, &second, later);
    if (from2 < size) row = row2;  /* the state at the buffer's end */
    /* The second half's components join the first's (in order of their ends). */
    for (Py_ssize_t k = 0; k < second.top; k++)
        if (stack_add(&first, second.pairs[2 * k], second.pairs[2 * k + 1]) < 0) goto done;
    Py_ssize_t nlater = PyList_GET_SIZE(later);
    for (Py_ssize_t k = 0; k < nlater; k++)
        if (PyList_Append(hits, PyList_GET_ITEM(later, k)) < 0) goto done;
    PyObject *components = PyBytes_FromStringAndSize(
        (const char *)first.pairs, (Py_ssize_t)(first.top * 2 * (Py_ssize_t)sizeof(int64_t)));
    if (components == NULL) goto done;
    result = Py_BuildValue("(NOi)", components, hits, self->tail[row >> self->shift]);
done:
    Py_XDECREF(hits);
    Py_XDECREF(later);
    PyMem_Free(first.pairs);
    PyMem_Free(second.pairs);
    PyBuffer_Release(&view);
    return result;
}

/* render(buffer, components, extra, decided, open_until, replacement) -> (bytes, int) */
static PyObject *render(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer view, comps, repl;
    PyObject *extra;
    Py_ssize_t decided, span_end;
    if (!PyArg_ParseTuple(args, "y*y*O!nny*", &view, &comps, &PyList_Type, &extra, &decided,
                          &span_end, &repl))
        return NULL;
    PyObject *result = NULL;
    char *out = NULL;
    const char *data = view.buf;
    Py_ssize_t size = view.len;
    const int64_t *comp = comps.buf;
    Py_ssize_t ncomps = comps.len / (Py_ssize_t)(2 * sizeof(int64_t));
    Py_ssize_t nextra = PyList_GET_SIZE(extra);
    if (comps.len % (Py_ssize_t)(2 * sizeof(int64_t)) != 0 || decided < 0 || decided > size ||
        span_end < 0) {
        PyErr_SetString(PyExc_ValueError, "bad arguments to render");
        goto done;
    }
    /* Worst case: every byte up to `decided` in a replacement of its own. */
    if (repl.len > 0 && decided > (PY_SSIZE_T_MAX - size) / (repl.len + 1)) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t limit = size + decided * repl.len + 1;
    out = PyMem_Malloc((size_t)limit);
    if (out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t written = 0, ci = 0, ei = 0;
    for (;;) {
        int64_t start, stop;
        int64_t c_start = ci < ncomps ? comp[2 * ci] : INT64_MAX;
        int64_t e_start = INT64_MAX, e_stop = 0;
        if (ei < nextra) {
            PyObject *pair = PyList_GET_ITEM(extra, ei);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                PyErr_SetString(PyExc_TypeError, "extra spans are (start, end) tuples");
                goto done;
            }
            e_start = PyLong_AsLongLong(PyTuple_GET_ITEM(pair, 0));
            e_stop = PyLong_AsLongLong(PyTuple_GET_ITEM(pair, 1));
            if (PyErr_Occurred()) goto done;
        }
        if (c_start == INT64_MAX && e_start == INT64_MAX) break;
        if (c_start <= e_start) {
            start = c_start;
            stop = comp[2 * ci + 1];
            ci++;
        } else {
            start = e_start;
            stop = e_stop;
            ei++;
        }
        if (start >= decided) break;  /* found again, whole, with the next chunk */
        if (start < 0) start = 0;
        if (stop > size) stop = size;
        if (start >= span_end) {
            memcpy(out + written, data + span_end, (size_t)(start - span_end));
            written += start - span_end;
            memcpy(out + written, repl.buf, (size_t)repl.len);
            written += repl.len;
        }
        if (stop > span_end) span_end = (Py_ssize_t)stop;
    }
    if (span_end < decided) {
        memcpy(out + written, data + span_end, (size_t)(decided - span_end));
        written += decided - span_end;
    }
    result = Py_BuildValue("(y#n)", out, written, span_end);
done:
    PyMem_Free(out);
    PyBuffer_Release(&view);
    PyBuffer_Release(&comps);
    PyBuffer_Release(&repl);
    return result;
}

static PyMethodDef Automaton_methods[] = {
    {"scan", (PyCFunction)Automaton_scan, METH_O,
     "scan(buffer) -> (components, hits, tail): see the module's comment"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "secure_up.launch._masknative.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)Automaton_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A DFA over the masker's keys (never shows them).",
    .tp_methods = Automaton_methods,
    .tp_init = (initproc)Automaton_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"render", render, METH_VARARGS,
     "render(buffer, components, extra, decided, open_until, replacement) -> (bytes, int)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_masknative",
    .m_doc = "The masker's inner loop, native (see launch/masking.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__masknative(void) {
    if (PyType_Ready(&AutomatonType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&AutomatonType);
    if (PyModule_AddObject(m, "Automaton", (PyObject *)&AutomatonType) < 0) {
        Py_DECREF(&AutomatonType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
