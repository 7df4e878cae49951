/* pprof decoder: see pprof_decode.h for the contract. Field numbers cite profile.proto. */
#include "pprof_decode.h"

#include <inttypes.h>
#ifdef PP_THREADS
#include <pthread.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids_hash.h"

/* Return codes inside this file: -1 fatal (wire error or out of memory), 0 ok,
 * 1 semantic error recorded (keep checking the wire format, produce nothing more). */
#define OOM(d) ((d)->oom = 1, -1)
#define PUT64(d, v, x)                                                                         \
    do {                                                                                       \
        if (pp_put64((v), (uint64_t)(x)))                                                      \
            return OOM(d);                                                                     \
    } while (0)
#define PUT8(d, v, x)                                                                          \
    do {                                                                                       \
        if (pp_put8((v), (uint8_t)(x)))                                                        \
            return OOM(d);                                                                     \
    } while (0)
#define TRY(expr)                                                                              \
    do {                                                                                       \
        if ((expr) < 0)                                                                        \
            return -1;                                                                         \
    } while (0)

int pp_vec_reserve(pp_vec *v, size_t extra) {
    if (extra > SIZE_MAX - v->len) /* the sum below would wrap */
        return -1;
    size_t need = v->len + extra;
    if (need <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *p = realloc(v->data, cap);
    if (!p)
        return -1;
    v->data = p;
    v->cap = cap;
    return 0;
}

static int semantic(pp_decoder *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->semantic, sizeof d->semantic, fmt, ap);
    va_end(ap);
    d->has_semantic = 1;
    return 1;
}

/* ---- pass 1: the message, except the inside of samples ------------------------------ */

/* A message whose known fields 1..n are varints: vals[k-1] takes field k (last wins). */
static int read_varints(pp_decoder *d, const uint8_t *p, const uint8_t *end, int depth,
                        uint64_t *vals, uint32_t n) {
    while (p < end) {
        uint32_t field;
        int wire;
        TRY(pw_tag(&d->wire, &p, end, &field, &wire));
        if (wire == PW_VARINT && field <= n)
            TRY(pw_varint(&d->wire, &p, end, &vals[field - 1]));
        else
            TRY(pw_skip(&d->wire, &p, end, field, wire, depth));
    }
    return 0;
}

/* The payload of a packed repeated varint field, appended to ``out``. */
static int read_packed(pp_decoder *d, const uint8_t *p, const uint8_t *end, pp_vec *out) {
    while (p < end) {
        uint64_t v;
        TRY(pw_varint(&d->wire, &p, end, &v));
        PUT64(d, out, v);
    }
    return 0;
}

static int read_mapping(pp_decoder *d, const uint8_t *p, const uint8_t *end) {
    uint64_t f[10] = {0}; /* Mapping fields 1..10 */
    TRY(read_varints(d, p, end, 1, f, 10));
    PUT64(d, &d->m_id, f[0]);
    PUT64(d, &d->m_start, f[1]);
    PUT64(d, &d->m_limit, f[2]);
    PUT64(d, &d->m_offset, f[3]);
    PUT64(d, &d->m_file, f[4]);
    PUT64(d, &d->m_build, f[5]);
    PUT8(d, &d->m_has_functions, f[6] != 0);
    PUT8(d, &d->m_has_filenames, f[7] != 0);
    PUT8(d, &d->m_has_line_numbers, f[8] != 0);
    PUT8(d, &d->m_has_inline_frames, f[9] != 0);
    return 0;
}

static int read_function(pp_decoder *d, const uint8_t *p, const uint8_t *end) {
    uint64_t f[5] = {0}; /* Function fields 1..5 */
    TRY(read_varints(d, p, end, 1, f, 5));
    PUT64(d, &d->f_id, f[0]);
    PUT64(d, &d->f_name, f[1]);
    PUT64(d, &d->f_system_name, f[2]);
    PUT64(d, &d->f_file, f[3]);
    PUT64(d, &d->f_start_line, f[4]);
    return 0;
}

static int read_location(pp_decoder *d, const uint8_t *p, const uint8_t *end) {
    uint64_t f[5] = {0}; /* Location fields 1..5; 4 (line) is repeated Line */
    while (p < end) {
        uint32_t field;
        int wire;
        TRY(pw_tag(&d->wire, &p, end, &field, &wire));
        if (field == 4 && wire == PW_LEN) {
            const uint8_t *sub, *subend;
            uint64_t line[3] = {0}; /* Line: function_id, line, column */
            TRY(pw_len(&d->wire, &p, end, &sub, &subend));
            TRY(read_varints(d, sub, subend, 2, line, 3));
            PUT64(d, &d->ln_function, line[0]);
            PUT64(d, &d->ln_line, line[1]);
            PUT64(d, &d->ln_column, line[2]);
        } else if (wire == PW_VARINT && field <= 5 && field != 4) {
            TRY(pw_varint(&d->wire, &p, end, &f[field - 1]));
        } else {
            TRY(pw_skip(&d->wire, &p, end, field, wire, 1));
        }
    }
    PUT64(d, &d->l_id, f[0]);
    PUT64(d, &d->l_mapping, f[1]);
    PUT64(d, &d->l_address, f[2]);
    PUT8(d, &d->l_folded, f[4] != 0);
    PUT64(d, &d->l_line_offsets, PP_N64(&d->ln_function));
    return 0;
}

static int read_len_field(pp_decoder *d, uint32_t field, const uint8_t *sub,
                          const uint8_t *subend) {
    uint64_t vt[2] = {0, 0};
    switch (field) {
    case 1: /* sample_type */
        TRY(read_varints(d, sub, subend, 1, vt, 2));
        PUT64(d, &d->sample_types, vt[0]);
        PUT64(d, &d->sample_types, vt[1]);
        return 0;
    case 2: /* sample: decoded in pass 2, once every location is known */
        PUT64(d, &d->sample_spans, sub - d->wire.base);
        PUT64(d, &d->sample_spans, subend - sub);
        return 0;
    case 3:
        return read_mapping(d, sub, subend);
    case 4:
        return read_location(d, sub, subend);
    case 5:
        return read_function(d, sub, subend);
    case 6: /* string_table entry */
        PUT64(d, &d->strings, sub - d->wire.base);
        PUT64(d, &d->strings, subend - sub);
        return 0;
    case 11: /* period_type: a singular message, so repeated occurrences merge */
        vt[0] = (uint64_t)d->period_type[0];
        vt[1] = (uint64_t)d->period_type[1];
        TRY(read_varints(d, sub, subend, 1, vt, 2));
        d->period_type[0] = (int64_t)vt[0];
        d->period_type[1] = (int64_t)vt[1];
        return 0;
    default: /* 13: packed comments */
        return read_packed(d, sub, subend, &d->comments);
    }
}

static int set_scalar(pp_decoder *d, uint32_t field, uint64_t v) {
    int64_t s = (int64_t)v;
    switch (field) {
    case 7: d->drop_frames = s; break;
    case 8: d->keep_frames = s; break;
    case 9: d->time_nanos = s; break;
    case 10: d->duration_nanos = s; break;
    case 12: d->period = s; break;
    case 13: PUT64(d, &d->comments, v); break;
    case 14: d->default_sample_type = s; break;
    default: d->doc_url = s; break; /* 15 */
    }
    return 0;
}

static int pass1(pp_decoder *d, const uint8_t *p, const uint8_t *end) {
    while (p < end) {
        uint32_t field;
        int wire;
        TRY(pw_tag(&d->wire, &p, end, &field, &wire));
        if (wire == PW_LEN && (field <= 6 || field == 11 || field == 13)) {
            const uint8_t *sub, *subend;
            TRY(pw_len(&d->wire, &p, end, &sub, &subend));
            TRY(read_len_field(d, field, sub, subend));
        } else if (wire == PW_VARINT && field >= 7 && field <= 15 && field != 11) {
            uint64_t v;
            TRY(pw_varint(&d->wire, &p, end, &v));
            TRY(set_scalar(d, field, v));
        } else {
            TRY(pw_skip(&d->wire, &p, end, field, wire, 0));
        }
    }
    return 0;
}

/* ---- pass 2: ids -------------------------------------------------------------------- */

/* id -> position: a direct table when the ids are dense (the usual 1..n), else hashing. */
typedef struct {
    int64_t *direct;
    uint64_t direct_n;
    uint64_t *keys; /* 0 = empty slot (id 0 is never stored) */
    int64_t *pos;
    uint64_t mask;
} idmap;

static void idmap_free(idmap *m) {
    free(m->direct);
    free(m->keys);
    free(m->pos);
}

static inline int64_t idmap_get(const idmap *m, uint64_t id) {
    if (m->direct)
        return id < m->direct_n ? m->direct[id] : -1;
    if (id == 0 || !m->keys)
        return -1;
    for (uint64_t h = mix64(id) & m->mask;; h = (h + 1) & m->mask) {
        if (m->keys[h] == id)
            return m->pos[h];
        if (m->keys[h] == 0)
            return -1;
    }
}

/* Ids must be non-zero and distinct; the first offender in message order is reported. */
static int idmap_build(pp_decoder *d, idmap *m, const pp_vec *ids, const char *what) {
    size_t n = PP_N64(ids);
    const uint64_t *id = PP_U64(ids);
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++)
        max = id[i] > max ? id[i] : max;
    if (max <= 4 * (uint64_t)n + 1024) {
        m->direct_n = max + 1;
        if (!(m->direct = malloc(m->direct_n * sizeof(int64_t))))
            return OOM(d);
        memset(m->direct, 0xff, m->direct_n * sizeof(int64_t));
    } else {
        uint64_t cap = 16;
        while (cap < 2 * (uint64_t)n)
            cap *= 2;
        m->mask = cap - 1;
        m->keys = calloc(cap, sizeof(uint64_t));
        m->pos = malloc(cap * sizeof(int64_t));
        if (!m->keys || !m->pos)
            return OOM(d);
    }
    for (size_t i = 0; i < n; i++) {
        if (id[i] == 0)
            return semantic(d, "%s with reserved id 0 (pprof ids start at 1; "
                               "go tool pprof rejects this profile too)", what);
        if (idmap_get(m, id[i]) >= 0)
            return semantic(d, "duplicate %s id %" PRIu64, what, id[i]);
        if (m->direct) {
            m->direct[id[i]] = (int64_t)i;
            continue;
        }
        uint64_t h = mix64(id[i]) & m->mask;
        while (m->keys[h])
            h = (h + 1) & m->mask;
        m->keys[h] = id[i];
        m->pos[h] = (int64_t)i;
    }
    return 0;
}

/* Location mapping ids and line function ids become positions (-1 = none), in place. */
static int resolve_locations(pp_decoder *d, const idmap *mappings, const idmap *functions) {
    size_t n = PP_N64(&d->l_id);
    const int64_t *line_off = PP_I64(&d->l_line_offsets);
    for (size_t i = 0; i < n; i++) {
        uint64_t mid = PP_U64(&d->l_mapping)[i];
        int64_t k = mid ? idmap_get(mappings, mid) : -1;
        if (mid && k < 0)
            return semantic(d, "location %" PRIu64 " refers to unknown mapping %" PRIu64,
                            PP_U64(&d->l_id)[i], mid);
        PP_I64(&d->l_mapping)[i] = k;
        for (int64_t j = line_off[i]; j < line_off[i + 1]; j++) {
            uint64_t fid = PP_U64(&d->ln_function)[j];
            int64_t f = fid ? idmap_get(functions, fid) : -1;
            if (fid && f < 0)
                return semantic(d, "location %" PRIu64 " refers to unknown function %" PRIu64,
                                PP_U64(&d->l_id)[i], fid);
            PP_I64(&d->ln_function)[j] = f;
        }
    }
    return 0;
}

/* ---- pass 2: samples and exact stack deduplication ---------------------------------- */

/* Open addressing over (hash, stack number) pairs: one cache line per probe. */
typedef struct {
    uint64_t hash;
    int64_t stack; /* -1 = empty */
} slot;

typedef struct {
    slot *slots;
    uint64_t mask;
    size_t n;
} stackset;

/* Doubles an open-addressing table (``slots``, ``mask``) of slots with a ``hash`` and a
 * ``stack`` (-1: empty), re-inserting its entries; the stack table and the byte table. */
#define DEFINE_GROW(name, table_type, slot_type)                                               \
    static int name(table_type *t) {                                                           \
        uint64_t cap = t->slots ? 2 * (t->mask + 1) : 1024;                                    \
        slot_type *slots = malloc(cap * sizeof(slot_type));                                    \
        if (!slots)                                                                            \
            return -1;                                                                         \
        for (uint64_t i = 0; i < cap; i++)                                                     \
            slots[i].stack = -1;                                                               \
        for (uint64_t i = 0; t->slots && i <= t->mask; i++) {                                  \
            if (t->slots[i].stack < 0)                                                         \
                continue;                                                                      \
            uint64_t h = t->slots[i].hash & (cap - 1);                                         \
            while (slots[h].stack >= 0)                                                        \
                h = (h + 1) & (cap - 1);                                                       \
            slots[h] = t->slots[i];                                                            \
        }                                                                                      \
        free(t->slots);                                                                        \
        t->slots = slots;                                                                      \
        t->mask = cap - 1;                                                                     \
        return 0;                                                                              \
    }

DEFINE_GROW(table_grow, stackset, slot)

static int stackset_grow(pp_decoder *d, stackset *s) { return table_grow(s) ? OOM(d) : 0; }

/* The number of the stack ``seq`` (location positions, hashed to ``h``), added if new. */
static int stack_number(pp_decoder *d, stackset *s, const int64_t *seq, size_t len, uint64_t h,
                        int64_t *out) {
    uint64_t i = h & s->mask;
    for (;; i = (i + 1) & s->mask) {
        const slot *e = &s->slots[i];
        if (e->stack < 0)
            break;
        if (e->hash != h)
            continue;
        const int64_t *off = PP_I64(&d->stack_offsets);
        if ((size_t)(off[e->stack + 1] - off[e->stack]) == len &&
            memcmp(PP_I64(&d->stack_locations) + off[e->stack], seq, len * sizeof(int64_t)) == 0) {
            *out = e->stack;
            return 0;
        }
    }
    int64_t k = (int64_t)s->n++;
    s->slots[i].hash = h;
    s->slots[i].stack = k;
    if (pp_vec_reserve(&d->stack_locations, len * sizeof(int64_t)))
        return OOM(d);
    memcpy(d->stack_locations.data + d->stack_locations.len, seq, len * sizeof(int64_t));
    d->stack_locations.len += len * sizeof(int64_t);
    PUT64(d, &d->stack_offsets, PP_N64(&d->stack_locations));
    *out = k;
    if (2 * (uint64_t)s->n > s->mask + 1)
        return stackset_grow(d, s);
    return 0;
}

/* Raw stacks by the bytes of their packed location_id field: most samples repeat a stack
 * seen before, and equal bytes are equal ids, so a repeat is one hash of its bytes and a
 * compare, not a varint decode, id lookup and hash step per location. Only bytes that
 * decoded without error and were numbered are entered; different bytes for the same ids
 * (a non-minimal varint, say) miss and are numbered by their ids as before. */
typedef struct {
    uint64_t hash;
    uint64_t at; /* offset of the bytes in ``keys`` */
    uint32_t len;
    int32_t stack; /* -1 = empty */
} byte_slot;

typedef struct {
    byte_slot *slots;
    uint64_t mask;
    size_t n;
    pp_vec keys; /* the bytes of every entry, together (kept in cache, unlike the input) */
} bytecache;

static uint64_t bytes_hash(const uint8_t *p, size_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, p + i, len - i);
        h = (h ^ w) * 0x94d049bb133111ebull;
    }
    return mix64(h);
}

DEFINE_GROW(bytecache_grow, bytecache, byte_slot)

/* The stack numbered for these bytes before, or -1 (then *slot is where they go). */
static inline int64_t bytecache_get(const bytecache *c, const uint8_t *p, size_t len, uint64_t h,
                                    uint64_t *slot) {
    uint64_t i = h & c->mask;
    for (;; i = (i + 1) & c->mask) {
        const byte_slot *e = &c->slots[i];
        if (e->stack < 0)
            break;
        if (e->hash == h && e->len == len && memcmp(c->keys.data + e->at, p, len) == 0)
            return e->stack;
    }
    *slot = i;
    return -1;
}

static int bytecache_put(pp_decoder *d, bytecache *c, uint64_t slot, const uint8_t *p,
                         size_t len, uint64_t h, int64_t stack) {
    if (len > UINT32_MAX || stack > INT32_MAX || pp_vec_reserve(&c->keys, len))
        return OOM(d);
    c->slots[slot] = (byte_slot){h, c->keys.len, (uint32_t)len, (int32_t)stack};
    memcpy(c->keys.data + c->keys.len, p, len);
    c->keys.len += len;
    if (2 * (uint64_t)++c->n > c->mask + 1 && bytecache_grow(c))
        return OOM(d);
    return 0;
}

/* The sample being decoded: its location positions (resolved as they are read) and hash. */
typedef struct {
    pp_vec seq;
    uint64_t hash;
    uint64_t unknown; /* the first location id not found */
    int has_unknown;
    size_t nvals;
    /* its location_id fields: how many, and the first one's bytes when it was packed */
    int n_loc_fields;
    const uint8_t *key;
    size_t key_len;
    uint64_t key_hash, key_slot;
    int64_t cached; /* the stack of those bytes, when seen before (-1: not) */
} sample_state;

static inline void add_location(sample_state *s, const idmap *locations, uint64_t id) {
    int64_t k = idmap_get(locations, id);
    if (k < 0 && !s->has_unknown) {
        s->has_unknown = 1;
        s->unknown = id;
    }
    ((int64_t *)s->seq.data)[s->seq.len / 8] = k;
    s->seq.len += 8;
    s->hash = (s->hash ^ (uint64_t)k) * 0xff51afd7ed558ccdull;
    s->hash ^= s->hash >> 29;
}

/* location_id: one varint, or a packed run (each id takes at least one byte). */
static int read_locations(pp_decoder *d, sample_state *s, const idmap *locations,
                          const uint8_t *p, const uint8_t *end) {
    if (pp_vec_reserve(&s->seq, (size_t)(end - p) * sizeof(int64_t)))
        return OOM(d);
    while (p < end) {
        uint64_t id;
        TRY(pw_varint(&d->wire, &p, end, &id));
        add_location(s, locations, id);
    }
    return 0;
}

/* One location_id field of a sample. The first, when packed, is looked up by its bytes
 * (a sample has one as a rule); a later one decodes the first too, if it was found. */
static int read_location_field(pp_decoder *d, sample_state *s, const bytecache *cache,
                               const idmap *locations, int wire, const uint8_t *p,
                               const uint8_t *end) {
    if (s->n_loc_fields++ == 0 && wire == PW_LEN && cache->slots) {
        s->key = p;
        s->key_len = (size_t)(end - p);
        s->key_hash = bytes_hash(p, s->key_len);
        s->cached = bytecache_get(cache, p, s->key_len, s->key_hash, &s->key_slot);
        if (s->cached >= 0)
            return 0;
    } else if (s->cached >= 0) { /* its bytes decoded before without error */
        TRY(read_locations(d, s, locations, s->key, s->key + s->key_len));
        s->cached = -1;
    }
    return read_locations(d, s, locations, p, end);
}

/* One Sample message. Values and labels are appended unless an error was recorded. */
static int read_sample(pp_decoder *d, sample_state *s, const bytecache *cache,
                       const idmap *locations, const uint8_t *p, const uint8_t *end) {
    int keep = !d->has_semantic;
    while (p < end) {
        uint32_t field;
        int wire;
        const uint8_t *sub, *subend;
        uint64_t v;
        TRY(pw_tag(&d->wire, &p, end, &field, &wire));
        if ((field == 1 || field == 2) && (wire == PW_VARINT || wire == PW_LEN)) {
            if (wire == PW_LEN) { /* packed */
                TRY(pw_len(&d->wire, &p, end, &sub, &subend));
            } else {
                sub = p;
                TRY(pw_varint(&d->wire, &p, end, &v));
                subend = p;
            }
            if (field == 1) { /* location_id */
                TRY(read_location_field(d, s, cache, locations, wire, sub, subend));
                continue;
            }
            while (sub < subend) { /* value */
                TRY(pw_varint(&d->wire, &sub, subend, &v));
                s->nvals++;
                if (keep)
                    PUT64(d, &d->values, v);
            }
        } else if (field == 3 && wire == PW_LEN) { /* label */
            uint64_t lb[4] = {0}; /* key, str, num, num_unit */
            TRY(pw_len(&d->wire, &p, end, &sub, &subend));
            TRY(read_varints(d, sub, subend, 2, lb, 4));
            if (keep) {
                PUT64(d, &d->label_key, lb[0]);
                PUT64(d, &d->label_str, lb[1]);
                PUT64(d, &d->label_num, lb[2]);
                PUT64(d, &d->label_unit, lb[3]);
            }
        } else {
            TRY(pw_skip(&d->wire, &p, end, field, wire, 1));
        }
    }
    return 0;
}

/* Checks in the reference decoder's order: value count, then unknown locations. */
static int finish_sample(pp_decoder *d, stackset *set, bytecache *cache, sample_state *s,
                         size_t i, size_t n_types) {
    if (pp_put64(&d->label_offsets, PP_N64(&d->label_key)))
        return OOM(d);
    if (s->nvals != n_types)
        return semantic(d, "sample %zu has %zu values for %zu sample types", i, s->nvals,
                        n_types);
    if (s->cached >= 0) {
        PUT64(d, &d->sample_stack, s->cached);
        return 0;
    }
    if (s->has_unknown)
        return semantic(d, "sample %zu refers to unknown location %" PRIu64, i, s->unknown);
    size_t len = PP_N64(&s->seq);
    int64_t k;
    TRY(stack_number(d, set, PP_I64(&s->seq), len, mix64(s->hash ^ len), &k));
    PUT64(d, &d->sample_stack, k);
    if (s->key && s->n_loc_fields == 1)
        return bytecache_put(d, cache, s->key_slot, s->key, s->key_len, s->key_hash, k);
    return 0;
}

/* Samples [from, to) of the message into the sample arrays of ``d``, their stacks numbered
 * in ``set``. Both start as start_samples() leaves them. */
static int decode_range(pp_decoder *d, stackset *set, const idmap *locations,
                        const uint64_t *span, size_t n_types, size_t from, size_t to) {
    sample_state s = {0};
    bytecache cache = {0};
    int rc = bytecache_grow(&cache) ? OOM(d) : 0;
    for (size_t i = from; i < to && rc >= 0; i++) {
        const uint8_t *p = d->wire.base + span[2 * i];
        s.seq.len = 0;
        s.hash = 0x9e3779b97f4a7c15ull;
        s.has_unknown = 0;
        s.nvals = 0;
        s.n_loc_fields = 0;
        s.key = NULL;
        s.cached = -1;
        rc = read_sample(d, &s, &cache, locations, p, p + span[2 * i + 1]);
        if (rc >= 0 && !d->has_semantic) /* else: only checking the wire format */
            rc = finish_sample(d, set, &cache, &s, i, n_types);
    }
    free(s.seq.data);
    free(cache.slots);
    free(cache.keys.data);
    return rc < 0 ? -1 : 0;
}

/* Sample arrays sized once for samples [from, to): one row each, one value per sample type
 * (but no more values than bytes: each takes one at least). */
static int start_samples(pp_decoder *d, stackset *set, const uint64_t *span, size_t n_types,
                         size_t from, size_t to) {
    size_t count = to - from, values = 0;
    if (count) {
        size_t extent = span[2 * to - 2] + span[2 * to - 1] - span[2 * from];
        values = n_types && count > extent / n_types ? extent : count * n_types;
    }
    if (pp_vec_reserve(&d->label_offsets, (count + 1) * 8) ||
        pp_vec_reserve(&d->sample_stack, count * 8) || pp_vec_reserve(&d->values, values * 8) ||
        pp_put64(&d->label_offsets, 0) || pp_put64(&d->stack_offsets, 0))
        return OOM(d);
    return stackset_grow(d, set);
}

/* The second half of the samples, decoded by another thread into a decoder of its own
 * (same input, same errors recorded before the samples); merge_half() appends it. */
typedef struct {
    pp_decoder part;
    stackset set;
    const idmap *locations;
    const uint64_t *span;
    size_t n_types, from, to;
    int rc;
} half;

static void *decode_half(void *arg) {
    half *h = arg;
    h->rc = start_samples(&h->part, &h->set, h->span, h->n_types, h->from, h->to);
    if (h->rc == 0)
        h->rc = decode_range(&h->part, &h->set, h->locations, h->span, h->n_types, h->from,
                             h->to);
    return NULL;
}

static int append(pp_decoder *d, pp_vec *to, const pp_vec *from, size_t skip) {
    size_t n = from->len - skip;
    if (pp_vec_reserve(to, n))
        return OOM(d);
    if (n)
        memcpy(to->data + to->len, from->data + skip, n);
    to->len += n;
    return 0;
}

/* The outcome of the whole message from the first half's (``rc``, in ``d``) and the
 * second's, as one pass in message order would have it: the first wire error wins, then
 * the first semantic error; else the second half's arrays are appended, its stacks
 * numbered after the first half's (so still in order of first appearance). */
static int merge_half(pp_decoder *d, stackset *set, half *h, int rc) {
    pp_decoder *b = &h->part;
    if (rc < 0)
        return -1;
    if (h->rc < 0) {
        d->wire.what = b->wire.what;
        d->wire.at = b->wire.at;
        d->oom = b->oom;
        return -1;
    }
    if (d->has_semantic || b->has_semantic) {
        if (!d->has_semantic)
            memcpy(d->semantic, b->semantic, sizeof d->semantic);
        d->has_semantic = 1;
        return 0;
    }
    size_t n_stacks = PP_N64(&b->stack_offsets) - 1, n_labels = PP_N64(&d->label_key);
    uint64_t *hashes = malloc((n_stacks + 1) * sizeof(uint64_t));
    int64_t *number = malloc((n_stacks + 1) * sizeof(int64_t));
    if (!hashes || !number) {
        free(hashes);
        free(number);
        return OOM(d);
    }
    for (uint64_t i = 0; i <= h->set.mask; i++)
        if (h->set.slots[i].stack >= 0)
            hashes[h->set.slots[i].stack] = h->set.slots[i].hash;
    const int64_t *off = PP_I64(&b->stack_offsets);
    rc = 0;
    for (size_t k = 0; k < n_stacks && rc == 0; k++)
        rc = stack_number(d, set, PP_I64(&b->stack_locations) + off[k], (size_t)(off[k + 1] - off[k]),
                          hashes[k], &number[k]);
    for (size_t i = 0; i < PP_N64(&b->sample_stack) && rc == 0; i++)
        rc = pp_put64(&d->sample_stack, (uint64_t)number[PP_I64(&b->sample_stack)[i]]) ? OOM(d) : 0;
    for (size_t i = 1; i < PP_N64(&b->label_offsets) && rc == 0; i++)
        rc = pp_put64(&d->label_offsets, n_labels + PP_U64(&b->label_offsets)[i]) ? OOM(d) : 0;
    free(hashes);
    free(number);
    if (rc == 0)
        rc = append(d, &d->values, &b->values, 0) || append(d, &d->label_key, &b->label_key, 0) ||
                     append(d, &d->label_str, &b->label_str, 0) ||
                     append(d, &d->label_num, &b->label_num, 0) ||
                     append(d, &d->label_unit, &b->label_unit, 0)
                 ? -1
                 : 0;
    return rc;
}

static int decode_samples(pp_decoder *d, const idmap *locations, int threads) {
    size_t n = PP_N64(&d->sample_spans) / 2, n_types = PP_N64(&d->sample_types) / 2;
    const uint64_t *span = PP_U64(&d->sample_spans);
    stackset set = {0};
    half h = {.locations = locations, .span = span, .n_types = n_types, .from = n, .to = n};
    int rc = start_samples(d, &set, span, n_types, 0, n); /* room for both halves */
#ifdef PP_THREADS
    pthread_t thread;
    int two = threads == 2 || (threads == 0 && n >= PP_PARALLEL_SAMPLES);
    if (rc == 0 && two && n >= 2) {
        h.from = n / 2;
        h.part.wire.base = d->wire.base;
        h.part.has_semantic = d->has_semantic;
        if (pthread_create(&thread, NULL, decode_half, &h) != 0)
            h.from = n; /* no thread: this one decodes them all */
    }
#endif
    if (rc == 0)
        rc = decode_range(d, &set, locations, span, n_types, 0, h.from);
#ifdef PP_THREADS
    if (h.from < n) {
        pthread_join(thread, NULL);
        rc = merge_half(d, &set, &h, rc);
    }
#endif
    pp_free(&h.part);
    free(h.set.slots);
    free(set.slots);
    return rc < 0 ? -1 : 0;
}

int pp_decode(pp_decoder *d, const uint8_t *data, size_t size, int threads) {
    idmap mappings = {0}, functions = {0}, locations = {0};
    memset(d, 0, sizeof *d);
    d->wire.base = data;
    if (pp_put64(&d->l_line_offsets, 0))
        return OOM(d);
    if (pass1(d, data, data + size) < 0)
        return -1;
    int rc = idmap_build(d, &mappings, &d->m_id, "mapping");
    if (rc == 0)
        rc = idmap_build(d, &functions, &d->f_id, "function");
    if (rc == 0)
        rc = resolve_locations(d, &mappings, &functions);
    if (rc == 0)
        rc = idmap_build(d, &locations, &d->l_id, "location");
    if (rc >= 0)
        rc = decode_samples(d, &locations, threads);
    idmap_free(&mappings);
    idmap_free(&functions);
    idmap_free(&locations);
    return rc < 0 ? -1 : 0;
}

void pp_free(pp_decoder *d) {
    pp_vec *all[] = {
        &d->sample_types, &d->comments, &d->strings, &d->m_id, &d->m_start, &d->m_limit,
        &d->m_offset, &d->m_file, &d->m_build, &d->m_has_functions, &d->m_has_filenames,
        &d->m_has_line_numbers, &d->m_has_inline_frames, &d->f_id, &d->f_name,
        &d->f_system_name, &d->f_file, &d->f_start_line, &d->l_id, &d->l_mapping,
        &d->l_address, &d->l_folded, &d->l_line_offsets, &d->ln_function, &d->ln_line,
        &d->ln_column, &d->sample_spans, &d->values, &d->sample_stack, &d->stack_offsets,
        &d->stack_locations, &d->label_offsets, &d->label_key, &d->label_str, &d->label_num,
        &d->label_unit,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->data);
        all[i]->data = NULL;
        all[i]->len = all[i]->cap = 0;
    }
}
