/* UTF-8 validation (RFC 3629), shared by the log escaper (common/vis.c) and the JSON escaper
 * (common/json.c): both pass well-formed text through and escape everything else. */
#ifndef COMMON_UTF8_H
#define COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed UTF-8 sequence at p, which has n >= 1 readable bytes, and
 * its code point in *cp; 0 if there is none there: shortest form only, no surrogates, nothing
 * above U+10FFFF, never reading past p[n - 1].  A byte below 0x80 is a sequence of 1 (its
 * own code point), whatever it is: callers decide about control characters. */
size_t utf8_seq_decode(const unsigned char *p, size_t n, uint32_t *cp);

#endif
