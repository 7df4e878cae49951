/* Plain protobuf records, as readers/_wire.py reads them: the record scanner (_wirescan.c)
 * and the OTLP walker (_otlpwire.c) share these rules, upb's:
 *   - a varint has at most 10 bytes (5 for a tag or a length); bits past 64 are dropped;
 *   - a tag fits in 32 bits and its field number is not 0;
 *   - a length is below 2 GiB and fits in the enclosing message;
 *   - groups and wire types 6 and 7 are not plain records.
 * Anything else is "not plain": the callers then leave the bytes to the numpy steps, which
 * accept or refuse them with their own message. (pprof_wire.h reads the same wire format
 * for the pprof decoder, with errors that name the problem and its byte offset.)
 */
#ifndef PROFILELAB_WIRE_RECORD_H
#define PROFILELAB_WIRE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_LENGTH 0x7FFFFFFFu

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

/* One varint at *p (at most max_len bytes, none at or past end); -1 when malformed. */
static inline int wire_varint(const uint8_t **p, const uint8_t *end, int max_len,
                              uint64_t *out) {
    uint64_t v = 0;
    const uint8_t *q = *p;
    for (int k = 0; k < max_len; k++) {
        if (q >= end)
            return -1;
        uint8_t b = *q++;
        if (7 * k < 64)
            v |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80)) {
            *out = v;
            *p = q;
            return 0;
        }
    }
    return -1;
}

typedef struct {
    uint32_t field;
    int wire;
    uint64_t value;      /* the varint or fixed value (0 for a length-delimited record) */
    const uint8_t *body; /* a length-delimited record's body: [body, bend) */
    const uint8_t *bend;
} wire_rec;

/* The next record of [*p, end) into *r: 1, or 0 at the end, or -1 when not plain. */
static inline int wire_next(const uint8_t **p, const uint8_t *end, wire_rec *r) {
    if (*p >= end)
        return 0;
    uint64_t tag, len;
    if (wire_varint(p, end, 5, &tag) < 0 || tag > 0xFFFFFFFFu || (tag >> 3) == 0)
        return -1;
    r->field = (uint32_t)(tag >> 3);
    r->wire = (int)(tag & 7);
    r->value = 0;
    r->body = r->bend = NULL;
    switch (r->wire) {
    case WIRE_VARINT:
        return wire_varint(p, end, 10, &r->value) < 0 ? -1 : 1;
    case WIRE_LEN:
        if (wire_varint(p, end, 5, &len) < 0 || len >= WIRE_MAX_LENGTH ||
            len > (uint64_t)(end - *p))
            return -1;
        r->body = *p;
        r->bend = *p + len;
        *p += len;
        return 1;
    case WIRE_FIXED64:
    case WIRE_FIXED32: {
        int size = r->wire == WIRE_FIXED64 ? 8 : 4;
        if (end - *p < size)
            return -1;
        for (int i = size - 1; i >= 0; i--)
            r->value = r->value << 8 | (*p)[i];
        *p += size;
        return 1;
    }
    default: /* groups, 6, 7 */
        return -1;
    }
}

#endif
