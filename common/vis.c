/* The escaping of untrusted text for logs and terminals (see vis.h). */
#include "common/vis.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"

/* Well-formed but not to be shown as is: C1 controls, line/paragraph separators, bidi
 * formatting characters. */
static bool unsafe_char(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x061c ||
	    cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

static size_t octal(char *out, unsigned char c)
{
	out[0] = '\\';
	out[1] = (char)('0' + (c >> 6));
	out[2] = (char)('0' + (c >> 3 & 7));
	out[3] = (char)('0' + (c & 7));
	return 4;
}

/* The escaped form of the next character of p[0..n) (n >= 1) into piece (at most
 * 4 * VIS_ESCAPE_MAX bytes: a 4-byte unsafe sequence); returns the input bytes it took. */
static size_t next(const unsigned char *p, size_t n, char piece[4 * VIS_ESCAPE_MAX],
    size_t *len)
{
	uint32_t cp;
	size_t k, i;

	if (p[0] >= 0x20 && p[0] < 0x7f && p[0] != '\\') {
		piece[0] = (char)p[0];
		*len = 1;
		return 1;
	}
	if (p[0] == '\\' || p[0] == '\n' || p[0] == '\r' || p[0] == '\t') {
		piece[0] = '\\';
		piece[1] = p[0] == '\\' ? '\\' : p[0] == '\n' ? 'n' : p[0] == '\r' ? 'r' : 't';
		*len = 2;
		return 1;
	}
	k = p[0] >= 0x80 ? utf8_seq_decode(p, n, &cp) : 0;
	if (k && !unsafe_char(cp)) {
		memcpy(piece, p, k);
		*len = k;
		return k;
	}
	if (!k)
		k = 1;		/* a control byte, DEL or a byte outside well-formed UTF-8 */
	for (i = 0, *len = 0; i < k; i++)
		*len += octal(piece + *len, p[i]);
	return k;
}

size_t vis_escape(char *dst, size_t dsize, const char *src, size_t srclen)
{
	const unsigned char *p = (const unsigned char *)src;
	char piece[4 * VIS_ESCAPE_MAX];
	size_t i = 0, o = 0, len, k;

	while (i < srclen) {
		k = next(p + i, srclen - i, piece, &len);
		if (dsize - 1 - o < len)
			break;
		memcpy(dst + o, piece, len);
		o += len;
		i += k;
	}
	dst[o] = '\0';
	return i;
}
