/* The one JSON string escaper (RFC 8259), used by every JSON writer: keys --json and the
 * audit log's lines (docs/audit.md).
 *
 *   '"' and '\'                                  \" and \\
 *   control bytes 0x00..0x1f and DEL (0x7f)      \u00XX (lowercase hex)
 *   well-formed UTF-8 (RFC 3629)                 as is (josé stays josé)
 *   a byte not part of well-formed UTF-8         \u00XX, XX the byte
 *
 * The output is therefore always valid UTF-8 and valid JSON, and never holds a raw newline.
 * A raw byte has no JSON form: \u00XX is the one the audit format defines (its parser decodes
 * it back to the byte); a generic reader shows byte 0xE9 as U+00E9. */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include <stddef.h>
#include <stdio.h>

/* The longest piece json_escape_next writes (\u00XX, or a 4-byte UTF-8 sequence). */
enum { JSON_ESCAPE_MAX = 6 };

/* The next character of s[0..n) (n >= 1) as it goes inside a JSON string: writes 1 to
 * JSON_ESCAPE_MAX bytes to piece, their count to *len, and returns how many input bytes they
 * stand for (1 to 4).  Writers that bound their output stop between two pieces. */
size_t json_escape_next(const char *s, size_t n, char piece[JSON_ESCAPE_MAX], size_t *len);

/* Writes the NUL-terminated s to f as a JSON string, quotes included. */
void json_string_write(FILE *f, const char *s);

#endif
