/* Config parser: one table of keys, each with its handler; FILE:LINE errors, all collected. */
#include "bastion/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/duration.h"

enum { LINE_LEN_MAX = 4096, QUOTE_MAX = 80, STARTUPS_MAX = 10000 };

struct parse_ctx {
	struct bastion_config *c;
	struct bastion_config_errors *errs;
	const char *file;
	unsigned line;
};

__attribute__((format(printf, 2, 3)))
static void err_add(struct parse_ctx *p, const char *fmt, ...)
{
	struct bastion_config_errors *e = p->errs;
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->count < BASTION_CONFIG_ERRORS_MAX)
		snprintf(e->msgs[e->count], sizeof(e->msgs[0]), "%.40s:%u: %s", p->file, p->line,
		    msg);
	e->count++;
}

/* A bounded printable copy of an untrusted token. */
static const char *quote(char dst[QUOTE_MAX + 4], const char *src)
{
	size_t i;

	for (i = 0; src[i] && i < QUOTE_MAX; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	if (src[i])
		dst[i++] = '.', dst[i++] = '.', dst[i++] = '.';
	dst[i] = '\0';
	return dst;
}

static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "addr:port" or "[v6]:port", numeric only. */
static bool parse_listen(const char *s, struct bastion_listen *l)
{
	char host[64];
	unsigned char tmp[16];
	const char *colon;
	unsigned long port;
	size_t hl;

	if (*s == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return false;
		hl = (size_t)(colon - s - 1);
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		colon++;
		if (inet_pton(AF_INET6, host, tmp) != 1)
			return false;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, tmp) != 1)
			return false;
	}
	if (!parse_uint(colon + 1, 1, 65535, &port))
		return false;
	memcpy(l->host, host, hl + 1);
	l->port = (uint16_t)port;
	return true;
}

static bool set_path(struct parse_ctx *p, char dst[PATH_MAX], const char *v)
{
	char q[QUOTE_MAX + 4];

	if (v[0] != '/' || strlen(v) >= PATH_MAX) {
		err_add(p, "expected an absolute path, got \"%s\"", quote(q, v));
		return false;
	}
	strcpy(dst, v);
	return true;
}

static bool set_uint(struct parse_ctx *p, unsigned *dst, const char *v, unsigned long lo,
    unsigned long hi)
{
	char q[QUOTE_MAX + 4];
	unsigned long n;

	if (!parse_uint(v, lo, hi, &n)) {
		err_add(p, "expected a number from %lu to %lu, got \"%s\"", lo, hi, quote(q, v));
		return false;
	}
	*dst = (unsigned)n;
	return true;
}

static bool key_listen(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];

	if (p->c->n_listen == BASTION_LISTEN_MAX) {
		err_add(p, "too many ListenAddress lines (at most %d)", BASTION_LISTEN_MAX);
		return false;
	}
	if (!parse_listen(v, &p->c->listen[p->c->n_listen])) {
		err_add(p, "expected ADDRESS:PORT or [IPV6]:PORT, got \"%s\"", quote(q, v));
		return false;
	}
	p->c->n_listen++;
	return true;
}

static bool key_metrics_listen(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];
	unsigned long port;

	/* A bare port: loopback, the safe default (the page shows the fleet's shape). */
	if (parse_uint(v, 1, 65535, &port)) {
		strcpy(p->c->metrics_listen.host, "127.0.0.1");
		p->c->metrics_listen.port = (uint16_t)port;
	} else if (!parse_listen(v, &p->c->metrics_listen)) {
		err_add(p, "MetricsListen: expected PORT, ADDRESS:PORT or [IPV6]:PORT, got \"%s\"",
		    quote(q, v));
		return false;
	}
	p->c->has_metrics_listen = true;
	return true;
}

static bool key_host_key(struct parse_ctx *p, const char *v)
{
	return set_path(p, p->c->host_key_file, v);
}

static bool key_roster(struct parse_ctx *p, const char *v)
{
	return set_path(p, p->c->roster, v);
}

static bool key_admin(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];

	if (!key_from_base64(p->c->admin_key, v)) {
		err_add(p, "AdminKey: expected a base64 Ed25519 public key, got \"%s\"",
		    quote(q, v));
		return false;
	}
	p->c->has_admin_key = true;
	return true;
}

static bool key_audit_log(struct parse_ctx *p, const char *v)
{
	return set_path(p, p->c->audit_log, v);
}

static bool key_audit_key(struct parse_ctx *p, const char *v)
{
	return set_path(p, p->c->audit_key_file, v);
}

static bool key_audit_syslog(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];

	if (strcmp(v, "yes") == 0)
		p->c->audit_syslog = true;
	else if (strcmp(v, "no") == 0)
		p->c->audit_syslog = false;
	else {
		err_add(p, "expected yes or no, got \"%s\"", quote(q, v));
		return false;
	}
	return true;
}

/* A POSIX portable user name (useradd's rule), looked up only at start. */
static bool key_user(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];
	size_t i, n = strlen(v);
	bool ok = n > 0 && n < sizeof(p->c->user) && v[0] != '-';

	for (i = 0; ok && i < n; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-' || v[i] == '.';
	if (!ok) {
		err_add(p, "User: expected a user name (letters, digits, '_', '-', '.', at most "
		    "%zu), got \"%s\"", sizeof(p->c->user) - 1, quote(q, v));
		return false;
	}
	strcpy(p->c->user, v);
	return true;
}

static bool key_connect_timeout(struct parse_ctx *p, const char *v)
{
	return set_uint(p, &p->c->connect_timeout, v, 1, 300);
}

static bool key_grace(struct parse_ctx *p, const char *v)
{
	return set_uint(p, &p->c->login_grace_time, v, 1, 3600);
}

static bool key_roster_expiry_warning(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];

	if (duration_parse(v, BASTION_ROSTER_EXPIRY_WARNING_MAX, &p->c->roster_expiry_warning))
		return true;
	err_add(p, "RosterExpiryWarning: expected a duration (N, Ns, Nm, Nh, Nd or Nw, at most "
	    "a year; 0: never), got \"%s\"", quote(q, v));
	return false;
}

/* "N" (a hard limit, as OpenSSH) or "begin:rate:full". */
static bool key_max_startups(struct parse_ctx *p, const char *v)
{
	struct bastion_config *c = p->c;
	unsigned long b, r, f;
	char q[QUOTE_MAX + 4], tok[3][24];
	const char *s = v, *colon;
	size_t i, n;

	if (!strchr(v, ':')) {
		if (!set_uint(p, &c->max_startups, v, 1, STARTUPS_MAX))
			return false;
		c->max_startups_begin = c->max_startups;
		c->max_startups_rate = 100;
		return true;
	}
	for (i = 0; i < 3; i++) {
		colon = strchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof(tok[i]) || (i < 2) != (colon != NULL))
			goto bad;
		memcpy(tok[i], s, n);
		tok[i][n] = '\0';
		s += n + 1;
	}
	if (!parse_uint(tok[0], 1, STARTUPS_MAX, &b) || !parse_uint(tok[1], 1, 100, &r) ||
	    !parse_uint(tok[2], 1, STARTUPS_MAX, &f) || b > f)
		goto bad;
	c->max_startups_begin = (unsigned)b;
	c->max_startups_rate = (unsigned)r;
	c->max_startups = (unsigned)f;
	return true;
bad:
	err_add(p, "MaxStartups: expected N or BEGIN:RATE:FULL (1 <= BEGIN <= FULL <= %d, RATE "
	    "1 to 100), got \"%s\"", STARTUPS_MAX, quote(q, v));
	return false;
}

static bool key_per_source_max_startups(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4];
	unsigned long n;

	if (strcmp(v, "none") == 0) {
		p->c->per_source_max_startups = 0;
		return true;
	}
	if (!parse_uint(v, 1, STARTUPS_MAX, &n)) {
		err_add(p, "expected none or a number from 1 to %d, got \"%s\"", STARTUPS_MAX,
		    quote(q, v));
		return false;
	}
	p->c->per_source_max_startups = (unsigned)n;
	return true;
}

/* "V4" or "V4:V6" prefix lengths. */
static bool key_net_block_size(struct parse_ctx *p, const char *v)
{
	char q[QUOTE_MAX + 4], v4[8];
	const char *colon = strchr(v, ':');
	unsigned long a, b = p->c->per_source_v6_bits;
	size_t n = colon ? (size_t)(colon - v) : strlen(v);

	if (n >= sizeof(v4))
		goto bad;
	memcpy(v4, v, n);
	v4[n] = '\0';
	if (!parse_uint(v4, 1, 32, &a) || (colon && !parse_uint(colon + 1, 1, 128, &b)))
		goto bad;
	p->c->per_source_v4_bits = (unsigned)a;
	p->c->per_source_v6_bits = (unsigned)b;
	return true;
bad:
	err_add(p, "PerSourceNetBlockSize: expected V4[:V6] (1 to 32, 1 to 128), got \"%s\"",
	    quote(q, v));
	return false;
}

/* A duration as OpenSSH writes one (common/duration.h); at most a day. */
static bool parse_seconds(const char *s, unsigned *out)
{
	uint64_t v;

	if (!duration_parse(s, 86400, &v))
		return false;
	*out = (unsigned)v;
	return true;
}

/* "yes", "no", or space-separated NAME:DURATION items (authfail, noauth, grace-exceeded,
 * min, max), which enable penalties and override those defaults. */
static bool key_penalties(struct parse_ctx *p, const char *v)
{
	static const char *const names[] = { "authfail", "noauth", "grace-exceeded", "min", "max" };
	struct bastion_penalties *pen = &p->c->penalties;
	unsigned *fields[] = { &pen->authfail, &pen->noauth, &pen->grace_exceeded, &pen->min,
	    &pen->max };
	char q[QUOTE_MAX + 4], item[64];
	const char *s = v, *colon;
	size_t n, i;
	bool ok = true;

	if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0) {
		pen->enabled = v[0] == 'y';
		return true;
	}
	while (*s) {
		n = strcspn(s, " \t");
		if (n >= sizeof(item)) {
			err_add(p, "PerSourcePenalties: item too long: \"%s\"", quote(q, s));
			return false;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		s += n;
		s += strspn(s, " \t");
		colon = strchr(item, ':');
		for (i = 0; colon && i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i]) == (size_t)(colon - item) &&
			    memcmp(names[i], item, (size_t)(colon - item)) == 0)
				break;
		if (!colon || i == sizeof(names) / sizeof(names[0]) ||
		    !parse_seconds(colon + 1, fields[i])) {
			err_add(p, "PerSourcePenalties: expected yes, no or items authfail:, noauth:, "
			    "grace-exceeded:, min:, max: with a duration (N[smh]), got \"%s\"",
			    quote(q, item));
			ok = false;
		}
	}
	if (ok && pen->min > pen->max) {
		err_add(p, "PerSourcePenalties: min (%u s) above max (%u s)", pen->min, pen->max);
		ok = false;
	}
	pen->enabled = ok;
	return ok;
}

/* "ADDR/BITS" or "ADDR" (a single address), numeric. */
static bool parse_net(const char *s, struct bastion_net *net)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits;

	if (n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, host, net->addr) == 1)
		net->family = 4;
	else if (inet_pton(AF_INET6, host, net->addr) == 1)
		net->family = 6;
	else
		return false;
	bits = net->family == 4 ? 32 : 128;
	if (slash && !parse_uint(slash + 1, 0, bits, &bits))
		return false;
	net->bits = (uint8_t)bits;
	return true;
}

/* A net as admission compares it: its address has no bit set past its prefix, and an IPv4
 * client (IPv4-mapped on a dual-stack listener too) is matched as IPv4.  Else says why. */
static bool net_check(struct parse_ctx *p, const char *key, const char *item,
    const struct bastion_net *net)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	char q[QUOTE_MAX + 4], text[INET6_ADDRSTRLEN];
	unsigned len = net->family == 4 ? 4 : 16, i, keep;
	uint8_t masked[16];

	if (net->family == 6 && memcmp(net->addr, v4mapped, sizeof(v4mapped)) == 0) {
		inet_ntop(AF_INET, net->addr + 12, text, sizeof(text));
		err_add(p, "%s: \"%s\" is an IPv4-mapped address: write the IPv4 address (%s) as "
		    "clients are matched by it", key, quote(q, item), text);
		return false;
	}
	memcpy(masked, net->addr, len);
	for (i = 0; i < len; i++) {
		keep = net->bits > 8 * i ? net->bits - 8 * i : 0;
		if (keep < 8)
			masked[i] &= (uint8_t)(0xff00u >> keep);
	}
	if (memcmp(masked, net->addr, len) != 0) {
		inet_ntop(net->family == 4 ? AF_INET : AF_INET6, masked, text, sizeof(text));
		err_add(p, "%s: \"%s\" has bits set past /%u (the network is %s/%u)", key,
		    quote(q, item), net->bits, text, net->bits);
		return false;
	}
	return true;
}

static bool key_exempt(struct parse_ctx *p, const char *v)
{
	struct bastion_penalties *pen = &p->c->penalties;
	char q[QUOTE_MAX + 4], item[72];
	const char *s = v;
	size_t n;

	pen->n_exempt = 0;
	while (*s) {
		n = strcspn(s, ",");
		if (n >= sizeof(item) || pen->n_exempt == BASTION_EXEMPT_MAX) {
			err_add(p, "PerSourcePenaltyExemptList: at most %d items of ADDR[/BITS]",
			    BASTION_EXEMPT_MAX);
			return false;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		if (!parse_net(item, &pen->exempt[pen->n_exempt])) {
			err_add(p, "PerSourcePenaltyExemptList: expected ADDR[/BITS], got \"%s\"",
			    quote(q, item));
			return false;
		}
		if (!net_check(p, "PerSourcePenaltyExemptList", item, &pen->exempt[pen->n_exempt]))
			return false;
		pen->n_exempt++;
		s += n;
		if (*s == ',')
			s++;
	}
	return true;
}

static bool key_max_auth_tries(struct parse_ctx *p, const char *v)
{
	return set_uint(p, &p->c->max_auth_tries, v, 1, 100);
}

static const struct {
	const char *name;
	bool (*fn)(struct parse_ctx *p, const char *value);
	bool repeatable;
} keys_table[] = {
	{ "ListenAddress", key_listen, true },
	{ "HostKeyFile", key_host_key, false },
	{ "Roster", key_roster, false },
	{ "AdminKey", key_admin, false },
	{ "AuditLog", key_audit_log, false },
	{ "AuditKeyFile", key_audit_key, false },
	{ "AuditSyslog", key_audit_syslog, false },
	{ "User", key_user, false },
	{ "ConnectTimeout", key_connect_timeout, false },
	{ "LoginGraceTime", key_grace, false },
	{ "RosterExpiryWarning", key_roster_expiry_warning, false },
	{ "MaxStartups", key_max_startups, false },
	{ "PerSourceMaxStartups", key_per_source_max_startups, false },
	{ "PerSourceNetBlockSize", key_net_block_size, false },
	{ "PerSourcePenalties", key_penalties, false },
	{ "PerSourcePenaltyExemptList", key_exempt, false },
	{ "MaxAuthTries", key_max_auth_tries, false },
	{ "MetricsListen", key_metrics_listen, false },
};
enum { N_KEYS = sizeof(keys_table) / sizeof(keys_table[0]) };

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

static void parse_line(struct parse_ctx *p, char *line, unsigned seen[N_KEYS])
{
	char q[QUOTE_MAX + 4];
	char *eq, *k, *v, *hash;
	size_t i;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	k = trim(line);
	if (!*k)
		return;
	eq = strchr(k, '=');
	if (!eq) {
		err_add(p, "expected \"Key = value\", got \"%s\"", quote(q, k));
		return;
	}
	*eq = '\0';
	k = trim(k);
	v = trim(eq + 1);
	for (i = 0; i < N_KEYS; i++)
		if (strcasecmp(k, keys_table[i].name) == 0)
			break;
	if (i == N_KEYS) {
		err_add(p, "unknown key \"%s\"", quote(q, k));
		return;
	}
	if (seen[i] && !keys_table[i].repeatable) {
		err_add(p, "%s given twice (first on line %u)", keys_table[i].name, seen[i]);
		return;
	}
	seen[i] = p->line;
	if (!*v) {
		err_add(p, "%s: missing value", keys_table[i].name);
		return;
	}
	keys_table[i].fn(p, v);
}

void bastion_config_defaults(struct bastion_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->host_key_file, "/var/lib/warren/bastion/ssh_host_ed25519_key");
	strcpy(c->roster, "/var/lib/warren/roster");
	strcpy(c->audit_log, "/var/log/warren/audit.jsonl");
	strcpy(c->audit_key_file, "/var/lib/warren/bastion/audit.key");
	strcpy(c->user, "bastion");
	c->connect_timeout = 5;
	c->login_grace_time = 30;
	c->roster_expiry_warning = BASTION_ROSTER_EXPIRY_WARNING_DEFAULT;
	/* OpenSSH's 10:30:100, scaled for a bastion that many engineers log in through at
	 * once; one source may hold a quarter of begin, so four are needed to start drops. */
	c->max_startups_begin = 64;
	c->max_startups_rate = 30;
	c->max_startups = 256;
	c->per_source_max_startups = 16;
	c->per_source_v4_bits = 32;
	c->per_source_v6_bits = 64;
	/* OpenSSH 9.8's defaults. */
	c->penalties.enabled = true;
	c->penalties.authfail = 5;
	c->penalties.noauth = 1;
	c->penalties.grace_exceeded = 10;
	c->penalties.min = 15;
	c->penalties.max = 600;
	c->max_auth_tries = 6;
}

bool bastion_config_parse(struct bastion_config *c, const char *text, size_t len,
    const char *filename, struct bastion_config_errors *errs)
{
	struct parse_ctx p = { .c = c, .errs = errs, .file = filename, .line = 0 };
	unsigned seen[N_KEYS] = { 0 };
	char buf[LINE_LEN_MAX + 1];
	size_t pos = 0, n;
	const char *nl;

	errs->count = 0;
	while (pos < len) {
		p.line++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > LINE_LEN_MAX)
			err_add(&p, "line longer than %d bytes", LINE_LEN_MAX);
		else if (memchr(text + pos, '\0', n))
			err_add(&p, "NUL byte in line");
		else {
			memcpy(buf, text + pos, n);
			buf[n] = '\0';
			parse_line(&p, buf, seen);
		}
		pos += n + 1;
	}
	if (!c->has_admin_key) {
		p.line = 0;
		err_add(&p, "AdminKey is required (the roster's admin public key)");
	}
	if (c->n_listen == 0) {
		strcpy(c->listen[0].host, "0.0.0.0");
		c->listen[0].port = BASTION_PORT_DEFAULT;
		c->n_listen = 1;
	}
	sodium_memzero(buf, sizeof(buf));
	return errs->count == 0;
}

bool bastion_config_load(struct bastion_config *c, const char *path,
    struct bastion_config_errors *errs)
{
	struct parse_ctx p = { .c = c, .errs = errs, .file = path, .line = 0 };
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t n;
	bool ok = false;
	int fd;

	errs->count = 0;
	bastion_config_defaults(c);
	/* Not blocking: a FIFO in its place is refused below instead of waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err_add(&p, "cannot open: %s", strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_add(&p, "not a regular file");
		goto out;
	}
	text = malloc(BASTION_CONFIG_MAX_BYTES + 1);
	if (!text) {
		err_add(&p, "out of memory");
		goto out;
	}
	/* One byte more than allowed, so that a larger file is caught. */
	while (len < BASTION_CONFIG_MAX_BYTES + 1) {
		n = read(fd, text + len, BASTION_CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_add(&p, "read error: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > BASTION_CONFIG_MAX_BYTES) {
		err_add(&p, "file larger than %d bytes", BASTION_CONFIG_MAX_BYTES);
		goto out;
	}
	ok = bastion_config_parse(c, text, len, path, errs);
out:
	close(fd);
	free(text);
	return ok;
}
