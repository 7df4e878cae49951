/* profilelab._native._inflate: gunzip straight into one bytes object, bounded.
 *
 * gunzip(data, limit) inflates every gzip member of ``data`` into a single bytes object
 * that grows in place (no list of chunks joined at the end, so the peak is one copy of
 * the output) and refuses to grow past ``limit`` bytes. Same rules as the pure-Python
 * path in profilelab/readers/_input.py: zero padding between members is skipped, bytes
 * after a complete member that do not start another member are ignored (as gzip(1) does).
 * Errors are GzipError (a ValueError) with the message the Python path uses.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <zlib.h>

static PyObject *GzipError;

typedef struct {
    PyObject *out; /* bytes, grown with _PyBytes_Resize */
    size_t size;   /* bytes written */
    size_t cap;
    size_t limit;
} sink;

static int grow(sink *s) {
    if (s->cap > s->limit) {
        PyErr_Format(GzipError,
                     "gzip data inflates past the limit of %zu bytes "
                     "(set PROFILELAB_MAX_INFLATED_BYTES to raise it)",
                     s->limit);
        return -1;
    }
    size_t cap = s->cap * 2;
    if (cap > s->limit + 1) /* one byte over the limit shows that it was passed */
        cap = s->limit + 1;
    if (cap > PY_SSIZE_T_MAX)
        return PyErr_NoMemory(), -1;
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
        size_t out_chunk = s->cap - s->size > UINT_MAX ? UINT_MAX : s->cap - s->size;
        z.next_in = (Bytef *)(data + in_pos);
        z.avail_in = (uInt)in_chunk;
        z.next_out = (Bytef *)PyBytes_AS_STRING(s->out) + s->size;
        z.avail_out = (uInt)out_chunk;
        Py_BEGIN_ALLOW_THREADS
        rc = inflate(&z, Z_NO_FLUSH);
        Py_END_ALLOW_THREADS
        in_pos += in_chunk - z.avail_in;
        s->size += out_chunk - z.avail_out;
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
    unsigned long long limit;
    if (!PyArg_ParseTuple(args, "y*K", &view, &limit))
        return NULL;
    const uint8_t *data = view.buf;
    size_t len = (size_t)view.len, pos = 0;
    /* First guess: the size the last member's trailer states, within what deflate can
     * reach (about 1032:1); the buffer doubles if the guess is short. */
    size_t guess = len >= 4 ? (size_t)data[len - 4] | (size_t)data[len - 3] << 8 |
                                  (size_t)data[len - 2] << 16 | (size_t)data[len - 1] << 24
                            : 0;
    size_t reach = len > SIZE_MAX / 1100 ? SIZE_MAX : 1100 * len + 1024;
    guess = guess < reach ? guess : reach;
    guess = guess < limit ? guess : (size_t)limit;
    sink s = {PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(guess > 64 ? guess : 64)), 0, 0,
              (size_t)limit};
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
        PyErr_Format(GzipError,
                     "gzip data inflates past the limit of %zu bytes "
                     "(set PROFILELAB_MAX_INFLATED_BYTES to raise it)",
                     s.limit);
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
     "gunzip(data, limit) -> bytes: inflate every gzip member, at most limit bytes.\n\n"
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
    return m;
}
