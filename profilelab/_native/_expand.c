/* profilelab._native._expand: the builder's stack expansion and stack hashes in C.
 *
 * expand(refs, stack_offsets, loc_frame_offsets, loc_frame_ids) expands every raw stack
 * (a sequence of location positions, ``refs[stack_offsets[s]:stack_offsets[s + 1]]``, leaf
 * first) into its frame ids (each location's ``loc_frame_ids[loc_frame_offsets[l]:
 * loc_frame_offsets[l + 1]]`` in turn) and hashes each frame sequence as
 * profilelab.model.ids.hash_sequences does:
 *
 *     mix64(sum_i mix64(item_i ^ mix64(i + GOLDEN)) + depth * GOLDEN)   (wrapping sums)
 *
 * in one pass over the items, where the builder's NumPy steps (model/builder._expand, then
 * ids.hash_sequences) write and read several arrays of one item each. It returns three
 * bytearrays: the frame offsets of the stacks (int64, n_stacks + 1), the frame ids
 * (int64) and the stack hashes (uint64, one per stack). Every argument is a buffer of
 * int64. Offsets that do not run from 0 to their array's length without decreasing, or a
 * location position outside the locations, return None: the builder then takes its NumPy
 * steps, which give their own answer (an error, or what NumPy's indexing reads). The GIL is
 * released while the stacks are measured and written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>

#include "ids_hash.h"

/* Offsets of ``n`` ranges over ``rows`` items: from 0, not decreasing, ending at ``rows``. */
static int offsets_ok(const int64_t *off, size_t n, size_t rows) {
    if (off[0] != 0 || off[n] < 0 || (size_t)off[n] != rows)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] < off[i])
            return 0;
    return 1;
}

/* Each stack's frame offset (``out``, n_stacks + 1) and the deepest stack's depth; 0 when a
 * location position is outside the ``n_loc`` locations or the frames pass INT64_MAX. */
static int measure(const int64_t *refs, const int64_t *stack_off, size_t n_stacks,
                   const int64_t *loc_off, size_t n_loc, int64_t *out, uint64_t *max_depth) {
    uint64_t total = 0, deepest = 0;
    out[0] = 0;
    for (size_t s = 0; s < n_stacks; s++) {
        uint64_t depth = 0;
        for (int64_t r = stack_off[s]; r < stack_off[s + 1]; r++) {
            if (refs[r] < 0 || (uint64_t)refs[r] >= n_loc)
                return 0;
            depth += (uint64_t)(loc_off[refs[r] + 1] - loc_off[refs[r]]);
        }
        total += depth;
        if (total > (uint64_t)INT64_MAX / 8) /* also keeps the byte count in a Py_ssize_t */
            return 0;
        out[s + 1] = (int64_t)total;
        if (depth > deepest)
            deepest = depth;
    }
    *max_depth = deepest;
    return 1;
}

/* The frame ids of every stack into ``frames`` and their hashes into ``hashes``; ``keys``
 * holds mix64(i + GOLDEN) for each position i below the deepest stack's depth. */
static void fill(const int64_t *refs, const int64_t *stack_off, size_t n_stacks,
                 const int64_t *loc_off, const int64_t *loc_frames, const uint64_t *keys,
                 int64_t *frames, uint64_t *hashes) {
    int64_t *at = frames;
    for (size_t s = 0; s < n_stacks; s++) {
        uint64_t sum = 0, i = 0;
        for (int64_t r = stack_off[s]; r < stack_off[s + 1]; r++) {
            for (int64_t f = loc_off[refs[r]]; f < loc_off[refs[r] + 1]; f++, i++) {
                *at++ = loc_frames[f];
                sum += mix64((uint64_t)loc_frames[f] ^ keys[i]);
            }
        }
        hashes[s] = mix64(sum + i * GOLDEN);
    }
}

/* A new bytearray of ``n`` bytes (its data in ``*data``), or NULL with an exception set. */
static PyObject *bytes_out(size_t n, void **data) {
    PyObject *out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (out)
        *data = PyByteArray_AS_STRING(out);
    return out;
}

static PyObject *expand(PyObject *module, PyObject *args) {
    Py_buffer b[4]; /* refs, stack_offsets, loc_frame_offsets, loc_frame_ids */
    if (!PyArg_ParseTuple(args, "y*y*y*y*:expand", &b[0], &b[1], &b[2], &b[3]))
        return NULL;
    PyObject *result = NULL, *offsets = NULL, *frames = NULL, *hashes = NULL;
    uint64_t *keys = NULL;
    if (b[0].len % 8 || b[1].len % 8 || b[2].len % 8 || b[3].len % 8 || b[1].len < 8 ||
        b[2].len < 8) {
        PyErr_SetString(PyExc_ValueError, "expand: every argument holds int64, offsets at "
                                          "least one");
        goto done;
    }
    const int64_t *refs = b[0].buf, *stack_off = b[1].buf, *loc_off = b[2].buf;
    size_t n_refs = (size_t)b[0].len / 8, n_stacks = (size_t)b[1].len / 8 - 1;
    size_t n_loc = (size_t)b[2].len / 8 - 1, n_frames = (size_t)b[3].len / 8;
    int64_t *off;
    if (!offsets_ok(stack_off, n_stacks, n_refs) || !offsets_ok(loc_off, n_loc, n_frames) ||
        !(offsets = bytes_out((n_stacks + 1) * 8, (void **)&off))) {
        result = PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
        goto done;
    }
    uint64_t deepest = 0;
    int measured;
    Py_BEGIN_ALLOW_THREADS
    measured = measure(refs, stack_off, n_stacks, loc_off, n_loc, off, &deepest);
    Py_END_ALLOW_THREADS
    if (!measured) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    void *f, *h;
    keys = malloc((deepest ? deepest : 1) * sizeof(uint64_t));
    if (!keys) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(frames = bytes_out((size_t)off[n_stacks] * 8, &f)) ||
        !(hashes = bytes_out(n_stacks * 8, &h)))
        goto done;
    Py_BEGIN_ALLOW_THREADS
    for (uint64_t i = 0; i < deepest; i++)
        keys[i] = mix64(i + GOLDEN);
    fill(refs, stack_off, n_stacks, loc_off, b[3].buf, keys, f, h);
    Py_END_ALLOW_THREADS
    result = PyTuple_Pack(3, offsets, frames, hashes);
done:
    free(keys);
    Py_XDECREF(offsets);
    Py_XDECREF(frames);
    Py_XDECREF(hashes);
    for (int i = 0; i < 4; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"expand", expand, METH_VARARGS,
     "expand(refs, stack_offsets, loc_frame_offsets, loc_frame_ids) -> (offsets, frames,\n"
     "hashes) | None: every stack's frame ids (its locations' frames in turn) and the hash\n"
     "of each frame sequence (model.ids.hash_sequences), as bytearrays of int64 (offsets,\n"
     "frames) and uint64 (hashes); None for offsets out of order or a location position\n"
     "outside the locations."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_expand",
    .m_doc = "The builder's stack expansion and stack hashes in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__expand(void) { return PyModule_Create(&module_def); }
