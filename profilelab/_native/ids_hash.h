/* The mixing step of profilelab.model.ids's hashes, for the kernels that compute them
 * (_expand.c: stack hashes, _strhash.c: string hashes, _lookup.c: record hashes) and for
 * the pprof decoder's id table (pprof_decode.c), which spreads ids over its slots with it. */
#ifndef PROFILELAB_IDS_HASH_H
#define PROFILELAB_IDS_HASH_H

#include <stdint.h>

#define GOLDEN 0x9E3779B97F4A7C15ull

/* The splitmix64 finalizer, as profilelab.model.ids.mix64. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
