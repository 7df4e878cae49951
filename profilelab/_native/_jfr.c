/* profilelab._native._jfr: the compiled JFR event scanner.
 *
 * scan(data, start, end, type_ids, starts, lengths, emit, ops) walks the events of one
 * chunk, [start, end), and interprets the record programs compiled by
 * profilelab/readers/_jfr_format.py: (opcode, slot, argument) triples per type, nested
 * structs already flattened, array bodies following their OP_ARRAY. It returns a dict of
 * bytes: "records" (int64 rows: kind, type id, key or offset, 8 slots), "items" (int64
 * rows of 4 slots: the elements of a record's outermost array), "string_offsets" (int64)
 * and "string_data" (UTF-8): the string table that string slots index.
 *
 * The rules are those of the reference scanner, scan_reference(), checked against it in
 * tests/test_jfr_native.py, down to the words and byte offsets of errors:
 *   - no recursion: arrays nest through an explicit stack, at most 8 deep;
 *   - every length and count is checked against the bytes left in its event (an element,
 *     a character or a constant takes at least one byte), so output grows at most
 *     linearly with the input whatever the declared sizes;
 *   - errors raise ScanError(what, byte offset).
 * The GIL is released while the chunk is scanned; strings that are not valid UTF-8 are
 * repaired afterwards with bytes.decode("utf-8", "replace"), as the reference does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_valid.h"

enum { OP_VARINT, OP_BYTE, OP_F32, OP_F64, OP_STRING, OP_ARRAY };
enum { RECORD_SLOTS = 8, RECORD_WIDTH = 3 + RECORD_SLOTS, ITEM_SLOTS = 4, MAX_DEPTH = 8 };
enum { KIND_EVENT = 0, KIND_CONSTANT = 1 };

typedef struct {
    int64_t *data;
    size_t len, cap;
} vec;

static int vec_grow(vec *v, size_t extra) {
    if (v->len + extra <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap < v->len + extra)
        cap *= 2;
    int64_t *p = realloc(v->data, cap * sizeof *p);
    if (!p)
        return -1;
    v->data = p;
    v->cap = cap;
    return 0;
}

typedef struct {
    const uint8_t *base;
    const int64_t *type_ids, *starts, *lengths, *ops;
    const uint8_t *emit;
    size_t n_types;
    vec records, items, spans; /* spans: (encoding, offset, count) per string */
    int oom;
    size_t at;
    char what[160];
} scanner;

static int fail(scanner *s, const uint8_t *at, const char *fmt, long long a) {
    snprintf(s->what, sizeof s->what, fmt, a);
    s->at = (size_t)(at - s->base);
    return -1;
}

/* A compressed long: 7 bits a byte, low first; the ninth byte carries 8 bits. */
static int varint(scanner *s, const uint8_t **pp, const uint8_t *end, int64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int i = 0; i < 9; i++) {
        if (p >= end)
            return fail(s, *pp, "truncated compressed integer", 0);
        uint8_t b = *p++;
        if (i == 8) {
            v |= (uint64_t)b << 56;
            break;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b < 0x80)
            break;
    }
    *pp = p;
    *out = (int64_t)v;
    return 0;
}

static int take(scanner *s, const uint8_t **pp, const uint8_t *end, int64_t n, const char *what) {
    if (n < 0 || n > end - *pp) {
        char fmt[96];
        snprintf(fmt, sizeof fmt, "%s of %%lld bytes runs past the end", what);
        return fail(s, *pp, fmt, (long long)n);
    }
    *pp += n;
    return 0;
}

static int count(scanner *s, const uint8_t **pp, const uint8_t *end, const char *what,
                 int64_t *n) {
    const uint8_t *at = *pp;
    if (varint(s, pp, end, n))
        return -1;
    if (*n < 0 || *n > end - *pp) {
        char fmt[96];
        snprintf(fmt, sizeof fmt, "%s %%lld is larger than the bytes left", what);
        return fail(s, at, fmt, (long long)*n);
    }
    return 0;
}

static long lookup(const scanner *s, int64_t type_id) {
    size_t lo = 0, hi = s->n_types;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->type_ids[mid] < type_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_types && s->type_ids[lo] == type_id ? (long)lo : -1;
}

/* A string slot value: index in the string table (0 = ""), -1 null, -(key) - 2 pooled. */
static int string(scanner *s, const uint8_t **pp, const uint8_t *end, int64_t *out) {
    const uint8_t *at = *pp;
    if (take(s, pp, end, 1, "string encoding"))
        return -1;
    uint8_t kind = *at;
    int64_t n;
    switch (kind) {
    case 0:
        *out = -1;
        return 0;
    case 1:
        *out = 0;
        return 0;
    case 2:
        if (varint(s, pp, end, &n))
            return -1;
        if (n < 0)
            return fail(s, at, "string constant key %lld is negative", (long long)n);
        *out = -n - 2;
        return 0;
    case 3:
    case 5: {
        if (varint(s, pp, end, &n))
            return -1;
        const uint8_t *data = *pp;
        if (take(s, pp, end, n, "string"))
            return -1;
        if (n == 0) {
            *out = 0;
            return 0;
        }
        if (vec_grow(&s->spans, 3))
            return s->oom = 1, -1;
        int64_t *span = s->spans.data + s->spans.len;
        span[0] = kind, span[1] = data - s->base, span[2] = n;
        s->spans.len += 3;
        *out = (int64_t)(s->spans.len / 3);
        return 0;
    }
    case 4: {
        if (varint(s, pp, end, &n))
            return -1;
        if (n < 0 || n > end - *pp)
            return fail(s, at, "char array of %lld characters runs past the end", (long long)n);
        const uint8_t *data = *pp;
        for (int64_t i = 0; i < n; i++) {
            int64_t u;
            if (varint(s, pp, end, &u))
                return -1;
            if ((uint64_t)u > 0xffff)
                return fail(s, at, "character %#llx is not a UTF-16 code unit", (long long)u);
        }
        if (n == 0) {
            *out = 0;
            return 0;
        }
        if (vec_grow(&s->spans, 3))
            return s->oom = 1, -1;
        int64_t *span = s->spans.data + s->spans.len;
        span[0] = 4, span[1] = data - s->base, span[2] = n;
        s->spans.len += 3;
        *out = (int64_t)(s->spans.len / 3);
        return 0;
    }
    default:
        return fail(s, at, "unknown string encoding %lld", (long long)kind);
    }
}

static int value(scanner *s, const uint8_t **pp, const uint8_t *end, int op, int64_t *out) {
    const uint8_t *at = *pp;
    *out = 0;
    switch (op) {
    case OP_VARINT:
        return varint(s, pp, end, out);
    case OP_BYTE:
        if (take(s, pp, end, 1, "byte"))
            return -1;
        *out = *at;
        return 0;
    case OP_F32:
        return take(s, pp, end, 4, "float");
    case OP_F64:
        return take(s, pp, end, 8, "double");
    default:
        return string(s, pp, end, out);
    }
}

typedef struct {
    int64_t body, body_end, left, item; /* item: row in items, or -1 */
} frame;

/* Interpret the program of type row ``t``; ``rec`` is the record row (or -1 to drop). */
static int run(scanner *s, const uint8_t **pp, const uint8_t *end, long t, int64_t rec) {
    int64_t pc = s->starts[t], stop = pc + s->lengths[t];
    int64_t prog_end = stop;
    frame stack[MAX_DEPTH];
    int depth = 0;
    for (;;) {
        if (pc == stop) {
            if (depth == 0)
                return 0;
            frame *top = &stack[depth - 1];
            if (--top->left > 0) {
                pc = top->body;
                if (top->item >= 0) {
                    if (vec_grow(&s->items, ITEM_SLOTS))
                        return s->oom = 1, -1;
                    top->item = (int64_t)(s->items.len / ITEM_SLOTS);
                    memset(s->items.data + s->items.len, 0, ITEM_SLOTS * sizeof(int64_t));
                    s->items.len += ITEM_SLOTS;
                }
                continue;
            }
            pc = top->body_end;
            depth--;
            stop = depth ? stack[depth - 1].body_end : prog_end;
            continue;
        }
        const int64_t *op = s->ops + 3 * pc;
        int64_t slot = op[1], arg = op[2];
        pc++;
        if (op[0] == OP_ARRAY) {
            const uint8_t *at = *pp;
            int64_t n;
            if (varint(s, pp, end, &n))
                return -1;
            if (n < 0 || n > end - *pp)
                return fail(s, at, "array of %lld elements runs past the end", (long long)n);
            int collect = rec >= 0 && slot >= 0 && depth == 0;
            if (collect) {
                int64_t *row = s->records.data + rec * RECORD_WIDTH;
                row[3 + slot] = (int64_t)(s->items.len / ITEM_SLOTS);
                row[3 + slot + 1] = arg ? n : 0;
            }
            if (n == 0 || arg == 0) {
                pc += arg;
                continue;
            }
            if (depth >= MAX_DEPTH)
                return fail(s, at, "arrays nested too deep", 0);
            frame *f = &stack[depth++];
            f->body = pc, f->body_end = pc + arg, f->left = n, f->item = -1;
            if (collect) {
                if (vec_grow(&s->items, ITEM_SLOTS))
                    return s->oom = 1, -1;
                f->item = (int64_t)(s->items.len / ITEM_SLOTS);
                memset(s->items.data + s->items.len, 0, ITEM_SLOTS * sizeof(int64_t));
                s->items.len += ITEM_SLOTS;
            }
            stop = pc + arg;
            continue;
        }
        int64_t v;
        if (value(s, pp, end, (int)op[0], &v))
            return -1;
        if (slot < 0)
            continue;
        if (depth == 0) {
            if (rec >= 0)
                s->records.data[rec * RECORD_WIDTH + 3 + slot] = v;
        } else if (depth == 1 && stack[0].item >= 0 && slot < ITEM_SLOTS) {
            s->items.data[stack[0].item * ITEM_SLOTS + slot] = v;
        }
    }
}

static int record(scanner *s, const uint8_t **pp, const uint8_t *end, long t, int kind,
                  int64_t type_id, int64_t key) {
    if (vec_grow(&s->records, RECORD_WIDTH))
        return s->oom = 1, -1;
    int64_t rec = (int64_t)(s->records.len / RECORD_WIDTH);
    int64_t *row = s->records.data + s->records.len;
    memset(row, 0, RECORD_WIDTH * sizeof *row);
    row[0] = kind, row[1] = type_id, row[2] = key;
    s->records.len += RECORD_WIDTH;
    return run(s, pp, end, t, rec);
}

static int constants(scanner *s, const uint8_t **pp, const uint8_t *end) {
    int64_t ignored, pools;
    for (int i = 0; i < 3; i++) /* start time, duration, delta to the previous pool */
        if (varint(s, pp, end, &ignored))
            return -1;
    if (take(s, pp, end, 1, "flush flag") || count(s, pp, end, "pool count", &pools))
        return -1;
    for (int64_t i = 0; i < pools; i++) {
        const uint8_t *at = *pp;
        int64_t type_id, n;
        if (varint(s, pp, end, &type_id))
            return -1;
        long t = lookup(s, type_id);
        if (t < 0)
            return fail(s, at, "constant pool of unknown type %lld", (long long)type_id);
        if (count(s, pp, end, "constant count", &n))
            return -1;
        for (int64_t k = 0; k < n; k++) {
            int64_t key;
            if (varint(s, pp, end, &key))
                return -1;
            int rc = s->emit[t] ? record(s, pp, end, t, KIND_CONSTANT, type_id, key)
                                : run(s, pp, end, t, -1);
            if (rc)
                return -1;
        }
    }
    return 0;
}

static int scan_chunk(scanner *s, size_t start, size_t stop) {
    const uint8_t *end = s->base + stop;
    size_t pos = start;
    while (pos < stop) {
        const uint8_t *p = s->base + pos;
        int64_t size, type_id;
        if (varint(s, &p, end, &size))
            return -1;
        if (size < (int64_t)(p - (s->base + pos)) + 1 || size > (int64_t)(stop - pos))
            return fail(s, s->base + pos, "event size %lld does not fit in the chunk",
                        (long long)size);
        const uint8_t *ev_end = s->base + pos + size;
        if (varint(s, &p, ev_end, &type_id))
            return -1;
        if (type_id == 1) {
            if (constants(s, &p, ev_end))
                return -1;
        } else if (type_id != 0) {
            long t = lookup(s, type_id);
            if (t >= 0 && s->emit[t] &&
                record(s, &p, ev_end, t, KIND_EVENT, type_id, (int64_t)pos))
                return -1;
        }
        pos += (size_t)size;
    }
    return 0;
}

/* ---- the string table ------------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} bytes_out;

static int put(bytes_out *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p, b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

static int put_code_point(bytes_out *b, uint32_t c) {
    uint8_t u[4];
    size_t n;
    if (c > 0x10ffff) /* not a code point: never write invalid UTF-8 */
        c = 0xfffd;
    if (c < 0x80)
        u[0] = (uint8_t)c, n = 1;
    else if (c < 0x800)
        u[0] = 0xc0 | (c >> 6), u[1] = 0x80 | (c & 0x3f), n = 2;
    else if (c < 0x10000)
        u[0] = 0xe0 | (c >> 12), u[1] = 0x80 | ((c >> 6) & 0x3f), u[2] = 0x80 | (c & 0x3f), n = 3;
    else
        u[0] = 0xf0 | (c >> 18), u[1] = 0x80 | ((c >> 12) & 0x3f),
        u[2] = 0x80 | ((c >> 6) & 0x3f), u[3] = 0x80 | (c & 0x3f), n = 4;
    return put(b, u, n);
}

/* One string of the table; the bytes were checked by the scan. -1 on memory errors. */
static int put_string(bytes_out *b, const uint8_t *base, const int64_t *span) {
    const uint8_t *p = base + span[1];
    size_t n = (size_t)span[2];
    if (span[0] == 3) {
        if (utf8_valid(p, n))
            return put(b, p, n);
        PyObject *u = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "replace");
        Py_ssize_t len;
        const char *r = u ? PyUnicode_AsUTF8AndSize(u, &len) : NULL;
        int rc = r ? put(b, r, (size_t)len) : -1;
        Py_XDECREF(u);
        return rc;
    }
    if (span[0] == 5) {
        for (size_t i = 0; i < n; i++)
            if (put_code_point(b, p[i]))
                return -1;
        return 0;
    }
    /* UTF-16 code units, each a compressed int; a lone surrogate becomes U+FFFD */
    uint32_t *units = malloc(n * sizeof *units);
    if (!units)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        for (int k = 0; k < 9; k++) {
            uint8_t c = *p++;
            if (k == 8) {
                v |= (uint64_t)c << 56;
                break;
            }
            v |= (uint64_t)(c & 0x7f) << (7 * k);
            if (c < 0x80)
                break;
        }
        units[i] = (uint32_t)v;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t u = units[i];
        if (u >= 0xd800 && u < 0xdc00 && i + 1 < n && units[i + 1] >= 0xdc00 &&
            units[i + 1] < 0xe000) {
            rc = put_code_point(b, 0x10000 + ((u - 0xd800) << 10) + units[i + 1] - 0xdc00);
            i++;
        } else {
            rc = put_code_point(b, u >= 0xd800 && u < 0xe000 ? 0xfffd : u);
        }
    }
    free(units);
    return rc;
}

/* ---- scan() --------------------------------------------------------------------------------- */

static PyObject *ScanError;

static PyObject *as_bytes(const void *data, size_t n) {
    return PyBytes_FromStringAndSize(n ? (const char *)data : "", (Py_ssize_t)n);
}

static int put_item(PyObject *d, const char *key, PyObject *v) {
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *result(scanner *s) {
    size_t n = s->spans.len / 3;
    bytes_out data = {0};
    int64_t *offsets = malloc((n + 2) * sizeof *offsets);
    PyObject *d = NULL;
    if (!offsets)
        return PyErr_NoMemory();
    offsets[0] = offsets[1] = 0; /* entry 0 is "" */
    for (size_t i = 0; i < n; i++) {
        if (put_string(&data, s->base, s->spans.data + 3 * i)) {
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            goto done;
        }
        offsets[i + 2] = (int64_t)data.len;
    }
    d = PyDict_New();
    if (!d || put_item(d, "records", as_bytes(s->records.data, s->records.len * 8)) ||
        put_item(d, "items", as_bytes(s->items.data, s->items.len * 8)) ||
        put_item(d, "string_offsets", as_bytes(offsets, (n + 2) * 8)) ||
        put_item(d, "string_data", as_bytes(data.data, data.len)))
        Py_CLEAR(d);
done:
    free(offsets);
    free(data.data);
    return d;
}

static int check_programs(const scanner *s, Py_ssize_t n_ops) {
    for (size_t t = 0; t < s->n_types; t++) {
        int64_t a = s->starts[t], n = s->lengths[t];
        if (a < 0 || n < 0 || a + n > n_ops || (t && s->type_ids[t] <= s->type_ids[t - 1]))
            return -1;
        for (int64_t pc = a; pc < a + n; pc++) {
            const int64_t *op = s->ops + 3 * pc;
            if (op[0] < OP_VARINT || op[0] > OP_ARRAY || op[1] < -1 ||
                op[1] >= RECORD_SLOTS - (op[0] == OP_ARRAY))
                return -1;
            if (op[0] == OP_ARRAY && (op[2] < 0 || pc + 1 + op[2] > a + n))
                return -1;
        }
    }
    return 0;
}

static PyObject *scan(PyObject *module, PyObject *args) {
    Py_buffer data, ids, starts, lengths, emit, ops;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "y*nny*y*y*y*y*", &data, &start, &stop, &ids, &starts,
                          &lengths, &emit, &ops))
        return NULL;
    scanner s = {0};
    PyObject *r = NULL;
    size_t n_types = (size_t)ids.len / 8;
    Py_ssize_t n_ops = ops.len / 24;
    s.base = data.buf;
    s.type_ids = ids.buf, s.starts = starts.buf, s.lengths = lengths.buf;
    s.emit = emit.buf, s.ops = ops.buf, s.n_types = n_types;
    if (start < 0 || stop < start || stop > data.len || (size_t)starts.len / 8 != n_types ||
        (size_t)lengths.len / 8 != n_types || (size_t)emit.len != n_types ||
        check_programs(&s, n_ops)) {
        PyErr_SetString(PyExc_ValueError, "scan: inconsistent arguments or programs");
        goto out;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = scan_chunk(&s, (size_t)start, (size_t)stop);
    Py_END_ALLOW_THREADS
    if (rc == 0)
        r = result(&s);
    else if (s.oom)
        PyErr_NoMemory();
    else {
        PyObject *exc = Py_BuildValue("(sn)", s.what, (Py_ssize_t)s.at);
        if (exc) {
            PyErr_SetObject(ScanError, exc);
            Py_DECREF(exc);
        }
    }
out:
    free(s.records.data);
    free(s.items.data);
    free(s.spans.data);
    PyBuffer_Release(&data);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&lengths);
    PyBuffer_Release(&emit);
    PyBuffer_Release(&ops);
    return r;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, start, end, type_ids, starts, lengths, emit, ops) -> dict of bytes.\n\n"
     "Scan the events of one JFR chunk with compiled record programs. Raises ScanError\n"
     "(what, byte offset) on bad data."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_jfr",
    .m_doc = "Compiled JFR event scanner (see profilelab.readers.jfr).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jfr(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    ScanError = PyErr_NewException("profilelab._native._jfr.ScanError", PyExc_ValueError, NULL);
    if (!ScanError || PyModule_AddObjectRef(m, "ScanError", ScanError)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
