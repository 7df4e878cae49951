/* profilelab._native._otlpjson: the samples of an OTLP/JSON document, straight into columns.
 *
 * A big OTLP/JSON profile is mostly its Sample objects; parsed by a JSON library they are
 * one dict, one list and a few ints and strings each, which the reader then gathers back
 * into columns. Here they never become Python objects:
 *
 * locate(data) walks the document (strings, nesting, nothing else) and returns where the
 * samples array of each Profile is, and the dictionary's stack, location and link tables:
 * (snake, [(start, end), ...], ((start, end), (start, end), (start, end))) with one entry
 * per Profile object in document order (resourceProfiles[*].scopeProfiles[*].profiles[*]),
 * ``start == -1`` when it has no samples array (named ``samples``, or v1.8's ``sample``)
 * or there is no such table; ``snake`` when the document spells its keys in snake_case.
 *
 * objects(data, start, end, fields) reads one such array of objects into columns, one per
 * field (name, kind, ...): kind 0 an int64 and 5 a uint64 (0 when absent; a bytes object
 * of n native int64, uint64 kept as two's complement), 1 a list of int64 and 2 a list of
 * uint64 ((offsets, values), n + 1 offsets); 3 (name, 3, size) an id of ``size`` bytes
 * written as 2 * size hex digits ((lengths, bytes): size, or 0 when absent or ""; the
 * bytes of the ids given, one after another); 4 (name, 4, (alias, subfields)) a list of
 * objects, under ``name`` or ``alias`` (not both), read with ``subfields`` as this
 * function reads its fields ((offsets, (one column per subfield), the position of the
 * first object that used ``alias`` or -1)). Keys other than the fields are not read.
 *
 * Both return None for anything they do not read exactly as the Python reader does (a
 * document that is not an object, a key with an escape, a duplicated key, an unknown
 * field, a null, a number that is not a canonical integer, an integer out of the field's
 * range, nesting deeper than MAX_DEPTH, bad syntax): the caller then reads the whole
 * document with the Python reader, which accepts or refuses it with its own message.
 * locate() only finds the arrays: every byte outside them is still parsed by the JSON
 * parser, and objects() checks every byte inside one.
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

/* At an opening bracket: steps past it; 1 when the container closes at once (the closing
 * bracket consumed too), else 0. */
static int opens_empty(cur *c, int close) {
    c->i++;
    ws(c);
    if (peek(c) == close) {
        c->i++;
        return 1;
    }
    return 0;
}

/* After an item: 0 when another follows (the ',' consumed), 1 when the container closed,
 * -1 for anything else. */
static int next_item(cur *c, int close) {
    ws(c);
    int sep = peek(c);
    c->i++;
    if (sep == close)
        return 1;
    return sep == ',' ? 0 : -1;
}

/* A member's key and its ':', whitespace skipped around both; -1 for anything else. */
static int member(cur *c, Py_ssize_t *a, Py_ssize_t *b, int *escaped) {
    ws(c);
    if (string(c, a, b, escaped))
        return -1;
    ws(c);
    if (peek(c) != ':')
        return -1;
    c->i++;
    ws(c);
    return 0;
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
        if (opens_empty(c, close))
            return 0;
        for (;;) {
            if (ch == '{' && member(c, &a, &b, &e))
                return -1;
            if (skip(c, depth + 1))
                return -1;
            int r = next_item(c, close);
            if (r)
                return r > 0 ? 0 : -1;
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

/* The dictionary's tables that locate() finds, in the order it returns them. */
#define N_TABLES 3
static const char *const TABLE_CAMEL[N_TABLES] = {"stackTable", "locationTable", "linkTable"};
static const char *const TABLE_SNAKE[N_TABLES] = {"stack_table", "location_table", "link_table"};

typedef struct {
    cur c;
    int snake; /* -1 unknown, 0 camel, 1 snake */
    PyObject *out;
    int dictionary;                             /* the "dictionary" key was seen */
    Py_ssize_t table_start[N_TABLES], table_end[N_TABLES]; /* each table, or -1 */
    int table_snake[N_TABLES];                  /* spelled in snake_case */
} walker;

static int key_is(const cur *c, Py_ssize_t a, Py_ssize_t b, const char *name) {
    size_t len = strlen(name);
    return (size_t)(b - a) == len && memcmp(c->s + a, name, len) == 0;
}

static int walk_object(walker *w, int level);

/* The dictionary object: where its stack, location and link tables are. */
static int walk_dictionary(walker *w) {
    cur *c = &w->c;
    int seen[N_TABLES] = {0};
    if (opens_empty(c, '}'))
        return 0;
    for (;;) {
        Py_ssize_t a, b;
        int escaped, t, camel = 0;
        if (member(c, &a, &b, &escaped) || escaped)
            return -1;
        for (t = 0; t < N_TABLES; t++) {
            camel = key_is(c, a, b, TABLE_CAMEL[t]);
            if (camel || key_is(c, a, b, TABLE_SNAKE[t]))
                break;
        }
        if (t < N_TABLES) {
            if (seen[t])
                return -1; /* both spellings, or one twice */
            seen[t] = 1;
            w->table_snake[t] = !camel;
            if (peek(c) == '[')
                w->table_start[t] = c->i;
            if (skip(c, 1))
                return -1;
            if (w->table_start[t] >= 0)
                w->table_end[t] = c->i;
        } else if (skip(c, 1)) {
            return -1;
        }
        int r = next_item(c, '}');
        if (r)
            return r > 0 ? 0 : -1;
    }
}

/* An array of objects at the given level (anything but objects in it: not read here). */
static int walk_array(walker *w, int level) {
    cur *c = &w->c;
    if (opens_empty(c, ']'))
        return 0;
    for (;;) {
        ws(c);
        if (peek(c) != '{' || walk_object(w, level))
            return -1;
        int r = next_item(c, ']');
        if (r)
            return r > 0 ? 0 : -1;
    }
}

/* Level 0: the document; 1: ResourceProfiles; 2: ScopeProfiles; 3: Profile. */
static int walk_object(walker *w, int level) {
    cur *c = &w->c;
    Py_ssize_t region_start = -1, region_end = -1;
    int seen = 0;
    if (opens_empty(c, '}'))
        goto done;
    for (;;) {
        Py_ssize_t a, b;
        int escaped;
        if (member(c, &a, &b, &escaped) || escaped)
            return -1;
        int follow = 0, is_samples = 0;
        if (level == 0 && key_is(c, a, b, "dictionary")) {
            if (w->dictionary)
                return -1;
            w->dictionary = 1;
            if (peek(c) == '{') {
                if (walk_dictionary(w))
                    return -1;
                goto next;
            }
        } else if (level == 0) {
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
    next:;
        int r = next_item(c, '}');
        if (r < 0)
            return -1;
        if (r)
            break;
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
    walker w = {{buf.buf, 0, buf.len}, -1, PyList_New(0), 0, {0}, {0}, {0}};
    for (int t = 0; t < N_TABLES; t++)
        w.table_start[t] = w.table_end[t] = -1;
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
    for (int t = 0; t < N_TABLES; t++)
        if (w.table_snake[t] != (w.snake == 1)) /* not the spelling the document is read with */
            w.table_start[t] = w.table_end[t] = -1;
    result = Py_BuildValue("(OO((nn)(nn)(nn)))", w.snake == 1 ? Py_True : Py_False, w.out,
                           w.table_start[0], w.table_end[0], w.table_start[1], w.table_end[1],
                           w.table_start[2], w.table_end[2]);
out:
    Py_XDECREF(w.out);
    PyBuffer_Release(&buf);
    return result;
}

/* ---- objects ------------------------------------------------------------------------- */

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
    if (opens_empty(c, ']'))
        return 0;
    for (;;) {
        int64_t v;
        ws(c);
        if (integer(c, is_unsigned, &v))
            return 1;
        if (push(values, v))
            return -1;
        int r = next_item(c, ']');
        if (r)
            return r > 0 ? 0 : 1;
    }
}

#define MAX_FIELDS 8

/* int64; list of int64; list of uint64; hex id; list of objects; uint64 */
enum { SCALAR = 0, LIST = 1, ULIST = 2, HEX = 3, OBJECTS = 4, USCALAR = 5 };

typedef struct {
    uint8_t *v;
    size_t n, cap;
} bytes_t;

typedef struct column {
    const char *name, *alias; /* alias: OBJECTS only, or NULL */
    size_t len, alias_len;
    int kind;
    int size;       /* HEX: bytes per id */
    vec values;     /* SCALAR, USCALAR: one per object; HEX: each id's length; lists: items */
    vec offsets;    /* lists, OBJECTS: n + 1 */
    bytes_t raw;    /* HEX: the ids' bytes */
    struct column *sub; /* OBJECTS: the fields of its objects */
    int nsub;
    int64_t alias_at; /* OBJECTS: the first object that used the alias, or -1 */
} column;

static int array(cur *c, column *cols, int ncols);

static int hex_digit(int ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* An id written as 2 * size hex digits, or "" (length 0): its bytes appended to ``raw``,
 * its length in *len. 1: not read (anything else: the Python reader decides), -1: out of
 * memory. */
static int hex_id(cur *c, int size, bytes_t *raw, int64_t *len) {
    Py_ssize_t a, b;
    int escaped;
    if (string(c, &a, &b, &escaped) || escaped)
        return 1;
    if (b == a) {
        *len = 0;
        return 0;
    }
    if (b - a != 2 * (Py_ssize_t)size)
        return 1;
    if (raw->n + (size_t)size > raw->cap) {
        size_t cap = raw->cap ? 2 * raw->cap : 4096;
        while (cap < raw->n + (size_t)size)
            cap *= 2;
        uint8_t *p = realloc(raw->v, cap);
        if (p == NULL)
            return -1;
        raw->v = p;
        raw->cap = cap;
    }
    for (int k = 0; k < size; k++) {
        int hi = hex_digit((unsigned char)c->s[a + 2 * k]);
        int lo = hex_digit((unsigned char)c->s[a + 2 * k + 1]);
        if (hi < 0 || lo < 0)
            return 1;
        raw->v[raw->n + (size_t)k] = (uint8_t)(hi << 4 | lo);
    }
    raw->n += (size_t)size;
    *len = size;
    return 0;
}

/* 1: the key is the column's name, 2: its alias, 0: neither. */
static int names(const column *col, const cur *c, Py_ssize_t a, size_t len) {
    if (len == col->len && memcmp(c->s + a, col->name, len) == 0)
        return 1;
    if (col->alias && len == col->alias_len && memcmp(c->s + a, col->alias, len) == 0)
        return 2;
    return 0;
}

/* One object of the array; 1: not read, -1: out of memory. */
static int object(cur *c, column *cols, int ncols) {
    int64_t scalar[MAX_FIELDS] = {0};
    int seen[MAX_FIELDS] = {0};
    if (peek(c) != '{')
        return 1;
    if (opens_empty(c, '}'))
        goto done;
    for (;;) {
        Py_ssize_t a, b;
        int escaped, f, rc;
        if (member(c, &a, &b, &escaped) || escaped)
            return 1;
        size_t len = (size_t)(b - a);
        int named = 0;
        for (f = 0; f < ncols; f++)
            if ((named = names(&cols[f], c, a, len)))
                break;
        if (f == ncols || seen[f])
            return 1;
        seen[f] = 1;
        if (named == 2 && cols[f].alias_at < 0)
            cols[f].alias_at = (int64_t)cols[f].offsets.n - 1; /* this object's position */
        switch (cols[f].kind) {
        case SCALAR:
        case USCALAR:
            rc = integer(c, cols[f].kind == USCALAR, &scalar[f]);
            break;
        case HEX:
            rc = hex_id(c, cols[f].size, &cols[f].raw, &scalar[f]);
            break;
        case OBJECTS:
            rc = array(c, cols[f].sub, cols[f].nsub);
            break;
        default:
            rc = integers(c, cols[f].kind == ULIST, &cols[f].values);
        }
        if (rc)
            return rc;
        int r = next_item(c, '}');
        if (r < 0)
            return 1;
        if (r)
            break;
    }
done:
    for (int f = 0; f < ncols; f++) {
        int rc;
        switch (cols[f].kind) {
        case SCALAR:
        case USCALAR:
        case HEX:
            rc = push(&cols[f].values, scalar[f]);
            break;
        case OBJECTS: /* its first field holds one value per object */
            rc = push(&cols[f].offsets, (int64_t)cols[f].sub[0].values.n);
            break;
        default:
            rc = push(&cols[f].offsets, (int64_t)cols[f].values.n);
        }
        if (rc)
            return -1;
    }
    return 0;
}

/* An array of objects; 1: not read, -1: out of memory. */
static int array(cur *c, column *cols, int ncols) {
    ws(c);
    if (peek(c) != '[')
        return 1;
    if (opens_empty(c, ']'))
        return 0;
    for (;;) {
        int rc;
        ws(c);
        if ((rc = object(c, cols, ncols)))
            return rc;
        int r = next_item(c, ']');
        if (r)
            return r > 0 ? 0 : 1;
    }
}

static PyObject *as_bytes(const vec *x) {
    return PyBytes_FromStringAndSize((const char *)x->v, (Py_ssize_t)(x->n * sizeof(int64_t)));
}

static void free_columns(column *cols, int ncols) {
    for (int f = 0; f < ncols; f++) {
        free(cols[f].values.v);
        free(cols[f].offsets.v);
        free(cols[f].raw.v);
        if (cols[f].sub) {
            free_columns(cols[f].sub, cols[f].nsub);
            free(cols[f].sub);
        }
    }
}

/* The columns of ``fields`` ((name, kind, ...), ...); -1 with a Python error set. */
static int parse_fields(PyObject *fields, column *cols, int *ncols, int depth) {
    if (!PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) > MAX_FIELDS ||
        PyTuple_GET_SIZE(fields) < 1 || depth > 1) {
        PyErr_SetString(PyExc_ValueError, "objects: 1 to 8 fields, objects nested once");
        return -1;
    }
    *ncols = (int)PyTuple_GET_SIZE(fields);
    for (int f = 0; f < *ncols; f++) {
        PyObject *spec = PyTuple_GET_ITEM(fields, f), *extra = NULL;
        Py_ssize_t len, alias_len = 0;
        if (!PyArg_ParseTuple(spec, "s#i|O:field", &cols[f].name, &len, &cols[f].kind, &extra))
            return -1;
        cols[f].len = (size_t)len;
        cols[f].alias_at = -1;
        int kind = cols[f].kind;
        if (kind < SCALAR || kind > USCALAR) {
            PyErr_SetString(PyExc_ValueError, "objects: unknown field kind");
            return -1;
        }
        if (kind == HEX) {
            long size = extra ? PyLong_AsLong(extra) : -1;
            if (size < 1 || size > 64) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "objects: a hex id's size, 1 to 64");
                return -1;
            }
            cols[f].size = (int)size;
        } else if (kind == OBJECTS) {
            PyObject *sub;
            if (!extra || !PyArg_ParseTuple(extra, "z#O!:objects field", &cols[f].alias,
                                            &alias_len, &PyTuple_Type, &sub))
                return -1;
            cols[f].alias_len = (size_t)alias_len;
            cols[f].sub = calloc(MAX_FIELDS, sizeof(column));
            if (cols[f].sub == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            if (parse_fields(sub, cols[f].sub, &cols[f].nsub, depth + 1))
                return -1;
            int first = cols[f].sub[0].kind;
            if (first != SCALAR && first != USCALAR && first != HEX) {
                PyErr_SetString(PyExc_ValueError, "objects: a list's first field is one value");
                return -1;
            }
        }
        if ((kind == LIST || kind == ULIST || kind == OBJECTS) && push(&cols[f].offsets, 0)) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

/* The Python value of the columns read (see the module docstring); NULL on error. */
static PyObject *columns_result(const column *cols, int ncols) {
    PyObject *result = PyTuple_New(ncols);
    if (result == NULL)
        return NULL;
    for (int f = 0; f < ncols; f++) {
        const column *col = &cols[f];
        PyObject *item;
        switch (col->kind) {
        case SCALAR:
        case USCALAR:
            item = as_bytes(&col->values);
            break;
        case HEX:
            item = Py_BuildValue("(Ny#)", as_bytes(&col->values),
                                 col->raw.v ? (const char *)col->raw.v : "", /* never None */
                                 (Py_ssize_t)col->raw.n);
            break;
        case OBJECTS:
            item = Py_BuildValue("(NNL)", as_bytes(&col->offsets),
                                 columns_result(col->sub, col->nsub), (long long)col->alias_at);
            break;
        default:
            item = Py_BuildValue("(NN)", as_bytes(&col->offsets), as_bytes(&col->values));
        }
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, f, item);
    }
    return result;
}

static PyObject *objects(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t start, end;
    PyObject *fields;
    if (!PyArg_ParseTuple(args, "y*nnO!:objects", &buf, &start, &end, &PyTuple_Type, &fields))
        return NULL;
    PyObject *result = NULL;
    column cols[MAX_FIELDS];
    memset(cols, 0, sizeof cols);
    int ncols = 0;
    if (start < 0 || end > buf.len || start > end) {
        PyErr_SetString(PyExc_ValueError, "objects: range outside the data");
        goto out;
    }
    if (parse_fields(fields, cols, &ncols, 0)) {
        ncols = MAX_FIELDS; /* free whatever was made */
        goto out;
    }
    cur c = {buf.buf, start, end};
    int rc = array(&c, cols, ncols);
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
    result = columns_result(cols, ncols);
out:
    free_columns(cols, MAX_FIELDS);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"locate", locate, METH_VARARGS,
     "locate(data) -> (snake, [(start, end), ...], (stacks, locations, links)) or None"},
    {"objects", objects, METH_VARARGS,
     "objects(data, start, end, ((name, kind, ...), ...)) -> one column per field, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_otlpjson", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__otlpjson(void) { return PyModule_Create(&module); }
