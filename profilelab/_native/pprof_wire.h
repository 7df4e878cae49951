/* Protocol-buffer wire reading for the pprof decoder: varints, tags, lengths, skipping.
 *
 * The rules follow what the protobuf runtime the reference decoder uses (upb) accepts,
 * checked field by field in tests/test_pprof_native.py:
 *   - a varint has at most 10 bytes; bits past 64 are dropped;
 *   - a tag has at most 5 bytes, fits in 32 bits and its field number is not 0;
 *   - a length has at most 5 bytes, is below 2^31 and fits in the enclosing message;
 *   - wire types 6 and 7, and an end-group outside its group, are errors;
 *   - an unknown field (or a known one with an unexpected wire type) is skipped,
 *     groups included; messages and groups nest at most PW_MAX_DEPTH deep.
 * Nothing here recurses: groups are skipped with an explicit stack.
 */
#ifndef PROFILELAB_PPROF_WIRE_H
#define PROFILELAB_PPROF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define PW_MAX_DEPTH 100

enum { PW_VARINT = 0, PW_I64 = 1, PW_LEN = 2, PW_SGROUP = 3, PW_EGROUP = 4, PW_I32 = 5 };

/* Where and why the wire data is bad (the first problem found). */
typedef struct {
    const uint8_t *base;
    const char *what;
    size_t at;
} pw_error;

static inline int pw_fail(pw_error *e, const uint8_t *at, const char *what) {
    e->what = what;
    e->at = (size_t)(at - e->base);
    return -1;
}

static inline int pw_varint(pw_error *e, const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    if (end - p >= 3) { /* fast paths: ids and small numbers take 1 to 3 bytes */
        if (p[0] < 0x80) {
            *out = p[0];
            *pp = p + 1;
            return 0;
        }
        if (p[1] < 0x80) {
            *out = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
            *pp = p + 2;
            return 0;
        }
        if (p[2] < 0x80) {
            *out = (uint64_t)(p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7 | (uint64_t)p[2] << 14;
            *pp = p + 3;
            return 0;
        }
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= end)
            return pw_fail(e, *pp, "truncated varint");
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            *pp = p;
            return 0;
        }
    }
    return pw_fail(e, *pp, "varint longer than 10 bytes");
}

static inline int pw_tag(pw_error *e, const uint8_t **pp, const uint8_t *end, uint32_t *field,
                         int *wire) {
    const uint8_t *start = *pp, *p = *pp;
    uint64_t v = 0;
    for (int i = 0;; i++) {
        if (i == 5)
            return pw_fail(e, start, "field tag longer than 5 bytes");
        if (p >= end)
            return pw_fail(e, start, "truncated field tag");
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    if (v > 0xffffffffu)
        return pw_fail(e, start, "field tag wider than 32 bits");
    if ((v >> 3) == 0)
        return pw_fail(e, start, "field number 0");
    *field = (uint32_t)(v >> 3);
    *wire = (int)(v & 7);
    *pp = p;
    return 0;
}

/* A length-delimited payload: [*sub, *subend) inside [*pp, end); advances *pp past it. */
static inline int pw_len(pw_error *e, const uint8_t **pp, const uint8_t *end,
                         const uint8_t **sub, const uint8_t **subend) {
    const uint8_t *start = *pp, *p = *pp;
    uint64_t v = 0;
    for (int i = 0;; i++) {
        if (i == 5)
            return pw_fail(e, start, "length longer than 5 bytes");
        if (p >= end)
            return pw_fail(e, start, "truncated length");
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    if (v >= 0x7fffffffu)
        return pw_fail(e, start, "length of 2 GiB or more");
    if (v > (uint64_t)(end - p))
        return pw_fail(e, start, "truncated message: a length-delimited field runs past its end");
    *sub = p;
    *subend = p + v;
    *pp = p + v;
    return 0;
}

static inline int pw_fixed(pw_error *e, const uint8_t **pp, const uint8_t *end, size_t n) {
    if ((size_t)(end - *pp) < n)
        return pw_fail(e, *pp, "truncated fixed-width field");
    *pp += n;
    return 0;
}

/* Skip a field whose tag was just read; ``depth`` is the nesting level of the message
 * that holds it (the Profile is 0). Groups are skipped iteratively. */
static inline int pw_skip(pw_error *e, const uint8_t **pp, const uint8_t *end, uint32_t field,
                          int wire, int depth) {
    const uint8_t *sub, *subend;
    uint64_t ignored;
    uint32_t open[PW_MAX_DEPTH + 1];
    int top = 0;
    for (;;) {
        const uint8_t *at = *pp;
        switch (wire) {
        case PW_VARINT:
            if (pw_varint(e, pp, end, &ignored))
                return -1;
            break;
        case PW_I64:
            if (pw_fixed(e, pp, end, 8))
                return -1;
            break;
        case PW_I32:
            if (pw_fixed(e, pp, end, 4))
                return -1;
            break;
        case PW_LEN:
            if (pw_len(e, pp, end, &sub, &subend))
                return -1;
            break;
        case PW_SGROUP:
            if (depth + top + 1 > PW_MAX_DEPTH)
                return pw_fail(e, at, "groups nested more than 100 deep");
            open[top++] = field;
            break;
        case PW_EGROUP:
            if (top == 0 || open[top - 1] != field)
                return pw_fail(e, at, "end-group tag without a matching start-group");
            top--;
            break;
        default:
            return pw_fail(e, at, "invalid wire type (6 or 7)");
        }
        if (top == 0)
            return 0;
        if (*pp >= end)
            return pw_fail(e, *pp, "truncated group (no end-group tag)");
        if (pw_tag(e, pp, end, &field, &wire))
            return -1;
    }
}

#endif
