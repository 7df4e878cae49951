/* Strict UTF-8 validation shared by the compiled decoders (pprof strings, JFR strings).
 *
 * Accepts exactly what Python's UTF-8 decoder accepts: no overlong forms, no surrogates,
 * nothing above U+10FFFF. Invalid strings are repaired by the callers through
 * PyUnicode_DecodeUTF8(..., "replace"), so both paths agree with the reference decoders.
 */
#ifndef PROFILELAB_UTF8_VALID_H
#define PROFILELAB_UTF8_VALID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Strict UTF-8 (what Python's decoder accepts): no overlongs, surrogates or > U+10FFFF. */
static inline int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        size_t more;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return 0;
        }
        if (n - i <= more || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= more; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += more + 1;
    }
    return 1;
}

#endif
