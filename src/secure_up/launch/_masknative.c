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
 *   - Automaton(keys, forms, entries): a DFA over the keys (whole forms and 64-byte
 *     pieces of long forms), with, per state, the length of the longest key that ends
 *     there, the piece (all are 64 bytes, so at most one ends at any byte) that ends
 *     there, and the length of the longest suffix that is a proper prefix of a key
 *     (the tail the masker holds back). entries[k] lists where key k lies in the long
 *     forms, as (form index, offset).
 *   - scan(buffer, carried) -> (components, extending, tail): the union of all key
 *     occurrences and of the long forms grown from their pieces (Masker._extended),
 *     as sorted, disjoint (start, end) pairs packed as native 64-bit integers
 *     (overlapping occurrences are one component, touching ones stay two); the long
 *     forms still open at the buffer's end, as (form, start, end); the held-back
 *     tail's length. carried: the long forms open at the end of the last buffer.
 *   - render(buffer, components, extra, decided, open_until, replacement) ->
 *     (output, span_end): launch/masking.py's Masker._advance over the components
 *     merged with the extra spans (a sorted list of (start, end)).
 *
 * Bounds: the DFA has at most MAX_TABLE transitions (the caller falls back to the
 * Python path beyond, see launch/masking.py); scan and render take time linear in the
 * buffer plus the growth of long forms near the edges of what is masked, and memory
 * linear in the buffer; every index is checked against the buffer's length.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
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
    /* Long forms, and where each piece lies in them: key k's entries are
       [entry_begin[k], entry_begin[k + 1]) of entry_form and entry_offset. */
    PyObject *forms;       /* a tuple of bytes */
    int32_t *entry_begin, *entry_form, *entry_offset;
    int32_t *reach_before, *reach_after;  /* per key: how far its forms go around it */
    int32_t max_reach_before, max_reach_after;  /* over all keys */
    uint64_t *key_bytes;   /* per key: 256 bits, the bytes its forms hold */
    int32_t *period;       /* per form: its smallest period if at most MAX_PERIOD, else 0 */
    uint8_t **pattern;     /* per periodic form: its pattern over length + 2 periods, else NULL */
    int32_t *key_period;   /* per key: the period all its forms share, else 0 */
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
    PyMem_Free(self->entry_begin);
    PyMem_Free(self->entry_form);
    PyMem_Free(self->entry_offset);
    PyMem_Free(self->reach_before);
    PyMem_Free(self->reach_after);
    PyMem_Free(self->key_bytes);
    if (self->pattern != NULL)
        for (Py_ssize_t f = 0; self->forms != NULL && f < PyTuple_GET_SIZE(self->forms); f++)
            PyMem_Free(self->pattern[f]);
    PyMem_Free(self->pattern);
    PyMem_Free(self->period);
    PyMem_Free(self->key_period);
    self->key_period = NULL;
    self->pattern = NULL;
    self->key_bytes = NULL;
    self->period = NULL;
    Py_CLEAR(self->forms);
    self->next = self->longest = self->extended = self->tail = self->key_length = NULL;
    self->entry_begin = self->entry_form = self->entry_offset = NULL;
    self->reach_before = self->reach_after = NULL;
}

static void Automaton_dealloc(Automaton *self) {
    automaton_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Forms of a period up to this many bytes ("abab...") grow by phase, not by alignment. */
#define MAX_PERIOD 64

/* The smallest p <= MAX_PERIOD with text[i] == text[i + p] for every i, else 0. */
static int32_t smallest_period(const uint8_t *text, Py_ssize_t length) {
    for (int32_t p = 1; p <= MAX_PERIOD && p < length; p++)
        if (memcmp(text, text + p, (size_t)(length - p)) == 0) return p;
    return 0;
}

/* Each form's smallest period and, for a periodic one, its pattern laid out over the
   form's length and two periods more, so that a walk from any phase, either way, is a
   plain compare of bytes (see phases_at_high). -1 when out of memory. */
static int take_periods(Automaton *self) {
    Py_ssize_t nforms = PyTuple_GET_SIZE(self->forms);
    self->period = PyMem_Calloc((size_t)(nforms ? nforms : 1), sizeof(int32_t));
    self->pattern = PyMem_Calloc((size_t)(nforms ? nforms : 1), sizeof(uint8_t *));
    if (self->period == NULL || self->pattern == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t f = 0; f < nforms; f++) {
        PyObject *form = PyTuple_GET_ITEM(self->forms, f);
        const uint8_t *text = (const uint8_t *)PyBytes_AS_STRING(form);
        Py_ssize_t length = PyBytes_GET_SIZE(form);
        int32_t p = smallest_period(text, length);
        self->period[f] = p;
        if (p == 0) continue;
        uint8_t *pattern = PyMem_Malloc((size_t)(length + 2 * p));
        if (pattern == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < length + 2 * p; i++) pattern[i] = text[i % p];
        self->pattern[f] = pattern;
    }
    return 0;
}

/* Orders a key's entries as (form, offset modulo the form's period, offset). */
static int by_group(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    for (int i = 0; i < 3; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* Key k's entries from a list of (form index, offset) pairs; -1 on bad input.
   Where a form is periodic, the places of one piece in it at one phase differ only in
   how far the form reaches before and after the piece: of those, only the first and the
   last are kept (the one reaching furthest after and the one reaching furthest before
   the piece: each of the others grows a subset of what those two grow). */
static int take_entries(Automaton *self, PyObject *entries, Py_ssize_t nkeys) {
    Py_ssize_t nforms = PyTuple_GET_SIZE(self->forms), total = 0, most = 0;
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *list = PyList_GET_ITEM(entries, k);
        if (!PyList_Check(list)) goto bad;
        total += PyList_GET_SIZE(list);
        if (PyList_GET_SIZE(list) > most) most = PyList_GET_SIZE(list);
    }
    if (total > INT32_MAX / 2) goto bad;
    if (take_periods(self) < 0) return -1;
    self->entry_begin = PyMem_Malloc((size_t)(nkeys + 1) * sizeof(int32_t));
    self->entry_form = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(int32_t));
    self->entry_offset = PyMem_Malloc((size_t)(total ? total : 1) * sizeof(int32_t));
    self->reach_before = PyMem_Malloc((size_t)(nkeys ? nkeys : 1) * sizeof(int32_t));
    self->reach_after = PyMem_Malloc((size_t)(nkeys ? nkeys : 1) * sizeof(int32_t));
    int64_t *group = PyMem_Malloc((size_t)(most ? most : 1) * 3 * sizeof(int64_t));
    if (!self->entry_begin || !self->entry_form || !self->entry_offset || !self->reach_before ||
        !self->reach_after || !group) {
        PyMem_Free(group);
        PyErr_NoMemory();
        return -1;
    }
    int32_t n = 0;
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *list = PyList_GET_ITEM(entries, k);
        Py_ssize_t count = PyList_GET_SIZE(list);
        self->entry_begin[k] = n;
        self->reach_before[k] = self->reach_after[k] = 0;
        for (Py_ssize_t e = 0; e < count; e++) {
            Py_ssize_t form, offset;
            if (!PyArg_ParseTuple(PyList_GET_ITEM(list, e), "nn", &form, &offset)) {
                PyMem_Free(group);
                return -1;
            }
            if (form < 0 || form >= nforms) goto bad_group;
            Py_ssize_t length = PyBytes_GET_SIZE(PyTuple_GET_ITEM(self->forms, form));
            if (offset < 0 || offset + self->key_length[k] > length || length > INT32_MAX / 2)
                goto bad_group;
            int32_t p = self->period[form];
            /* A non-periodic form's places each make a group of their own. */
            group[3 * e] = form;
            group[3 * e + 1] = p > 0 ? offset % p : offset;
            group[3 * e + 2] = offset;
            int32_t after = (int32_t)(length - offset - self->key_length[k]);
            if (offset > self->reach_before[k]) self->reach_before[k] = (int32_t)offset;
            if (after > self->reach_after[k]) self->reach_after[k] = after;
        }
        if (count > 1) qsort(group, (size_t)count, 3 * sizeof(int64_t), by_group);
        for (Py_ssize_t e = 0; e < count; e++) {
            int first = e == 0 || group[3 * e] != group[3 * e - 3] ||
                        group[3 * e + 1] != group[3 * e - 2];
            int last = e == count - 1 || group[3 * e] != group[3 * e + 3] ||
                       group[3 * e + 1] != group[3 * e + 4];
            if (!first && !last) continue;
            self->entry_form[n] = (int32_t)group[3 * e];
            self->entry_offset[n] = (int32_t)group[3 * e + 2];
            n++;
        }
    }
    PyMem_Free(group);
    self->entry_begin[nkeys] = n;
    self->key_bytes = PyMem_Calloc((size_t)(nkeys ? nkeys : 1) * 4, sizeof(uint64_t));
    self->key_period = PyMem_Calloc((size_t)(nkeys ? nkeys : 1), sizeof(int32_t));
    if (self->key_bytes == NULL || self->key_period == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        int32_t shared = -1;
        for (int32_t e = self->entry_begin[k]; e < self->entry_begin[k + 1]; e++) {
            int32_t p = self->period[self->entry_form[e]];
            shared = shared < 0 || shared == p ? p : 0;
        }
        self->key_period[k] = shared > 0 && shared < self->key_length[k] ? shared : 0;
        uint64_t *bits = self->key_bytes + 4 * k;
        for (int32_t e = self->entry_begin[k]; e < self->entry_begin[k + 1]; e++) {
            PyObject *form = PyTuple_GET_ITEM(self->forms, self->entry_form[e]);
            const uint8_t *text = (const uint8_t *)PyBytes_AS_STRING(form);
            for (Py_ssize_t b = 0; b < PyBytes_GET_SIZE(form); b++)
                bits[text[b] >> 6] |= (uint64_t)1 << (text[b] & 63);
        }
    }
    self->max_reach_before = self->max_reach_after = 0;
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        if (self->reach_before[k] > self->max_reach_before)
            self->max_reach_before = self->reach_before[k];
        if (self->reach_after[k] > self->max_reach_after)
            self->max_reach_after = self->reach_after[k];
    }
    return 0;
bad_group:
    PyMem_Free(group);
bad:
    PyErr_SetString(PyExc_ValueError, "entries must be lists of (form, offset) in the forms");
    return -1;
}

/* Automaton(keys: list[bytes], forms: tuple[bytes, ...], entries: list[list[(int, int)]]) */
static int Automaton_init(Automaton *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"keys", "forms", "entries", NULL};
    PyObject *keys, *forms, *entries;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!", kwlist, &PyList_Type, &keys,
                                     &PyTuple_Type, &forms, &PyList_Type, &entries))
        return -1;
    Py_ssize_t nkeys = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(entries) != nkeys || nkeys > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "keys and entries differ in length");
        return -1;
    }
    for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(forms); f++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(forms, f))) {
            PyErr_SetString(PyExc_ValueError, "forms must be bytes");
            return -1;
        }
    }
    automaton_clear(self);
    Py_INCREF(forms);
    self->forms = forms;
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
    if (take_entries(self, entries, nkeys) < 0) goto done;
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
        int is_extended = k >= 0 && self->entry_begin[k + 1] > self->entry_begin[k];
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

/* Room for twice as many pairs in a growing array of pairs; -1 when out of memory. */
static int reserve(int64_t **pairs, Py_ssize_t *capacity) {
    Py_ssize_t grown = *capacity ? *capacity * 2 : 64;
    int64_t *bigger = PyMem_Realloc(*pairs, (size_t)grown * 2 * sizeof(int64_t));
    if (bigger == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *pairs = bigger;
    *capacity = grown;
    return 0;
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
    if (st->top == st->capacity && reserve(&st->pairs, &st->capacity) < 0) return -1;
    st->pairs[2 * st->top] = start;
    st->pairs[2 * st->top + 1] = stop;
    st->top++;
    return 0;
}

/* Pieces of long forms found: (key, end) pairs, in order of their ends. */
typedef struct {
    int64_t *pairs;
    Py_ssize_t count, capacity;
} Hits;

static int hits_add(Hits *h, int64_t key, int64_t end) {
    if (h->count == h->capacity && reserve(&h->pairs, &h->capacity) < 0) return -1;
    h->pairs[2 * h->count] = key;
    h->pairs[2 * h->count + 1] = end;
    h->count++;
    return 0;
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
            int32_t key_ = extended[state_];                                    \
            /* Dense output: the key grows the last component. */                 \
            if (top_ > 0 && (st)->pairs[2 * top_ - 1] > start_ &&               \
                (st)->pairs[2 * top_ - 2] <= start_)                            \
                (st)->pairs[2 * top_ - 1] = (int64_t)(i) + 1;                   \
            else if (stack_add((st), start_, (int64_t)(i) + 1) < 0)             \
                goto done;                                                      \
            if (key_ >= 0) {                                                    \
                if ((hits)->count < (hits)->capacity) {                         \
                    (hits)->pairs[2 * (hits)->count] = key_;                    \
                    (hits)->pairs[2 * (hits)->count + 1] = (int64_t)(i) + 1;    \
                    (hits)->count++;                                            \
                } else if (hits_add((hits), key_, (int64_t)(i) + 1) < 0)        \
                    goto done;                                                  \
            }                                                                   \
        }                                                                       \
    } while (0)

/* Buffers at least this long are scanned as two halves at once (the second half from
   max_length bytes before its start, so that its states are right at its start): a
   DFA step waits on the load before it, and two independent chains overlap. */
#define TWO_CHAINS (1 << 14)

/* Alignments of long forms already grown in this buffer: (form, where the form would
   start) -> the end of the span grown (a piece of that alignment starting before it
   lies in that span). Open addressing, at most half full. */
typedef struct {
    int64_t *slots;  /* (form + 1, start, end) triples; form + 1 == 0: empty */
    Py_ssize_t count, capacity;
} Grown;

static uint64_t grown_hash(int64_t form, int64_t start) {
    uint64_t h = (uint64_t)start * 0x9E3779B97F4A7C15ULL ^ (uint64_t)form * 0xC2B2AE3D27D4EB4FULL;
    return h ^ (h >> 29);
}

static int64_t *grown_find(Grown *g, int64_t form, int64_t start) {
    static int64_t empty[3] = {0, 0, 0};
    if (g->capacity == 0) return empty;  /* nothing grown yet */
    uint64_t mask = (uint64_t)g->capacity - 1;
    for (uint64_t i = grown_hash(form, start) & mask;; i = (i + 1) & mask) {
        int64_t *slot = g->slots + 3 * i;
        if (slot[0] == 0 || (slot[0] == form + 1 && slot[1] == start)) return slot;
    }
}

static int grown_set(Grown *g, int64_t form, int64_t start, int64_t end) {
    if (2 * (g->count + 1) > g->capacity) {
        Py_ssize_t capacity = g->capacity ? g->capacity * 2 : 1024;
        int64_t *old = g->slots;
        Py_ssize_t old_capacity = g->capacity;
        g->slots = PyMem_Calloc((size_t)capacity * 3, sizeof(int64_t));
        if (g->slots == NULL) {
            g->slots = old;
            PyErr_NoMemory();
            return -1;
        }
        g->capacity = capacity;
        for (Py_ssize_t i = 0; i < old_capacity; i++) {
            int64_t *slot = old + 3 * i;
            if (slot[0] != 0) memcpy(grown_find(g, slot[0] - 1, slot[1]), slot, 3 * sizeof(int64_t));
        }
        PyMem_Free(old);
    }
    int64_t *slot = grown_find(g, form, start);
    if (slot[0] == 0) g->count++;
    slot[0] = form + 1;
    slot[1] = start;
    slot[2] = end;
    return 0;
}

static int by_end(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* How many bytes from `a` on equal those from `b` on (at most `limit`): memcmp by blocks
   of 64, then bytes. */
static int64_t common_prefix(const uint8_t *a, const uint8_t *b, int64_t limit) {
    int64_t n = 0;
    while (n + 64 <= limit && memcmp(a + n, b + n, 64) == 0) n += 64;
    while (n < limit && a[n] == b[n]) n++;
    return n;
}

/* How many of the `size` bytes at `data` equal the `length` bytes at `text`, from the start. */
static int64_t matching_after(const uint8_t *data, int64_t size, const uint8_t *text,
                              int64_t length) {
    return common_prefix(data, text, size < length ? size : length);
}

/* How many bytes before data[at] equal those before text[offset], backwards (at most
   `limit`, which is at most at and offset). */
static int64_t common_suffix(const uint8_t *data, int64_t at, const uint8_t *text,
                             int64_t offset, int64_t limit) {
    int64_t n = 0;
    while (n + 64 <= limit && memcmp(data + at - n - 64, text + offset - n - 64, 64) == 0) n += 64;
    while (n < limit && data[at - n - 1] == text[offset - n - 1]) n++;
    return n;
}

/* How many bytes before data[at] equal those before text[offset], backwards. */
static int64_t matching_before(const uint8_t *data, int64_t at, const uint8_t *text,
                               int64_t offset) {
    return common_suffix(data, at, text, offset, at < offset ? at : offset);
}

/* Where a long form stays open at the buffer's end: once per alignment (the grown map
   holds those added, with the carried ones). */
static int still_open(Grown *grown, PyObject *extending, int32_t form, int64_t form_start,
                      int64_t size) {
    const int64_t *slot = grown_find(grown, form, form_start);
    if (slot[0] != 0 && slot[2] == size) return 0;
    if (grown_set(grown, form, form_start, size) < 0) return -1;
    PyObject *open = Py_BuildValue("(iLL)", form, (long long)form_start, (long long)size);
    if (open == NULL || PyList_Append(extending, open) < 0) {
        Py_XDECREF(open);
        return -1;
    }
    Py_DECREF(open);
    return 0;
}

/* For a form of small period p at one component [low, high): how the buffer lines up
   with the form's repeating pattern at each phase (the form's place at the edge,
   modulo p), computed once per phase on first need. A stretch of that form at any
   alignment of that phase crosses `high` iff it matches from its piece to `high`:
   within inside_high[phase] bytes; then it goes on for beyond_high[phase] bytes (and
   no further than the form's end). The same at `low`, the other way. */
typedef struct {
    int32_t form;  /* -1: unused */
    int64_t low, high;
    uint64_t done_high, done_low;  /* phases computed */
    int64_t grown_high, grown_low;  /* how far the spans added so far reach out */
    int64_t inside_high[MAX_PERIOD], beyond_high[MAX_PERIOD];
    int64_t inside_low[MAX_PERIOD], beyond_low[MAX_PERIOD];
} Phases;

#define PHASES_CACHED 4

/* Each walk stops after `length` bytes: no stretch of the form is longer. `pattern`
   is the form's pattern from phase 0 over length + 2p bytes (Automaton.pattern): the
   walk forward from phase `phase` compares with it from `phase` on, the walk backward
   with it backward from BACK_FROM, the first index of that phase past `length` (so
   pattern[BACK_FROM - 1 - n] is the pattern at phase - 1 - n). */
#define BACK_FROM(phase, length, p) ((phase) + ((length) + (p) - 1) / (p) * (p))

static void phases_at_high(Phases *ph, const uint8_t *pattern, int64_t length, int32_t p,
                           int32_t phase, const uint8_t *data, int64_t size) {
    int64_t inside = ph->high - ph->low;
    ph->inside_high[phase] = common_suffix(data, ph->high, pattern, BACK_FROM(phase, length, p),
                                           inside < length ? inside : length);
    int64_t beyond = size - ph->high;
    ph->beyond_high[phase] = common_prefix(data + ph->high, pattern + phase,
                                           beyond < length ? beyond : length);
    ph->done_high |= (uint64_t)1 << phase;
}

static void phases_at_low(Phases *ph, const uint8_t *pattern, int64_t length, int32_t p,
                          int32_t phase, const uint8_t *data) {
    int64_t inside = ph->high - ph->low;
    ph->inside_low[phase] = common_prefix(data + ph->low, pattern + phase,
                                          inside < length ? inside : length);
    ph->beyond_low[phase] = common_suffix(data, ph->low, pattern, BACK_FROM(phase, length, p),
                                          ph->low < length ? ph->low : length);
    ph->done_low |= (uint64_t)1 << phase;
}

/* A form of small period, at one alignment: what its stretch adds beyond the
   component, by phase (see Phases). -1 when out of memory. */
static int grow_periodic(Phases *ph, const uint8_t *pattern, int64_t length, int32_t p,
                         int32_t form_index, int64_t form_start, int64_t start, int64_t end,
                         int out_below, int out_above, const uint8_t *data, int64_t size,
                         Grown *grown, Hits *spans, PyObject *extending) {
    if (out_above) {  /* the form covers high; the stretch must reach it from the piece */
        int32_t phase = (int32_t)((ph->high - form_start) % p);
        if (!(ph->done_high >> phase & 1))
            phases_at_high(ph, pattern, length, p, phase, data, size);
        if (ph->inside_high[phase] >= ph->high - start) {
            int64_t room = form_start + length - ph->high;
            int64_t high = ph->high + (ph->beyond_high[phase] < room ? ph->beyond_high[phase] : room);
            if (high > ph->grown_high) {  /* a span reaching no further adds nothing */
                ph->grown_high = high;
                if (hits_add(spans, ph->high - 1, high) < 0) return -1;
            }
            if (high == size && high - form_start < length &&
                still_open(grown, extending, form_index, form_start, size) < 0)
                return -1;
        }
    }
    if (out_below) {
        int32_t phase = (int32_t)((ph->low - form_start) % p);
        if (!(ph->done_low >> phase & 1)) phases_at_low(ph, pattern, length, p, phase, data);
        if (ph->inside_low[phase] >= end - ph->low) {
            int64_t room = ph->low - form_start;
            int64_t low = ph->low - (ph->beyond_low[phase] < room ? ph->beyond_low[phase] : room);
            if (low < ph->grown_low) {
                ph->grown_low = low;
                if (hits_add(spans, low, ph->low + 1) < 0) return -1;
            }
        }
    }
    return 0;
}

/* The first of hits[from:] that ends at `at` or later (they are in order of their ends). */
static Py_ssize_t first_ending_from(const Hits *hits, Py_ssize_t from, int64_t at) {
    Py_ssize_t lo = from, hi = hits->count;
    while (lo < hi) {
        Py_ssize_t m = lo + (hi - lo) / 2;
        if (hits->pairs[2 * m + 1] < at) lo = m + 1; else hi = m;
    }
    return lo;
}

/* Long forms grown from the pieces found, as launch/masking.py's Masker._extended
   does: for each piece and each place of it in a long form, the longest stretch of
   the buffer around the piece that matches that form there; once per alignment and
   stretch. A piece whose forms cannot reach out of the component it lies in (nor to
   the buffer's end) is skipped: it would change nothing. */
static int grow(const Automaton *self, const uint8_t *data, Py_ssize_t size, const Stack *comps,
                const Hits *hits, Grown *grown, Hits *spans, PyObject *extending) {
    Phases *cache = PyMem_Calloc(PHASES_CACHED, sizeof(Phases));
    if (cache == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < PHASES_CACHED; i++) cache[i].form = -1;
    int next_slot = 0, failed = 0;
    int64_t mixed_until = 0;
    Py_ssize_t c = 0;
    for (Py_ssize_t h = 0; h < hits->count && !failed; h++) {
        int32_t key = (int32_t)hits->pairs[2 * h];
        int64_t end = hits->pairs[2 * h + 1], start = end - self->key_length[key];
        while (c < comps->top && comps->pairs[2 * c + 1] < end) c++;
        if (c == comps->top) break;  /* cannot happen: each piece is in a component */
        int64_t low_edge = comps->pairs[2 * c], high_edge = comps->pairs[2 * c + 1];
        /* Deep inside a long component (output dense with one long value), every piece
           up to the last ones is skipped below: jump to the first that may not be. */
        int64_t skip_to = high_edge - self->max_reach_after;
        if (end < skip_to && (start - self->max_reach_before >= low_edge || low_edge == 0)) {
            Py_ssize_t lo = first_ending_from(hits, h, skip_to);
            if (lo > h) {
                h = lo - 1;
                continue;
            }
        }
        /* A piece of forms of period p that occurs p bytes before and p bytes after
           too (its next p bytes repeat its last p, its previous p its first p) grows
           nothing those two do not: the one after reaches further after it, the one
           before further before, at the same phase. */
        int32_t p = self->key_period[key];
        if (p > 0 && start >= p && end + p <= size &&
            memcmp(data + start - p, data + start, (size_t)p) == 0 &&
            memcmp(data + end, data + end - p, (size_t)p) == 0) {
            /* So does every piece ending up to p bytes before the buffer stops repeating
               with period p (each such piece is one of the p that end in the next p
               bytes, repeated): when those p share the period, jump past them all. */
            if (end < mixed_until) continue;  /* a piece of another period is near */
            Py_ssize_t g = h + 1;
            while (g < hits->count && hits->pairs[2 * g + 1] <= end + p &&
                   self->key_period[hits->pairs[2 * g]] == p)
                g++;
            if (g < hits->count && hits->pairs[2 * g + 1] <= end + p) {
                mixed_until = hits->pairs[2 * g + 1];
                continue;
            }
            int64_t limit = end + common_prefix(data + end, data + end - p, size - end) - p;
            h = first_ending_from(hits, h + 1, limit + 1) - 1;
            continue;
        }
        int64_t reach_low = start - self->reach_before[key];
        int64_t reach_high = end + self->reach_after[key];
        if ((reach_low >= low_edge || low_edge == 0) && reach_high <= high_edge &&
            reach_high < size)
            continue;
        /* A stretch can leave the component only through a byte just outside it that
           its form holds there: none of this key's forms holds it, nothing to grow. */
        const uint64_t *bits = self->key_bytes + 4 * key;
        int below = low_edge > 0 &&
                    (bits[data[low_edge - 1] >> 6] >> (data[low_edge - 1] & 63) & 1);
        int above = high_edge == size ||
                    (bits[data[high_edge] >> 6] >> (data[high_edge] & 63) & 1);
        if (!below && !above) continue;
        for (int32_t e = self->entry_begin[key]; e < self->entry_begin[key + 1]; e++) {
            int32_t form_index = self->entry_form[e];
            int64_t offset = self->entry_offset[e], form_start = start - offset;
            PyObject *form = PyTuple_GET_ITEM(self->forms, form_index);
            const uint8_t *text = (const uint8_t *)PyBytes_AS_STRING(form);
            int64_t length = PyBytes_GET_SIZE(form);
            /* The same for this form, where it would lie (one compare). */
            int out_below = below && low_edge - 1 >= form_start &&
                            data[low_edge - 1] == text[low_edge - 1 - form_start];
            int out_above = high_edge < size ? above && high_edge < form_start + length &&
                                                   data[high_edge] == text[high_edge - form_start]
                                             : form_start + length > size;
            if (!out_below && !out_above) continue;
            int32_t period = self->period[form_index];
            if (period > 0) {  /* by phase: O(1) once the component's phase is known */
                Phases *ph = NULL;
                for (int i = 0; i < PHASES_CACHED && ph == NULL; i++)
                    if (cache[i].form == form_index && cache[i].low == low_edge &&
                        cache[i].high == high_edge)
                        ph = &cache[i];
                if (ph == NULL) {
                    ph = &cache[next_slot];
                    next_slot = (next_slot + 1) % PHASES_CACHED;
                    ph->form = form_index;
                    ph->low = low_edge;
                    ph->high = high_edge;
                    ph->done_high = ph->done_low = 0;
                    ph->grown_high = high_edge;
                    ph->grown_low = low_edge;
                }
                if (grow_periodic(ph, self->pattern[form_index], length, period, form_index,
                                  form_start, start, end, out_below, out_above, data, size,
                                  grown, spans, extending) < 0)
                    failed = 1;
                continue;
            }
            const int64_t *slot = grown_find(grown, form_index, form_start);
            if (slot[0] != 0 && start < slot[2]) continue;  /* in a stretch grown already */
            int64_t low = start - matching_before(data, start, text, start - form_start);
            int64_t high = end + matching_after(data + end, size - end, text + (end - form_start),
                                                length - (end - form_start));
            if ((high == size && high - form_start < length &&
                 still_open(grown, extending, form_index, form_start, size) < 0) ||
                grown_set(grown, form_index, form_start, high) < 0 ||
                ((low < start || high > end) && hits_add(spans, low, high) < 0)) {
                failed = 1;
                break;
            }
        }
    }
    PyMem_Free(cache);
    return failed ? -1 : 0;
}

/* scan(buffer, carried) -> (components: bytes, extending: list[(int, int, int)], tail: int)
   carried: (form, start, at) of the long forms open at the end of the last buffer:
   where the form starts (before this buffer: negative) and where it goes on (at >= 0).
   extending: the same for those open at this buffer's end (at: its end). */
static PyObject *Automaton_scan(Automaton *self, PyObject *args) {
    Py_buffer view;
    PyObject *seen;
    if (!ready(self) || !PyArg_ParseTuple(args, "y*O!", &view, &PyList_Type, &seen)) return NULL;
    const uint8_t *data = view.buf;
    const Py_ssize_t size = view.len;
    Stack first = {0}, second = {0}, all = {0};
    Hits hits = {0}, later = {0}, spans = {0};  /* spans: (start, end) pairs, any order */
    Grown grown = {0};
    PyObject *extending = PyList_New(0), *result = NULL;
    if (extending == NULL) goto done;
    /* Long forms open at the end of the last buffer go on first, from byte `at`. */
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(seen); k++) {
        long long form, start, at;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(seen, k), "LLL", &form, &start, &at)) goto done;
        if (form < 0 || form >= PyTuple_GET_SIZE(self->forms) || at < 0 || at > size ||
            start > at || at - start > PyBytes_GET_SIZE(PyTuple_GET_ITEM(self->forms, form))) {
            PyErr_SetString(PyExc_ValueError, "no such form, or not open there");
            goto done;
        }
        PyObject *text = PyTuple_GET_ITEM(self->forms, form);
        int64_t length = PyBytes_GET_SIZE(text);
        int64_t end = at + matching_after(data + at, size - at,
                                          (const uint8_t *)PyBytes_AS_STRING(text) + (at - start),
                                          length - (at - start));
        if (grown_set(&grown, form, start, end) < 0 || (end > 0 && hits_add(&spans, 0, end) < 0))
            goto done;
        if (end == size && end - start < length) {
            PyObject *open = Py_BuildValue("(LLL)", form, start, (long long)end);
            if (open == NULL || PyList_Append(extending, open) < 0) {
                Py_XDECREF(open);
                goto done;
            }
            Py_DECREF(open);
        }
    }
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
        STEP(row, i, 0, &first, &hits);
        STEP(row2, j, mid, &second, &later);
    }
    for (; i < mid; i++) STEP(row, i, 0, &first, &hits);
    for (; j < size; j++) STEP(row2, j, mid, &second, &later);
    if (from2 < size) row = row2;  /* the state at the buffer's end */
    /* The second half's components join the first's (in order of their ends). */
    for (Py_ssize_t k = 0; k < second.top; k++)
        if (stack_add(&first, second.pairs[2 * k], second.pairs[2 * k + 1]) < 0) goto done;
    if (hits.count > 0 || later.count > 0 || spans.count > 0) {
        if (grow(self, data, size, &first, &hits, &grown, &spans, extending) < 0 ||
            grow(self, data, size, &first, &later, &grown, &spans, extending) < 0)
            goto done;
        /* The grown spans join the components, all in order of their ends. */
        if (spans.count > 1) qsort(spans.pairs, (size_t)spans.count, 2 * sizeof(int64_t), by_end);
        Py_ssize_t a = 0, b = 0;
        while (a < first.top || b < spans.count) {
            int take_first = b == spans.count ||
                             (a < first.top && first.pairs[2 * a + 1] <= spans.pairs[2 * b + 1]);
            const int64_t *pair = take_first ? first.pairs + 2 * a++ : spans.pairs + 2 * b++;
            if (stack_add(&all, pair[0], pair[1]) < 0) goto done;
        }
    } else {
        all = first;
        first = (Stack){0};
    }
    PyObject *components = PyBytes_FromStringAndSize(
        (const char *)all.pairs, (Py_ssize_t)(all.top * 2 * (Py_ssize_t)sizeof(int64_t)));
    if (components == NULL) goto done;
    result = Py_BuildValue("(NOi)", components, extending, self->tail[row >> self->shift]);
done:
    Py_XDECREF(extending);
    PyMem_Free(first.pairs);
    PyMem_Free(second.pairs);
    PyMem_Free(spans.pairs);
    PyMem_Free(all.pairs);
    PyMem_Free(hits.pairs);
    PyMem_Free(later.pairs);
    PyMem_Free(grown.slots);
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
        if (stop <= start) continue;  /* an empty span masks nothing */
        if (start >= span_end) {
            /* Each replacement starts past the last one's start: at most `decided` of
               them, and `limit` holds that many; checked all the same. */
            if (written + (start - span_end) + repl.len > limit) {
                PyErr_SetString(PyExc_RuntimeError, "render overran its output");
                goto done;
            }
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
    {"scan", (PyCFunction)Automaton_scan, METH_VARARGS,
     "scan(buffer, carried) -> (components, extending, tail): see the module's comment"},
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
