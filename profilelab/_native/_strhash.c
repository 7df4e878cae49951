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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "ids_hash.h"

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

/* The hashes of strings ``index[0..n)`` (of 0..n when NULL); 0 for an index or offsets out
 * of range. */
static int hash_strings(const int64_t *off, size_t n_strings, const uint8_t *data, size_t size,
                        const int64_t *index, size_t n, uint64_t *out) {
    for (size_t k = 0; k < n; k++) {
        int64_t i = index ? index[k] : (int64_t)k;
        if (i < 0 || (uint64_t)i >= n_strings)
            return 0;
        int64_t start = off[i], end = off[i + 1];
        if (start < 0 || end < start || (uint64_t)end > size)
            return 0;
        uint64_t h = FNV_OFFSET;
        for (const uint8_t *p = data + start, *e = data + end; p < e; p++)
            h = (h ^ *p) * FNV_PRIME;
        out[k] = mix64(h ^ (uint64_t)(end - start));
    }
    return 1;
}

static PyObject *hash_at(PyObject *module, PyObject *args) {
    Py_buffer off, data, index, out;
    if (!PyArg_ParseTuple(args, "y*y*z*w*:hash_at", &off, &data, &index, &out))
        return NULL;
    PyObject *result = NULL;
    size_t n = index.buf ? (size_t)index.len / 8 : (size_t)off.len / 8 - 1;
    if (off.len % 8 || off.len < 8 || index.len % 8 || (size_t)out.len != 8 * n) {
        PyErr_SetString(PyExc_ValueError, "hash_at: offsets (at least one) and index hold "
                                          "int64, out one uint64 per string hashed");
        goto done;
    }
    int done_all;
    Py_BEGIN_ALLOW_THREADS
    done_all = hash_strings(off.buf, (size_t)off.len / 8 - 1, data.buf, (size_t)data.len,
                            index.buf, n, out.buf);
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
     "hash_at(offsets, data, index, out) -> bool: out[k] = the hash of string index[k] (of\n"
     "string k when index is None) of the table (int64 offsets into data), as\n"
     "model.ids.hash_strings_at; False for an index or offsets out of range."},
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
