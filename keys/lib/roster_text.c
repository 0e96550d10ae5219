/* Roster tokens: names, addresses, prefixes, endpoints, ports, times, base64.  Each parser
 * accepts exactly the canonical spelling, so the file has one way to say each thing. */
#include "keys/lib/roster_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

bool roster_name_valid(const char *name)
{
	size_t i, n = strnlen(name, ROSTER_NAME_MAX + 1);

	if (n == 0 || n > ROSTER_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

/* IPv4 in its canonical form: four decimal numbers 0-255 without leading zeros, joined by
 * dots, nothing else: exactly the strings that inet_pton takes and inet_ntop writes back
 * unchanged, read here in one pass (a roster of 10,000 nodes has 20,000 of them). */
static bool ipv4_canonical_parse(uint8_t a[4], const char *s)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		if (i && *s++ != '.')
			return false;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[-(int)digits] == '0'))
			return false;
		a[i] = (uint8_t)v;
	}
	return *s == '\0';
}

bool roster_address_parse(int *family, uint8_t addr[16], const char *s)
{
	char back[INET6_ADDRSTRLEN];
	uint8_t a[16] = { 0 };
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;

	if (fam == AF_INET) {
		if (!ipv4_canonical_parse(a, s))
			return false;
		*family = fam;
		memcpy(addr, a, 16);
		return true;
	}
	if (inet_pton(fam, s, a) != 1)
		return false;
	/* Canonical: what inet_ntop writes (RFC 5952 for v6, no leading zeros for v4). */
	if (!inet_ntop(fam, a, back, sizeof(back)) || strcmp(back, s) != 0)
		return false;
	*family = fam;
	memcpy(addr, a, 16);
	return true;
}

void roster_address_format(char *out, size_t outlen, int family, const uint8_t *addr)
{
	if (!inet_ntop(family, addr, out, (socklen_t)outlen) && outlen)
		out[0] = '\0';
}

static bool host_bits_clear(const uint8_t *a, unsigned bits, unsigned cidr)
{
	unsigned i;

	for (i = cidr; i < bits; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

bool roster_prefix_parse(struct roster_prefix *p, const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	uint64_t len;
	int fam;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	memset(p, 0, sizeof(*p));
	if (!roster_address_parse(&fam, p->addr, addr))
		return false;
	if (!roster_u64_parse(&len, slash + 1, fam == AF_INET ? 32 : 128))
		return false;
	if (!host_bits_clear(p->addr, fam == AF_INET ? 32 : 128, (unsigned)len))
		return false;
	p->family = fam;
	p->cidr = (uint8_t)len;
	return true;
}

void roster_prefix_format(char *out, size_t outlen, const struct roster_prefix *p)
{
	char a[INET6_ADDRSTRLEN];

	roster_address_format(a, sizeof(a), p->family, p->addr);
	snprintf(out, outlen, "%s/%u", a, p->cidr);
}

static unsigned fam_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

int roster_prefix_cmp(const struct roster_prefix *a, const struct roster_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	c = memcmp(a->addr, b->addr, fam_bytes(a->family));
	if (c)
		return c;
	return (int)a->cidr - (int)b->cidr;
}

static bool match_bits(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return !rest || ((a[whole] ^ b[whole]) & (uint8_t)(0xff00 >> rest)) == 0;
}

bool roster_prefix_contains(const struct roster_prefix *p, int family, const uint8_t *addr)
{
	return p->family == family && match_bits(p->addr, addr, p->cidr);
}

bool roster_prefix_overlaps(const struct roster_prefix *a, const struct roster_prefix *b)
{
	/* Aligned prefixes overlap only if one contains the other. */
	return a->family == b->family &&
	    match_bits(a->addr, b->addr, a->cidr < b->cidr ? a->cidr : b->cidr);
}

bool roster_u64_parse(uint64_t *v, const char *s, uint64_t max)
{
	unsigned long long n;
	char *end;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end != '\0' || n > max)
		return false;
	*v = n;
	return true;
}

bool roster_ports_parse(uint16_t *lo, uint16_t *hi, const char *s, bool star)
{
	char a[8];
	const char *dash;
	uint64_t l, h;

	if (star && strcmp(s, "*") == 0) {
		*lo = 1;
		*hi = 65535;
		return true;
	}
	dash = strchr(s, '-');
	if (!dash) {
		if (!roster_u64_parse(&l, s, 65535) || l == 0)
			return false;
		*lo = *hi = (uint16_t)l;
		return true;
	}
	if ((size_t)(dash - s) >= sizeof(a))
		return false;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	if (!roster_u64_parse(&l, a, 65535) || !roster_u64_parse(&h, dash + 1, 65535))
		return false;
	/* N-N is spelled N; a range runs upwards. */
	if (l == 0 || h <= l)
		return false;
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return true;
}

static bool hostname_valid(const char *h)
{
	size_t i, n = strlen(h), label = 0;
	bool all_numeric = true;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!(c >= '0' && c <= '9'))
			all_numeric = false;
		if (++label > 63)
			return false;
	}
	/* "1.2.3" would reach getaddrinfo as an IPv4 literal: refuse it as a name. */
	return label > 0 && h[n - 1] != '-' && !all_numeric;
}

bool roster_endpoint_parse(struct roster_endpoint *e, const char *s)
{
	char host[sizeof(e->host)];
	const char *colon = strrchr(s, ':');
	uint8_t a[16];
	uint64_t port;
	size_t hl;
	int fam;

	if (!colon || !roster_u64_parse(&port, colon + 1, 65535) || port == 0)
		return false;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			return false;
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
		if (!roster_address_parse(&fam, a, host) || fam != AF_INET6)
			return false;
	} else if (strchr(host, ':')) {
		return false;	/* a v6 literal needs brackets */
	} else if (!roster_address_parse(&fam, a, host) && !hostname_valid(host)) {
		return false;
	}
	memset(e, 0, sizeof(*e));
	strcpy(e->host, host);
	e->port = (uint16_t)port;
	return true;
}

void roster_endpoint_format(char *out, size_t outlen, const struct roster_endpoint *e)
{
	if (strchr(e->host, ':'))
		snprintf(out, outlen, "[%s]:%u", e->host, e->port);
	else
		snprintf(out, outlen, "%s:%u", e->host, e->port);
}

static bool allow_target_valid(const char *t)
{
	if (strcmp(t, "*") == 0)
		return true;
	if (strncmp(t, "group:", 6) == 0)
		return roster_name_valid(t + 6);
	return roster_name_valid(t);
}

bool roster_allow_parse(struct roster_allow *a, const char *spec)
{
	const char *colon = strchr(spec, ':'), *slash = strchr(spec, '/');
	size_t tl;

	/* "group:db:5432": the ports follow the last colon after a "group:" prefix;
	 * "fd00:1::/64:22": the first colon after the prefix length. */
	if (colon && strncmp(spec, "group:", 6) == 0)
		colon = strchr(spec + 6, ':');
	else if (slash)
		colon = strchr(slash, ':');
	tl = colon ? (size_t)(colon - spec) : strlen(spec);
	if (tl >= sizeof(a->target))
		return false;
	memset(a, 0, sizeof(*a));
	memcpy(a->target, spec, tl);
	a->target[tl] = '\0';
	if (slash) {
		/* Canonical only (host bits clear, inet_ntop form): one spelling per rule. */
		if (!roster_prefix_parse(&a->prefix, a->target))
			return false;
		a->is_prefix = true;
	} else if (!allow_target_valid(a->target)) {
		return false;
	}
	if (!colon) {
		a->port_lo = 1;
		a->port_hi = 65535;
		return true;
	}
	return roster_ports_parse(&a->port_lo, &a->port_hi, colon + 1, true);
}

int roster_allow_cmp(const struct roster_allow *a, const struct roster_allow *b)
{
	int c = strcmp(a->target, b->target);

	if (c)
		return c;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (a->port_hi != b->port_hi)
		return a->port_hi < b->port_hi ? -1 : 1;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

bool roster_time_parse(int64_t *t, const char *s)
{
	unsigned y, mo, d, h, mi, se;
	char back[ROSTER_TIME_LEN + 1];
	int64_t v;

	if (strlen(s) != ROSTER_TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return false;
	v = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	/* Round trip rejects dates that do not exist (February 30). */
	if (!roster_time_format(back, v) || strcmp(back, s) != 0)
		return false;
	*t = v;
	return true;
}

bool roster_time_format(char out[ROSTER_TIME_LEN + 1], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 0 || !gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999)
		return false;
	return strftime(out, ROSTER_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == ROSTER_TIME_LEN;
}

bool roster_b64_decode(uint8_t *out, size_t outmax, size_t *outlen, const char *s, size_t slen)
{
	const char *end = NULL;
	char *back;
	size_t n = 0, blen;
	bool ok;

	if (slen == 0 || slen % 4 != 0 ||
	    sodium_base642bin(out, outmax, s, slen, NULL, &n, &end,
		sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + slen)
		return false;
	/* Canonical: unused bits zero, so re-encoding gives the same text. */
	blen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	back = malloc(blen);
	if (!back)
		return false;
	sodium_bin2base64(back, blen, out, n, sodium_base64_VARIANT_ORIGINAL);
	ok = strlen(back) == slen && memcmp(back, s, slen) == 0;
	free(back);
	if (ok)
		*outlen = n;
	return ok;
}
