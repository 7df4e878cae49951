/* profilelab._native._otlpjson: the samples of an OTLP/JSON document, straight into columns.
 *
 * A big OTLP/JSON profile is mostly its Sample objects; parsed by a JSON library they are
 * one dict, one list and a few ints and strings each, which the reader then gathers back
 * into columns. Here they never become Python objects:
 *
 * locate(data) walks the document (strings, nesting, nothing else) and returns where the
 * samples array of each Profile is: (snake, [(start, end), ...]) with one entry per
 * Profile object in document order (resourceProfiles[*].scopeProfiles[*].profiles[*]),
 * ``start == -1`` when it has no samples array (named ``samples``, or v1.8's ``sample``);
 * ``snake`` when the document spells its keys in snake_case.
 *
 * samples(data, start, end, snake) reads one such array into columns: (stack_index,
 * link_index, attribute offsets, attribute indices, value offsets, values, timestamp
 * offsets, timestamps), each a bytes object of native int64 (offsets: n + 1 of them).
 *
 * Both return None for anything they do not read exactly as the Python reader does (a
 * document that is not an object, a key with an escape, a duplicated key, an unknown
 * sample field, a null, a number that is not a canonical integer, an integer out of the
 * field's range, nesting deeper than MAX_DEPTH, bad syntax): the caller then reads the
 * whole document with the Python reader, which accepts or refuses it with its own message.
 * locate() only finds the arrays: every byte outside them is still parsed by the JSON
 * parser, and samples() checks every byte inside one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256

typedef struct {
    const char *s;
    Py_ssize_t i, n;
} cur;

static inline void ws(cur *c) {
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
            break;
        c->i++;
    }
}

static inline int peek(cur *c) { return c->i < c->n ? (unsigned char)c->s[c->i] : -1; }

/* A string at c->i; on success c->i is past the closing quote, and [*start, *end) is its
 * raw text; *escaped tells whether it holds a backslash. */
static int string(cur *c, Py_ssize_t *start, Py_ssize_t *end, int *escaped) {
    if (peek(c) != '"')
        return -1;
    c->i++;
    *start = c->i;
    *escaped = 0;
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch == '"') {
            *end = c->i++;
            return 0;
        }
        if (ch == '\\') {
            *escaped = 1;
            c->i++;
        }
        c->i++;
    }
    return -1;
}

/* Any value (its syntax is left to the JSON parser: only strings and nesting matter here). */
static int skip(cur *c, int depth) {
    Py_ssize_t a, b;
    int e;
    ws(c);
    int ch = peek(c);
    if (ch == '"')
        return string(c, &a, &b, &e);
    if (ch == '{' || ch == '[') {
        if (depth >= MAX_DEPTH)
            return -1;
        int close = ch == '{' ? '}' : ']';
        c->i++;
        ws(c);
        if (peek(c) == close) {
            c->i++;
            return 0;
        }
        for (;;) {
            if (ch == '{') {
                ws(c);
                if (string(c, &a, &b, &e))
                    return -1;
                ws(c);
                if (peek(c) != ':')
                    return -1;
                c->i++;
            }
            if (skip(c, depth + 1))
                return -1;
            ws(c);
            int sep = peek(c);
            c->i++;
            if (sep == close)
                return 0;
            if (sep != ',')
                return -1;
        }
    }
    /* a number or a literal: up to the next delimiter */
    Py_ssize_t from = c->i;
    while (c->i < c->n) {
        char x = c->s[c->i];
        if (x == ',' || x == '}' || x == ']' || x == ' ' || x == '\n' || x == '\r' || x == '\t')
            break;
        c->i++;
    }
    return c->i > from ? 0 : -1;
}

/* ---- locate -------------------------------------------------------------------------- */

typedef struct {
    cur c;
    int snake; /* -1 unknown, 0 camel, 1 snake */
    PyObject *out;
} walker;

static int key_is(const cur *c, Py_ssize_t a, Py_ssize_t b, const char *name) {
    size_t len = strlen(name);
    return (size_t)(b - a) == len && memcmp(c->s + a, name, len) == 0;
}

static int walk_object(walker *w, int level);

/* An array of objects at the given level (anything but objects in it: not read here). */
static int walk_array(walker *w, int level) {
    cur *c = &w->c;
    c->i++; /* '[' */
    ws(c);
    if (peek(c) == ']') {
        c->i++;
        return 0;
    }
    for (;;) {
        ws(c);
        if (peek(c) != '{' || walk_object(w, level))
            return -1;
        ws(c);
        int sep = peek(c);
        c->i++;
        if (sep == ']')
            return 0;
        if (sep != ',')
            return -1;
    }
}

/* Level 0: the document; 1: ResourceProfiles; 2: ScopeProfiles; 3: Profile. */
static int walk_object(walker *w, int level) {
    cur *c = &w->c;
    Py_ssize_t region_start = -1, region_end = -1;
    int seen = 0;
    c->i++; /* '{' */
    ws(c);
    if (peek(c) == '}') {
        c->i++;
        goto done;
    }
    for (;;) {
        Py_ssize_t a, b;
        int escaped;
        ws(c);
        if (string(c, &a, &b, &escaped) || escaped)
            return -1;
        ws(c);
        if (peek(c) != ':')
            return -1;
        c->i++;
        ws(c);
        int follow = 0, is_samples = 0;
        if (level == 0) {
            int camel = key_is(c, a, b, "resourceProfiles");
            if (camel || key_is(c, a, b, "resource_profiles")) {
                if (w->snake != -1)
                    return -1; /* both spellings, or the key twice */
                w->snake = !camel;
                follow = 1;
            }
        } else if (level == 1) {
            follow = key_is(c, a, b, w->snake ? "scope_profiles" : "scopeProfiles");
        } else if (level == 2) {
            follow = key_is(c, a, b, "profiles");
        } else if (level == 3) {
            is_samples = key_is(c, a, b, "samples") || key_is(c, a, b, "sample");
            if (is_samples && seen)
                return -1; /* "sample" and "samples", or one twice */
        }
        if (follow && level > 0) {
            if (seen)
                return -1;
        }
        if (follow || is_samples)
            seen = 1;
        if (follow && peek(c) == '[') {
            if (walk_array(w, level + 1))
                return -1;
        } else if (is_samples && peek(c) == '[') {
            region_start = c->i;
            if (skip(c, level))
                return -1;
            region_end = c->i;
        } else if (skip(c, level)) {
            return -1;
        }
        ws(c);
        int sep = peek(c);
        c->i++;
        if (sep == '}')
            break;
        if (sep != ',')
            return -1;
    }
done:
    if (level == 3) {
        PyObject *t = Py_BuildValue("(nn)", region_start, region_end);
        if (t == NULL)
            return -2;
        int rc = PyList_Append(w->out, t);
        Py_DECREF(t);
        if (rc)
            return -2;
    }
    return 0;
}

static PyObject *locate(PyObject *self, PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*:locate", &buf))
        return NULL;
    walker w = {{buf.buf, 0, buf.len}, -1, PyList_New(0)};
    PyObject *result = NULL;
    if (w.out == NULL)
        goto out;
    ws(&w.c);
    int rc = peek(&w.c) == '{' ? walk_object(&w, 0) : -1;
    if (rc == -2)
        goto out; /* a Python error is set */
    ws(&w.c);
    if (rc || w.c.i != w.c.n) {
        result = Py_NewRef(Py_None);
        goto out;
    }
    result = Py_BuildValue("(OO)", w.snake == 1 ? Py_True : Py_False, w.out);
out:
    Py_XDECREF(w.out);
    PyBuffer_Release(&buf);
    return result;
}

/* ---- samples ------------------------------------------------------------------------- */

typedef struct {
    int64_t *v;
    size_t n, cap;
} vec;

static inline int push(vec *x, int64_t v) {
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 1024;
        int64_t *p = realloc(x->v, cap * sizeof *p);
        if (p == NULL)
            return -1;
        x->v = p;
        x->cap = cap;
    }
    x->v[x->n++] = v;
    return 0;
}

/* A canonical JSON integer (-?(0|[1-9][0-9]*)), as a number or inside a string; signed
 * fields take int64, unsigned ones uint64 (kept as its two's complement). 1: not read. */
static int integer(cur *c, int is_unsigned, int64_t *out) {
    int quoted = peek(c) == '"';
    if (quoted)
        c->i++;
    int neg = peek(c) == '-';
    if (neg) {
        if (is_unsigned)
            return 1;
        c->i++;
    }
    Py_ssize_t from = c->i;
    uint64_t v = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        unsigned d = (unsigned)(c->s[c->i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 1;
        v = v * 10 + d;
        c->i++;
    }
    Py_ssize_t len = c->i - from;
    if (len == 0 || (len > 1 && c->s[from] == '0'))
        return 1;
    if (quoted) {
        if (peek(c) != '"')
            return 1;
        c->i++;
    } else {
        int ch = peek(c);
        if (ch == '.' || ch == 'e' || ch == 'E')
            return 1;
    }
    if (is_unsigned) {
        *out = (int64_t)v;
    } else if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return 1;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX)
            return 1;
        *out = (int64_t)v;
    }
    return 0;
}

/* A list of integers appended to ``values``; 1: not read, -1: out of memory. */
static int integers(cur *c, int is_unsigned, vec *values) {
    if (peek(c) != '[')
        return 1;
    c->i++;
    ws(c);
    if (peek(c) == ']') {
        c->i++;
        return 0;
    }
    for (;;) {
        int64_t v;
        ws(c);
        if (integer(c, is_unsigned, &v))
            return 1;
        if (push(values, v))
            return -1;
        ws(c);
        int sep = peek(c);
        c->i++;
        if (sep == ']')
            return 0;
        if (sep != ',')
            return 1;
    }
}

enum { STACK, ATTRS, LINK, VALUES, TIMES, NFIELDS };

static const char *CAMEL[NFIELDS] = {"stackIndex", "attributeIndices", "linkIndex", "values",
                                     "timestampsUnixNano"};
static const char *SNAKE[NFIELDS] = {"stack_index", "attribute_indices", "link_index", "values",
                                     "timestamps_unix_nano"};

typedef struct {
    vec stack, link, attr_off, attrs, val_off, vals, time_off, times;
} columns;

/* One Sample object; 1: not read, -1: out of memory. */
static int sample(cur *c, const char **names, const size_t *lens, columns *out) {
    int64_t stack = 0, link = 0;
    int seen[NFIELDS] = {0};
    if (peek(c) != '{')
        return 1;
    c->i++;
    ws(c);
    if (peek(c) == '}') {
        c->i++;
        goto done;
    }
    for (;;) {
        Py_ssize_t a, b;
        int escaped, f, rc;
        ws(c);
        if (string(c, &a, &b, &escaped) || escaped)
            return 1;
        size_t len = (size_t)(b - a);
        for (f = 0; f < NFIELDS; f++)
            if (len == lens[f] && memcmp(c->s + a, names[f], len) == 0)
                break;
        if (f == NFIELDS || seen[f])
            return 1;
        seen[f] = 1;
        ws(c);
        if (peek(c) != ':')
            return 1;
        c->i++;
        ws(c);
        if (f == STACK)
            rc = integer(c, 0, &stack);
        else if (f == LINK)
            rc = integer(c, 0, &link);
        else
            rc = integers(c, f == TIMES, f == ATTRS ? &out->attrs : f == VALUES ? &out->vals : &out->times);
        if (rc)
            return rc;
        ws(c);
        int sep = peek(c);
        c->i++;
        if (sep == '}')
            break;
        if (sep != ',')
            return 1;
    }
done:
    if (push(&out->stack, stack) || push(&out->link, link) ||
        push(&out->attr_off, (int64_t)out->attrs.n) || push(&out->val_off, (int64_t)out->vals.n) ||
        push(&out->time_off, (int64_t)out->times.n))
        return -1;
    return 0;
}

static PyObject *as_bytes(const vec *x) {
    return PyBytes_FromStringAndSize((const char *)x->v, (Py_ssize_t)(x->n * sizeof(int64_t)));
}

static PyObject *samples(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t start, end;
    int snake;
    if (!PyArg_ParseTuple(args, "y*nnp:samples", &buf, &start, &end, &snake))
        return NULL;
    PyObject *result = NULL;
    columns out;
    memset(&out, 0, sizeof out);
    if (start < 0 || end > buf.len || start > end) {
        PyErr_SetString(PyExc_ValueError, "samples: range outside the data");
        goto out;
    }
    cur c = {buf.buf, start, end};
    const char **names = snake ? SNAKE : CAMEL;
    size_t lens[NFIELDS];
    for (int f = 0; f < NFIELDS; f++)
        lens[f] = strlen(names[f]);
    int rc = 0;
    if (push(&out.attr_off, 0) || push(&out.val_off, 0) || push(&out.time_off, 0))
        rc = -1;
    ws(&c);
    if (!rc && peek(&c) != '[')
        rc = 1;
    if (!rc) {
        c.i++;
        ws(&c);
        if (peek(&c) == ']') {
            c.i++;
        } else {
            for (;;) {
                ws(&c);
                if ((rc = sample(&c, names, lens, &out)))
                    break;
                ws(&c);
                int sep = peek(&c);
                c.i++;
                if (sep == ']')
                    break;
                if (sep != ',') {
                    rc = 1;
                    break;
                }
            }
        }
    }
    if (!rc) {
        ws(&c);
        if (c.i != end)
            rc = 1;
    }
    if (rc == -1) {
        PyErr_NoMemory();
        goto out;
    }
    if (rc) {
        result = Py_NewRef(Py_None);
        goto out;
    }
    result = Py_BuildValue("(NNNNNNNN)", as_bytes(&out.stack), as_bytes(&out.link), as_bytes(&out.attr_off), as_bytes(&out.attrs),
                           as_bytes(&out.val_off), as_bytes(&out.vals), as_bytes(&out.time_off),
                           as_bytes(&out.times));
out:
    free(out.stack.v);
    free(out.link.v);
    free(out.attr_off.v);
    free(out.attrs.v);
    free(out.val_off.v);
    free(out.vals.v);
    free(out.time_off.v);
    free(out.times.v);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"locate", locate, METH_VARARGS,
     "locate(data) -> (snake, [(start, end), ...]) or None"},
    {"samples", samples, METH_VARARGS,
     "samples(data, start, end, snake) -> (stack, link, attr_off, attrs, val_off, "
     "vals, time_off, times) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_otlpjson", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__otlpjson(void) { return PyModule_Create(&module); }
