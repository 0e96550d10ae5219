/* A strict cursor over one JSON text (RFC 8259) in a bounded buffer, for reading answers from
 * other hosts (keys status reads nodes' GET /v1/status views): no allocation, nesting bounded
 * by JSON_READ_DEPTH, every length checked; any byte that is not valid JSON makes the call
 * that meets it return false, and the cursor is then not to be used further.
 *
 * Use: json_read_peek for the next token's first byte; json_read_char to consume a structural
 * character ({ } [ ] : ,); json_read_member for each member name of an object read (it refuses
 * a name met before in that object: RFC 8259 leaves duplicates to the reader, and a hostile
 * answer would otherwise say one thing to one check and another to the next); json_read_string and json_read_uint for values wanted;
 * json_read_skip for any value not wanted; json_read_end once the value is read. */
#ifndef COMMON_JSON_READ_H
#define COMMON_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	JSON_READ_DEPTH = 32,	/* arrays and objects nested in a skipped value, at most */
	JSON_READ_MEMBERS = 32,	/* members of one object read with json_read_member, at most */
	JSON_READ_NAME_MAX = 31,	/* bytes of a member name read with json_read_member */
};

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
/* The names of one object's members met so far; zero it ({0}) before the object's first. */
struct json_read_members {
	unsigned n;
	char name[JSON_READ_MEMBERS][JSON_READ_NAME_MAX + 1];
};

/* A member's name and its ':'; *name then points into m (valid while m is).  false if it is
 * not a string, is longer than JSON_READ_NAME_MAX bytes, was met before in m, or m is full. */
bool json_read_member(struct json_read *r, struct json_read_members *m, const char **name);
/* Consumes the literal null if it comes next. */
bool json_read_null(struct json_read *r);
/* Any one value (checked, not kept). */
bool json_read_skip(struct json_read *r);
/* true if only whitespace is left. */
bool json_read_end(struct json_read *r);

#endif
