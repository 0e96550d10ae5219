/* Text forms of roster values for the CLI's output. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/duration.h"
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

void cli_allow_format(char out[CLI_ALLOW_TEXT_MAX], const struct roster_allow *a)
{
	char t[32] = "", u[56] = "";

	if (a->has_until) {
		cli_time_format(t, a->until);
		snprintf(u, sizeof(u), " until %s%s", t,
		    a->until <= (int64_t)time(NULL) ? " (passed)" : "");
	}
	if (a->port_lo == a->port_hi)
		snprintf(out, CLI_ALLOW_TEXT_MAX, "%s:%u%s", a->target, a->port_lo, u);
	else
		snprintf(out, CLI_ALLOW_TEXT_MAX, "%s:%u-%u%s", a->target, a->port_lo, a->port_hi,
		    u);
}

bool cli_until_parse(const char *s, int64_t now, int64_t *out)
{
	char full[ROSTER_TIME_TEXT_LEN + 1];
	uint64_t d;
	size_t n = strlen(s);

	if (s[0] == '+') {
		if (!duration_parse(s + 1, CLI_ROSTER_VALIDITY_MAX, &d))
			return false;
		*out = now + (int64_t)d;
		return true;
	}
	/* Minutes only, as an admin types it: the seconds are :00. */
	if (n == ROSTER_TIME_TEXT_LEN - 3 && s[n - 1] == 'Z') {
		snprintf(full, sizeof(full), "%.*s:00Z", (int)(n - 1), s);
		s = full;
	}
	return roster_time_from_text(out, s);
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

bool cli_until_check(const char *arg, int64_t *until)
{
	int64_t now = (int64_t)time(NULL);

	if (!cli_until_parse(arg, now, until)) {
		log_error("--until '%.100s' is not a time (YYYY-MM-DDTHH:MMZ, "
		    "YYYY-MM-DDTHH:MM:SSZ, UTC) nor +DURATION (+8h, +30m, +2d)", arg);
		return false;
	}
	if (*until <= now) {
		log_error("--until '%.100s' is not in the future: the allow line would grant "
		    "nothing", arg);
		return false;
	}
	return true;
}
