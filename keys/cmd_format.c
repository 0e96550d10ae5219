/* Text forms of roster values for the CLI's output. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/cli.h"

void cli_time_format(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%lld", (long long)t);
}

void cli_addr_format(char out[64], int family, const uint8_t *addr)
{
	if (!inet_ntop(family, addr, out, 64))
		snprintf(out, 64, "?");
}

void cli_prefix_format(char out[64], const struct roster_prefix *p)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(out, 64, "%s/%u", a, p->cidr);
}

void cli_endpoint_format(char out[300], const struct roster_endpoint *e)
{
	if (strchr(e->host, ':'))
		snprintf(out, 300, "[%s]:%u", e->host, e->port);
	else
		snprintf(out, 300, "%s:%u", e->host, e->port);
}

void cli_allow_format(char out[96], const struct roster_allow *a)
{
	if (a->port_lo == a->port_hi)
		snprintf(out, 96, "%s:%u", a->target, a->port_lo);
	else
		snprintf(out, 96, "%s:%u-%u", a->target, a->port_lo, a->port_hi);
}

bool cli_uint_parse(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '1' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

bool cli_port_parse(const char *s, uint16_t *port)
{
	unsigned long v;

	if (!cli_uint_parse(s, 1, 65535, &v))
		return false;
	*port = (uint16_t)v;
	return true;
}
