/* profilelab._native._otlpwire: a binary OTLP profiles request (v1development) in one call.
 *
 * decode(data) walks the whole ExportProfilesServiceRequest / ProfilesData and returns what
 * readers/_otlp_binary.decode returns as its Payload, in pieces that readers/_otlp_native.py
 * assembles without copies:
 *
 *   (version, columns, lengths, strings, string_offsets, trace_raw, span_raw,
 *    attributes, resources, scopes, profiles)
 *
 * columns is one bytearray of uint64 holding every integer column one after the other,
 * lengths their sizes in the order of enum col below; strings and string_offsets (int32)
 * are the string table as Arrow buffers (None when the table is absent); trace_raw and
 * span_raw the links' id bytes, joined (their lengths are columns); attributes is a list of
 * (key, value, unit), resources a list of [(key, value)], scopes a list of
 * [(name, version, [(key, value)])], profiles a list of (resource, scope, position,
 * sample type, sample unit, period type, period unit, time, duration, period, profile id,
 * payload format, payload, attribute indices, first sample, end of samples). A value is
 * None or (kind, x) as readers/_otlp_binary.any_value makes it.
 *
 * It returns None for anything the NumPy walker does not read plainly: malformed wire data,
 * fields the layout does not have, the v1.8 Profile layout, a layout the samples do not
 * settle, invalid UTF-8 (the string table is repaired there, other strings refused), a
 * message field given twice (protobuf merges them), attribute values nested more than
 * MAX_VALUE_DEPTH deep, resources with entity references. The caller then runs the NumPy
 * walker, which reads the payload or raises its error. So this walker never has to say
 * why; it only has to give the same result wherever it gives one, which
 * tests/test_otlp_native.py checks against the NumPy walker.
 *
 * The wire rules are those of readers/_wire.py and _wirescan.c (upb's): a varint has at most
 * 10 bytes and bits past 64 are dropped, a tag at most 5 bytes, fits 32 bits and is not
 * field 0, a length at most 5 bytes and below 2 GiB, no groups. Every read is bounded by its
 * message's end, which is inside its parent's; counts are bounded by the input's size
 * (every record takes at least two bytes); the only recursion is into nested attribute
 * values, at most MAX_VALUE_DEPTH deep.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_valid.h"
#include "wire_record.h"

#define MAX_VALUE_DEPTH 16

enum { OK = 0, DEFER = 1, NOMEM = -1, PYERR = -2 };
enum { VARINT = WIRE_VARINT, FIXED64 = WIRE_FIXED64, LEN = WIRE_LEN, FIXED32 = WIRE_FIXED32 };

/* The integer columns, in the order readers/_otlp_native.py slices them. */
enum col {
    MAP_START, MAP_LIMIT, MAP_OFFSET, MAP_FILE, MAP_ATTR_OFF, MAP_ATTRS,
    LOC_MAPPING, LOC_ADDRESS, LOC_ATTR_OFF, LOC_ATTRS,
    LINE_OFF, LINE_FUNCTION, LINE_LINE, LINE_COLUMN,
    FN_NAME, FN_SYSTEM_NAME, FN_FILE, FN_START_LINE,
    STACK_OFF, STACK_LOCS, LINK_TRACE_LEN, LINK_SPAN_LEN,
    S_STACK, S_LINK, S_ATTR_OFF, S_ATTRS, S_VALUE_OFF, S_VALUES, S_TIME_OFF, S_TIMES,
    NCOLS
};

/* ---- growable arrays ------------------------------------------------------------------ */

typedef struct {
    uint64_t *v;
    size_t n, cap;
} vec;

static int push(vec *a, uint64_t x) {
    if (a->n == a->cap) {
        size_t grown = a->cap ? 2 * a->cap : 64;
        uint64_t *v = realloc(a->v, grown * sizeof(uint64_t));
        if (v == NULL)
            return NOMEM;
        a->v = v;
        a->cap = grown;
    }
    a->v[a->n++] = x;
    return OK;
}

typedef struct {
    uint8_t *v;
    size_t n, cap;
} bytes;

static int append(bytes *a, const uint8_t *p, size_t len) {
    if (a->n + len > a->cap) {
        size_t grown = a->cap ? 2 * a->cap : 256;
        while (grown < a->n + len)
            grown *= 2;
        uint8_t *v = realloc(a->v, grown);
        if (v == NULL)
            return NOMEM;
        a->v = v;
        a->cap = grown;
    }
    if (len)
        memcpy(a->v + a->n, p, len);
    a->n += len;
    return OK;
}

/* ---- wire records --------------------------------------------------------------------- */

typedef wire_rec rec;

/* The next record of [*p, end): 1 and the record, 0 at the end, -DEFER when not plain. */
static int next(const uint8_t **p, const uint8_t *end, rec *r) {
    int got = wire_next(p, end, r);
    return got < 0 ? -DEFER : got;
}

/* Packed varints of a body appended to *out: DEFER when one is cut or too long. */
static int packed(const rec *r, vec *out) {
    const uint8_t *p = r->body;
    while (p < r->bend) {
        uint64_t v;
        if (wire_varint(&p, r->bend, 10, &v) < 0)
            return DEFER;
        if (push(out, v))
            return NOMEM;
    }
    return OK;
}

/* A repeated varint field's record (packed or not) appended to *out. */
static int repeated(const rec *r, vec *out) {
    if (r->wire == LEN)
        return packed(r, out);
    return r->wire == VARINT ? push(out, r->value) : DEFER;
}

#define TRY(x)                                                                              \
    do {                                                                                    \
        int rc_ = (x);                                                                      \
        if (rc_ != OK)                                                                      \
            return rc_;                                                                     \
    } while (0)

/* Loop over the records of [start, end) into rec r; malformed data defers. */
#define EACH(r, start, end)                                                                 \
    for (const uint8_t *p_ = (start), *e_ = (end); ; )                                      \
        if ((rc = next(&p_, e_, &(r))) < 0)                                                 \
            return DEFER;                                                                   \
        else if (rc == 0)                                                                   \
            break;                                                                          \
        else

/* ---- the walker's state --------------------------------------------------------------- */

typedef struct {
    vec col[NCOLS];
    bytes strings, trace_raw, span_raw;
    vec string_off;    /* n + 1 offsets into strings (int32 once returned) */
    size_t n_strings;  /* records of the string table */
    size_t n_attributes;
    const uint8_t *base; /* the request: sample bodies are kept as offsets into it */
    PyObject *attributes, *resources, *scopes, *profiles;
    int new_profile_layout; /* a Profile has v1.9+ evidence: field 9 or varint field 8 */
} state;

/* ---- dictionary tables ---------------------------------------------------------------- */

static int mapping_entry(state *s, const uint8_t *b, const uint8_t *e) {
    uint64_t v[5] = {0};
    rec r;
    int rc;
    EACH(r, b, e) {
        if (r.field >= 1 && r.field <= 4 && r.wire == VARINT)
            v[r.field] = r.value;
        else if (r.field == 5)
            TRY(repeated(&r, &s->col[MAP_ATTRS]));
        else
            return DEFER;
    }
    for (int f = 1; f <= 4; f++)
        TRY(push(&s->col[MAP_START + f - 1], v[f]));
    return push(&s->col[MAP_ATTR_OFF], s->col[MAP_ATTRS].n);
}

static int line_entry(state *s, const uint8_t *b, const uint8_t *e) {
    uint64_t v[4] = {0};
    rec r;
    int rc;
    EACH(r, b, e) {
        if (r.field < 1 || r.field > 3 || r.wire != VARINT)
            return DEFER;
        v[r.field] = r.value;
    }
    for (int f = 1; f <= 3; f++)
        TRY(push(&s->col[LINE_FUNCTION + f - 1], v[f]));
    return OK;
}

static int location_entry(state *s, const uint8_t *b, const uint8_t *e) {
    uint64_t v[3] = {0};
    rec r;
    int rc;
    EACH(r, b, e) {
        if ((r.field == 1 || r.field == 2) && r.wire == VARINT)
            v[r.field] = r.value;
        else if (r.field == 3 && r.wire == LEN)
            TRY(line_entry(s, r.body, r.bend));
        else if (r.field == 4)
            TRY(repeated(&r, &s->col[LOC_ATTRS]));
        else
            return DEFER;
    }
    TRY(push(&s->col[LOC_MAPPING], v[1]));
    TRY(push(&s->col[LOC_ADDRESS], v[2]));
    TRY(push(&s->col[LOC_ATTR_OFF], s->col[LOC_ATTRS].n));
    return push(&s->col[LINE_OFF], s->col[LINE_FUNCTION].n);
}

static int function_entry(state *s, const uint8_t *b, const uint8_t *e) {
    uint64_t v[5] = {0};
    rec r;
    int rc;
    EACH(r, b, e) {
        if (r.field < 1 || r.field > 4 || r.wire != VARINT)
            return DEFER;
        v[r.field] = r.value;
    }
    for (int f = 1; f <= 4; f++)
        TRY(push(&s->col[FN_NAME + f - 1], v[f]));
    return OK;
}

static int link_entry(state *s, const uint8_t *b, const uint8_t *e) {
    const uint8_t *id[3] = {NULL, NULL, NULL}, *end[3] = {NULL, NULL, NULL};
    rec r;
    int rc;
    EACH(r, b, e) {
        if ((r.field != 1 && r.field != 2) || r.wire != LEN)
            return DEFER;
        id[r.field] = r.body; /* the last one counts */
        end[r.field] = r.bend;
    }
    for (int f = 1; f <= 2; f++) {
        size_t len = id[f] ? (size_t)(end[f] - id[f]) : 0;
        TRY(push(&s->col[f == 1 ? LINK_TRACE_LEN : LINK_SPAN_LEN], len));
        TRY(append(f == 1 ? &s->trace_raw : &s->span_raw, id[f], len));
    }
    return OK;
}

static int stack_entry(state *s, const uint8_t *b, const uint8_t *e) {
    rec r;
    int rc;
    EACH(r, b, e) {
        if (r.field != 1)
            return DEFER;
        TRY(repeated(&r, &s->col[STACK_LOCS]));
    }
    return push(&s->col[STACK_OFF], s->col[STACK_LOCS].n);
}

static int string_entry(state *s, const uint8_t *b, const uint8_t *e) {
    size_t len = (size_t)(e - b);
    if (!utf8_valid(b, len))
        return DEFER; /* the NumPy walker repairs the table */
    TRY(append(&s->strings, b, len));
    if (s->strings.n > INT32_MAX)
        return DEFER;
    s->n_strings++;
    return push(&s->string_off, s->strings.n);
}

/* ---- attribute values (AnyValue, KeyValue) as Python objects --------------------------- */

static PyObject *kind_str, *kind_bool, *kind_int, *kind_double, *kind_bytes, *kind_strindex,
    *kind_array, *kind_kvlist;

static int any_value(const uint8_t *b, const uint8_t *e, int depth, PyObject **out);

static PyObject *text(const uint8_t *b, const uint8_t *e) {
    return PyUnicode_DecodeUTF8((const char *)b, e - b, "strict");
}

/* A KeyValue: its key text (NULL when empty), key_strindex, and value (or None). */
static int key_value(const uint8_t *b, const uint8_t *e, int depth, const uint8_t **key,
                     const uint8_t **key_end, uint64_t *key_index, PyObject **value) {
    int seen[4] = {0};
    const uint8_t *vb = NULL, *ve = NULL;
    rec r;
    int rc;
    *key = NULL;
    *key_index = 0;
    EACH(r, b, e) {
        if (r.field > 3) {
            continue; /* unknown: kept aside by protobuf, unread */
        }
        if (seen[r.field]++ || r.wire != (r.field == 3 ? VARINT : LEN))
            return DEFER;
        if (r.field == 1) {
            if (!utf8_valid(r.body, (size_t)(r.bend - r.body)))
                return DEFER;
            *key = r.body;
            *key_end = r.bend;
        } else if (r.field == 2) {
            vb = r.body;
            ve = r.bend;
        } else {
            *key_index = r.value;
        }
    }
    if (vb == NULL) {
        *value = Py_NewRef(Py_None);
        return OK;
    }
    return any_value(vb, ve, depth + 1, value);
}

static PyObject *pair(PyObject *a, PyObject *b) { /* steals both */
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return t;
}

/* ArrayValue (field 1: AnyValue) or KeyValueList (field 1: KeyValue) into a list. */
static int value_list(const uint8_t *b, const uint8_t *e, int depth, int kvlist,
                      PyObject **out) {
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return PYERR;
    rec r;
    int rc, got = OK;
    for (const uint8_t *p = b; got == OK;) {
        if ((rc = next(&p, e, &r)) <= 0) {
            got = rc < 0 ? DEFER : OK;
            break;
        }
        if (r.field != 1)
            continue; /* unknown */
        if (r.wire != LEN) {
            got = DEFER;
            break;
        }
        PyObject *item = NULL;
        if (kvlist) {
            const uint8_t *k, *ke = NULL;
            uint64_t ki;
            PyObject *v;
            got = key_value(r.body, r.bend, depth, &k, &ke, &ki, &v);
            if (got == OK)
                item = pair(k ? text(k, ke) : PyUnicode_FromStringAndSize("", 0), v);
        } else {
            got = any_value(r.body, r.bend, depth + 1, &item);
        }
        if (got == OK && (item == NULL || PyList_Append(list, item) < 0))
            got = PYERR;
        Py_XDECREF(item);
    }
    if (got != OK) {
        Py_DECREF(list);
        return got;
    }
    *out = list;
    return OK;
}

/* An AnyValue: None when unset, else (kind, value) as _otlp_binary.any_value gives it. */
static int any_value(const uint8_t *b, const uint8_t *e, int depth, PyObject **out) {
    if (depth > MAX_VALUE_DEPTH)
        return DEFER;
    static const int wire_of[9] = {-1, LEN, VARINT, VARINT, FIXED64, LEN, LEN, LEN, VARINT};
    rec r, one = {0};
    int rc, known = 0;
    EACH(r, b, e) {
        if (r.field > 8)
            continue; /* unknown */
        if (known++ || r.wire != wire_of[r.field])
            return DEFER; /* two oneof members (protobuf merges or replaces), a wrong type */
        one = r;
    }
    if (!known) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    PyObject *kind = NULL, *x = NULL;
    int got = OK;
    switch (one.field) {
    case 1:
        if (!utf8_valid(one.body, (size_t)(one.bend - one.body)))
            return DEFER;
        kind = kind_str, x = text(one.body, one.bend);
        break;
    case 2:
        kind = kind_bool, x = PyBool_FromLong(one.value != 0);
        break;
    case 3:
        kind = kind_int, x = PyLong_FromLongLong((long long)one.value);
        break;
    case 4: {
        double d;
        memcpy(&d, &one.value, 8);
        kind = kind_double, x = PyFloat_FromDouble(d);
        break;
    }
    case 5:
    case 6:
        kind = one.field == 5 ? kind_array : kind_kvlist;
        got = value_list(one.body, one.bend, depth, one.field == 6, &x);
        if (got != OK)
            return got;
        break;
    case 7:
        kind = kind_bytes,
        x = PyBytes_FromStringAndSize((const char *)one.body, one.bend - one.body);
        break;
    default:
        kind = kind_strindex, x = PyLong_FromLong((int32_t)(uint32_t)one.value);
    }
    *out = pair(Py_NewRef(kind), x);
    return *out ? OK : PYERR;
}

/* A string of the table, by index (checked by the caller). */
static PyObject *table_string(state *s, uint64_t i) {
    const uint8_t *base = s->strings.v;
    size_t a = s->string_off.v[i], z = s->string_off.v[i + 1];
    return PyUnicode_DecodeUTF8(base ? (const char *)base + a : "", (Py_ssize_t)(z - a),
                                "strict");
}

/* Resource or scope attributes: [(key, value)], a key_strindex resolved in the table. */
static int key_values_append(state *s, PyObject *list, const uint8_t *b, const uint8_t *e) {
    const uint8_t *k, *ke = NULL;
    uint64_t ki;
    PyObject *v, *key;
    TRY(key_value(b, e, 0, &k, &ke, &ki, &v));
    int32_t index = (int32_t)(uint32_t)ki;
    if (k == NULL || k == ke) {
        size_t n = s->n_strings ? s->n_strings : 1;
        if (index != 0 && (index < 0 || (size_t)index >= n)) {
            Py_DECREF(v);
            return DEFER;
        }
        key = index != 0 && s->n_strings ? table_string(s, (uint64_t)index)
                                          : PyUnicode_FromStringAndSize("", 0);
    } else {
        key = text(k, ke);
    }
    PyObject *t = pair(key, v);
    if (t == NULL || PyList_Append(list, t) < 0) {
        Py_XDECREF(t);
        return PYERR;
    }
    Py_DECREF(t);
    return OK;
}

/* A dictionary attribute (KeyValueAndUnit) as (key_strindex, value, unit_strindex). */
static int attribute_entry(state *s, const uint8_t *b, const uint8_t *e) {
    uint64_t v[4] = {0};
    const uint8_t *vb = NULL, *ve = NULL;
    rec r;
    int rc;
    EACH(r, b, e) {
        if ((r.field == 1 || r.field == 3) && r.wire == VARINT) {
            v[r.field] = r.value;
        } else if (r.field == 2 && r.wire == LEN && vb == NULL) {
            vb = r.body;
            ve = r.bend;
        } else {
            return DEFER; /* unknown (another schema), or a value to merge */
        }
    }
    PyObject *value;
    if (vb == NULL)
        value = Py_NewRef(Py_None);
    else
        TRY(any_value(vb, ve, 1, &value));
    PyObject *t = Py_BuildValue("(lNl)", (long)(int32_t)(uint32_t)v[1], value,
                                (long)(int32_t)(uint32_t)v[3]);
    if (t == NULL || PyList_Append(s->attributes, t) < 0) {
        Py_XDECREF(t);
        return PYERR;
    }
    Py_DECREF(t);
    s->n_attributes++;
    return OK;
}

static int dictionary(state *s, const uint8_t *b, const uint8_t *e) {
    rec r;
    int rc;
    /* strings first: attributes of resources and scopes look keys up in them */
    EACH(r, b, e) {
        if (r.field < 1 || r.field > 7 || r.wire != LEN)
            return DEFER;
        if (r.field == 5)
            TRY(string_entry(s, r.body, r.bend));
    }
    EACH(r, b, e) {
        switch (r.field) {
        case 1:
            TRY(mapping_entry(s, r.body, r.bend));
            break;
        case 2:
            TRY(location_entry(s, r.body, r.bend));
            break;
        case 3:
            TRY(function_entry(s, r.body, r.bend));
            break;
        case 4:
            TRY(link_entry(s, r.body, r.bend));
            break;
        case 6:
            TRY(attribute_entry(s, r.body, r.bend));
            break;
        case 7:
            TRY(stack_entry(s, r.body, r.bend));
            break;
        }
    }
    return OK;
}

/* ---- resources, scopes, profiles ------------------------------------------------------ */

/* Every record of a message must be length-delimited with a field in 1..last; the last
 * record of field `single` is returned (NULL when none). */
static int plain_fields(const uint8_t *b, const uint8_t *e, uint32_t last, uint32_t single,
                        const uint8_t **sb, const uint8_t **se) {
    rec r;
    int rc;
    *sb = *se = NULL;
    EACH(r, b, e) {
        if (r.field < 1 || r.field > last || r.wire != LEN)
            return DEFER;
        if (r.field == single) {
            *sb = r.body;
            *se = r.bend;
        }
    }
    return OK;
}

static int resource(state *s, const uint8_t *b, const uint8_t *e, PyObject *attrs) {
    rec r;
    int rc;
    EACH(r, b, e) {
        if (r.field == 1 && r.wire == LEN)
            TRY(key_values_append(s, attrs, r.body, r.bend));
        else if (r.field == 3 || (r.field <= 2 && r.wire != (r.field == 1 ? LEN : VARINT)))
            return DEFER; /* entity references, or a known field of another wire type */
    }
    return OK;
}

static int scope(state *s, const uint8_t *b, const uint8_t *e, PyObject *list) {
    const uint8_t *name[2] = {NULL, NULL}, *name_end[2] = {NULL, NULL};
    PyObject *attrs = PyList_New(0);
    if (attrs == NULL)
        return PYERR;
    rec r;
    int rc = 0, got = OK;
    for (const uint8_t *p = b; got == OK;) {
        if ((rc = next(&p, e, &r)) <= 0) {
            got = rc < 0 ? DEFER : OK;
            break;
        }
        if (r.field > 4)
            continue;
        if (r.wire != (r.field == 4 ? VARINT : LEN))
            got = DEFER;
        else if (r.field == 3)
            got = key_values_append(s, attrs, r.body, r.bend);
        else if (r.field <= 2) {
            if (!utf8_valid(r.body, (size_t)(r.bend - r.body)))
                got = DEFER;
            name[r.field - 1] = r.body; /* the last one counts */
            name_end[r.field - 1] = r.bend;
        }
    }
    PyObject *t = NULL;
    if (got == OK) {
        PyObject *nv[2];
        for (int i = 0; i < 2; i++)
            nv[i] = name[i] ? text(name[i], name_end[i]) : PyUnicode_FromStringAndSize("", 0);
        t = nv[0] && nv[1] ? PyTuple_Pack(3, nv[0], nv[1], attrs) : NULL;
        Py_XDECREF(nv[0]);
        Py_XDECREF(nv[1]);
        if (t == NULL || PyList_Append(list, t) < 0)
            got = PYERR;
    }
    Py_XDECREF(t);
    Py_DECREF(attrs);
    return got;
}

/* A ValueType: only type and unit (a field 3 is v1.8's aggregation temporality). */
static int value_type(const uint8_t *b, const uint8_t *e, uint64_t v[3]) {
    rec r;
    int rc;
    v[1] = v[2] = 0;
    EACH(r, b, e) {
        if ((r.field != 1 && r.field != 2) || r.wire != VARINT)
            return DEFER;
        v[r.field] = r.value;
    }
    return OK;
}

typedef struct {
    const uint8_t *body[12], *bend[12]; /* the last length-delimited record of each field */
    uint64_t scalar[12];                /* the last scalar record of each field */
    vec attrs;                          /* field 11: unpacked ones first, then packed */
} header;

/* One Profile: header fields checked against the v1.9+ layout, samples gathered. */
static int profile(state *s, const uint8_t *b, const uint8_t *e, header *h, vec *samples) {
    static const int lengthy[12] = {0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1};
    static const int scalar_wire[12] = {-1, -1, -1, FIXED64, VARINT, -1, VARINT, -1, VARINT,
                                        -1, -1, VARINT};
    uint64_t vt[3];
    rec r;
    int rc;
    memset(h->body, 0, sizeof h->body);
    memset(h->bend, 0, sizeof h->bend);
    memset(h->scalar, 0, sizeof h->scalar);
    h->attrs.n = 0;
    EACH(r, b, e) {
        if (r.field > 11)
            return DEFER;
        if (r.wire == LEN) {
            if (!lengthy[r.field])
                return DEFER;
            h->body[r.field] = r.body;
            h->bend[r.field] = r.bend;
            if (r.field == 1 || r.field == 5)
                TRY(value_type(r.body, r.bend, vt));
            else if (r.field == 2) {
                TRY(push(samples, (uint64_t)(r.body - s->base)));
                TRY(push(samples, (uint64_t)(r.bend - s->base)));
            } else if (r.field == 9)
                s->new_profile_layout = 1;
        } else {
            if (r.wire != scalar_wire[r.field])
                return DEFER;
            h->scalar[r.field] = r.value;
            if (r.field == 11)
                TRY(push(&h->attrs, r.value));
            else if (r.field == 8)
                s->new_profile_layout = 1;
        }
    }
    /* packed attribute indices come after the unpacked ones (_otlp_binary._packed_int32) */
    EACH(r, b, e) {
        if (r.field == 11 && r.wire == LEN)
            TRY(packed(&r, &h->attrs));
    }
    return OK;
}

static PyObject *optional_bytes(const uint8_t *b, const uint8_t *e) {
    if (b == NULL)
        return Py_NewRef(Py_None);
    return PyBytes_FromStringAndSize((const char *)b, e - b);
}

static int profile_entry(state *s, header *h, long res, long sc, long pos, size_t first,
                         size_t stop) {
    uint64_t st[3] = {0}, pt[3] = {0}; /* the last of each (all were checked) */
    if (h->body[1])
        TRY(value_type(h->body[1], h->bend[1], st));
    if (h->body[5])
        TRY(value_type(h->body[5], h->bend[5], pt));
    PyObject *attrs = PyList_New((Py_ssize_t)h->attrs.n);
    if (attrs == NULL)
        return PYERR;
    for (size_t i = 0; i < h->attrs.n; i++) {
        PyObject *x = PyLong_FromLongLong((long long)h->attrs.v[i]);
        if (x == NULL) {
            Py_DECREF(attrs);
            return PYERR;
        }
        PyList_SET_ITEM(attrs, (Py_ssize_t)i, x);
    }
    const uint8_t *fb = h->body[9], *fe = h->bend[9];
    PyObject *t = Py_BuildValue(
        "(lllLLLLLLLNNNNnn)", res, sc, pos, (long long)st[1], (long long)st[2],
        (long long)pt[1], (long long)pt[2], (long long)h->scalar[3], (long long)h->scalar[4],
        (long long)h->scalar[6], optional_bytes(h->body[7], h->bend[7]),
        PyUnicode_DecodeUTF8(fb ? (const char *)fb : "", fb ? fe - fb : 0, "replace"),
        PyBytes_FromStringAndSize(h->body[10] ? (const char *)h->body[10] : "",
                                  h->body[10] ? h->bend[10] - h->body[10] : 0),
        attrs, (Py_ssize_t)first, (Py_ssize_t)stop);
    if (t == NULL || PyList_Append(s->profiles, t) < 0) {
        Py_XDECREF(t);
        return PYERR;
    }
    Py_DECREF(t);
    return OK;
}

static int resource_profiles(state *s, long res, const uint8_t *b, const uint8_t *e,
                             vec *samples, header *h) {
    const uint8_t *rb, *re, *sb, *se;
    rec r, q;
    int rc;
    TRY(plain_fields(b, e, 3, 1, &rb, &re));
    PyObject *attrs = PyList_New(0), *scopes = PyList_New(0);
    int got = attrs && scopes ? OK : PYERR;
    if (got == OK && rb != NULL)
        got = resource(s, rb, re, attrs);
    if (got == OK && (PyList_Append(s->resources, attrs) < 0 ||
                      PyList_Append(s->scopes, scopes) < 0))
        got = PYERR;
    Py_XDECREF(attrs);
    Py_XDECREF(scopes);
    TRY(got);
    long sc = 0;
    EACH(r, b, e) {
        if (r.field != 2)
            continue;
        TRY(plain_fields(r.body, r.bend, 3, 1, &sb, &se));
        if (sb != NULL)
            TRY(scope(s, sb, se, scopes));
        else {
            const uint8_t empty = 0;
            TRY(scope(s, &empty, &empty, scopes));
        }
        long pos = 0;
        EACH(q, r.body, r.bend) {
            if (q.field != 2)
                continue;
            size_t first = samples->n / 2;
            TRY(profile(s, q.body, q.bend, h, samples));
            TRY(profile_entry(s, h, res, sc, pos++, first, samples->n / 2));
        }
        sc++;
    }
    return OK;
}

/* ---- samples -------------------------------------------------------------------------- */

typedef struct {
    int has3len, has4len, has3var, has4var, repeats3, repeats4, two_without_five;
    uint64_t max2;  /* the largest value of field 2 */
    int any2;
} evidence;

/* Every Sample's records gathered by field (2, 3 and 4 as CSR, whichever layout they end
 * up with), and the evidence of its layout (_otlp_binary._sample_layout). */
static int samples_walk(state *s, const vec *bodies, vec f[5], vec off[5], evidence *ev) {
    vec *stack = &s->col[S_STACK];
    for (size_t i = 0; i < bodies->n; i += 2) {
        const uint8_t *b = s->base + bodies->v[i], *e = s->base + bodies->v[i + 1];
        uint64_t stack_index = 0;
        int n3 = 0, n4 = 0, has2 = 0, has5 = 0;
        rec r;
        int rc;
        EACH(r, b, e) {
            switch (r.field) {
            case 1:
                if (r.wire != VARINT)
                    return DEFER;
                stack_index = r.value;
                break;
            case 2:
            case 3:
            case 4: {
                size_t before = f[r.field].n;
                TRY(repeated(&r, &f[r.field]));
                if (r.field == 2) {
                    has2 = 1;
                    for (size_t k = before; k < f[2].n; k++, ev->any2 = 1)
                        ev->max2 = f[2].v[k] > ev->max2 ? f[2].v[k] : ev->max2;
                } else if (r.wire == LEN) {
                    *(r.field == 3 ? &ev->has3len : &ev->has4len) = 1;
                } else {
                    *(r.field == 3 ? &ev->has3var : &ev->has4var) = 1;
                    if ((r.field == 3 ? ++n3 : ++n4) > 1)
                        *(r.field == 3 ? &ev->repeats3 : &ev->repeats4) = 1;
                }
                break;
            }
            case 5:
                has5 = 1;
                if (r.wire == FIXED64)
                    TRY(push(&f[0], r.value));
                else if (r.wire == LEN) {
                    size_t len = (size_t)(r.bend - r.body);
                    if (len % 8)
                        return DEFER;
                    for (size_t k = 0; k < len; k += 8) {
                        uint64_t v = 0;
                        for (int j = 7; j >= 0; j--)
                            v = v << 8 | r.body[k + j];
                        TRY(push(&f[0], v));
                    }
                } else
                    return DEFER;
                break;
            default:
                return DEFER;
            }
        }
        ev->two_without_five |= has2 && !has5;
        TRY(push(stack, stack_index));
        for (int k = 0; k < 5; k++)
            if (k != 1)
                TRY(push(&off[k], f[k].n));
    }
    return OK;
}

/* The Sample layout, "1.10" or "1.8", as _otlp_binary._sample_layout settles it; NULL when
 * it does not (the NumPy walker raises). */
static const char *sample_layout(const evidence *ev, size_t n_attributes) {
    if (ev->has3len && ev->has4len)
        return NULL;
    if (ev->has3len || ev->has4len)
        return ev->has3len ? "1.8" : "1.10";
    if (ev->has4var && ev->has3var)
        return ev->repeats4 ? "1.10" : ev->repeats3 ? "1.8" : NULL;
    if (ev->has4var || ev->has3var)
        return ev->has4var ? "1.8" : "1.10";
    if (ev->two_without_five)
        return "1.8";
    if (ev->any2 && ev->max2 >= n_attributes)
        return "1.8";
    return "1.10";
}

/* The columns of the layout: attributes, link (last value of its field) and values. */
static int sample_columns(state *s, const char *layout, vec f[5], vec off[5]) {
    int v110 = layout[2] == '1';
    int fa = v110 ? 2 : 3, fl = v110 ? 3 : 4, fv = v110 ? 4 : 2;
    size_t n = s->col[S_STACK].n, a = 0;
    for (size_t i = 0; i < n; i++) {
        size_t z = off[fl].v[i + 1];
        TRY(push(&s->col[S_LINK], z > a ? f[fl].v[z - 1] : 0));
        a = z;
    }
    vec *dst[3][2] = {{&s->col[S_ATTR_OFF], &s->col[S_ATTRS]},
                      {&s->col[S_VALUE_OFF], &s->col[S_VALUES]},
                      {&s->col[S_TIME_OFF], &s->col[S_TIMES]}};
    int src[3] = {fa, fv, 0};
    for (int k = 0; k < 3; k++) { /* hand the arrays over */
        free(dst[k][0]->v);
        free(dst[k][1]->v);
        *dst[k][0] = off[src[k]];
        *dst[k][1] = f[src[k]];
        memset(&off[src[k]], 0, sizeof(vec));
        memset(&f[src[k]], 0, sizeof(vec));
    }
    return OK;
}

/* ---- the request ---------------------------------------------------------------------- */

static int request(state *s, const uint8_t *b, const uint8_t *e, const char **version) {
    const uint8_t *db, *de;
    rec r;
    int rc;
    TRY(plain_fields(b, e, 2, 2, &db, &de));
    if (db != NULL)
        TRY(dictionary(s, db, de));
    vec bodies = {0}, f[5] = {{0}}, off[5] = {{0}};
    header h;
    memset(&h, 0, sizeof h);
    evidence ev = {0};
    long res = 0;
    int got = OK;
    for (const uint8_t *p = b; got == OK;) {
        if ((rc = next(&p, e, &r)) <= 0) {
            got = rc < 0 ? DEFER : OK;
            break;
        }
        if (r.field == 1)
            got = resource_profiles(s, res++, r.body, r.bend, &bodies, &h);
    }
    for (int k = 0; k < 5 && got == OK; k++)
        got = push(&off[k], 0);
    const char *layout = NULL;
    /* the samples (most of a big request) need no Python objects: other threads run */
    Py_BEGIN_ALLOW_THREADS
    if (got == OK)
        got = samples_walk(s, &bodies, f, off, &ev);
    if (got == OK) {
        layout = sample_layout(&ev, s->n_attributes);
        got = layout == NULL ? DEFER : sample_columns(s, layout, f, off);
    }
    Py_END_ALLOW_THREADS
    if (got == OK)
        *version = layout[2] == '1' ? "1.10" : s->new_profile_layout ? "1.9" : "1.8/1.9";
    free(bodies.v);
    free(h.attrs.v);
    for (int k = 0; k < 5; k++) {
        free(f[k].v);
        free(off[k].v);
    }
    return got;
}

/* ---- the module ----------------------------------------------------------------------- */

static void release(state *s) {
    for (int c = 0; c < NCOLS; c++)
        free(s->col[c].v);
    free(s->strings.v);
    free(s->trace_raw.v);
    free(s->span_raw.v);
    free(s->string_off.v);
    Py_XDECREF(s->attributes);
    Py_XDECREF(s->resources);
    Py_XDECREF(s->scopes);
    Py_XDECREF(s->profiles);
}

/* The result tuple (see the top of this file). */
static PyObject *result(state *s, const char *version) {
    size_t total = 0;
    for (int c = 0; c < NCOLS; c++)
        total += s->col[c].n;
    PyObject *columns = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(total * 8));
    PyObject *lengths = PyTuple_New(NCOLS);
    PyObject *offsets = NULL, *strings = NULL;
    if (columns == NULL || lengths == NULL)
        goto fail;
    char *at = PyByteArray_AS_STRING(columns);
    for (int c = 0; c < NCOLS; c++) {
        if (s->col[c].n)
            memcpy(at, s->col[c].v, s->col[c].n * 8);
        at += s->col[c].n * 8;
        PyObject *n = PyLong_FromSize_t(s->col[c].n);
        if (n == NULL)
            goto fail;
        PyTuple_SET_ITEM(lengths, c, n);
    }
    if (s->n_strings) {
        strings = PyBytes_FromStringAndSize((const char *)s->strings.v, (Py_ssize_t)s->strings.n);
        offsets = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(4 * s->string_off.n));
        if (strings == NULL || offsets == NULL)
            goto fail;
        int32_t *o = (int32_t *)PyByteArray_AS_STRING(offsets);
        for (size_t i = 0; i < s->string_off.n; i++)
            o[i] = (int32_t)s->string_off.v[i];
    } else {
        strings = Py_NewRef(Py_None);
        offsets = Py_NewRef(Py_None);
    }
    return Py_BuildValue("(sNNNNy#y#OOOO)", version, columns, lengths, strings, offsets,
                         s->trace_raw.v ? (const char *)s->trace_raw.v : "",
                         (Py_ssize_t)s->trace_raw.n,
                         s->span_raw.v ? (const char *)s->span_raw.v : "",
                         (Py_ssize_t)s->span_raw.n, s->attributes, s->resources, s->scopes,
                         s->profiles);
fail:
    Py_XDECREF(columns);
    Py_XDECREF(lengths);
    Py_XDECREF(strings);
    Py_XDECREF(offsets);
    return NULL;
}

static PyObject *decode(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    state s;
    memset(&s, 0, sizeof s);
    s.base = view.buf;
    s.attributes = PyList_New(0);
    s.resources = PyList_New(0);
    s.scopes = PyList_New(0);
    s.profiles = PyList_New(0);
    const char *version = NULL;
    int rc = s.attributes && s.resources && s.scopes && s.profiles ? OK : PYERR;
    static const enum col starts_at_0[] = {MAP_ATTR_OFF, LOC_ATTR_OFF, LINE_OFF, STACK_OFF};
    for (size_t i = 0; i < 4 && rc == OK; i++)
        rc = push(&s.col[starts_at_0[i]], 0);
    if (rc == OK)
        rc = push(&s.string_off, 0);
    if (rc == OK)
        rc = request(&s, view.buf, (const uint8_t *)view.buf + view.len, &version);
    PyObject *out = NULL;
    if (rc == OK)
        out = result(&s, version);
    else if (rc == DEFER)
        out = Py_NewRef(Py_None);
    else if (rc == NOMEM)
        PyErr_NoMemory();
    release(&s);
    PyBuffer_Release(&view);
    return out;
}

/* ---- keeping the entries a profile uses (readers/_otlp_raw._dictionary_fields) --------- */

/* used(n, refs, drop_zero) -> (kept positions, new index of each of the n positions), both
 * int64: the entries refs point at, in order (entry 0 left out when drop_zero; its new
 * index is then -1), as _otlp_raw._used computes them; None when a ref is outside [0, n)
 * or there is no entry 0 to drop (NumPy's indexing raises). */
static PyObject *used(PyObject *self, PyObject *args) {
    Py_ssize_t n;
    Py_buffer refs;
    int drop_zero;
    if (!PyArg_ParseTuple(args, "ny*p", &n, &refs, &drop_zero))
        return NULL;
    PyObject *out = NULL, *keep = NULL, *index = NULL;
    const int64_t *r = refs.buf;
    Py_ssize_t nr = refs.len / (Py_ssize_t)sizeof(int64_t);
    uint8_t *mask = n > 0 ? calloc((size_t)n, 1) : NULL;
    if (n < 0 || (n > 0 && mask == NULL)) {
        PyErr_NoMemory();
        goto done;
    }
    if (drop_zero && n == 0) { /* no entry 0 to drop: NumPy's indexing raises */
        out = Py_NewRef(Py_None);
        goto done;
    }
    for (Py_ssize_t i = 0; i < nr; i++) {
        if (r[i] < 0 || r[i] >= n) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        mask[r[i]] = 1;
    }
    if (drop_zero && n > 0)
        mask[0] = 0;
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        kept += mask[i];
    keep = PyByteArray_FromStringAndSize(NULL, kept * 8);
    index = PyByteArray_FromStringAndSize(NULL, n * 8);
    if (keep == NULL || index == NULL)
        goto done;
    int64_t *k = (int64_t *)PyByteArray_AS_STRING(keep), *x = (int64_t *)PyByteArray_AS_STRING(index);
    int64_t rank = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (mask[i])
            k[++rank] = i;
        x[i] = rank;
    }
    out = PyTuple_Pack(2, keep, index);
done:
    Py_XDECREF(keep);
    Py_XDECREF(index);
    free(mask);
    PyBuffer_Release(&refs);
    return out;
}

/* rows(offsets, keep) -> (offsets of the kept rows from 0, the positions they cover), both
 * int64: for CSR offsets (n + 1) and kept row numbers, what _otlp_raw._rows computes with
 * NumPy; None when a kept row is outside [0, n) or its offsets decrease. */
static PyObject *rows(PyObject *self, PyObject *args) {
    Py_buffer offsets, keep;
    if (!PyArg_ParseTuple(args, "y*y*", &offsets, &keep))
        return NULL;
    PyObject *out = NULL, *new_off = NULL, *pos = NULL;
    const int64_t *o = offsets.buf, *k = keep.buf;
    Py_ssize_t n = offsets.len / 8 - 1, nk = keep.len / 8, total = 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        if (k[i] < 0 || k[i] >= n || o[k[i] + 1] < o[k[i]]) {
            out = Py_NewRef(Py_None);
            goto done;
        }
        total += o[k[i] + 1] - o[k[i]];
    }
    new_off = PyByteArray_FromStringAndSize(NULL, (nk + 1) * 8);
    pos = PyByteArray_FromStringAndSize(NULL, total * 8);
    if (new_off == NULL || pos == NULL)
        goto done;
    int64_t *no = (int64_t *)PyByteArray_AS_STRING(new_off), *p = (int64_t *)PyByteArray_AS_STRING(pos);
    Py_ssize_t at = 0;
    no[0] = 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        for (int64_t j = o[k[i]]; j < o[k[i] + 1]; j++)
            p[at++] = j;
        no[i + 1] = at;
    }
    out = PyTuple_Pack(2, new_off, pos);
done:
    Py_XDECREF(new_off);
    Py_XDECREF(pos);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&keep);
    return out;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_O,
     "decode(data) -> the parts of a binary OTLP profiles Payload, or None"},
    {"used", used, METH_VARARGS,
     "used(n, refs, drop_zero) -> (kept positions, new index per position), or None"},
    {"rows", rows, METH_VARARGS,
     "rows(offsets, keep) -> (offsets of the kept rows, positions they cover), or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_otlpwire", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__otlpwire(void) {
    PyObject **kinds[] = {&kind_str,   &kind_bool,     &kind_int,   &kind_double,
                          &kind_bytes, &kind_strindex, &kind_array, &kind_kvlist};
    const char *names[] = {"str", "bool", "int", "double", "bytes", "strindex", "array",
                           "kvlist"};
    for (int i = 0; i < 8; i++)
        if (*kinds[i] == NULL && (*kinds[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    return PyModule_Create(&module);
}
