/* Durations: see duration.h. */
#include "common/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

bool duration_parse(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	uint64_t unit = 1;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (*end) {
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return false;
		}
		if (end[1])
			return false;
	}
	if (v > max / unit)
		return false;
	*out = v * unit;
	return true;
}
