/* profilelab._native._inflate: gunzip straight into one bytes object, bounded.
 *
 * gunzip(data, limit, ratio=0, floor=0) inflates every gzip member of ``data`` into a
 * single bytes object that grows in place (no list of chunks joined at the end, so the
 * peak is one copy of the output) and refuses to grow past ``limit`` bytes, or, once the
 * output passes ``floor`` bytes, past ``ratio`` times the input consumed so far (checked
 * as it goes, so a bomb stops early). Same rules as the pure-Python path in
 * profilelab/readers/_input.py: zero padding between members is skipped, bytes after a
 * complete member that do not start another member are ignored (as gzip(1) does).
 * Errors are GzipError (a ValueError) with the message the Python path uses; LimitError
 * (a GzipError) when a limit is passed.
 *
 * Sizes: ``limit`` and ``floor`` are Py_ssize_t parsed with overflow checks ("n") and
 * refused when negative; ``limit`` is clamped below PY_SSIZE_T_MAX so that ``limit + 1``
 * cannot wrap, and every product is computed as a division instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <zlib.h>

static PyObject *GzipError;
static PyObject *LimitError; /* a GzipError: past the size or ratio limit */

typedef struct {
    PyObject *out; /* bytes, grown with _PyBytes_Resize */
    size_t size;   /* bytes written */
    size_t cap;
    size_t limit; /* < PY_SSIZE_T_MAX, so limit + 1 fits */
    size_t ratio; /* 0: no ratio check */
    size_t floor;
} sink;

/* Output per inflate call: the ratio is checked between calls, so a bomb is stopped
 * within this many bytes of passing it. */
#define STEP ((size_t)16 << 20)

static int too_large(sink *s) {
    PyErr_Format(LimitError,
                 "gzip data inflates past the limit of %zu bytes "
                 "(set PROFILELAB_MAX_INFLATED_BYTES to raise it)",
                 s->limit);
    return -1;
}

static int ratio_passed(const sink *s, size_t consumed) {
    return s->ratio && s->size > s->floor && s->size / s->ratio > consumed;
}

static int grow(sink *s) {
    if (s->cap > s->limit)
        return too_large(s);
    /* cap <= limit + 1 <= PY_SSIZE_T_MAX: doubling cannot wrap a size_t */
    size_t cap = s->cap < 64 ? 64 : s->cap * 2;
    if (cap > s->limit + 1) /* one byte over the limit shows that it was passed */
        cap = s->limit + 1;
    if (_PyBytes_Resize(&s->out, (Py_ssize_t)cap))
        return -1;
    s->cap = cap;
    return 0;
}

/* Inflate the member starting at data[*pos]; on success *pos is just past it. */
static int member(sink *s, const uint8_t *data, size_t len, size_t *pos) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return PyErr_NoMemory(), -1;
    size_t start = *pos, in_pos = *pos;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (s->size == s->cap && grow(s))
            goto fail;
        size_t in_chunk = len - in_pos > UINT_MAX ? UINT_MAX : len - in_pos;
        size_t out_chunk = s->cap - s->size > STEP ? STEP : s->cap - s->size;
        z.next_in = (Bytef *)(data + in_pos);
        z.avail_in = (uInt)in_chunk;
        z.next_out = (Bytef *)PyBytes_AS_STRING(s->out) + s->size;
        z.avail_out = (uInt)out_chunk;
        Py_BEGIN_ALLOW_THREADS
        rc = inflate(&z, Z_NO_FLUSH);
        Py_END_ALLOW_THREADS
        in_pos += in_chunk - z.avail_in;
        s->size += out_chunk - z.avail_out;
        if (ratio_passed(s, in_pos)) {
            PyErr_Format(LimitError,
                         "gzip data inflates more than %zu times its compressed size "
                         "(a decompression bomb? set PROFILELAB_MAX_INFLATE_RATIO to raise it)",
                         s->ratio);
            goto fail;
        }
        if (rc == Z_BUF_ERROR && z.avail_out != 0) { /* no progress: the input ran out */
            PyErr_Format(GzipError, "truncated gzip stream (%zu bytes read)", len);
            goto fail;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            PyErr_Format(GzipError, "damaged gzip data at byte %zu: %s", start,
                         z.msg ? z.msg : "inflate failed");
            goto fail;
        }
    }
    inflateEnd(&z);
    *pos = in_pos;
    return 0;
fail:
    inflateEnd(&z);
    return -1;
}

static PyObject *gunzip(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t limit, ratio = 0, floor = 0;
    if (!PyArg_ParseTuple(args, "y*n|nn", &view, &limit, &ratio, &floor))
        return NULL;
    if (limit < 0 || ratio < 0 || floor < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "gunzip: limit, ratio and floor must not be negative");
        return NULL;
    }
    if (limit > PY_SSIZE_T_MAX - 1)
        limit = PY_SSIZE_T_MAX - 1;
    const uint8_t *data = view.buf;
    size_t len = (size_t)view.len, pos = 0;
    /* First guess: the size the last member's trailer states, within what deflate can
     * reach (about 1032:1); the buffer doubles if the guess is short. */
    size_t guess = len >= 4 ? (size_t)data[len - 4] | (size_t)data[len - 3] << 8 |
                                  (size_t)data[len - 2] << 16 | (size_t)data[len - 1] << 24
                            : 0;
    size_t reach = len > SIZE_MAX / 1100 ? SIZE_MAX : 1100 * len + 1024;
    guess = guess < reach ? guess : reach;
    guess = guess < (size_t)limit ? guess : (size_t)limit;
    if (ratio && guess > (size_t)floor && guess / (size_t)ratio > len) /* a bomb's trailer */
        guess = (size_t)floor;
    sink s = {PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(guess > 64 ? guess : 64)),
              0,
              0,
              (size_t)limit,
              (size_t)ratio,
              (size_t)floor};
    if (!s.out)
        goto fail;
    s.cap = (size_t)PyBytes_GET_SIZE(s.out);
    while (pos < len) {
        if (member(&s, data, len, &pos))
            goto fail;
        while (pos < len && data[pos] == 0) /* padding between members */
            pos++;
        if (len - pos < 2 || data[pos] != 0x1f || data[pos + 1] != 0x8b)
            break; /* trailing bytes that are not a member: ignored */
    }
    if (s.size > s.limit) {
        too_large(&s);
        goto fail;
    }
    PyBuffer_Release(&view);
    if (_PyBytes_Resize(&s.out, (Py_ssize_t)s.size))
        return NULL;
    return s.out;
fail:
    Py_XDECREF(s.out);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"gunzip", gunzip, METH_VARARGS,
     "gunzip(data, limit, ratio=0, floor=0) -> bytes: inflate every gzip member, at most\n"
     "limit bytes, and (ratio > 0) at most ratio times the input read once past floor.\n\n"
     "Raises GzipError (a ValueError) for damaged, truncated or too large data."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_inflate",
    .m_doc = "Bounded gunzip into a single bytes object (see profilelab.readers._input).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__inflate(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    GzipError = PyErr_NewException("profilelab._native._inflate.GzipError", PyExc_ValueError,
                                   NULL);
    if (!GzipError || PyModule_AddObjectRef(m, "GzipError", GzipError)) {
        Py_DECREF(m);
        return NULL;
    }
    LimitError = PyErr_NewException("profilelab._native._inflate.LimitError", GzipError, NULL);
    if (!LimitError || PyModule_AddObjectRef(m, "LimitError", LimitError)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
