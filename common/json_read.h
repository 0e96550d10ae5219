/* A strict cursor over one JSON text (RFC 8259) in a bounded buffer, for reading answers from
 * other hosts (keys status reads nodes' GET /v1/status views): no allocation, nesting bounded
 * by JSON_READ_DEPTH, every length checked; any byte that is not valid JSON makes the call
 * that meets it return false, and the cursor is then not to be used further.
 *
 * Use: json_read_peek for the next token's first byte; json_read_char to consume a structural
 * character ({ } [ ] : ,); json_read_string and json_read_uint for values wanted;
 * json_read_skip for any value not wanted; json_read_end once the value is read. */
#ifndef COMMON_JSON_READ_H
#define COMMON_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { JSON_READ_DEPTH = 32 };	/* arrays and objects nested in a skipped value, at most */

struct json_read {
	const char *p;		/* next byte; borrowed */
	const char *end;
};

/* Starts reading s[0..n); s is borrowed for the cursor's life. */
void json_read_init(struct json_read *r, const char *s, size_t n);
/* The first byte of the next token after whitespace, or 0 at the end. */
char json_read_peek(struct json_read *r);
/* Consumes c (after whitespace) if it comes next. */
bool json_read_char(struct json_read *r, char c);
/* A string into out (outlen bytes, NUL-terminated, escapes decoded to UTF-8; \u0000 and
 * unpaired surrogates are refused, as are raw control bytes).  false if it is not a string or
 * does not fit. */
bool json_read_string(struct json_read *r, char *out, size_t outlen);
/* A non-negative integer without fraction or exponent, at most UINT64_MAX. */
bool json_read_uint(struct json_read *r, uint64_t *v);
/* Consumes the literal null if it comes next. */
bool json_read_null(struct json_read *r);
/* Any one value (checked, not kept). */
bool json_read_skip(struct json_read *r);
/* true if only whitespace is left. */
bool json_read_end(struct json_read *r);

#endif
