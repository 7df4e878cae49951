/* pprof decoder: a raw profile.proto message into flat arrays (no Python API here).
 *
 * pp_decode() runs two passes. Pass 1 walks the whole message: it checks the wire format
 * and decodes everything except the inside of samples, whose spans it records. Pass 2
 * builds the id maps, resolves every location's mapping and function, then decodes the
 * samples in order, resolving their location ids and numbering distinct location
 * sequences ("raw stacks") in order of first appearance with an exact hash table (a big
 * message's samples in two halves on two threads, see PP_THREADS). A sample whose packed
 * location ids are bytes already numbered takes that stack without decoding them again.
 *
 * Two kinds of failure: a wire error (bad protobuf) stops at once and pp_decode() returns
 * -1 with ``wire`` set; a semantic error (id 0, duplicate or unknown id, wrong value count)
 * is recorded in ``semantic`` and decoding stops producing output but keeps checking the
 * wire format, so that, as with the reference decoder, a wire error anywhere wins.
 */
#ifndef PROFILELAB_PPROF_DECODE_H
#define PROFILELAB_PPROF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "pprof_wire.h"

/* A growable array of bytes holding 8- or 1-byte elements; ``len`` is in bytes. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} pp_vec;

#define PP_N64(v) ((v)->len / 8)
#define PP_I64(v) ((int64_t *)(v)->data)
#define PP_U64(v) ((uint64_t *)(v)->data)

typedef struct {
    pw_error wire;
    int oom;
    int has_semantic;
    char semantic[256];

    /* header scalars (last occurrence wins; period_type occurrences merge) */
    int64_t drop_frames, keep_frames, time_nanos, duration_nanos, period;
    int64_t default_sample_type, doc_url;
    int64_t period_type[2];
    pp_vec sample_types; /* int64 pairs (type, unit) */
    pp_vec comments;     /* int64 */
    pp_vec strings;      /* uint64 pairs (offset into the input, length) */

    /* mappings */
    pp_vec m_id, m_start, m_limit, m_offset, m_file, m_build;
    pp_vec m_has_functions, m_has_filenames, m_has_line_numbers, m_has_inline_frames; /* bytes */

    /* functions */
    pp_vec f_id, f_name, f_system_name, f_file, f_start_line;

    /* locations and lines; l_mapping and ln_function hold ids after pass 1, positions after
     * pass 2 (-1 = none) */
    pp_vec l_id, l_mapping, l_address, l_folded, l_line_offsets;
    pp_vec ln_function, ln_line, ln_column;

    /* samples: spans after pass 1; arrays after pass 2 */
    pp_vec sample_spans; /* uint64 pairs (offset, length) */
    pp_vec values, sample_stack, stack_offsets, stack_locations;
    pp_vec label_offsets, label_key, label_str, label_num, label_unit;
} pp_decoder;

/* Where POSIX threads exist, the samples of a big message are decoded by two threads, each
 * half into arrays of its own, then merged: the same arrays and the same first error as
 * one pass in message order (the second half's distinct stacks are numbered after the
 * first half's, in their order of first appearance). */
#if !defined(_WIN32)
#define PP_THREADS 1
#endif
/* Samples from which pp_decode() uses two threads when ``threads`` is 0 (automatic). */
#define PP_PARALLEL_SAMPLES 65536

/* Decode ``size`` bytes at ``data`` with ``threads`` threads for the samples (0: two from
 * PP_PARALLEL_SAMPLES samples on, else one; 1 or 2: that many). Returns 0 (check
 * has_semantic) or -1 (wire error or, when ``oom`` is set, out of memory). pp_free()
 * releases every array still owned. */
int pp_decode(pp_decoder *d, const uint8_t *data, size_t size, int threads);
void pp_free(pp_decoder *d);

int pp_vec_reserve(pp_vec *v, size_t extra);

static inline int pp_put64(pp_vec *v, uint64_t x) {
    if (v->len + 8 > v->cap && pp_vec_reserve(v, 8))
        return -1;
    *(uint64_t *)(v->data + v->len) = x;
    v->len += 8;
    return 0;
}

static inline int pp_put8(pp_vec *v, uint8_t x) {
    if (v->len + 1 > v->cap && pp_vec_reserve(v, 1))
        return -1;
    v->data[v->len++] = x;
    return 0;
}

#endif
