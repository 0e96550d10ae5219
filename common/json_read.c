/* The strict JSON cursor (see json_read.h). */
#include "common/json_read.h"

#include <string.h>

#include "common/utf8.h"

void json_read_init(struct json_read *r, const char *s, size_t n)
{
	r->p = s;
	r->end = s + n;
}

static void skip_ws(struct json_read *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

char json_read_peek(struct json_read *r)
{
	skip_ws(r);
	return r->p < r->end ? *r->p : 0;
}

bool json_read_char(struct json_read *r, char c)
{
	if (json_read_peek(r) != c)
		return false;
	r->p++;
	return true;
}

static bool hex4(struct json_read *r, uint32_t *v)
{
	*v = 0;
	if (r->end - r->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char c = *r->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return false;
	}
	return true;
}

/* cp as UTF-8 into out at *k, if it fits before outlen - 1. */
static bool put_utf8(char *out, size_t outlen, size_t *k, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (outlen - *k <= n)
		return false;
	memcpy(out + *k, b, n);
	*k += n;
	return true;
}

/* One escape after the backslash. */
static bool escape(struct json_read *r, char *out, size_t outlen, size_t *k)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	uint32_t cp, lo;

	if (r->p >= r->end)
		return false;
	if (*r->p != 'u') {
		e = strchr(from, *r->p);
		if (!*r->p || !e)
			return false;
		r->p++;
		return put_utf8(out, outlen, k, (unsigned char)to[e - from]);
	}
	r->p++;
	if (!hex4(r, &cp) || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return false;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
			return false;
		r->p += 2;
		if (!hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return false;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return put_utf8(out, outlen, k, cp);
}

bool json_read_string(struct json_read *r, char *out, size_t outlen)
{
	size_t k = 0, n;
	uint32_t cp;

	if (!outlen || !json_read_char(r, '"'))
		return false;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p;

		if (c < 0x20)
			return false;
		if (c == '\\') {
			r->p++;
			if (!escape(r, out, outlen, &k))
				return false;
			continue;
		}
		n = utf8_seq_decode((const unsigned char *)r->p, (size_t)(r->end - r->p), &cp);
		if (!n || outlen - k <= n)
			return false;
		memcpy(out + k, r->p, n);
		k += n;
		r->p += n;
	}
	if (r->p >= r->end)
		return false;
	r->p++;
	out[k] = '\0';
	return true;
}

bool json_read_uint(struct json_read *r, uint64_t *v)
{
	const char *start;

	skip_ws(r);
	start = r->p;
	*v = 0;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
		unsigned d = (unsigned)(*r->p - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return false;
		*v = *v * 10 + d;
		r->p++;
	}
	if (r->p == start || (*start == '0' && r->p - start > 1))
		return false;
	/* A fraction or an exponent makes it some other number. */
	return r->p == r->end || (*r->p != '.' && *r->p != 'e' && *r->p != 'E');
}

bool json_read_member(struct json_read *r, struct json_read_members *m, const char **name)
{
	char *slot;

	if (m->n >= JSON_READ_MEMBERS)
		return false;
	slot = m->name[m->n];
	if (!json_read_string(r, slot, sizeof(m->name[0])) || !json_read_char(r, ':'))
		return false;
	for (unsigned i = 0; i < m->n; i++)
		if (!strcmp(m->name[i], slot))
			return false;
	*name = m->name[m->n++];
	return true;
}

static bool literal(struct json_read *r, const char *word)
{
	size_t n = strlen(word);

	skip_ws(r);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return false;
	r->p += n;
	return true;
}

bool json_read_null(struct json_read *r)
{
	return literal(r, "null");
}

static bool number(struct json_read *r)
{
	const char *d;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	d = r->p;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	if (r->p == d || (*d == '0' && r->p - d > 1))
		return false;
	if (r->p < r->end && *r->p == '.') {
		d = ++r->p;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
		if (r->p == d)
			return false;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		d = r->p;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
		if (r->p == d)
			return false;
	}
	return true;
}

/* A string checked in place: the same rules as json_read_string, nothing kept. */
static bool string_skip(struct json_read *r)
{
	char piece[5];
	size_t k;
	uint32_t cp;

	if (!json_read_char(r, '"'))
		return false;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p;

		if (c < 0x20)
			return false;
		if (c == '\\') {
			r->p++;
			k = 0;
			if (!escape(r, piece, sizeof(piece), &k))
				return false;
			continue;
		}
		k = utf8_seq_decode((const unsigned char *)r->p, (size_t)(r->end - r->p), &cp);
		if (!k)
			return false;
		r->p += k;
	}
	if (r->p >= r->end)
		return false;
	r->p++;
	return true;
}

static bool skip(struct json_read *r, unsigned depth)
{
	char c = json_read_peek(r);

	if (c == '"')
		return string_skip(r);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';

		if (depth >= JSON_READ_DEPTH)
			return false;
		r->p++;
		if (json_read_char(r, close))
			return true;
		do {
			if (c == '{' && (!string_skip(r) || !json_read_char(r, ':')))
				return false;
			if (!skip(r, depth + 1))
				return false;
		} while (json_read_char(r, ','));
		return json_read_char(r, close);
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(r);
	return literal(r, "true") || literal(r, "false") || literal(r, "null");
}

bool json_read_skip(struct json_read *r)
{
	return skip(r, 0);
}

bool json_read_end(struct json_read *r)
{
	return json_read_peek(r) == 0 && r->p == r->end;
}
