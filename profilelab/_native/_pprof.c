/* profilelab._native._pprof: the Python face of the compiled pprof decoder.
 *
 * decode(data) -> dict of plain values and Buffer objects. A Buffer owns one malloc'd
 * array and exposes it through the buffer protocol, so numpy (np.frombuffer) and pyarrow
 * (pa.py_buffer) wrap it without a copy. No numpy C API is used. The GIL is released
 * while the message is decoded; strings that are not valid UTF-8 are repaired afterwards
 * exactly as bytes.decode("utf-8", errors="replace") does, by calling it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "pprof_decode.h"
#include "utf8_valid.h"

/* ---- Buffer: an owned array exported through the buffer protocol --------------------- */

typedef struct {
    PyObject_HEAD
    uint8_t *data;
    Py_ssize_t size;
} Buffer;

static void Buffer_dealloc(Buffer *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Buffer_getbuffer(Buffer *self, Py_buffer *view, int flags) {
    static uint8_t empty[8];
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data ? self->data : empty,
                             self->size, 0, flags);
}

static Py_ssize_t Buffer_len(Buffer *self) { return self->size; }

static PyBufferProcs Buffer_as_buffer = {(getbufferproc)Buffer_getbuffer, NULL};
static PySequenceMethods Buffer_as_sequence = {.sq_length = (lenfunc)Buffer_len};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "profilelab._native._pprof.Buffer",
    .tp_basicsize = sizeof(Buffer),
    .tp_dealloc = (destructor)Buffer_dealloc,
    .tp_as_sequence = &Buffer_as_sequence,
    .tp_as_buffer = &Buffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bytes owned by the decoder, shared through the buffer protocol.",
};

/* A Buffer that takes over the array of ``v`` (trimmed to its length). */
static PyObject *take(pp_vec *v) {
    Buffer *b = PyObject_New(Buffer, &BufferType);
    if (!b)
        return NULL;
    if (v->len == 0) {
        free(v->data);
        v->data = NULL;
    } else if (v->len < v->cap) {
        uint8_t *p = realloc(v->data, v->len);
        if (p)
            v->data = p;
    }
    b->data = v->data;
    b->size = (Py_ssize_t)v->len;
    v->data = NULL;
    v->len = v->cap = 0;
    return (PyObject *)b;
}

/* ---- strings ------------------------------------------------------------------------- */

static int append_repaired(pp_vec *data, const uint8_t *s, size_t len) {
    PyObject *u = PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)len, "replace");
    if (!u)
        return -1;
    Py_ssize_t n;
    const char *r = PyUnicode_AsUTF8AndSize(u, &n);
    if (!r || pp_vec_reserve(data, (size_t)n)) {
        Py_DECREF(u);
        if (r)
            PyErr_NoMemory();
        return -1;
    }
    memcpy(data->data + data->len, r, (size_t)n);
    data->len += (size_t)n;
    Py_DECREF(u);
    return 0;
}

/* The string table as Arrow string offsets (int32, or int64 past 2 GiB) and data. An empty
 * table becomes [""], as in the reference decoder. */
static int build_strings(const pp_decoder *d, pp_vec *offsets, pp_vec *data, int *large) {
    size_t n = PP_N64(&d->strings) / 2, total = 0;
    const uint64_t *span = PP_U64(&d->strings);
    for (size_t i = 0; i < n; i++)
        total += span[2 * i + 1];
    if (pp_vec_reserve(data, total) || pp_vec_reserve(offsets, 8 * (n + 2)))
        return PyErr_NoMemory(), -1;
    int64_t *off = (int64_t *)offsets->data;
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = d->wire.base + span[2 * i];
        size_t len = span[2 * i + 1];
        if (utf8_valid(s, len)) {
            if (pp_vec_reserve(data, len))
                return PyErr_NoMemory(), -1;
            memcpy(data->data + data->len, s, len);
            data->len += len;
        } else if (append_repaired(data, s, len)) {
            return -1;
        }
        off[i + 1] = (int64_t)data->len;
    }
    if (n == 0)
        off[++n] = 0;
    offsets->len = 8 * (n + 1);
    *large = data->len > INT32_MAX;
    if (!*large) { /* narrow in place: element i moves from byte 8i to byte 4i */
        int32_t *narrow = (int32_t *)offsets->data;
        for (size_t i = 0; i <= n; i++)
            narrow[i] = (int32_t)off[i];
        offsets->len = 4 * (n + 1);
    }
    return 0;
}

/* ---- decode() ----------------------------------------------------------------------------- */

static PyObject *WireError;

static int put(PyObject *dict, const char *key, PyObject *value) {
    if (!value)
        return -1;
    int rc = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return rc;
}

static int put_arrays(PyObject *r, pp_decoder *d) {
    struct {
        const char *key;
        pp_vec *vec;
    } arrays[] = {
        {"sample_types", &d->sample_types},
        {"comments", &d->comments},
        {"mapping_id", &d->m_id},
        {"mapping_start", &d->m_start},
        {"mapping_limit", &d->m_limit},
        {"mapping_offset", &d->m_offset},
        {"mapping_file", &d->m_file},
        {"mapping_build_id", &d->m_build},
        {"mapping_has_functions", &d->m_has_functions},
        {"mapping_has_filenames", &d->m_has_filenames},
        {"mapping_has_line_numbers", &d->m_has_line_numbers},
        {"mapping_has_inline_frames", &d->m_has_inline_frames},
        {"function_name", &d->f_name},
        {"function_system_name", &d->f_system_name},
        {"function_file", &d->f_file},
        {"function_start_line", &d->f_start_line},
        {"location_mapping", &d->l_mapping},
        {"location_address", &d->l_address},
        {"location_folded", &d->l_folded},
        {"line_offsets", &d->l_line_offsets},
        {"line_function", &d->ln_function},
        {"line_line", &d->ln_line},
        {"line_column", &d->ln_column},
        {"values", &d->values},
        {"sample_stack", &d->sample_stack},
        {"stack_offsets", &d->stack_offsets},
        {"stack_locations", &d->stack_locations},
        {"label_offsets", &d->label_offsets},
        {"label_key", &d->label_key},
        {"label_str", &d->label_str},
        {"label_num", &d->label_num},
        {"label_unit", &d->label_unit},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if (put(r, arrays[i].key, take(arrays[i].vec)))
            return -1;
    return 0;
}

static int put_header(PyObject *r, const pp_decoder *d) {
    return put(r, "drop_frames", PyLong_FromLongLong(d->drop_frames)) ||
           put(r, "keep_frames", PyLong_FromLongLong(d->keep_frames)) ||
           put(r, "time_nanos", PyLong_FromLongLong(d->time_nanos)) ||
           put(r, "duration_nanos", PyLong_FromLongLong(d->duration_nanos)) ||
           put(r, "period", PyLong_FromLongLong(d->period)) ||
           put(r, "default_sample_type", PyLong_FromLongLong(d->default_sample_type)) ||
           put(r, "doc_url", PyLong_FromLongLong(d->doc_url)) ||
           put(r, "period_type",
               Py_BuildValue("(LL)", (long long)d->period_type[0],
                             (long long)d->period_type[1])) ||
           put(r, "n_samples", PyLong_FromSize_t(PP_N64(&d->sample_spans) / 2)) ||
           put(r, "error",
               d->has_semantic ? PyUnicode_FromString(d->semantic) : Py_NewRef(Py_None));
}

/* The largest string index of the arrays that hold string indices, read as unsigned (a
 * negative one is past any table), 0 when they are empty: every index is in range when it
 * is below the table's length, which the reader then checks once instead of array by
 * array (the arrays of _pprof_native._STRING_INDICES). */
static uint64_t string_index_max(const pp_decoder *d) {
    const pp_vec *arrays[] = {&d->m_file,  &d->m_build,     &d->f_name,    &d->f_system_name,
                              &d->f_file,  &d->label_key,   &d->label_str, &d->label_unit};
    uint64_t top = 0;
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        const uint64_t *v = PP_U64(arrays[a]);
        for (size_t i = 0, n = PP_N64(arrays[a]); i < n; i++)
            top = v[i] > top ? v[i] : top;
    }
    return top;
}

static PyObject *result(pp_decoder *d) {
    pp_vec offsets = {0}, data = {0};
    int large = 0;
    PyObject *r = PyDict_New();
    if (!r || build_strings(d, &offsets, &data, &large) || put_header(r, d) ||
        put(r, "string_index_max", PyLong_FromUnsignedLongLong(string_index_max(d))) ||
        put(r, "strings_large", PyBool_FromLong(large)) ||
        put(r, "strings_offsets", take(&offsets)) || put(r, "strings_data", take(&data)) ||
        put_arrays(r, d)) {
        free(offsets.data);
        free(data.data);
        Py_XDECREF(r);
        return NULL;
    }
    return r;
}

static PyObject *decode(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"data", "threads", NULL};
    Py_buffer view;
    pp_decoder *d;
    int rc, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|i:decode", keywords, &view, &threads))
        return NULL;
    if (threads < 0 || threads > 2) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "threads must be 0, 1 or 2 (got %d)", threads);
    }
    if (!(d = calloc(1, sizeof *d))) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    rc = pp_decode(d, view.buf, (size_t)view.len, threads);
    Py_END_ALLOW_THREADS
    PyObject *r = NULL;
    if (rc == 0)
        r = result(d);
    else if (d->oom)
        PyErr_NoMemory();
    else
        PyErr_Format(WireError, "%s at byte %zu", d->wire.what, d->wire.at);
    pp_free(d);
    free(d);
    PyBuffer_Release(&view);
    return r;
}

static PyMethodDef methods[] = {
    {"decode", (PyCFunction)(void (*)(void))decode, METH_VARARGS | METH_KEYWORDS,
     "decode(data, threads=0) -> dict: a raw (not gzipped) pprof message as flat arrays.\n\n"
     "threads: 0 decodes a big message's samples on two threads, 1 or 2 forces that many.\n"
     "Raises WireError (a ValueError) on bad protobuf wire data. Id and value-count\n"
     "problems do not raise: they are returned as the 'error' entry."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pprof",
    .m_doc = "Compiled pprof decoder (see profilelab.readers.pprof).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__pprof(void) {
    if (PyType_Ready(&BufferType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    WireError = PyErr_NewException("profilelab._native._pprof.WireError", PyExc_ValueError, NULL);
    if (!WireError || PyModule_AddObjectRef(m, "WireError", WireError) ||
        PyModule_AddObjectRef(m, "Buffer", (PyObject *)&BufferType)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
