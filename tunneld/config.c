/* Interface configuration parsers: wg-quick style files and UAPI set requests.  Both are
 * table-driven: one table of keys per section, each with its handler. */
#include "tunneld/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/duration.h"
#include "keys/lib/key.h"

_Static_assert((int)KEY_LEN == (int)WG_KEY_LEN, "libkeys and the engine agree on key size");

/* Longest line a config file or UAPI request may carry; a key line is 60 bytes. */
enum { LINE_MAX_LEN = 4096 };
/* Messages quote at most this much of an offending token. */
enum { QUOTE_MAX = 80 };
/* Runs of this many base64 characters in a quoted token look like a key and are hidden, so
 * that a mistyped PrivateKey line never leaks into a log. */
enum { KEYLIKE_RUN = 40 };

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
}

void config_free(struct config *c)
{
	size_t i;

	for (i = 0; i < c->n_peers; i++)
		free(c->peers[i].allowed_ips);
	if (c->peers)
		sodium_memzero(c->peers, c->n_peers * sizeof(*c->peers));
	free(c->peers);
	free(c->addresses);
	sodium_memzero(c, sizeof(*c));
	config_init(c);
}

void config_errors_free(struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->count = 0;
}

__attribute__((format(printf, 2, 0)))
static void errs_vadd(struct config_errors *errs, const char *fmt, va_list ap)
{
	char **msgs;
	char *m;

	if (!errs || vasprintf(&m, fmt, ap) < 0)
		return;
	msgs = realloc(errs->msgs, (errs->count + 1) * sizeof(*msgs));
	if (!msgs) {
		free(m);
		return;
	}
	msgs[errs->count++] = m;
	errs->msgs = msgs;
}

__attribute__((format(printf, 2, 3)))
static void errs_add(struct config_errors *errs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_vadd(errs, fmt, ap);
	va_end(ap);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/' || c == '=';
}

/* Trims in place; returns the start of the trimmed string. */
static char *trim(char *s)
{
	char *end;

	while (is_space(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_space(end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* A bounded, printable copy of an untrusted token, with key-like runs hidden. */
static const char *quote(char dst[QUOTE_MAX + 16], const char *src)
{
	size_t i, o = 0, run;

	for (i = 0; src[i] && o < QUOTE_MAX; i++) {
		run = 0;
		if (i == 0 || !is_b64(src[i - 1]))
			for (; is_b64(src[i + run]); run++)
				;
		if (run >= KEYLIKE_RUN) {
			memcpy(dst + o, "(key hidden)", 12);
			o += 12;
			i += run - 1;
			continue;
		}
		dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	}
	if (src[i])
		dst[o++] = '.', dst[o++] = '.', dst[o++] = '.';
	dst[o] = '\0';
	return dst;
}

/* Decimal (or 0x hex when hex_ok) without sign or whitespace, at most max. */
static bool parse_uint(const char *s, unsigned long max, bool hex_ok, unsigned long *out)
{
	unsigned long v;
	char *end;
	int base = 10;

	if (*s < '0' || *s > '9')
		return false;
	if (hex_ok && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2])
		base = 16, s += 2;
	if (base == 16 && (s[1] == 'x' || s[1] == 'X'))
		return false;
	if (base == 16 && !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
	    (*s >= 'A' && *s <= 'F')))
		return false;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* "addr[/cidr]".  AllowedIPs clear host bits (as wg does); Address keeps them. */
static bool parse_prefix(const char *s, bool need_cidr, bool clear_host, struct config_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long cidr, max;
	char *slash;
	unsigned i;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	else if (need_cidr)
		return false;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6, max = 128;
	else
		return false;
	cidr = max;
	if (slash && !parse_uint(slash + 1, max, false, &cidr))
		return false;
	out->cidr = (uint8_t)cidr;
	if (clear_host) {
		for (i = 0; i < max / 8; i++) {
			if (i * 8 >= cidr)
				out->addr[i] = 0;
			else if (i * 8 + 8 > cidr)
				out->addr[i] &= (uint8_t)(0xff << (8 - (cidr - i * 8)));
		}
	}
	return true;
}

/* "host:port" or "[v6]:port" into host and port; the port must be 1..65535. */
static bool split_endpoint(const char *s, char host[256], char port[8], const char **why)
{
	const char *colon, *h = s;
	size_t hlen;
	unsigned long v;

	if (*s == '[') {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':') {
			*why = "expected [address]:port";
			return false;
		}
		h = s + 1;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "missing :port";
			return false;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen)) {
			*why = "IPv6 endpoints need brackets: [address]:port";
			return false;
		}
	}
	if (hlen == 0 || hlen >= 256) {
		*why = "bad host";
		return false;
	}
	if (!parse_uint(colon + 1, 65535, false, &v) || v == 0 || strlen(colon + 1) >= 8) {
		*why = "port must be 1..65535";
		return false;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return true;
}

static int resolve(const char *host, const char *port, int flags, union wg_sockaddr *ep,
    char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
		.ai_protocol = IPPROTO_UDP,
		.ai_flags = flags,
	};
	struct addrinfo *res = NULL, *ai;
	int r, ret;

	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		int e = errno;
		char buf[128];

		/* Runs on the resolver's threads too: strerror_r, not strerror's shared buffer. */
		snprintf(err, errlen, "%s", r == EAI_SYSTEM ? strerror_r(e, buf, sizeof(buf)) :
		    gai_strerror(r));
		ret = r == EAI_SYSTEM ? -e : r == EAI_AGAIN ? -EAGAIN :
		    r == EAI_MEMORY ? -ENOMEM : -ENOENT;
		goto out;
	}
	ret = -EAFNOSUPPORT;
	snprintf(err, errlen, "no IPv4 or IPv6 address");
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET && ai->ai_addrlen == sizeof(ep->in4)) ||
		    (ai->ai_family == AF_INET6 && ai->ai_addrlen == sizeof(ep->in6))) {
			memset(ep, 0, sizeof(*ep));
			memcpy(ep, ai->ai_addr, ai->ai_addrlen);
			ret = 0;
			break;
		}
	}
out:
	if (res)
		freeaddrinfo(res);
	return ret;
}

int config_resolve_endpoint(const char *host, const char *port, union wg_sockaddr *ep,
    char *err, size_t errlen)
{
	return resolve(host, port, AI_NUMERICHOST | AI_NUMERICSERV, ep, err, errlen);
}

int config_lookup_endpoint(const char *host, const char *port, union wg_sockaddr *ep,
    char *err, size_t errlen)
{
	return resolve(host, port, AI_NUMERICSERV, ep, err, errlen);
}

bool config_host_name_valid(const char *host)
{
	size_t len = strlen(host), label = 0;
	bool all_digits = true;

	/* RFC 1123 host names (plus '_', seen in practice): labels of 1..63 characters, at most
	 * 253 in all, one trailing dot allowed.  A last label of digits only is a mistyped
	 * address ("10.0.0"), not a name. */
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = host[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			all_digits = true;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
		if (ch < '0' || ch > '9')
			all_digits = false;
		if (++label > 63)
			return false;
	}
	return label > 0 && !all_digits;
}

static bool prefix_append(struct config_prefix **arr, size_t *n, const struct config_prefix *x)
{
	struct config_prefix *a = realloc(*arr, (*n + 1) * sizeof(*a));

	if (!a)
		return false;
	a[(*n)++] = *x;
	*arr = a;
	return true;
}

bool config_prefix_add(struct config_prefix **v, size_t *n, int family, const uint8_t *addr,
    uint8_t cidr)
{
	struct config_prefix x;

	memset(&x, 0, sizeof(x));
	x.family = family;
	memcpy(x.addr, addr, family == AF_INET ? 4 : 16);
	x.cidr = cidr;
	return prefix_append(v, n, &x);
}

/*
 * The file parser.
 */

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER, SEC_SKIP };
/* Largest keyword table; seen[] tracks the line of each single-valued key per section. */
enum { MAX_KEYWORDS = 24 };

struct parser {
	const char *path;
	unsigned line;
	enum section section;
	struct config *c;
	struct config_errors *errs, *warn;
	unsigned nerr;
	unsigned seen[MAX_KEYWORDS];
	unsigned interface_line;
	unsigned mtu_line;
	unsigned roster_line, admin_key_line, gossip_line, address_line;
	unsigned expiry_warning_line;
	bool has_key_source;		/* PrivateKey or PrivateKeyFile seen, valid or not */
	bool has_psk_source;		/* current peer: PresharedKey or PresharedKeyFile */
	bool peer_has_key;
	unsigned secret_line;		/* first inline PrivateKey/PresharedKey, 0 = none */
	const char *keyword;		/* the key being handled, as the table spells it */
};

__attribute__((format(printf, 2, 3)))
static void perr(struct parser *p, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;

	p->nerr++;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	errs_add(p->errs, "%s:%u: %s", p->path, p->line, m ? m : "out of memory");
	free(m);
}

static struct config_peer *cur_peer(struct parser *p)
{
	return &p->c->peers[p->c->n_peers - 1];
}

typedef bool item_fn(struct parser *p, char *item);

/* Comma-separated list with optional spaces; each item goes to fn. */
static bool each_item(struct parser *p, char *value, item_fn *fn)
{
	char *item, *next, q[QUOTE_MAX + 16];
	bool ok = true;

	for (item = value; item; item = next) {
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		item = trim(item);
		if (!*item) {
			perr(p, "empty item in %s list '%s'", p->keyword, quote(q, value));
			ok = false;
			continue;
		}
		ok = fn(p, item) && ok;
	}
	return ok;
}

/* Relative paths are relative to the config file's directory. */
static bool resolve_path(struct parser *p, const char *value, char path[PATH_MAX])
{
	const char *slash = strrchr(p->path, '/');
	int n;

	if (value[0] == '/' || !slash)
		n = snprintf(path, PATH_MAX, "%s", value);
	else
		n = snprintf(path, PATH_MAX, "%.*s/%s", (int)(slash - p->path), p->path, value);
	if (n < 0 || n >= PATH_MAX) {
		perr(p, "%s: path too long", p->keyword);
		return false;
	}
	return true;
}

static bool read_key_file(struct parser *p, const char *value, uint8_t key[KEY_LEN])
{
	char path[PATH_MAX], err[512];

	if (!resolve_path(p, value, path))
		return false;
	if (key_file_read(path, true, key, err, sizeof(err)) < 0) {
		perr(p, "%s: %s", p->keyword, err);
		return false;
	}
	return true;
}

static bool iface_private_key(struct parser *p, char *value)
{
	if (p->has_key_source) {
		perr(p, "PrivateKey and PrivateKeyFile are mutually exclusive");
		return false;
	}
	p->has_key_source = true;
	if (!p->secret_line)
		p->secret_line = p->line;
	if (!key_from_base64(p->c->private_key, value)) {
		/* Never quote it: it is a secret even when mistyped. */
		perr(p, "invalid PrivateKey (not base64 of 32 bytes; value not shown)");
		return false;
	}
	p->c->has_private_key = true;
	return true;
}

static bool iface_private_key_file(struct parser *p, char *value)
{
	if (p->has_key_source) {
		perr(p, "PrivateKey and PrivateKeyFile are mutually exclusive");
		return false;
	}
	p->has_key_source = true;
	if (!read_key_file(p, value, p->c->private_key))
		return false;
	p->c->has_private_key = true;
	/* Roster mode switches to PrivateKeyFile + ".next" when the roster names that key. */
	_Static_assert(sizeof(p->c->private_key_file) >= PATH_MAX, "path room");
	return resolve_path(p, value, p->c->private_key_file);
}

static bool iface_roster(struct parser *p, char *value)
{
	_Static_assert(sizeof(p->c->roster_path) >= PATH_MAX, "path room");
	if (!resolve_path(p, value, p->c->roster_path))
		return false;
	p->roster_line = p->line;
	return true;
}

static bool iface_admin_key(struct parser *p, char *value)
{
	char q[QUOTE_MAX + 16];

	if (!key_from_base64(p->c->admin_key, value)) {
		perr(p, "invalid AdminKey '%s' (expected the base64 Ed25519 public key that "
		    "`keys admin-pubkey` prints)", quote(q, value));
		return false;
	}
	p->c->has_admin_key = true;
	p->admin_key_line = p->line;
	return true;
}

static bool iface_gossip_port(struct parser *p, char *value)
{
	unsigned long v;
	char q[QUOTE_MAX + 16];

	if (!parse_uint(value, 65535, false, &v)) {
		perr(p, "GossipPort '%s' is not a port number (0 turns gossip off)", quote(q, value));
		return false;
	}
	p->c->has_gossip_port = true;
	p->c->gossip_port = (uint16_t)v;
	p->gossip_line = p->line;
	return true;
}

/* A numeric address and a port: "127.0.0.1:9586", "[::1]:9586".  No name (nothing is
 * resolved at start), no port 0. */
static bool iface_metrics_listen(struct parser *p, char *value)
{
	char q[QUOTE_MAX + 16], host[256], port[8], err[128];
	const char *why = NULL;
	unsigned long v;

	/* A bare port: loopback, the safe default (the page shows the fleet's shape). */
	if (parse_uint(value, 65535, false, &v) && v > 0) {
		strcpy(host, "127.0.0.1");
		snprintf(port, sizeof(port), "%u", (unsigned)v);
		why = "";
	}
	if ((!why && !split_endpoint(value, host, port, &why)) ||
	    config_resolve_endpoint(host, port, &p->c->metrics_listen, err, sizeof(err)) < 0) {
		perr(p, "MetricsListen '%s': %s (want PORT or a numeric ADDRESS:PORT, e.g. "
		    "127.0.0.1:9586)", quote(q, value), why && *why ? why : "not a numeric address");
		return false;
	}
	p->c->has_metrics_listen = true;
	return true;
}

static bool iface_user(struct parser *p, char *value)
{
	char q[QUOTE_MAX + 16];
	size_t len = strlen(value);

	/* Checked for shape here; getpwnam at start says whether it exists. */
	if (len == 0 || len >= sizeof(p->c->user) || value[0] == '-' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	    len) {
		perr(p, "User '%s' is not a user name", quote(q, value));
		return false;
	}
	memcpy(p->c->user, value, len + 1);
	return true;
}

static bool iface_listen_port(struct parser *p, char *value)
{
	unsigned long v;
	char q[QUOTE_MAX + 16];

	if (!parse_uint(value, 65535, false, &v)) {
		perr(p, "ListenPort '%s' is not a port number 0..65535", quote(q, value));
		return false;
	}
	p->c->has_listen_port = true;
	p->c->listen_port = (uint16_t)v;
	return true;
}

static bool iface_fwmark(struct parser *p, char *value)
{
	unsigned long v = 0;
	char q[QUOTE_MAX + 16];

	if (strcasecmp(value, "off") && !parse_uint(value, UINT32_MAX, true, &v)) {
		perr(p, "FwMark '%s' is not 'off' or a 32-bit number", quote(q, value));
		return false;
	}
	p->c->has_fwmark = true;
	p->c->fwmark = (uint32_t)v;
	return true;
}

static bool address_item(struct parser *p, char *item)
{
	struct config_prefix x;
	char q[QUOTE_MAX + 16];

	if (!p->address_line)
		p->address_line = p->line;
	if (!parse_prefix(item, false, false, &x)) {
		perr(p, "invalid Address '%s'", quote(q, item));
		return false;
	}
	if (!prefix_append(&p->c->addresses, &p->c->n_addresses, &x)) {
		perr(p, "out of memory");
		return false;
	}
	return true;
}

static bool iface_address(struct parser *p, char *value)
{
	return each_item(p, value, address_item);
}

static bool iface_mtu(struct parser *p, char *value)
{
	unsigned long v;
	char q[QUOTE_MAX + 16];

	if (!parse_uint(value, 65535, false, &v) || v < 576) {
		perr(p, "MTU '%s' is not a number 576..65535", quote(q, value));
		return false;
	}
	p->c->has_mtu = true;
	p->c->mtu = (unsigned)v;
	p->mtu_line = p->line;
	return true;
}

/* A switch that is on unless "off": value is on_word or "off" (any case); *off is set. */
static bool parse_switch(struct parser *p, const char *key, const char *on_word, char *value,
    bool *off)
{
	char q[QUOTE_MAX + 16];

	if (strcasecmp(value, on_word) == 0) {
		*off = false;
	} else if (strcasecmp(value, "off") == 0) {
		*off = true;
	} else {
		perr(p, "%s '%s' is not '%s' or 'off'", key, quote(q, value), on_word);
		return false;
	}
	return true;
}

/* How long before the roster's expires line tunneld starts warning (docs/roster.md, "Expiry"). */
static bool iface_roster_expiry_warning(struct parser *p, char *value)
{
	char q[QUOTE_MAX + 16];

	if (!duration_parse(value, CONFIG_ROSTER_EXPIRY_WARNING_MAX,
	    &p->c->roster_expiry_warning)) {
		perr(p, "RosterExpiryWarning '%s' is not a duration (N, Ns, Nm, Nh, Nd or Nw, at "
		    "most a year; 0: never)", quote(q, value));
		return false;
	}
	p->c->has_roster_expiry_warning = true;
	p->expiry_warning_line = p->line;
	return true;
}

/* auto (the default): TUN segmentation offloads where the kernel has them; off: never. */
static bool iface_offload(struct parser *p, char *value)
{
	return parse_switch(p, "Offload", "auto", value, &p->c->no_offload);
}

/* On by default (an opt-out): the table is what keeps the underlay away from the overlay
 * addresses, so turning it off has to be written down. */
static bool iface_overlay_firewall(struct parser *p, char *value)
{
	return parse_switch(p, "OverlayFirewall", "on", value, &p->c->no_overlay_firewall);
}

static bool wg_quick_only(struct parser *p, char *value)
{
	(void)value;
	if (p->warn)
		errs_add(p->warn, "%s:%u: '%s' is a wg-quick setting; ignored", p->path, p->line,
		    p->keyword);
	return true;
}

static bool peer_public_key(struct parser *p, char *value)
{
	char q[QUOTE_MAX + 16];

	if (!key_from_base64(cur_peer(p)->public_key, value)) {
		perr(p, "invalid PublicKey '%s'", quote(q, value));
		return false;
	}
	p->peer_has_key = true;
	return true;
}

static bool peer_preshared_key(struct parser *p, char *value)
{
	struct config_peer *peer = cur_peer(p);

	if (p->has_psk_source) {
		perr(p, "PresharedKey and PresharedKeyFile are mutually exclusive");
		return false;
	}
	p->has_psk_source = true;
	if (!p->secret_line)
		p->secret_line = p->line;
	if (!key_from_base64(peer->preshared_key, value)) {
		perr(p, "invalid PresharedKey (not base64 of 32 bytes; value not shown)");
		return false;
	}
	peer->has_preshared_key = true;
	return true;
}

static bool peer_preshared_key_file(struct parser *p, char *value)
{
	struct config_peer *peer = cur_peer(p);

	if (p->has_psk_source) {
		perr(p, "PresharedKey and PresharedKeyFile are mutually exclusive");
		return false;
	}
	p->has_psk_source = true;
	if (!read_key_file(p, value, peer->preshared_key))
		return false;
	peer->has_preshared_key = true;
	return true;
}

static bool allowed_ip_item(struct parser *p, char *item)
{
	struct config_peer *peer = cur_peer(p);
	struct config_prefix x;
	char q[QUOTE_MAX + 16];

	if (!parse_prefix(item, false, true, &x)) {
		perr(p, "invalid AllowedIPs prefix '%s'", quote(q, item));
		return false;
	}
	if (!prefix_append(&peer->allowed_ips, &peer->n_allowed_ips, &x)) {
		perr(p, "out of memory");
		return false;
	}
	return true;
}

static bool peer_allowed_ips(struct parser *p, char *value)
{
	return each_item(p, value, allowed_ip_item);
}

static bool peer_endpoint(struct parser *p, char *value)
{
	struct config_peer *peer = cur_peer(p);
	char q[QUOTE_MAX + 16], err[256];
	const char *why = NULL;

	if (!split_endpoint(value, peer->endpoint_host, peer->endpoint_port, &why)) {
		perr(p, "invalid Endpoint '%s': %s", quote(q, value), why);
		return false;
	}
	/* Addresses now; names by the device's resolver, off the event loop (resolver.h), at
	 * start as on SIGHUP. */
	if (config_resolve_endpoint(peer->endpoint_host, peer->endpoint_port, &peer->endpoint,
	    err, sizeof(err)) == 0) {
		peer->has_endpoint = true;
		peer->endpoint_unresolved = false;
		return true;
	}
	if (!config_host_name_valid(peer->endpoint_host)) {
		perr(p, "invalid Endpoint host '%s': neither an IP address nor a host name",
		    quote(q, peer->endpoint_host));
		return false;
	}
	peer->has_endpoint = false;
	peer->endpoint_unresolved = true;
	return true;
}

static bool peer_keepalive(struct parser *p, char *value)
{
	struct config_peer *peer = cur_peer(p);
	unsigned long v = 0;
	char q[QUOTE_MAX + 16];

	if (strcasecmp(value, "off") && !parse_uint(value, 65535, false, &v)) {
		perr(p, "PersistentKeepalive '%s' is not 'off' or 0..65535 seconds",
		    quote(q, value));
		return false;
	}
	peer->has_persistent_keepalive = true;
	peer->persistent_keepalive = (uint16_t)v;
	return true;
}

struct keyword {
	const char *name;
	bool (*fn)(struct parser *p, char *value);
	bool repeatable;
};

static const struct keyword interface_keys[] = {
	{ "PrivateKey", iface_private_key, false },
	{ "PrivateKeyFile", iface_private_key_file, false },
	{ "ListenPort", iface_listen_port, false },
	{ "FwMark", iface_fwmark, false },
	{ "Address", iface_address, true },
	{ "MTU", iface_mtu, false },
	{ "DNS", wg_quick_only, true },
	{ "Table", wg_quick_only, true },
	{ "PreUp", wg_quick_only, true },
	{ "PostUp", wg_quick_only, true },
	{ "PreDown", wg_quick_only, true },
	{ "PostDown", wg_quick_only, true },
	{ "SaveConfig", wg_quick_only, true },
	{ "Roster", iface_roster, false },
	{ "AdminKey", iface_admin_key, false },
	{ "GossipPort", iface_gossip_port, false },
	{ "RosterExpiryWarning", iface_roster_expiry_warning, false },
	{ "User", iface_user, false },
	{ "MetricsListen", iface_metrics_listen, false },
	{ "OverlayFirewall", iface_overlay_firewall, false },
	{ "Offload", iface_offload, false },
};

static const struct keyword peer_keys[] = {
	{ "PublicKey", peer_public_key, false },
	{ "PresharedKey", peer_preshared_key, false },
	{ "PresharedKeyFile", peer_preshared_key_file, false },
	{ "AllowedIPs", peer_allowed_ips, true },
	{ "Endpoint", peer_endpoint, false },
	{ "PersistentKeepalive", peer_keepalive, false },
};

_Static_assert(sizeof(interface_keys) / sizeof(interface_keys[0]) <= MAX_KEYWORDS, "seen[]");
_Static_assert(sizeof(peer_keys) / sizeof(peer_keys[0]) <= MAX_KEYWORDS, "seen[]");

static void peer_end(struct parser *p)
{
	unsigned line = p->line;

	if (p->section != SEC_PEER || p->peer_has_key)
		return;
	p->line = cur_peer(p)->line;
	perr(p, "[Peer] has no PublicKey");
	p->line = line;
}

static void section_begin(struct parser *p, char *name)
{
	struct config_peer *peers;
	char q[QUOTE_MAX + 16];

	peer_end(p);
	memset(p->seen, 0, sizeof(p->seen));
	p->section = SEC_SKIP;
	if (!strcasecmp(name, "Interface")) {
		if (p->interface_line) {
			perr(p, "duplicate [Interface] section (first at line %u)",
			    p->interface_line);
			return;
		}
		p->interface_line = p->line;
		p->section = SEC_INTERFACE;
	} else if (!strcasecmp(name, "Peer")) {
		peers = realloc(p->c->peers, (p->c->n_peers + 1) * sizeof(*peers));
		if (!peers) {
			perr(p, "out of memory");
			return;
		}
		p->c->peers = peers;
		memset(&peers[p->c->n_peers], 0, sizeof(*peers));
		peers[p->c->n_peers].line = p->line;
		peers[p->c->n_peers].replace_allowed_ips = true;
		p->c->n_peers++;
		p->peer_has_key = false;
		p->has_psk_source = false;
		p->section = SEC_PEER;
	} else {
		perr(p, "unknown section '[%s]'", quote(q, name));
	}
}

static void key_value(struct parser *p, char *key, char *value)
{
	const struct keyword *table;
	char q[QUOTE_MAX + 16];
	size_t i, n;

	if (p->section == SEC_SKIP)
		return;		/* already reported at the section header */
	if (p->section == SEC_NONE) {
		perr(p, "'%s' outside of a section", quote(q, key));
		return;
	}
	if (p->section == SEC_INTERFACE)
		table = interface_keys, n = sizeof(interface_keys) / sizeof(interface_keys[0]);
	else
		table = peer_keys, n = sizeof(peer_keys) / sizeof(peer_keys[0]);
	for (i = 0; i < n && strcasecmp(key, table[i].name); i++)
		;
	if (i == n) {
		perr(p, "unknown key '%s' in [%s]", quote(q, key),
		    p->section == SEC_INTERFACE ? "Interface" : "Peer");
		return;
	}
	/* An empty AllowedIPs means "none", as wg(8) reads it; any other empty value is a
	 * mistake. */
	if (!*value && table[i].fn == peer_allowed_ips) {
		p->seen[i] = p->line;
		return;
	}
	if (!*value) {
		perr(p, "empty value for '%s'", table[i].name);
		return;
	}
	if (!table[i].repeatable && p->seen[i]) {
		perr(p, "duplicate '%s' (first at line %u)", table[i].name, p->seen[i]);
		return;
	}
	p->seen[i] = p->line;
	p->keyword = table[i].name;
	table[i].fn(p, value);
}

static void parse_line(struct parser *p, char *line)
{
	char q[QUOTE_MAX + 16];
	char *s, *eq, *hash;

	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	s = trim(line);
	if (!*s)
		return;
	if (*s == '[') {
		if (s[strlen(s) - 1] != ']') {
			perr(p, "malformed section header '%s'", quote(q, s));
			peer_end(p);
			p->section = SEC_SKIP;
			return;
		}
		s[strlen(s) - 1] = '\0';
		section_begin(p, trim(s + 1));
		return;
	}
	eq = strchr(s, '=');
	if (!eq) {
		perr(p, "expected 'Key = Value', got '%s'", quote(q, s));
		return;
	}
	*eq = '\0';
	if (!*trim(s)) {
		perr(p, "missing key before '='");
		return;
	}
	key_value(p, trim(s), trim(eq + 1));
}

/* Roster mode: the roster owns peers and addresses; the key must live in a file so that a
 * rotation key can wait next to it (PrivateKeyFile + ".next"). */
static void check_roster_mode(struct parser *p)
{
	struct config *c = p->c;

	if (!c->roster_path[0]) {
		if (c->has_admin_key) {
			p->line = p->admin_key_line;
			perr(p, "AdminKey is only meaningful with Roster");
		}
		if (c->has_gossip_port) {
			p->line = p->gossip_line;
			perr(p, "GossipPort is only meaningful with Roster");
		}
		if (c->has_roster_expiry_warning) {
			p->line = p->expiry_warning_line;
			perr(p, "RosterExpiryWarning is only meaningful with Roster");
		}
		return;
	}
	if (!c->has_roster_expiry_warning)
		c->roster_expiry_warning = CONFIG_DEFAULT_ROSTER_EXPIRY_WARNING;
	if (!c->has_gossip_port) {
		c->has_gossip_port = true;
		c->gossip_port = CONFIG_DEFAULT_GOSSIP_PORT;
	}
	if (!c->has_admin_key) {
		p->line = p->roster_line;
		perr(p, "Roster needs AdminKey (the pinned admin public key)");
	}
	if (p->has_key_source && !c->private_key_file[0] && c->has_private_key) {
		p->line = p->interface_line;
		perr(p, "roster mode needs PrivateKeyFile (a rotation key waits in FILE.next), "
		    "not PrivateKey");
	}
	if (p->address_line) {
		p->line = p->address_line;
		perr(p, "Address is not allowed with Roster: the roster gives this node's "
		    "addresses");
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		p->line = c->peers[i].line;
		perr(p, "[Peer] sections are not allowed with Roster: peers come from the roster");
	}
}

/* Whole-file checks, once every section is known. */
static void check_all(struct parser *p)
{
	struct config *c = p->c;
	uint8_t pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1];
	bool have_pub = false;
	size_t i, j;

	if (!p->interface_line) {
		perr(p, "no [Interface] section");
	} else if (!p->has_key_source) {
		p->line = p->interface_line;
		perr(p, "[Interface] has neither PrivateKey nor PrivateKeyFile");
	}
	if (c->has_private_key) {
		have_pub = key_public_from_private(pub, c->private_key);
		if (!have_pub) {
			p->line = p->interface_line;
			perr(p, "PrivateKey gives an all-zero public key");
		}
	}
	if (c->has_mtu && c->mtu < 1280) {
		for (i = 0; i < c->n_addresses && c->addresses[i].family != AF_INET6; i++)
			;
		if (i < c->n_addresses) {
			p->line = p->mtu_line;
			perr(p, "MTU %u is below 1280, the minimum for IPv6 (Address has IPv6)",
			    c->mtu);
		}
	}
	for (i = 0; i < c->n_peers; i++) {
		if (key_is_zero(c->peers[i].public_key))
			continue;	/* missing or invalid key, reported already */
		key_to_base64(b64, c->peers[i].public_key);
		p->line = c->peers[i].line;
		if (have_pub && !sodium_memcmp(pub, c->peers[i].public_key, KEY_LEN))
			perr(p, "peer '%s' is this interface's own public key", b64);
		for (j = 0; j < i; j++) {
			if (!sodium_memcmp(c->peers[j].public_key, c->peers[i].public_key, KEY_LEN)) {
				perr(p, "duplicate peer '%s' (same PublicKey as [Peer] at line %u)",
				    b64, c->peers[j].line);
				break;
			}
		}
	}
	check_roster_mode(p);
	sodium_memzero(pub, sizeof(pub));
}

bool config_parse_file(const char *path, struct config *out, struct config_errors *errs,
    struct config_errors *warn)
{
	struct parser p = {
		.path = path, .c = out, .errs = errs, .warn = warn,
	};
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	ssize_t n;
	FILE *f;

	config_init(out);
	f = fopen(path, "re");
	if (!f) {
		p.nerr++;
		errs_add(errs, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	/* Sized so that getline does not realloc (leaving key lines in freed memory) for any
	 * line we accept. */
	cap = LINE_MAX_LEN + 2;
	line = malloc(cap);
	if (!line) {
		p.nerr++;
		errs_add(errs, "%s: out of memory", path);
		goto out;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		p.line++;
		if ((size_t)n != strlen(line)) {
			perr(&p, "NUL byte in line");
			continue;
		}
		if (n > LINE_MAX_LEN) {
			perr(&p, "line longer than %d bytes", LINE_MAX_LEN);
			continue;
		}
		parse_line(&p, line);
	}
	if (ferror(f)) {
		p.nerr++;
		errs_add(errs, "%s:%u: read error: %s", path, p.line, strerror(errno));
	}
	peer_end(&p);
	/* A file holding a key inline is a key file: the same rule as PrivateKeyFile. */
	if (p.secret_line && fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		p.nerr++;
		errs_add(errs, "%s:%u: permissions %04o for '%s' are too open: it holds a key "
		    "inline, so it must not be accessible by group or others (chmod 600)", path,
		    p.secret_line, (unsigned)(st.st_mode & 07777), path);
	}
	if (!p.line)
		p.line = 1;
	check_all(&p);
out:
	if (line) {
		sodium_memzero(line, cap);
		free(line);
	}
	if (f)
		fclose(f);
	if (p.nerr) {
		config_free(out);
		return false;
	}
	out->replace_peers = true;
	return true;
}

/*
 * The UAPI set parser (https://www.wireguard.com/xplatform/).  Keys are lowercase and exact;
 * values carry no spaces.  The first error ends the request, as in wireguard-go.
 */


__attribute__((format(printf, 3, 4)))
static int uerr(struct config_uapi *u, int err, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	errs_add(u->errs, "line %u: %s", u->line, m ? m : "out of memory");
	free(m);
	return err;
}

static int u_true(struct config_uapi *u, const char *value, bool *flag)
{
	char q[QUOTE_MAX + 16];

	if (strcmp(value, "true"))
		return uerr(u, EINVAL, "%s must be 'true', got '%s'", u->key, quote(q, value));
	*flag = true;
	return 0;
}

static int u_number(struct config_uapi *u, const char *value, unsigned long max, unsigned long *v)
{
	char q[QUOTE_MAX + 16];

	if (!parse_uint(value, max, false, v))
		return uerr(u, EINVAL, "%s '%s' is not a number 0..%lu", u->key, quote(q, value),
		    max);
	return 0;
}

static int u_hexkey(struct config_uapi *u, const char *value, uint8_t key[KEY_LEN])
{
	if (!key_from_hex(key, value))
		return uerr(u, EINVAL, "%s is not 64 hex digits", u->key);
	return 0;
}

static int u_private_key(struct config_uapi *u, const char *value)
{
	int ret = u_hexkey(u, value, u->c->private_key);

	u->c->has_private_key = ret == 0;
	return ret;
}

static int u_listen_port(struct config_uapi *u, const char *value)
{
	unsigned long v;
	int ret = u_number(u, value, 65535, &v);

	if (ret == 0)
		u->c->has_listen_port = true, u->c->listen_port = (uint16_t)v;
	return ret;
}

static int u_fwmark(struct config_uapi *u, const char *value)
{
	unsigned long v;
	int ret = u_number(u, value, UINT32_MAX, &v);

	if (ret == 0)
		u->c->has_fwmark = true, u->c->fwmark = (uint32_t)v;
	return ret;
}

static int u_replace_peers(struct config_uapi *u, const char *value)
{
	return u_true(u, value, &u->c->replace_peers);
}

static int u_public_key(struct config_uapi *u, const char *value)
{
	struct config_peer *peers;
	uint8_t key[KEY_LEN];
	int ret = u_hexkey(u, value, key);

	if (ret)
		return ret;
	peers = realloc(u->c->peers, (u->c->n_peers + 1) * sizeof(*peers));
	if (!peers)
		return uerr(u, ENOMEM, "out of memory");
	u->c->peers = peers;
	memset(&peers[u->c->n_peers], 0, sizeof(*peers));
	memcpy(peers[u->c->n_peers].public_key, key, KEY_LEN);
	peers[u->c->n_peers].line = u->line;
	u->c->n_peers++;
	return 0;
}

static struct config_peer *u_peer(struct config_uapi *u)
{
	return &u->c->peers[u->c->n_peers - 1];
}

static int u_remove(struct config_uapi *u, const char *value)
{
	return u_true(u, value, &u_peer(u)->remove);
}

static int u_update_only(struct config_uapi *u, const char *value)
{
	return u_true(u, value, &u_peer(u)->update_only);
}

static int u_preshared_key(struct config_uapi *u, const char *value)
{
	int ret = u_hexkey(u, value, u_peer(u)->preshared_key);

	u_peer(u)->has_preshared_key = ret == 0;
	return ret;
}

static int u_endpoint(struct config_uapi *u, const char *value)
{
	struct config_peer *peer = u_peer(u);
	char host[256], port[8], q[QUOTE_MAX + 16], err[256];
	const char *why = NULL;

	if (!split_endpoint(value, host, port, &why))
		return uerr(u, EINVAL, "endpoint '%s': %s", quote(q, value), why);
	/* The UAPI carries addresses only; names are resolved by the client. */
	if (resolve(host, port, AI_NUMERICHOST | AI_NUMERICSERV, &peer->endpoint, err,
	    sizeof(err)) < 0)
		return uerr(u, EINVAL, "endpoint '%s' is not a numeric address: %s",
		    quote(q, value), err);
	peer->has_endpoint = true;
	peer->endpoint_host[0] = '\0';
	peer->endpoint_port[0] = '\0';
	return 0;
}

static int u_keepalive(struct config_uapi *u, const char *value)
{
	unsigned long v;
	int ret = u_number(u, value, 65535, &v);

	if (ret == 0) {
		u_peer(u)->has_persistent_keepalive = true;
		u_peer(u)->persistent_keepalive = (uint16_t)v;
	}
	return ret;
}

static int u_replace_allowed_ips(struct config_uapi *u, const char *value)
{
	return u_true(u, value, &u_peer(u)->replace_allowed_ips);
}

static int u_allowed_ip(struct config_uapi *u, const char *value)
{
	struct config_peer *peer = u_peer(u);
	struct config_prefix x;
	char q[QUOTE_MAX + 16];

	if (!parse_prefix(value, true, true, &x))
		return uerr(u, EINVAL, "allowed_ip '%s' is not address/cidr", quote(q, value));
	if (!prefix_append(&peer->allowed_ips, &peer->n_allowed_ips, &x))
		return uerr(u, ENOMEM, "out of memory");
	return 0;
}

static int u_protocol_version(struct config_uapi *u, const char *value)
{
	char q[QUOTE_MAX + 16];

	if (strcmp(value, "1"))
		return uerr(u, EINVAL, "protocol_version '%s' is not supported (only 1)",
		    quote(q, value));
	return 0;
}

struct uapi_key {
	const char *name;
	int (*fn)(struct config_uapi *u, const char *value);
};

static const struct uapi_key uapi_device_keys[] = {
	{ "private_key", u_private_key },
	{ "listen_port", u_listen_port },
	{ "fwmark", u_fwmark },
	{ "replace_peers", u_replace_peers },
	{ "public_key", u_public_key },
};

static const struct uapi_key uapi_peer_keys[] = {
	{ "public_key", u_public_key },
	{ "remove", u_remove },
	{ "update_only", u_update_only },
	{ "preshared_key", u_preshared_key },
	{ "endpoint", u_endpoint },
	{ "persistent_keepalive_interval", u_keepalive },
	{ "replace_allowed_ips", u_replace_allowed_ips },
	{ "allowed_ip", u_allowed_ip },
	{ "protocol_version", u_protocol_version },
};

static int uapi_line(struct config_uapi *u, char *line)
{
	const struct uapi_key *table;
	char q[QUOTE_MAX + 16];
	char *eq;
	size_t i, n;

	eq = strchr(line, '=');
	if (!eq)
		return uerr(u, EINVAL, "expected key=value, got '%s'", quote(q, line));
	*eq = '\0';
	if (u->c->n_peers)
		table = uapi_peer_keys, n = sizeof(uapi_peer_keys) / sizeof(uapi_peer_keys[0]);
	else
		table = uapi_device_keys, n = sizeof(uapi_device_keys) / sizeof(uapi_device_keys[0]);
	for (i = 0; i < n && strcmp(line, table[i].name); i++)
		;
	if (i == n)
		return uerr(u, EINVAL, "unknown %s key '%s'", u->c->n_peers ? "peer" : "device",
		    quote(q, line));
	u->key = table[i].name;
	return table[i].fn(u, eq + 1);
}

void config_uapi_begin(struct config_uapi *u, struct config *out, struct config_errors *errs)
{
	memset(u, 0, sizeof(*u));
	u->c = out;
	u->errs = errs;
	config_init(out);
}

int config_uapi_feed(struct config_uapi *u, const char *s, size_t n)
{
	char line[CONFIG_UAPI_LINE_MAX];

	u->line++;
	/* After the first error the rest of the request is read but not parsed (wireguard-go). */
	if (u->err)
		return u->err;
	if (n == 0 || n >= sizeof(line) || memchr(s, '\0', n)) {
		u->err = uerr(u, EINVAL, n ? "line too long or not text" : "empty line");
		return u->err;
	}
	memcpy(line, s, n);
	line[n] = '\0';
	u->err = uapi_line(u, line);
	sodium_memzero(line, sizeof(line));
	return u->err;
}

int config_uapi_end(struct config_uapi *u)
{
	if (u->err)
		config_free(u->c);
	return u->err;
}

int config_parse_uapi_set(const char *body, size_t len, struct config *out,
    struct config_errors *errs)
{
	struct config_uapi u;
	const char *s = body, *end = body + len, *nl;
	size_t n;

	config_uapi_begin(&u, out, errs);
	while (s < end && !u.err) {
		nl = memchr(s, '\n', (size_t)(end - s));
		n = (size_t)((nl ? nl : end) - s);
		if (n == 0)
			break;		/* the blank line ends the request */
		config_uapi_feed(&u, s, n);
		s += n + (nl ? 1 : 0);
	}
	return config_uapi_end(&u);
}
