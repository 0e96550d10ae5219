/* The escaping of text from outside before it reaches a log or a terminal, as OpenSSH's
 * strnvis(VIS_SAFE | VIS_OCTAL) does for its log: what is printable stays readable, nothing
 * else can start a line, move the cursor or switch a terminal's mode.
 *
 *   printable ASCII (0x20..0x7e) except '\'     as is
 *   '\'                                          \\
 *   newline, carriage return, tab                \n \r \t
 *   well-formed UTF-8 of a printable character   as is (josé stays josé)
 *   every other byte                             \ooo (three octal digits)
 *
 * "Every other byte" is the C0 controls (ESC included), DEL, bytes that are not part of
 * well-formed UTF-8 (stray continuation bytes, overlong forms, surrogates, a sequence cut
 * short), and each byte of the UTF-8 encoding of a character that is not printable although
 * well-formed: the C1 controls U+0080..U+009F (U+009B is CSI to some terminals), the line and
 * paragraph separators U+2028 and U+2029, and the bidirectional formatting characters U+061C,
 * U+200E, U+200F, U+202A..U+202E and U+2066..U+2069 (which reorder what a reader sees).  A
 * backslash always begins an escape, so the output is unambiguous and can be decoded back. */
#ifndef COMMON_VIS_H
#define COMMON_VIS_H

#include <stddef.h>

/* An input byte becomes at most this many output bytes (\ooo). */
enum { VIS_ESCAPE_MAX = 4 };

/* Escapes src[0..srclen) (may hold NUL bytes: escaped as \000) into dst of dsize >= 1 bytes,
 * NUL-terminated.  Stops before the first character whose escaped form does not fit whole, so
 * dst never ends in half an escape or half a UTF-8 sequence; dsize >= VIS_ESCAPE_MAX * srclen
 * + 1 always fits.  Returns the number of input bytes written (srclen when all of it fit). */
size_t vis_escape(char *dst, size_t dsize, const char *src, size_t srclen);

#endif
