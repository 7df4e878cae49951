/* The release callbacks of the Arrow C data interface structs that profilelab.model._cdata
 * fills (https://arrow.apache.org/docs/format/CDataInterface.html).
 *
 * A struct's private_data is a Python object (a new reference) that keeps its buffers and
 * its children's structs alive. The consumer (Polars) calls release from any thread, and
 * possibly while an exception is being raised (a frame holding a table goes as the
 * exception leaves it): so release sets the pending exception aside while it drops the
 * reference, and puts it back. A Python callback through ctypes cannot do that: the
 * interpreter rejects a call that returns while an exception is set.
 *
 * Release never waits for the GIL. Polars drops columns on its own worker threads, and a
 * Python thread can hold the GIL while it waits for those workers (DataFrame.serialize
 * does): a release that waited for the GIL there would wait forever, and so would that
 * thread. So a release on a thread without the GIL only queues the reference; the queue
 * is drained (the references dropped) by the next release on a thread that holds the GIL,
 * by the next export (drain(), which profilelab.model._cdata calls), and by a pending call
 * that the interpreter runs on its main thread between two bytecodes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <stdint.h>
#include <stdlib.h>

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

/* References dropped on threads without the GIL, waiting for one that holds it: a linked
 * list under a lock that never needs the GIL. */
struct pending {
    void *owner;
    struct pending *next;
};
static PyThread_type_lock queue_lock;
static struct pending *queued;
static int drain_scheduled; /* a pending call is scheduled (under queue_lock) */

/* Drop every queued reference; the caller holds the GIL and has set any exception aside. */
static void drain_queue(void)
{
    PyThread_acquire_lock(queue_lock, WAIT_LOCK);
    struct pending *list = queued;
    queued = NULL;
    PyThread_release_lock(queue_lock);
    while (list != NULL) {
        struct pending *next = list->next;
        Py_XDECREF((PyObject *)list->owner);
        free(list);
        list = next;
    }
}

static int drain_pending_call(void *unused)
{
    (void)unused;
    PyThread_acquire_lock(queue_lock, WAIT_LOCK);
    drain_scheduled = 0;
    PyThread_release_lock(queue_lock);
    drain_queue();
    return 0;
}

/* Drop the owner reference now when this thread holds the GIL (any pending exception set
 * aside), else queue it for a thread that does. */
static void drop_owner(void *owner)
{
    if (PyGILState_Check()) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        Py_XDECREF((PyObject *)owner);
        drain_queue();
        PyErr_Restore(type, value, traceback);
        return;
    }
    struct pending *item = malloc(sizeof *item);
    if (item == NULL) /* out of memory: the owner and its buffers stay (a leak, not a hang) */
        return;
    item->owner = owner;
    PyThread_acquire_lock(queue_lock, WAIT_LOCK);
    item->next = queued;
    queued = item;
    int schedule = !drain_scheduled;
    drain_scheduled = 1;
    PyThread_release_lock(queue_lock);
    /* Needs no GIL; when the interpreter's queue of pending calls is full, the next release
     * with the GIL or the next export drains ours instead. */
    if (schedule && Py_AddPendingCall(drain_pending_call, NULL) != 0) {
        PyThread_acquire_lock(queue_lock, WAIT_LOCK);
        drain_scheduled = 0;
        PyThread_release_lock(queue_lock);
    }
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

static PyObject *drain(PyObject *self, PyObject *noargs)
{
    drain_queue();
    Py_RETURN_NONE;
}

static PyObject *queued_count(PyObject *self, PyObject *noargs)
{
    Py_ssize_t n = 0;
    PyThread_acquire_lock(queue_lock, WAIT_LOCK);
    for (struct pending *p = queued; p != NULL; p = p->next)
        n++;
    PyThread_release_lock(queue_lock);
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {
    {"releases", releases, METH_NOARGS,
     "The addresses of the schema's and the array's release callbacks."},
    {"drain", drain, METH_NOARGS,
     "Drop the references that releases on threads without the GIL queued."},
    {"queued", queued_count, METH_NOARGS,
     "How many references releases on threads without the GIL have queued."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_arrowc",
    "Release callbacks of the Arrow C data interface structs of profilelab.model._cdata.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__arrowc(void)
{
    if (queue_lock == NULL && (queue_lock = PyThread_allocate_lock()) == NULL)
        return PyErr_NoMemory();
    return PyModule_Create(&module);
}
