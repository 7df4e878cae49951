/* profilelab._native._wirescan: the field records of many protobuf messages, in one call.
 *
 * scan(buf, starts, ends) reads every record of the messages buf[starts[i]:ends[i]] and
 * returns the columns of :class:`profilelab.readers._wire.Batch` as five bytearrays:
 * msg (int64), field (int32), wire (int8), value (uint64: the varint or fixed value, or
 * the start of a length-delimited body in buf) and length (int64: a body's length, else
 * 0). ``starts`` and ``ends`` are native int64 arrays; ``buf`` is any byte buffer.
 *
 * The rows come in the order of the numpy scanner (_wire.scan): the first record of every
 * message (in message order), then the second, and so on; once more than _MANY_STEPS
 * steps are done and at most _FEW messages still have records, the rest of each of those
 * comes message by message (its _scan_loop). Callers rely only on each message's records
 * being in order; the order across messages decides which bad record an error names.
 *
 * It returns None for anything the numpy scanner does not read as a plain record: a
 * malformed or truncated record, a record running past its message's end, a tag wider
 * than 32 bits or with field number 0, a length of 2 GiB or more, a group or wire type
 * 6/7. The caller then runs the numpy scanner, which accepts or refuses the data with
 * its own message. A varint has at most 10 bytes (5 for a tag or a length) and bits past
 * 64 are dropped, as there.
 *
 * packed_varints(buf, starts, lengths) reads packed repeated varints the same way for
 * _wire.varints_in_regions (see below).
 *
 * join(bodies, pad) concatenates message bodies for _wire.join.
 *
 * field_scalar, field_repeated, field_bodies, field_last_body and first_unexpected read one
 * field of a scanned batch for _wire.Batch.scalar / .repeated / .bodies / .last_body /
 * .unexpected in one pass over its rows: for a
 * receiver's post, whose batches hold a few messages, each numpy step of those methods
 * costs more than all the rows it reads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_record.h"

#define MANY_STEPS 64 /* _wire._MANY_STEPS */
#define FEW 8         /* _wire._FEW */

typedef struct {
    int32_t field;
    int8_t wire;
    uint64_t value;
    int64_t length;
} record;

/* The records of one message, appended to *recs (grown as needed); -1 when not plain. */
static int message(const uint8_t *buf, int64_t start, int64_t stop, record **recs,
                   Py_ssize_t *n, Py_ssize_t *cap) {
    const uint8_t *p = buf + start, *end = buf + stop;
    wire_rec r;
    int got;
    while ((got = wire_next(&p, end, &r)) > 0) {
        uint64_t value = r.value;
        int64_t length = 0;
        if (r.wire == WIRE_LEN) { /* the body's start in buf, and its length */
            value = (uint64_t)(r.body - buf);
            length = r.bend - r.body;
        }
        if (*n == *cap) {
            Py_ssize_t grown = *cap ? *cap * 2 : 256;
            record *more = realloc(*recs, (size_t)grown * sizeof(record));
            if (more == NULL)
                return -2;
            *recs = more;
            *cap = grown;
        }
        (*recs)[(*n)++] = (record){(int32_t)r.field, (int8_t)r.wire, value, length};
    }
    return got;
}

static PyObject *column(Py_ssize_t n, size_t size, char **data) {
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)size);
    if (out != NULL)
        *data = PyByteArray_AS_STRING(out);
    return out;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer buf, starts, ends;
    if (!PyArg_ParseTuple(args, "y*y*y*", &buf, &starts, &ends))
        return NULL;
    PyObject *result = NULL;
    record *recs = NULL;
    Py_ssize_t *first = NULL, nrec = 0, cap = 0;
    Py_ssize_t nmsg = starts.len / (Py_ssize_t)sizeof(int64_t);
    const int64_t *s = starts.buf, *e = ends.buf;
    if (ends.len != starts.len) {
        PyErr_SetString(PyExc_ValueError, "starts and ends differ in length");
        goto done;
    }
    first = malloc((size_t)(nmsg + 1) * sizeof(Py_ssize_t));
    if (first == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t m = 0; m < nmsg && !bad; m++) {
        first[m] = nrec;
        if (s[m] >= e[m]) /* an empty message (the numpy scanner skips it too) */
            continue;
        if (s[m] < 0 || e[m] > buf.len)
            bad = -1;
        else
            bad = message(buf.buf, s[m], e[m], &recs, &nrec, &cap);
    }
    first[nmsg] = nrec;
    Py_END_ALLOW_THREADS
    if (bad == -2) {
        PyErr_NoMemory();
        goto done;
    }
    if (bad) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    char *cm = NULL, *cf = NULL, *cw = NULL, *cv = NULL, *cl = NULL;
    PyObject *msg = column(nrec, 8, &cm), *field = column(nrec, 4, &cf);
    PyObject *wire = column(nrec, 1, &cw), *value = column(nrec, 8, &cv);
    PyObject *length = column(nrec, 8, &cl);
    if (msg && field && wire && value && length) {
        /* the numpy scanner's order: step by step over the live messages, then the rest
         * of a few long ones message by message */
        Py_ssize_t row = 0, live = 0;
        for (Py_ssize_t m = 0; m < nmsg; m++)
            live += first[m + 1] > first[m];
        for (Py_ssize_t k = 0; live > 0; k++) {
            int tail = k > MANY_STEPS && live <= FEW;
            Py_ssize_t now = 0;
            for (Py_ssize_t m = 0; m < nmsg; m++) {
                Py_ssize_t count = first[m + 1] - first[m];
                if (count <= k)
                    continue;
                for (Py_ssize_t i = k; i < (tail ? count : k + 1); i++) {
                    record *r = &recs[first[m] + i];
                    int64_t mm = m;
                    memcpy(cm + 8 * row, &mm, 8);
                    memcpy(cf + 4 * row, &r->field, 4);
                    cw[row] = (char)r->wire;
                    memcpy(cv + 8 * row, &r->value, 8);
                    memcpy(cl + 8 * row, &r->length, 8);
                    row++;
                }
                now += count > k + 1;
            }
            live = tail ? 0 : now;
        }
        result = PyTuple_Pack(5, msg, field, wire, value, length);
    }
    Py_XDECREF(msg);
    Py_XDECREF(field);
    Py_XDECREF(wire);
    Py_XDECREF(value);
    Py_XDECREF(length);
done:
    free(recs);
    free(first);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    return result;
}

/* packed_varints(buf, starts, lengths): the varints packed in each region
 * buf[starts[i]:starts[i]+lengths[i]] as (count per region: int64, values: uint64), two
 * bytearrays; None when a region ends inside a varint or a varint has more than 10 bytes
 * (the numpy reader, _wire.varints_in_regions, then raises its error). */
static PyObject *packed_varints(PyObject *self, PyObject *args) {
    Py_buffer buf, starts, lengths;
    if (!PyArg_ParseTuple(args, "y*y*y*", &buf, &starts, &lengths))
        return NULL;
    PyObject *result = NULL, *counts = NULL, *values = NULL;
    Py_ssize_t n = starts.len / (Py_ssize_t)sizeof(int64_t), total = 0;
    const int64_t *s = starts.buf, *l = lengths.buf;
    if (lengths.len != starts.len) {
        PyErr_SetString(PyExc_ValueError, "starts and lengths differ in length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < 0 || l[i] < 0 || l[i] > buf.len - s[i]) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        total += l[i]; /* at least one byte per varint: an upper bound of the count */
    }
    counts = PyByteArray_FromStringAndSize(NULL, n * 8);
    values = PyByteArray_FromStringAndSize(NULL, total * 8);
    if (counts == NULL || values == NULL)
        goto done;
    int64_t *c = (int64_t *)PyByteArray_AS_STRING(counts);
    uint64_t *v = (uint64_t *)PyByteArray_AS_STRING(values);
    Py_ssize_t nv = 0;
    int bad = 0;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        const uint8_t *p = (const uint8_t *)buf.buf + s[i], *end = p + l[i];
        int64_t k = 0;
        while (p < end) {
            if (wire_varint(&p, end, 10, &v[nv]) < 0) {
                bad = 1;
                break;
            }
            nv++;
            k++;
        }
        c[i] = k;
    }
    if (bad) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (PyByteArray_Resize(values, nv * 8) < 0)
        goto done;
    result = PyTuple_Pack(2, counts, values);
done:
    Py_XDECREF(counts);
    Py_XDECREF(values);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&lengths);
    return result;
}

/* join(bodies, pad): a list of bytes objects concatenated with ``pad`` zero bytes after
 * them, as (buf bytes, starts int64 bytearray, ends int64 bytearray); None when an item is
 * not a bytes object (the caller joins it with numpy). For _wire.join. */
static PyObject *join(PyObject *self, PyObject *args) {
    PyObject *list, *result = NULL, *buf = NULL, *starts = NULL, *ends = NULL;
    Py_ssize_t pad;
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &list, &pad))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list), total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyBytes_CheckExact(item))
            Py_RETURN_NONE;
        total += PyBytes_GET_SIZE(item);
    }
    buf = PyBytes_FromStringAndSize(NULL, total + pad);
    starts = PyByteArray_FromStringAndSize(NULL, n * 8);
    ends = PyByteArray_FromStringAndSize(NULL, n * 8);
    if (buf == NULL || starts == NULL || ends == NULL)
        goto done;
    char *b = PyBytes_AS_STRING(buf);
    int64_t *s = (int64_t *)PyByteArray_AS_STRING(starts);
    int64_t *e = (int64_t *)PyByteArray_AS_STRING(ends);
    int64_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        Py_ssize_t len = PyBytes_GET_SIZE(item);
        memcpy(b + at, PyBytes_AS_STRING(item), (size_t)len);
        s[i] = at;
        at += len;
        e[i] = at;
    }
    memset(b + at, 0, (size_t)pad);
    result = PyTuple_Pack(3, buf, starts, ends);
done:
    Py_XDECREF(buf);
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    return result;
}

/* The columns of a Batch (msg int64, field int32, wire int8, value uint64, length int64),
 * checked to have one entry per row; -1 (with an exception) when they do not. */
typedef struct {
    Py_buffer msg, field, wire, value, length;
    Py_ssize_t rows;
} columns;

static int columns_get(PyObject *args, const char *fmt, columns *c, Py_ssize_t *n, int *f,
                       int *flag, Py_buffer *buf) {
    memset(c, 0, sizeof(*c));
    int ok = buf ? PyArg_ParseTuple(args, fmt, n, &c->msg, &c->field, &c->wire, &c->value,
                                    &c->length, f, flag, buf)
                 : PyArg_ParseTuple(args, fmt, n, &c->msg, &c->field, &c->wire, &c->value,
                                    &c->length, f);
    if (!ok)
        return -1;
    c->rows = c->msg.len / 8;
    if (c->msg.len != c->rows * 8 || c->field.len != c->rows * 4 || c->wire.len != c->rows ||
        c->value.len != c->rows * 8 || c->length.len != c->rows * 8 || *n < 0) {
        PyErr_SetString(PyExc_ValueError, "batch columns of different lengths");
        return -1;
    }
    const int64_t *m = c->msg.buf;
    for (Py_ssize_t r = 0; r < c->rows; r++)
        if (m[r] < 0 || m[r] >= *n) {
            PyErr_SetString(PyExc_ValueError, "batch row of no message");
            return -1;
        }
    return 0;
}

/* The typed columns of a batch, as locals m (msg), len (length), fl (field), w (wire), v
 * (value). */
#define COLUMN_POINTERS(c)                                                                     \
    const int64_t *m = (c).msg.buf, *len = (c).length.buf;                                    \
    const int32_t *fl = (c).field.buf;                                                         \
    const int8_t *w = (c).wire.buf;                                                            \
    const uint64_t *v = (c).value.buf;                                                         \
    (void)m, (void)len, (void)fl, (void)w, (void)v

static void columns_release(columns *c) {
    Py_buffer *all[] = {&c->msg, &c->field, &c->wire, &c->value, &c->length};
    for (int i = 0; i < 5; i++)
        if (all[i]->obj != NULL)
            PyBuffer_Release(all[i]);
}

/* field_scalar(n, msg, field, wire, value, length, f): per message, the value of its last
 * record of field f, 0 when it has none or the last one is length-delimited (uint64). */
static PyObject *field_scalar(PyObject *self, PyObject *args) {
    columns c;
    Py_ssize_t n;
    int f;
    PyObject *out = NULL;
    if (columns_get(args, "ny*y*y*y*y*i", &c, &n, &f, NULL, NULL) < 0)
        goto done;
    out = PyByteArray_FromStringAndSize(NULL, n * 8);
    if (out == NULL)
        goto done;
    uint64_t *o = (uint64_t *)PyByteArray_AS_STRING(out);
    memset(o, 0, (size_t)n * 8);
    COLUMN_POINTERS(c);
    for (Py_ssize_t r = 0; r < c.rows; r++)
        if (fl[r] == f)
            o[m[r]] = w[r] == 2 ? 0 : v[r];
done:
    columns_release(&c);
    return out;
}

/* field_last_body(n, msg, field, wire, value, length, f): per message, the start and
 * length of its last length-delimited record of field f, as two int64 bytearrays (start -1
 * and length 0 where it has none). */
static PyObject *field_last_body(PyObject *self, PyObject *args) {
    columns c;
    Py_ssize_t n;
    int f;
    PyObject *result = NULL, *starts = NULL, *lengths = NULL;
    if (columns_get(args, "ny*y*y*y*y*i", &c, &n, &f, NULL, NULL) < 0)
        goto done;
    starts = PyByteArray_FromStringAndSize(NULL, n * 8);
    lengths = PyByteArray_FromStringAndSize(NULL, n * 8);
    if (starts == NULL || lengths == NULL)
        goto done;
    int64_t *s = (int64_t *)PyByteArray_AS_STRING(starts);
    int64_t *l = (int64_t *)PyByteArray_AS_STRING(lengths);
    for (Py_ssize_t i = 0; i < n; i++)
        s[i] = -1, l[i] = 0;
    COLUMN_POINTERS(c);
    for (Py_ssize_t r = 0; r < c.rows; r++)
        if (fl[r] == f && w[r] == 2)
            s[m[r]] = (int64_t)v[r], l[m[r]] = len[r];
    result = PyTuple_Pack(2, starts, lengths);
done:
    Py_XDECREF(starts);
    Py_XDECREF(lengths);
    columns_release(&c);
    return result;
}

/* field_bodies(n, msg, field, wire, value, length, f): the length-delimited records of
 * field f by message, each message's in record order, as three int64 bytearrays: owning
 * message, start and end of each body. */
static PyObject *field_bodies(PyObject *self, PyObject *args) {
    columns c;
    Py_ssize_t n;
    int f;
    PyObject *result = NULL, *owners = NULL, *starts = NULL, *ends = NULL;
    int64_t *at = NULL;
    if (columns_get(args, "ny*y*y*y*y*i", &c, &n, &f, NULL, NULL) < 0)
        goto done;
    COLUMN_POINTERS(c);
    at = PyMem_Calloc((size_t)n + 1, 8);
    if (at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t r = 0; r < c.rows; r++)
        if (fl[r] == f && w[r] == 2)
            at[m[r] + 1]++;
    for (Py_ssize_t i = 0; i < n; i++)
        at[i + 1] += at[i];
    Py_ssize_t total = at[n];
    owners = PyByteArray_FromStringAndSize(NULL, total * 8);
    starts = PyByteArray_FromStringAndSize(NULL, total * 8);
    ends = PyByteArray_FromStringAndSize(NULL, total * 8);
    if (owners == NULL || starts == NULL || ends == NULL)
        goto done;
    int64_t *o = (int64_t *)PyByteArray_AS_STRING(owners);
    int64_t *s = (int64_t *)PyByteArray_AS_STRING(starts);
    int64_t *e = (int64_t *)PyByteArray_AS_STRING(ends);
    for (Py_ssize_t r = 0; r < c.rows; r++)
        if (fl[r] == f && w[r] == 2) {
            int64_t k = at[m[r]]++;
            o[k] = m[r], s[k] = (int64_t)v[r], e[k] = (int64_t)v[r] + len[r];
        }
    result = PyTuple_Pack(3, owners, starts, ends);
done:
    PyMem_Free(at);
    Py_XDECREF(owners);
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    columns_release(&c);
    return result;
}

/* How many values a length-delimited record packs; -1 when malformed (a truncated varint,
 * a varint of more than 10 bytes, fixed64 values not filling it, a body past the buffer). */
static int64_t packed_count(const uint8_t *buf, Py_ssize_t len, uint64_t start, int64_t length,
                            int fixed) {
    if (length < 0 || start > (uint64_t)len || (uint64_t)length > (uint64_t)len - start)
        return -1;
    if (fixed)
        return length % 8 ? -1 : length / 8;
    const uint8_t *p = buf + start, *end = p + length;
    int64_t k = 0;
    uint64_t x;
    while (p < end) {
        if (wire_varint(&p, end, 10, &x) < 0)
            return -1;
        k++;
    }
    return k;
}

/* field_repeated(n, msg, field, wire, value, length, f, fixed, buf): the repeated scalar
 * field f, packed (varints, or fixed64 when ``fixed``) or not, as (offsets int64 n+1,
 * values uint64) by message, each message's values in record order; None when a packed
 * record is malformed (the numpy steps raise their error). */
static PyObject *field_repeated(PyObject *self, PyObject *args) {
    columns c;
    Py_ssize_t n;
    int f, fixed;
    Py_buffer buf = {0};
    PyObject *result = NULL, *offsets = NULL, *values = NULL;
    int64_t *cursor = NULL;
    if (columns_get(args, "ny*y*y*y*y*ipy*", &c, &n, &f, &fixed, &buf) < 0)
        goto done;
    COLUMN_POINTERS(c);
    const uint8_t *b = buf.buf;
    offsets = PyByteArray_FromStringAndSize(NULL, (n + 1) * 8);
    if (offsets == NULL)
        goto done;
    int64_t *off = (int64_t *)PyByteArray_AS_STRING(offsets);
    memset(off, 0, (size_t)(n + 1) * 8);
    for (Py_ssize_t r = 0; r < c.rows; r++) {
        if (fl[r] != f)
            continue;
        int64_t k = w[r] == 2 ? packed_count(b, buf.len, v[r], len[r], fixed) : 1;
        if (k < 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        off[m[r] + 1] += k;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        off[i + 1] += off[i];
    values = PyByteArray_FromStringAndSize(NULL, off[n] * 8);
    cursor = PyMem_Malloc((size_t)(n ? n : 1) * 8);
    if (values == NULL || cursor == NULL) {
        if (cursor == NULL)
            PyErr_NoMemory();
        goto done;
    }
    memcpy(cursor, off, (size_t)n * 8);
    uint64_t *out = (uint64_t *)PyByteArray_AS_STRING(values);
    for (Py_ssize_t r = 0; r < c.rows; r++) {
        if (fl[r] != f)
            continue;
        int64_t *at = &cursor[m[r]];
        if (w[r] != 2) {
            out[(*at)++] = v[r];
        } else if (fixed) {
            for (int64_t j = 0; j < len[r]; j += 8) {
                uint64_t x = 0;
                for (int byte = 7; byte >= 0; byte--) /* little-endian on the wire */
                    x = (x << 8) | b[v[r] + j + byte];
                out[(*at)++] = x;
            }
        } else {
            const uint8_t *p = b + v[r], *end = p + len[r];
            while (p < end)
                wire_varint(&p, end, 10, &out[(*at)++]); /* checked by packed_count */
        }
    }
    result = PyTuple_Pack(2, offsets, values);
done:
    PyMem_Free(cursor);
    Py_XDECREF(offsets);
    Py_XDECREF(values);
    if (buf.obj != NULL)
        PyBuffer_Release(&buf);
    columns_release(&c);
    return result;
}

/* first_unexpected(n, msg, field, wire, value, length, allowed): the first row whose
 * (field, wire) is not allowed, or -1. ``allowed`` holds 8 flags per field number (one
 * per wire type) for fields 0..k-1; a larger field number uses row k-1's flags. */
static PyObject *first_unexpected(PyObject *self, PyObject *args) {
    columns c;
    Py_ssize_t n;
    Py_buffer allowed = {0};
    PyObject *out = NULL;
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTuple(args, "ny*y*y*y*y*y*", &n, &c.msg, &c.field, &c.wire, &c.value,
                          &c.length, &allowed))
        goto done;
    Py_ssize_t rows = c.field.len / 4, k = allowed.len / 8;
    if (c.wire.len != rows || k < 1) {
        PyErr_SetString(PyExc_ValueError, "batch columns of different lengths");
        goto done;
    }
    const int32_t *fl = c.field.buf;
    const int8_t *w = c.wire.buf;
    const uint8_t *a = allowed.buf;
    Py_ssize_t bad = -1;
    for (Py_ssize_t r = 0; r < rows && bad < 0; r++) {
        Py_ssize_t row = fl[r] < k - 1 ? fl[r] : k - 1;
        if (row < 0 || w[r] < 0 || w[r] > 7 || !a[row * 8 + w[r]])
            bad = r;
    }
    out = PyLong_FromSsize_t(bad);
done:
    if (allowed.obj != NULL)
        PyBuffer_Release(&allowed);
    columns_release(&c);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(buf, starts, ends) -> (msg, field, wire, value, length) bytearrays, or None"},
    {"packed_varints", packed_varints, METH_VARARGS,
     "packed_varints(buf, starts, lengths) -> (counts, values) bytearrays, or None"},
    {"join", join, METH_VARARGS,
     "join(bodies, pad) -> (buf bytes, starts, ends bytearrays), or None"},
    {"field_scalar", field_scalar, METH_VARARGS,
     "field_scalar(n, msg, field, wire, value, length, f) -> uint64 bytearray of n"},
    {"field_repeated", field_repeated, METH_VARARGS,
     "field_repeated(n, msg, field, wire, value, length, f, fixed, buf) -> (offsets, values)"
     " bytearrays, or None"},
    {"field_bodies", field_bodies, METH_VARARGS,
     "field_bodies(n, msg, field, wire, value, length, f) -> (owners, starts, ends) bytearrays"},
    {"field_last_body", field_last_body, METH_VARARGS,
     "field_last_body(n, msg, field, wire, value, length, f) -> (starts, lengths) bytearrays"},
    {"first_unexpected", first_unexpected, METH_VARARGS,
     "first_unexpected(n, msg, field, wire, value, length, allowed) -> row or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wirescan", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__wirescan(void) { return PyModule_Create(&module); }
