/* profilelab._native._lookup: the report's stack view in C.
 *
 * positions(keys, ids, out) writes into ``out`` the position of each of ``keys`` among
 * ``ids`` (-1 when absent), what profilelab.model.ids.positions computes with NumPy: an
 * open-addressing table of positions (Fibonacci hashing, linear probing, at most a quarter
 * full). ``keys`` and ``ids`` are buffers of int64, ``out`` a writable buffer of one int32
 * per key; ids are distinct (of equal ids, the first is found). The GIL is released while
 * the table is filled and probed.
 *
 * stack_rows(...) fills the stack view's per-row columns (profilelab.ops.frames.explode:
 * stack id, frame position, location position, line index) in one pass over the rows.
 *
 * flat_cum(...) sums flat and cum per key over CSR paths, recursion counted once, what
 * profilelab.core.aggregate.csr_flat_cum computes with NumPy's sort: a path's keys are
 * marked with the path's number as they are summed, so a key seen again adds nothing.
 * Sums wrap around at 2^64 as NumPy's int64 sums do.
 *
 * group_flat_cum(...) sums flat and cum per (group, key) over value rows that each name a
 * group and a stack, what profilelab.core.aggregate.flat_cum computes with two sparse
 * products: a stack's (key, leaf) rows are given in CSR, each value row adds its values to
 * the cum of each of its stack's keys once (marked with the row's number) and to the flat
 * of each leaf row's key (as often as the stack has that leaf row). The rows of a group
 * are summed into per-key accumulators, whose touched keys are then sorted and emitted:
 * the cells come out ordered by group, then key, those with a non-zero sum only.
 *
 * fold(hashes, ints, out) hashes records, what profilelab.model.ids.fold of the ``hashes``
 * fields followed by ids.hash_ints of the ``ints`` fields computes with NumPy, one pass
 * over the rows instead of a pass per field and step: the builder's frames and mappings.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ids_hash.h"

/* A slot of the table: an id beside its position (-1: empty), so that a probe reads one
 * cache line, not the slot and then the id it points to. */
typedef struct {
    int64_t id;
    int32_t pos;
    int32_t unused;
} slot;

/* How many keys ahead the slot of a key is prefetched: the keys are read in order, the
 * slots at random, and a table of a big profile's frames is larger than the L2 cache. */
#define AHEAD 16

static uint64_t home(int64_t key, int bits) { return ((uint64_t)key * GOLDEN) >> (64 - bits); }

static void lookup(const int64_t *keys, size_t n_keys, const int64_t *ids, size_t n_ids,
                   slot *slots, int bits, int32_t *out) {
    uint64_t mask = ((uint64_t)1 << bits) - 1;
    for (size_t i = 0; i < n_ids; i++) {
        uint64_t at = home(ids[i], bits);
        for (; slots[at].pos >= 0; at = (at + 1) & mask)
            if (slots[at].id == ids[i])
                break;
        if (slots[at].pos < 0) {
            slots[at].id = ids[i];
            slots[at].pos = (int32_t)i;
        }
    }
    for (size_t k = 0; k < n_keys; k++) {
        if (k + AHEAD < n_keys)
            __builtin_prefetch(&slots[home(keys[k + AHEAD], bits)]);
        uint64_t at = home(keys[k], bits);
        int32_t found = -1;
        for (; slots[at].pos >= 0; at = (at + 1) & mask)
            if (slots[at].id == keys[k]) {
                found = slots[at].pos;
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
    slot *slots = malloc(sizeof(slot) << bits);
    if (!slots) {
        PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0xff, sizeof(slot) << bits); /* every position -1: empty */
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


/* A buffer of ``n`` items of ``size`` bytes, or a ValueError naming it. */
static int sized(const Py_buffer *b, size_t n, size_t size, const char *what) {
    if ((size_t)b->len == n * size)
        return 0;
    PyErr_Format(PyExc_ValueError, "%s: expected %zu bytes, got %zd", what, n * size, b->len);
    return -1;
}

/* Offsets of ``n`` paths over ``rows`` rows: from 0, not decreasing, ending at ``rows``. */
static int check_offsets(const int64_t *off, size_t n, size_t rows, const char *fn) {
    if (off[0] != 0 || (size_t)off[n] != rows) {
        PyErr_Format(PyExc_ValueError, "%s: offsets must run from 0 to the row count", fn);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] < off[i]) {
            PyErr_Format(PyExc_ValueError, "%s: offsets must not decrease", fn);
            return -1;
        }
    return 0;
}

static int frames_in_range(const int32_t *frame, size_t rows, size_t n_frames) {
    for (size_t r = 0; r < rows; r++)
        if (frame[r] < 0 || (size_t)frame[r] >= n_frames)
            return 0;
    return 1;
}

/* Per stack, leaf first: a location ends at a frame not inlined into the next one. */
static void fill_rows(const int64_t *off, size_t n_stacks, const int32_t *frame,
                      const uint8_t *inlined, const int64_t *stack_ids, int64_t *stack_id,
                      int32_t *pos, int32_t *loc, int32_t *li) {
    for (size_t s = 0; s < n_stacks; s++) {
        int32_t l = 0, i = 0;
        for (int64_t r = off[s]; r < off[s + 1]; r++) {
            stack_id[r] = stack_ids[s];
            pos[r] = (int32_t)(r - off[s]);
            loc[r] = l;
            li[r] = i;
            if (inlined[frame[r]]) {
                i++;
            } else {
                l++;
                i = 0;
            }
        }
    }
}

static PyObject *stack_rows(PyObject *module, PyObject *args) {
    Py_buffer b[8]; /* offsets, frame, inlined, stack_ids | stack_id, pos, loc, li */
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*w*w*:stack_rows", &b[0], &b[1], &b[2], &b[3],
                          &b[4], &b[5], &b[6], &b[7]))
        return NULL;
    PyObject *result = NULL;
    size_t n_stacks = (size_t)b[3].len / 8, rows = (size_t)b[1].len / 4;
    if (b[3].len % 8 || b[1].len % 4) {
        PyErr_SetString(PyExc_ValueError, "stack_rows: stack_ids hold int64, frame int32");
        goto done;
    }
    if (sized(&b[0], n_stacks + 1, 8, "offsets") ||
        sized(&b[4], rows, 8, "stack_id") || sized(&b[5], rows, 4, "pos") ||
        sized(&b[6], rows, 4, "loc") || sized(&b[7], rows, 4, "li") ||
        check_offsets(b[0].buf, n_stacks, rows, "stack_rows"))
        goto done;
    if (rows > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "stack_rows: more rows than int32 positions hold");
        goto done;
    }
    if (!frames_in_range(b[1].buf, rows, (size_t)b[2].len)) {
        PyErr_SetString(PyExc_ValueError, "stack_rows: a frame row is outside the frames");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    fill_rows(b[0].buf, n_stacks, b[1].buf, b[2].buf, b[3].buf, b[4].buf, b[5].buf, b[6].buf,
              b[7].buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < 8; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

static void sum_paths(const int64_t *off, size_t n_paths, const int64_t *keys,
                      const uint64_t *values, size_t m, int leaf_first, int64_t *seen,
                      uint64_t *flat, uint64_t *cum) {
    for (size_t p = 0; p < n_paths; p++) {
        const uint64_t *v = values + p * m;
        int live = 0;
        for (size_t j = 0; j < m; j++)
            live |= v[j] != 0;
        if (!live || off[p + 1] == off[p])
            continue;
        uint64_t *f = flat + m * (size_t)keys[leaf_first ? off[p] : off[p + 1] - 1];
        for (size_t j = 0; j < m; j++)
            f[j] += v[j];
        for (int64_t r = off[p]; r < off[p + 1]; r++) {
            int64_t k = keys[r];
            if (seen[k] == (int64_t)p)
                continue;
            seen[k] = (int64_t)p;
            for (size_t j = 0; j < m; j++)
                cum[m * (size_t)k + j] += v[j];
        }
    }
}

static PyObject *flat_cum(PyObject *module, PyObject *args) {
    Py_buffer b[5]; /* offsets, keys, values | flat, cum */
    Py_ssize_t width;
    int leaf_first;
    if (!PyArg_ParseTuple(args, "y*y*y*nw*w*p:flat_cum", &b[0], &b[1], &b[2], &width, &b[3],
                          &b[4], &leaf_first))
        return NULL;
    PyObject *result = NULL;
    int64_t *seen = NULL;
    size_t n_paths = (size_t)b[0].len / 8 - (b[0].len >= 8), rows = (size_t)b[1].len / 8;
    size_t m = width > 0 ? (size_t)width : 1, n_keys = (size_t)b[3].len / 8 / m;
    if (width < 1 || b[0].len < 8 || b[0].len % 8 || b[1].len % 8) {
        PyErr_SetString(PyExc_ValueError, "flat_cum: offsets and keys hold int64, m >= 1");
        goto done;
    }
    if (sized(&b[2], n_paths, 8 * m, "values") || sized(&b[3], n_keys, 8 * m, "flat") ||
        sized(&b[4], n_keys, 8 * m, "cum") || check_offsets(b[0].buf, n_paths, rows, "flat_cum"))
        goto done;
    const int64_t *keys = b[1].buf;
    for (size_t r = 0; r < rows; r++)
        if (keys[r] < 0 || (size_t)keys[r] >= n_keys) {
            PyErr_SetString(PyExc_ValueError, "flat_cum: a key is outside 0..n_keys-1");
            goto done;
        }
    if (!(seen = malloc((n_keys ? n_keys : 1) * sizeof(int64_t)))) {
        PyErr_NoMemory();
        goto done;
    }
    memset(seen, 0xff, (n_keys ? n_keys : 1) * sizeof(int64_t));
    Py_BEGIN_ALLOW_THREADS
    sum_paths(b[0].buf, n_paths, keys, b[2].buf, m, leaf_first, seen, b[3].buf, b[4].buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(seen);
    for (int i = 0; i < 5; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

/* A growable int64 buffer for group_flat_cum's cells. */
typedef struct {
    int64_t *data;
    size_t len, cap;
} Int64s;

/* Room for ``n`` more items; NULL when out of memory. */
static int64_t *reserve(Int64s *b, size_t n) {
    if (b->len + n > b->cap || !b->data) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        int64_t *grown = realloc(b->data, cap * sizeof(int64_t));
        if (!grown)
            return NULL;
        b->data = grown;
        b->cap = cap;
    }
    return b->data + b->len;
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Group g's touched keys (those whose last row is one of the group's, from ``first``) in
 * key order: sorted when they are few, else found by a scan of every key (cheaper than
 * sorting once they are more than about n_keys / 8). */
static size_t touched_in_order(int64_t *touched, size_t n_touched, const int64_t *seen,
                               int64_t first, size_t n_keys) {
    if (n_touched * 8 < n_keys) {
        qsort(touched, n_touched, sizeof(int64_t), cmp_int64);
        return n_touched;
    }
    size_t n = 0;
    for (size_t k = 0; k < n_keys; k++)
        if (seen[k] >= first)
            touched[n++] = (int64_t)k;
    return n;
}

/* Per group (rows groups[g]..groups[g+1], in order): the accumulators of its touched keys,
 * then those keys' cells with a non-zero sum, in key order. ``seen[k]`` is the last row
 * that touched key k (-1: none): a key is new to the group when that row comes before the
 * group's first, and new to the row (cum once per stack) when it is not the row itself.
 * 0, or -1 when out of memory. */
static int sum_groups(const int64_t *stack_off, const int64_t *keys, const uint8_t *leaf,
                      const int64_t *groups, size_t n_groups, const int64_t *row_stack,
                      const uint64_t *values, size_t m, size_t n_keys, int64_t *seen,
                      int64_t *touched, uint64_t *flat, uint64_t *cum, Int64s *cells,
                      Int64s *sums) {
    for (size_t g = 0; g < n_groups; g++) {
        size_t n_touched = 0;
        int64_t first = groups[g];
        for (int64_t r = first; r < groups[g + 1]; r++) {
            const uint64_t *v = values + (size_t)r * m;
            int64_t s = row_stack[r];
            for (int64_t i = stack_off[s]; i < stack_off[s + 1]; i++) {
                int64_t k = keys[i], last = seen[k];
                uint64_t *f = flat + m * (size_t)k, *c = cum + m * (size_t)k;
                if (last != r) {
                    uint64_t keep = last >= first ? ~(uint64_t)0 : 0; /* 0: new to the group */
                    touched[n_touched] = k;
                    n_touched += !keep;
                    seen[k] = r;
                    for (size_t j = 0; j < m; j++) {
                        f[j] &= keep;
                        c[j] = (c[j] & keep) + v[j];
                    }
                }
                if (leaf[i])
                    for (size_t j = 0; j < m; j++)
                        f[j] += v[j];
            }
        }
        n_touched = touched_in_order(touched, n_touched, seen, first, n_keys);
        int64_t *cell = reserve(cells, 2 * n_touched), *sum = reserve(sums, 2 * m * n_touched);
        if (!cell || !sum)
            return -1;
        size_t n_cells = 0;
        for (size_t t = 0; t < n_touched; t++) {
            int64_t k = touched[t];
            const uint64_t *f = flat + m * (size_t)k, *c = cum + m * (size_t)k;
            int live = 0;
            for (size_t j = 0; j < m; j++)
                live |= f[j] != 0 || c[j] != 0;
            if (!live)
                continue;
            cell[2 * n_cells] = (int64_t)g;
            cell[2 * n_cells + 1] = k;
            memcpy(sum + 2 * m * n_cells, f, m * sizeof(uint64_t));
            memcpy(sum + 2 * m * n_cells + m, c, m * sizeof(uint64_t));
            n_cells++;
        }
        cells->len += 2 * n_cells;
        sums->len += 2 * m * n_cells;
    }
    return 0;
}

static PyObject *group_flat_cum(PyObject *module, PyObject *args) {
    Py_buffer b[6]; /* stack_off, keys, leaf, groups, row_stack, values */
    Py_ssize_t width, keys_n;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*nn:group_flat_cum", &b[0], &b[1], &b[2], &b[3],
                          &b[4], &b[5], &width, &keys_n))
        return NULL;
    PyObject *result = NULL;
    int64_t *work = NULL;
    Int64s cells = {0}, sums = {0};
    size_t n_stacks = (size_t)b[0].len / 8 - (b[0].len >= 8), rows = (size_t)b[1].len / 8;
    size_t n_groups = (size_t)b[3].len / 8 - (b[3].len >= 8), n_values = (size_t)b[4].len / 8;
    size_t m = width > 0 ? (size_t)width : 1, n_keys = keys_n > 0 ? (size_t)keys_n : 0;
    if (width < 1 || keys_n < 0 || b[0].len < 8 || b[0].len % 8 || b[1].len % 8 ||
        b[3].len < 8 || b[3].len % 8 || b[4].len % 8) {
        PyErr_SetString(PyExc_ValueError,
                        "group_flat_cum: offsets, keys and stacks hold int64, m >= 1");
        goto done;
    }
    if (sized(&b[2], rows, 1, "leaf") || sized(&b[5], n_values, 8 * m, "values") ||
        check_offsets(b[0].buf, n_stacks, rows, "group_flat_cum") ||
        check_offsets(b[3].buf, n_groups, n_values, "group_flat_cum"))
        goto done;
    const int64_t *keys = b[1].buf, *row_stack = b[4].buf;
    for (size_t r = 0; r < rows; r++)
        if (keys[r] < 0 || (size_t)keys[r] >= n_keys) {
            PyErr_SetString(PyExc_ValueError, "group_flat_cum: a key is outside 0..n_keys-1");
            goto done;
        }
    for (size_t r = 0; r < n_values; r++)
        if (row_stack[r] < 0 || (size_t)row_stack[r] >= n_stacks) {
            PyErr_SetString(PyExc_ValueError, "group_flat_cum: a stack is outside the stacks");
            goto done;
        }
    size_t slots = n_keys ? n_keys : 1;
    /* seen, flat, cum, then the touched keys (one more slot: a key is written there
     * before it is counted) */
    if (!(work = malloc((slots * (2 + 2 * m) + 1) * sizeof(int64_t)))) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *seen = work, *touched = work + slots * (1 + 2 * m);
    memset(seen, 0xff, slots * sizeof(int64_t));
    uint64_t *flat = (uint64_t *)(work + slots), *cum = flat + slots * m;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = sum_groups(b[0].buf, keys, b[2].buf, b[3].buf, n_groups, row_stack, b[5].buf, m,
                        n_keys, seen, touched, flat, cum, &cells, &sums);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    /* (no cells: an empty buffer, never NULL, which y# turns into None) */
    result = Py_BuildValue("y#y#", cells.data ? (const char *)cells.data : "",
                           (Py_ssize_t)(cells.len * 8), sums.data ? (const char *)sums.data : "",
                           (Py_ssize_t)(sums.len * 8));
done:
    free(work);
    free(cells.data);
    free(sums.data);
    for (int i = 0; i < 6; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

/* Most fields of one record: the builder's frames have nine. */
#define MAX_FIELDS 16

static void fold_rows(const uint64_t *const *fields, int n_hashes, int n_fields, size_t n,
                      uint64_t *out) {
    for (size_t r = 0; r < n; r++) {
        uint64_t h = GOLDEN;
        for (int f = 0; f < n_fields; f++) {
            uint64_t v = fields[f][r];
            if (f >= n_hashes) /* ids.hash_ints */
                v = mix64(v + GOLDEN);
            h = mix64(h ^ (v + GOLDEN)); /* ids.fold: mix64(h ^ field + GOLDEN) */
        }
        out[r] = h;
    }
}

static PyObject *fold(PyObject *module, PyObject *args) {
    PyObject *hashes, *ints;
    Py_buffer out, b[MAX_FIELDS];
    if (!PyArg_ParseTuple(args, "O!O!w*:fold", &PyTuple_Type, &hashes, &PyTuple_Type, &ints,
                          &out))
        return NULL;
    Py_ssize_t n_hashes = PyTuple_GET_SIZE(hashes), n_fields = n_hashes + PyTuple_GET_SIZE(ints);
    size_t n = (size_t)out.len / 8;
    int got = 0;
    PyObject *result = NULL;
    const uint64_t *fields[MAX_FIELDS];
    if (n_fields > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "at most %d fields (got %zd)", MAX_FIELDS, n_fields);
        goto done;
    }
    for (; got < n_fields; got++) {
        PyObject *f = got < n_hashes ? PyTuple_GET_ITEM(hashes, got)
                                     : PyTuple_GET_ITEM(ints, got - n_hashes);
        if (PyObject_GetBuffer(f, &b[got], PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        if ((size_t)b[got].len != n * 8) {
            got++;
            PyErr_SetString(PyExc_ValueError, "every field needs 8 bytes per row of out");
            goto done;
        }
        fields[got] = b[got].buf;
    }
    Py_BEGIN_ALLOW_THREADS
    fold_rows(fields, (int)n_hashes, (int)n_fields, n, out.buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&b[i]);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS,
     "fold(hashes, ints, out) -> None: out[r] = ids.fold of row r's fields, the uint64\n"
     "hashes first, then ids.hash_ints of the int64 ints (tuples of buffers, 8 bytes per\n"
     "row each; out a writable buffer of one uint64 per row)."},
    {"positions", positions, METH_VARARGS,
     "positions(keys, ids, out) -> None: out[k] = the position of keys[k] among ids (-1:\n"
     "absent); keys and ids int64, out int32, ids distinct."},
    {"stack_rows", stack_rows, METH_VARARGS,
     "stack_rows(offsets, frame, inlined, stack_ids, stack_id, pos, loc, li) -> None: the\n"
     "stack view's rows of stacks [offsets[s], offsets[s+1]) (frame: int32 rows of the\n"
     "frames, inlined: one byte per frame) into int64 stack_id and int32 pos, loc, li."},
    {"flat_cum", flat_cum, METH_VARARGS,
     "flat_cum(offsets, keys, values, m, flat, cum, leaf_first) -> None: add each path's\n"
     "values (int64, m per path) to its leaf key's flat and, once, to each of its keys'\n"
     "cum (int64, m per key); keys int64 in 0..n_keys-1."},
    {"group_flat_cum", group_flat_cum, METH_VARARGS,
     "group_flat_cum(stack_offsets, keys, leaf, group_offsets, row_stack, values, m, n_keys)\n"
     "-> (cells, sums): for the value rows of each group (group_offsets into row_stack and\n"
     "values, int64, m per row), flat (leaf rows: one byte each) and cum (each key of the\n"
     "row's stack once) per key; cells are int64 (group, key) pairs in that order, sums\n"
     "their m flat then m cum int64 sums, non-zero cells only."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_lookup",
    .m_doc = "The report's stack view in C: id positions, the view's rows, flat and cum\n"
             "(per key, and per group and key); and the builder's record hashes.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__lookup(void) { return PyModule_Create(&module_def); }
