/* The JSON string escaper (see json.h). */
#include "common/json.h"

#include <stdint.h>
#include <string.h>

#include "common/utf8.h"

size_t json_escape_next(const char *s, size_t n, char piece[JSON_ESCAPE_MAX], size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t k;

	if (p[0] == '"' || p[0] == '\\') {
		piece[0] = '\\';
		piece[1] = (char)p[0];
		*len = 2;
		return 1;
	}
	if (p[0] < 0x20 || p[0] == 0x7f || !(k = utf8_seq_decode(p, n, &cp))) {
		memcpy(piece, "\\u00", 4);
		piece[4] = hex[p[0] >> 4];
		piece[5] = hex[p[0] & 15];
		*len = 6;
		return 1;
	}
	memcpy(piece, p, k);
	*len = k;
	return k;
}

void json_string_write(FILE *f, const char *s)
{
	char piece[JSON_ESCAPE_MAX];
	size_t n = strlen(s), i = 0, len;

	fputc('"', f);
	while (i < n) {
		i += json_escape_next(s + i, n - i, piece, &len);
		fwrite(piece, 1, len, f);
	}
	fputc('"', f);
}
