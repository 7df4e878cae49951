/* The release callbacks of the Arrow C data interface structs that profilelab.model._cdata
 * fills (https://arrow.apache.org/docs/format/CDataInterface.html).
 *
 * A struct's private_data is a Python object (a new reference) that keeps its buffers and
 * its children's structs alive. The consumer (Polars) calls release from any thread, and
 * possibly while an exception is being raised (a frame holding a table goes as the
 * exception leaves it): so release takes the GIL, sets the pending exception aside while
 * it drops the reference, and puts it back. A Python callback through ctypes cannot do
 * that: the interpreter rejects a call that returns while an exception is set.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* Drop the owner reference with the GIL held and any pending exception set aside. */
static void drop_owner(void *owner)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    Py_XDECREF((PyObject *)owner);
    PyErr_Restore(type, value, traceback);
    PyGILState_Release(gil);
}

static void release_schema(struct ArrowSchema *schema)
{
    for (int64_t i = 0; i < schema->n_children; i++) {
        struct ArrowSchema *child = schema->children[i];
        if (child->release != NULL)
            child->release(child);
    }
    void *owner = schema->private_data;
    schema->release = NULL;
    drop_owner(owner);
}

static void release_array(struct ArrowArray *array)
{
    for (int64_t i = 0; i < array->n_children; i++) {
        struct ArrowArray *child = array->children[i];
        if (child->release != NULL)
            child->release(child);
    }
    void *owner = array->private_data;
    array->release = NULL;
    drop_owner(owner);
}

static PyObject *releases(PyObject *self, PyObject *noargs)
{
    return Py_BuildValue("(KK)", (unsigned long long)(uintptr_t)&release_schema,
                         (unsigned long long)(uintptr_t)&release_array);
}

static PyMethodDef methods[] = {
    {"releases", releases, METH_NOARGS,
     "The addresses of the schema's and the array's release callbacks."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_arrowc",
    "Release callbacks of the Arrow C data interface structs of profilelab.model._cdata.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__arrowc(void) { return PyModule_Create(&module); }
