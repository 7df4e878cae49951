/* profilelab._native._strhash: the string hashes of profilelab.model.ids in C.
 *
 * hash_at(offsets, data, index, out) hashes the strings ``index`` names (all of them when
 * ``index`` is None) of a string table given as int64 ``offsets`` (n + 1) into its bytes
 * ``data``, as profilelab.model.ids.hash_strings_at does with NumPy: FNV-1a 64 over the
 * UTF-8 bytes, then mix64 of that xor the length. NumPy's loop steps through the j-th bytes
 * of all strings at once, one pass per byte position; here each string is hashed in one go.
 * ``index`` is int64, ``out`` a writable buffer of one uint64 per string hashed. An index
 * outside the table, or offsets that decrease or pass the end of ``data``, return False
 * with nothing promised of ``out``: the caller then takes NumPy's steps, which give their
 * own answer. Nulls are the caller's (their hash does not depend on the bytes). The GIL is
 * released while the strings are hashed.
 *
 * With ``dedup`` true (a table that repeats itself, such as a batch of inputs' string
 * tables), equal strings are found first with a hash table keyed by a quick hash that reads
 * 8 bytes at a step, and each distinct string is hashed with FNV-1a once: FNV steps through
 * one byte at a time, which on a batch of 256 inputs' tables costs two to three times the
 * finding. The hashes are the same either way.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ids_hash.h"

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

/* FNV-1a 64 of one string, then mix64 of that xor its length: model.ids.hash_strings. */
static inline uint64_t fnv_hash(const uint8_t *p, const uint8_t *e) {
    uint64_t h = FNV_OFFSET;
    for (const uint8_t *q = p; q < e; q++)
        h = (h ^ *q) * FNV_PRIME;
    return mix64(h ^ (uint64_t)(e - p));
}

/* The bytes [*start, *end) of the k-th string hashed (string ``index[k]``, or k when
 * ``index`` is NULL); 0 for an index or offsets out of range. */
static inline int string_at(const int64_t *off, size_t n_strings, size_t size,
                            const int64_t *index, size_t k, int64_t *start, int64_t *end) {
    int64_t i = index ? index[k] : (int64_t)k;
    if (i < 0 || (uint64_t)i >= n_strings)
        return 0;
    *start = off[i];
    *end = off[i + 1];
    return *start >= 0 && *end >= *start && (uint64_t)*end <= size;
}

/* The hashes of strings ``index[0..n)`` (of 0..n when NULL); 0 for an index or offsets out
 * of range. */
static int hash_strings(const int64_t *off, size_t n_strings, const uint8_t *data, size_t size,
                        const int64_t *index, size_t n, uint64_t *out) {
    for (size_t k = 0; k < n; k++) {
        int64_t start, end;
        if (!string_at(off, n_strings, size, index, k, &start, &end))
            return 0;
        out[k] = fnv_hash(data + start, data + end);
    }
    return 1;
}

/* A quick hash of one string for finding equal ones (never stored, never returned). */
static inline uint64_t find_hash(const uint8_t *p, size_t len) {
    uint64_t h = GOLDEN ^ len, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    if (i < len) {
        w = 0;
        memcpy(&w, p + i, len - i);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    }
    return mix64(h);
}

typedef struct {
    uint64_t find; /* find_hash of the string */
    int64_t k;     /* 1 + its position among the strings hashed; 0: an empty slot */
} slot_t;

/* Put every entry of ``slots`` (``cap`` of them) into a table of ``2 * cap``; NULL when it
 * cannot be allocated. */
static slot_t *grown(slot_t *slots, size_t cap) {
    size_t bigger = 2 * cap;
    slot_t *to = calloc(bigger, sizeof(slot_t));
    if (to) {
        for (size_t s = 0; s < cap; s++) {
            if (slots[s].k == 0)
                continue;
            size_t t = (size_t)slots[s].find & (bigger - 1);
            while (to[t].k != 0)
                t = (t + 1) & (bigger - 1);
            to[t] = slots[s];
        }
    }
    free(slots);
    return to;
}

/* hash_strings with each distinct string hashed once: a string equal to one before it
 * (same length and bytes) takes that one's hash. The table holds the distinct strings and
 * grows with them (at most half full), so a batch whose tables repeat each other keeps it
 * small enough for the cache. 0 for an index or offsets out of range; -1 when the table
 * cannot be allocated (the caller hashes every string). */
static int hash_distinct(const int64_t *off, size_t n_strings, const uint8_t *data,
                         size_t size, const int64_t *index, size_t n, uint64_t *out) {
    size_t cap = 1024, distinct = 0;
    slot_t *slots = calloc(cap, sizeof(slot_t));
    if (!slots)
        return -1;
    int status = 1;
    for (size_t k = 0; k < n; k++) {
        int64_t start, end;
        if (!string_at(off, n_strings, size, index, k, &start, &end)) {
            status = 0;
            break;
        }
        const uint8_t *p = data + start;
        size_t len = (size_t)(end - start);
        uint64_t f = find_hash(p, len);
        for (size_t s = (size_t)f & (cap - 1);; s = (s + 1) & (cap - 1)) {
            if (slots[s].k == 0) {
                slots[s].find = f;
                slots[s].k = (int64_t)k + 1;
                out[k] = fnv_hash(p, p + len);
                if (2 * ++distinct > cap) {
                    slots = grown(slots, cap);
                    cap *= 2;
                    if (!slots)
                        return -1;
                }
                break;
            }
            if (slots[s].find != f)
                continue;
            size_t j = (size_t)slots[s].k - 1; /* an earlier string: its range was checked */
            int64_t js = 0, je = 0;
            string_at(off, n_strings, size, index, j, &js, &je);
            if ((size_t)(je - js) == len && memcmp(data + js, p, len) == 0) {
                out[k] = out[j];
                break;
            }
        }
    }
    free(slots);
    return status;
}

static PyObject *hash_at(PyObject *module, PyObject *args) {
    Py_buffer off, data, index, out;
    int dedup = 0;
    if (!PyArg_ParseTuple(args, "y*y*z*w*|p:hash_at", &off, &data, &index, &out, &dedup))
        return NULL;
    PyObject *result = NULL;
    size_t n = index.buf ? (size_t)index.len / 8 : (size_t)off.len / 8 - 1;
    if (off.len % 8 || off.len < 8 || index.len % 8 || (size_t)out.len != 8 * n) {
        PyErr_SetString(PyExc_ValueError, "hash_at: offsets (at least one) and index hold "
                                          "int64, out one uint64 per string hashed");
        goto done;
    }
    int done_all = -1;
    size_t n_strings = (size_t)off.len / 8 - 1;
    Py_BEGIN_ALLOW_THREADS
    if (dedup)
        done_all = hash_distinct(off.buf, n_strings, data.buf, (size_t)data.len, index.buf, n,
                                 out.buf);
    if (done_all < 0)
        done_all = hash_strings(off.buf, n_strings, data.buf, (size_t)data.len, index.buf, n,
                                out.buf);
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(done_all);
done:
    PyBuffer_Release(&off);
    PyBuffer_Release(&data);
    PyBuffer_Release(&index);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"hash_at", hash_at, METH_VARARGS,
     "hash_at(offsets, data, index, out, dedup=False) -> bool: out[k] = the hash of string\n"
     "index[k] (of string k when index is None) of the table (int64 offsets into data), as\n"
     "model.ids.hash_strings_at; False for an index or offsets out of range. With dedup,\n"
     "each distinct string is hashed once (same hashes)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_strhash",
    .m_doc = "The string hashes of profilelab.model.ids in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__strhash(void) { return PyModule_Create(&module_def); }
