/* profilelab._native._lookup: the position of each key among distinct ids.
 *
 * positions(keys, ids, out) writes into ``out`` the position of each of ``keys`` among
 * ``ids`` (-1 when absent), what profilelab.model.ids.positions computes with NumPy: an
 * open-addressing table of positions (Fibonacci hashing, linear probing, at most a quarter
 * full). ``keys`` and ``ids`` are buffers of int64, ``out`` a writable buffer of one int32
 * per key; ids are distinct (of equal ids, the first is found). The GIL is released while
 * the table is filled and probed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ull

static void lookup(const int64_t *keys, size_t n_keys, const int64_t *ids, size_t n_ids,
                   int32_t *slots, int bits, int32_t *out) {
    uint64_t mask = ((uint64_t)1 << bits) - 1;
    for (size_t i = 0; i < n_ids; i++) {
        uint64_t at = ((uint64_t)ids[i] * GOLDEN) >> (64 - bits);
        for (; slots[at] >= 0; at = (at + 1) & mask)
            if (ids[slots[at]] == ids[i])
                break;
        if (slots[at] < 0)
            slots[at] = (int32_t)i;
    }
    for (size_t k = 0; k < n_keys; k++) {
        uint64_t at = ((uint64_t)keys[k] * GOLDEN) >> (64 - bits);
        int32_t found = -1;
        for (; slots[at] >= 0; at = (at + 1) & mask)
            if (ids[slots[at]] == keys[k]) {
                found = slots[at];
                break;
            }
        out[k] = found;
    }
}

static PyObject *positions(PyObject *module, PyObject *args) {
    Py_buffer keys, ids, out;
    if (!PyArg_ParseTuple(args, "y*y*w*:positions", &keys, &ids, &out))
        return NULL;
    PyObject *result = NULL;
    size_t n_keys = (size_t)keys.len / 8, n_ids = (size_t)ids.len / 8;
    if (keys.len % 8 || ids.len % 8 || (size_t)out.len != 4 * n_keys) {
        PyErr_SetString(PyExc_ValueError,
                        "positions: keys and ids hold int64, out one int32 per key");
        goto done;
    }
    if (n_ids >= INT32_MAX / 4) {
        PyErr_SetString(PyExc_ValueError, "positions: too many ids for int32 positions");
        goto done;
    }
    int bits = 4; /* as (4 * n_ids).bit_length(), at least 4 */
    while (((uint64_t)1 << bits) <= 4 * (uint64_t)n_ids)
        bits++;
    int32_t *slots = malloc(sizeof(int32_t) << bits);
    if (!slots) {
        PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0xff, sizeof(int32_t) << bits);
    Py_BEGIN_ALLOW_THREADS
    lookup(keys.buf, n_keys, ids.buf, n_ids, slots, bits, out.buf);
    Py_END_ALLOW_THREADS
    free(slots);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"positions", positions, METH_VARARGS,
     "positions(keys, ids, out) -> None: out[k] = the position of keys[k] among ids (-1:\n"
     "absent); keys and ids int64, out int32, ids distinct."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_lookup",
    .m_doc = "Positions of int64 keys among distinct ids (see profilelab.model.ids.positions).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__lookup(void) { return PyModule_Create(&module_def); }
