/* The roster parser: canonical text only (docs/roster.md), every error as FILE:LINE: message,
 * all of them collected.  Table-driven: one table for the header, one per entry kind.
 * Cross-entry checks (duplicate keys and addresses, overlapping subnets, allow targets) run
 * once at the end over sorted record arrays, so 10,000 nodes cost n log n, not n^2. */
#include "keys/lib/roster_int.h"
#include "keys/lib/ssh_cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/mem.h"

enum {
	MAX_TOKENS = 8,		/* the longest line, endorse, has 4 */
	QUOTE_MAX = 64,		/* bad tokens are quoted up to this many characters */
	N_QUOTES = 3,
};

enum block { BLOCK_NONE, BLOCK_NODE, BLOCK_ENGINEER, BLOCK_SIGNATURE };

/* Records for the cross-entry checks, each remembering its line. */
struct key_rec {
	uint8_t key[KEY_LEN];
	unsigned line;
	size_t owner;
};

struct addr_rec {
	struct roster_prefix p;		/* cidr = 32/128 for an address */
	unsigned line;
	size_t owner;
};

struct ssh_rec {
	const uint8_t *blob;
	size_t len;
	unsigned line;
	size_t owner;
};

struct target_rec {
	size_t owner, allow;
	unsigned line;
};

struct parser {
	const char *file;
	unsigned line;
	struct roster *r;
	struct roster_errors *errs;
	bool stop;			/* fatal (not a roster) or too many errors */
	bool oom;
	char buf[ROSTER_LINE_MAX + 1];	/* the line, split into tokens */
	char raw[ROSTER_LINE_MAX + 1];	/* the line as read, for "rest" */
	char *tok[MAX_TOKENS];
	size_t ntok;
	const char *rest;		/* the line after its first token and one space */
	char quotes[N_QUOTES][QUOTE_MAX * 4 + 8];
	unsigned qi;

	size_t hpos;			/* next header table entry allowed */
	unsigned hseen[16];
	bool issued_ok;			/* r->issued holds a valid time */
	bool header_done;
	enum block block;
	int rank;			/* rank of the last field in the open block */
	unsigned rank_line[8];
	unsigned sig_line;

	struct key_rec *keys;
	size_t n_keys;
	struct addr_rec *addrs, *subnets, *endpoints;	/* endpoints: literal addresses only */
	size_t n_addrs, n_subnets, n_endpoints;
	struct ssh_rec *ssh;
	size_t n_ssh;
	struct target_rec *targets;
	size_t n_targets;
	bool in_policy;			/* a policy line was read: no node or engineer after */
	char (*groups)[ROSTER_NAME_MAX + 1];
	size_t n_groups;
};

__attribute__((format(printf, 3, 4)))
static void errat(struct parser *p, unsigned line, const char *fmt, ...)
{
	char msg[512], *full = NULL, **msgs;
	va_list ap;

	if (p->errs->count > ROSTER_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errs->count == ROSTER_ERRORS_MAX) {
		snprintf(msg, sizeof(msg), "too many errors; giving up");
		p->stop = true;
	}
	msgs = realloc(p->errs->msgs, (p->errs->count + 1) * sizeof(*msgs));
	if (!msgs || asprintf(&full, "%s:%u: %s", p->file, line, msg) < 0) {
		if (msgs)
			p->errs->msgs = msgs;
		p->oom = p->stop = true;
		return;
	}
	p->errs->msgs = msgs;
	msgs[p->errs->count++] = full;
}

#define perr(p, ...) errat((p), (p)->line, __VA_ARGS__)

/* A bounded, printable copy of an untrusted token for a message. */
static const char *q(struct parser *p, const char *s)
{
	char *out = p->quotes[p->qi++ % N_QUOTES];
	size_t i, o = 0;

	for (i = 0; s[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (s[i]) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Grows an array whose count is n to hold n + 1: doubling at powers of two, so no
 * capacity field is needed; from one slot, since most lists of a node hold one entry (an
 * endpoint: four slots each cost a 10,000-node roster 8 MB).  false when out of memory. */
static bool grow(void *arrp, size_t n, size_t size)
{
	void **arr = arrp;
	void *np;

	if (n && (n & (n - 1)))
		return true;
	np = realloc(*arr, (n ? n * 2 : 1) * size);
	if (!np)
		return false;
	*arr = np;
	return true;
}

/* Appends one zeroed slot; NULL (and parsing stops) when out of memory. */
static void *push(struct parser *p, void *arrp, size_t *n, size_t size)
{
	char *slot;

	if (!grow(arrp, *n, size)) {
		p->oom = p->stop = true;
		return NULL;
	}
	slot = *(char **)arrp + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

static struct roster_node *cur_node(struct parser *p)
{
	return &p->r->nodes[p->r->n_nodes - 1];
}

static struct roster_engineer *cur_engineer(struct parser *p)
{
	return &p->r->engineers[p->r->n_engineers - 1];
}

/* ---- header ---- */

static bool h_network(struct parser *p)
{
	if (!roster_name_valid(p->tok[1])) {
		perr(p, "bad network name '%s' (lowercase letters, digits, '.', '-'; at most %d)",
		    q(p, p->tok[1]), ROSTER_NAME_MAX);
		return false;
	}
	strcpy(p->r->network, p->tok[1]);
	return true;
}

static bool h_cidr(struct parser *p)
{
	struct roster_prefix pf;

	if (!roster_prefix_parse(&pf, p->tok[1]) || pf.family != AF_INET) {
		perr(p, "bad cidr '%s' (expected an IPv4 prefix like 100.64.0.0/16, host bits clear)",
		    q(p, p->tok[1]));
		return false;
	}
	p->r->cidr4 = pf;
	return true;
}

static bool h_cidr6(struct parser *p)
{
	struct roster_prefix pf;

	if (!roster_prefix_parse(&pf, p->tok[1]) || pf.family != AF_INET6) {
		perr(p, "bad cidr6 '%s' (expected an IPv6 prefix like fd00:1234::/48, host bits clear)",
		    q(p, p->tok[1]));
		return false;
	}
	p->r->cidr6 = pf;
	p->r->has_cidr6 = true;
	return true;
}

static bool h_serial(struct parser *p)
{
	if (!roster_u64_parse(&p->r->serial, p->tok[1], UINT64_MAX)) {
		perr(p, "bad serial '%s' (decimal, no leading zeros)", q(p, p->tok[1]));
		return false;
	}
	return true;
}

static bool h_issued(struct parser *p)
{
	if (!roster_time_parse(&p->r->issued, p->tok[1])) {
		perr(p, "bad issued time '%s' (expected YYYY-MM-DDTHH:MM:SSZ)", q(p, p->tok[1]));
		return false;
	}
	p->issued_ok = true;
	return true;
}

static bool h_expires(struct parser *p)
{
	if (!roster_time_parse(&p->r->expires, p->tok[1])) {
		perr(p, "bad expires time '%s' (expected YYYY-MM-DDTHH:MM:SSZ)", q(p, p->tok[1]));
		return false;
	}
	p->r->has_expires = true;
	/* issued precedes it (header order), so both are known here. */
	if (p->issued_ok && p->r->expires <= p->r->issued) {
		char t[ROSTER_TIME_LEN + 1];

		roster_time_format(t, p->r->issued);
		perr(p, "expires %s is not after issued %s", p->tok[1], t);
	}
	return true;
}

static bool h_admin(struct parser *p)
{
	if (!key_from_base64(p->r->admin_key, p->tok[1])) {
		perr(p, "bad admin key '%s' (expected 44 characters of base64)", q(p, p->tok[1]));
		return false;
	}
	return true;
}

static bool sig_decode(uint8_t sig[ROSTER_SIG_LEN], const char *s)
{
	size_t n = 0;

	return strlen(s) == 88 && roster_b64_decode(sig, ROSTER_SIG_LEN, &n, s, 88) &&
	    n == ROSTER_SIG_LEN;
}

static bool h_endorse(struct parser *p)
{
	struct roster_endorsement e, *prev;
	struct roster *r = p->r;

	if (!key_from_base64(e.old_key, p->tok[1]) || !key_from_base64(e.new_key, p->tok[2])) {
		perr(p, "bad key in endorse line (expected 44 characters of base64)");
		return false;
	}
	if (!sig_decode(e.sig, p->tok[3])) {
		perr(p, "bad endorsement signature '%s' (expected 88 characters of base64)",
		    q(p, p->tok[3]));
		return false;
	}
	/* Chain order: each link starts where the one before ended. */
	prev = r->n_endorsements ? &r->endorsements[r->n_endorsements - 1] : NULL;
	if (prev && sodium_memcmp(prev->new_key, e.old_key, KEY_LEN) != 0)
		perr(p, "endorsement chain broken: old key is not the previous line's new key");
	if (!push(p, &r->endorsements, &r->n_endorsements, sizeof(*r->endorsements)))
		return false;
	r->endorsements[r->n_endorsements - 1] = e;
	return true;
}

static bool h_engineer_ca(struct parser *p)
{
	char line[SSH_ED25519_LINE_MAX + 1];

	if (snprintf(line, sizeof(line), "%s %s", p->tok[1], p->tok[2]) >= (int)sizeof(line) ||
	    !ssh_ed25519_line_parse(p->r->engineer_ca, line)) {
		perr(p, "bad engineer-ca (expected an OpenSSH Ed25519 public key: 'ssh-ed25519 "
		    "BASE64')");
		return false;
	}
	p->r->has_engineer_ca = true;
	return true;
}

struct header_field {
	const char *name;
	size_t nargs;
	bool required, repeat;
	bool (*fn)(struct parser *p);
};

/* Canonical order is table order. */
static const struct header_field header_fields[] = {
	{ "network", 1, true, false, h_network },
	{ "cidr", 1, true, false, h_cidr },
	{ "cidr6", 1, false, false, h_cidr6 },
	{ "serial", 1, true, false, h_serial },
	{ "issued", 1, true, false, h_issued },
	{ "expires", 1, false, false, h_expires },
	{ "admin", 1, true, false, h_admin },
	{ "endorse", 3, false, true, h_endorse },
	{ "engineer-ca", 2, false, false, h_engineer_ca },
};
enum { N_HEADER = sizeof(header_fields) / sizeof(header_fields[0]) };

static int header_index(const char *k)
{
	int i;

	for (i = 0; i < N_HEADER; i++)
		if (strcmp(header_fields[i].name, k) == 0)
			return i;
	return -1;
}

static void header_missing(struct parser *p, size_t upto)
{
	size_t j;

	for (j = p->hpos; j < upto; j++)
		if (header_fields[j].required && !p->hseen[j])
			perr(p, "missing '%s' line in the header", header_fields[j].name);
}

static void header_line(struct parser *p, int i)
{
	const struct header_field *f = &header_fields[i];

	if (p->hseen[i] && !f->repeat) {
		perr(p, "duplicate '%s' (first at line %u)", f->name, p->hseen[i]);
		return;
	}
	if ((size_t)i < p->hpos) {
		perr(p, "'%s' out of order (header order: network, cidr, cidr6, serial, issued, "
		    "expires, admin, endorse, engineer-ca)", f->name);
		return;
	}
	header_missing(p, (size_t)i);
	p->hpos = f->repeat ? (size_t)i : (size_t)i + 1;
	p->hseen[i] = p->line;
	if (p->ntok - 1 != f->nargs) {
		perr(p, "'%s' takes %zu value%s, not %zu", f->name, f->nargs,
		    f->nargs == 1 ? "" : "s", p->ntok - 1);
		return;
	}
	f->fn(p);
}

static void header_finish(struct parser *p)
{
	if (p->header_done)
		return;
	header_missing(p, N_HEADER);
	p->header_done = true;
}

/* ---- node fields ---- */

static bool f_key(struct parser *p)
{
	struct roster_node *n = cur_node(p);
	struct key_rec *k;

	if (!key_from_base64(n->key, p->tok[1])) {
		perr(p, "bad WireGuard key '%s' (expected 44 characters of base64)", q(p, p->tok[1]));
		return false;
	}
	k = push(p, &p->keys, &p->n_keys, sizeof(*p->keys));
	if (!k)
		return false;
	memcpy(k->key, n->key, KEY_LEN);
	k->line = p->line;
	k->owner = p->r->n_nodes - 1;
	return true;
}

static bool f_address(struct parser *p)
{
	struct roster_node *n = cur_node(p);
	const struct roster_prefix *net;
	struct addr_rec *a;
	char s[INET6_ADDRSTRLEN + 8];
	uint8_t addr[16];
	unsigned bits, i;
	bool ones = true, zeros = true;
	int fam;

	if (!roster_address_parse(&fam, addr, p->tok[1])) {
		perr(p, "bad address '%s' (an IPv4 or canonical IPv6 address)", q(p, p->tok[1]));
		return false;
	}
	if (fam == AF_INET ? n->has_addr4 : n->has_addr6) {
		perr(p, "node '%s' has a second %s address", n->name, fam == AF_INET ? "IPv4" : "IPv6");
		return false;
	}
	if (fam == AF_INET && n->has_addr6) {
		perr(p, "IPv4 address after the IPv6 one (v4 comes first)");
		return false;
	}
	if (fam == AF_INET6 && !p->r->has_cidr6) {
		perr(p, "IPv6 address %s but the network has no cidr6", p->tok[1]);
		return false;
	}
	net = fam == AF_INET ? &p->r->cidr4 : &p->r->cidr6;
	if (net->family && !roster_prefix_contains(net, fam, addr)) {
		roster_prefix_format(s, sizeof(s), net);
		perr(p, "address %s is outside the network's cidr %s", p->tok[1], s);
		return false;
	}
	/* Network (and IPv4 broadcast) addresses are not node addresses. */
	bits = fam == AF_INET ? 32 : 128;
	for (i = net->cidr; i < bits; i++) {
		bool bit = addr[i / 8] & (0x80 >> (i % 8));

		ones &= bit;
		zeros &= !bit;
	}
	if (net->family && net->cidr < bits - 1 && (zeros || (fam == AF_INET && ones))) {
		perr(p, "address %s is the %s address of the network", p->tok[1],
		    zeros ? "network" : "broadcast");
		return false;
	}
	if (fam == AF_INET) {
		memcpy(n->addr4, addr, 4);
		n->has_addr4 = true;
	} else {
		memcpy(n->addr6, addr, 16);
		n->has_addr6 = true;
	}
	a = push(p, &p->addrs, &p->n_addrs, sizeof(*p->addrs));
	if (!a)
		return false;
	memset(&a->p, 0, sizeof(a->p));
	a->p.family = fam;
	memcpy(a->p.addr, addr, 16);
	a->p.cidr = (uint8_t)bits;
	a->line = p->line;
	a->owner = p->r->n_nodes - 1;
	return true;
}

static bool f_subnet(struct parser *p)
{
	struct roster_node *n = cur_node(p);
	struct roster_prefix pf, *slot;
	struct addr_rec *a;
	char s[INET6_ADDRSTRLEN + 8];
	int c;

	if (!roster_prefix_parse(&pf, p->tok[1])) {
		perr(p, "bad subnet '%s' (expected ADDRESS/LENGTH with host bits clear)",
		    q(p, p->tok[1]));
		return false;
	}
	if (n->n_subnets) {
		c = roster_prefix_cmp(&n->subnets[n->n_subnets - 1], &pf);
		if (c == 0) {
			perr(p, "duplicate subnet %s", p->tok[1]);
			return false;
		}
		if (c > 0)
			perr(p, "subnets not sorted (IPv4 before IPv6, then by address and length)");
	}
	if (roster_prefix_overlaps(&pf, &p->r->cidr4) ||
	    (p->r->has_cidr6 && roster_prefix_overlaps(&pf, &p->r->cidr6))) {
		roster_prefix_format(s, sizeof(s), pf.family == AF_INET ? &p->r->cidr4 : &p->r->cidr6);
		perr(p, "subnet %s overlaps the overlay cidr %s", p->tok[1], s);
		return false;
	}
	slot = push(p, &n->subnets, &n->n_subnets, sizeof(*n->subnets));
	a = slot ? push(p, &p->subnets, &p->n_subnets, sizeof(*p->subnets)) : NULL;
	if (!a)
		return false;
	*slot = pf;
	a->p = pf;
	a->line = p->line;
	a->owner = p->r->n_nodes - 1;
	return true;
}

static bool f_endpoint(struct parser *p)
{
	struct roster_node *n = cur_node(p);
	struct roster_endpoint e, *slot;
	struct roster_prefix ep = { 0 };
	struct addr_rec *a;

	if (!roster_endpoint_parse(&e, p->tok[1])) {
		perr(p, "bad endpoint '%s' (HOST:PORT, [IPv6]:PORT; lowercase names, port 1-65535)",
		    q(p, p->tok[1]));
		return false;
	}
	slot = push(p, &n->endpoints, &n->n_endpoints, sizeof(*n->endpoints));
	if (!slot)
		return false;
	*slot = e;
	/* A literal address must stay outside every prefix the nodes route into the tunnel
	 * (check_endpoints); a name cannot be checked here. */
	if (inet_pton(AF_INET, e.host, ep.addr) == 1)
		ep.family = AF_INET, ep.cidr = 32;
	else if (inet_pton(AF_INET6, e.host, ep.addr) == 1)
		ep.family = AF_INET6, ep.cidr = 128;
	else
		return true;
	if (roster_prefix_overlaps(&ep, &p->r->cidr4) ||
	    (p->r->has_cidr6 && roster_prefix_overlaps(&ep, &p->r->cidr6))) {
		perr(p, "endpoint %s is inside the overlay cidr: every node would route the "
		    "tunnel's own packets to it into the tunnel", p->tok[1]);
		return false;
	}
	if (!(a = push(p, &p->endpoints, &p->n_endpoints, sizeof(*p->endpoints))))
		return false;
	a->p = ep;
	a->line = p->line;
	a->owner = p->r->n_nodes - 1;
	return true;
}

static bool f_group(struct parser *p)
{
	struct roster_node *n = cur_node(p);
	char (*slot)[ROSTER_NAME_MAX + 1];
	int c;

	if (!roster_name_valid(p->tok[1])) {
		perr(p, "bad group name '%s'", q(p, p->tok[1]));
		return false;
	}
	if (n->n_groups) {
		c = strcmp(n->groups[n->n_groups - 1], p->tok[1]);
		if (c == 0) {
			perr(p, "duplicate group %s", p->tok[1]);
			return false;
		}
		if (c > 0)
			perr(p, "groups not sorted");
	}
	slot = push(p, &n->groups, &n->n_groups, sizeof(*n->groups));
	if (!slot)
		return false;
	strcpy(*slot, p->tok[1]);
	slot = push(p, &p->groups, &p->n_groups, sizeof(*p->groups));
	if (!slot)
		return false;
	strcpy(*slot, p->tok[1]);
	return true;
}

/* ---- engineer fields ---- */

static bool f_ssh_key(struct parser *p)
{
	struct roster_engineer *e = cur_engineer(p);
	struct roster_ssh_key k, *slot;
	struct ssh_rec *rec;
	char why[128];

	if (!roster_ssh_key_parse(&k, p->rest, why, sizeof(why))) {
		perr(p, "bad SSH key: %s", why);
		return false;
	}
	slot = push(p, &e->ssh_keys, &e->n_ssh_keys, sizeof(*e->ssh_keys));
	if (!slot) {
		roster_ssh_key_free(&k);
		return false;
	}
	*slot = k;
	rec = push(p, &p->ssh, &p->n_ssh, sizeof(*p->ssh));
	if (!rec)
		return false;
	rec->blob = k.blob;
	rec->len = k.blob_len;
	rec->line = p->line;
	rec->owner = p->r->n_engineers - 1;
	return true;
}

static bool f_allow(struct parser *p)
{
	struct roster_engineer *e = cur_engineer(p);
	struct roster_allow a, *slot;
	struct target_rec *t;
	uint16_t lo, hi;
	int c;

	/* The ports are the next token: a ':' belongs only to "group:" or an IPv6 prefix. */
	if (strchr(p->tok[1], '/') ? strchr(strchr(p->tok[1], '/'), ':') != NULL :
	    strchr(p->tok[1], ':') && strncmp(p->tok[1], "group:", 6) != 0) {
		perr(p, "bad allow target '%s' (a node, group:NAME, * or a prefix)", q(p, p->tok[1]));
		return false;
	}
	if (!roster_allow_parse(&a, p->tok[1])) {
		perr(p, "bad allow target '%s' (a node, group:NAME, * or a prefix)", q(p, p->tok[1]));
		return false;
	}
	if (!roster_ports_parse(&a.port_lo, &a.port_hi, p->tok[2], false)) {
		if (roster_ports_parse(&lo, &hi, p->tok[2], true) && lo == 1 && hi == 65535)
			perr(p, "non-canonical ports '*' (write 1-65535)");
		else
			perr(p, "bad ports '%s' (N or N-M with N < M, 1-65535)", q(p, p->tok[2]));
		return false;
	}
	if (p->ntok == 5) {
		if (strcmp(p->tok[3], "until") != 0) {
			perr(p, "expected 'until TIME' after the ports, not '%s'", q(p, p->tok[3]));
			return false;
		}
		if (!roster_time_parse(&a.until, p->tok[4])) {
			perr(p, "bad until time '%s' (expected YYYY-MM-DDTHH:MM:SSZ)",
			    q(p, p->tok[4]));
			return false;
		}
		a.has_until = true;
	}
	if (e->n_allows) {
		c = roster_allow_cmp(&e->allows[e->n_allows - 1], &a);
		if (c == 0) {
			perr(p, "duplicate allow %s %s", p->tok[1], p->tok[2]);
			return false;
		}
		if (c > 0)
			perr(p, "allows not sorted (by target, then ports)");
	}
	slot = push(p, &e->allows, &e->n_allows, sizeof(*e->allows));
	if (!slot)
		return false;
	*slot = a;
	if (strcmp(a.target, "*") == 0)
		return true;
	t = push(p, &p->targets, &p->n_targets, sizeof(*p->targets));
	if (!t)
		return false;
	t->owner = p->r->n_engineers - 1;
	t->allow = e->n_allows - 1;
	t->line = p->line;
	return true;
}

struct field {
	const char *name;
	size_t nargs;		/* 0: at least 2 (the SSH key line carries an optional comment) */
	size_t nargs_alt;	/* another exact count, 0: none ("allow T P until TIME") */
	int rank;		/* canonical order: non-decreasing rank */
	bool once;
	bool (*fn)(struct parser *p);
};

static const struct field node_fields[] = {
	{ "key", 1, 0, 0, true, f_key },
	{ "address", 1, 0, 1, false, f_address },
	{ "subnet", 1, 0, 2, false, f_subnet },
	{ "endpoint", 1, 0, 3, false, f_endpoint },
	{ "group", 1, 0, 4, false, f_group },
	{ NULL, 0, 0, 0, false, NULL },
};

static bool f_cert_principal(struct parser *p)
{
	struct roster_engineer *e = cur_engineer(p);

	if (!roster_cert_principal_valid(e->name, p->tok[1])) {
		perr(p, "bad cert-principal '%s' (expected %s# and %d to %d of a-z 0-9)",
		    q(p, p->tok[1]), e->name, ROSTER_CERT_TOKEN_MIN, ROSTER_CERT_TOKEN_MAX);
		return false;
	}
	snprintf(e->cert_principal, sizeof(e->cert_principal), "%s", p->tok[1]);
	return true;
}

static const struct field engineer_fields[] = {
	{ "ssh-key", 0, 0, 0, false, f_ssh_key },
	{ "cert-principal", 1, 0, 1, true, f_cert_principal },
	{ "allow", 2, 4, 2, false, f_allow },
	{ NULL, 0, 0, 0, false, NULL },
};

static void field_line(struct parser *p)
{
	const struct field *table, *f;
	const char *what;

	if (p->block != BLOCK_NODE && p->block != BLOCK_ENGINEER) {
		perr(p, "indented line outside a node or engineer");
		return;
	}
	table = p->block == BLOCK_NODE ? node_fields : engineer_fields;
	what = p->block == BLOCK_NODE ? "node" : "engineer";
	for (f = table; f->name; f++)
		if (strcmp(f->name, p->tok[0]) == 0)
			break;
	if (!f->name) {
		perr(p, "unknown %s field '%s'", what, q(p, p->tok[0]));
		return;
	}
	if (f->rank < p->rank) {
		perr(p, "'%s' out of order in %s (order: %s)", f->name, what,
		    p->block == BLOCK_NODE ? "key, address, subnet, endpoint, group" :
		    "ssh-key, cert-principal, allow");
		return;
	}
	if (f->once && p->rank_line[f->rank]) {
		perr(p, "duplicate '%s' (first at line %u)", f->name, p->rank_line[f->rank]);
		return;
	}
	if (f->nargs ? p->ntok - 1 != f->nargs && p->ntok - 1 != f->nargs_alt : p->ntok < 3) {
		if (f->nargs_alt)
			perr(p, "'%s' takes %zu or %zu values, not %zu", f->name, f->nargs,
			    f->nargs_alt, p->ntok - 1);
		else
			perr(p, "'%s' takes %s%zu value%s", f->name, f->nargs ? "" : "at least ",
			    f->nargs ? f->nargs : 2, (f->nargs ? f->nargs : 2) == 1 ? "" : "s");
		return;
	}
	p->rank = f->rank;
	if (!p->rank_line[f->rank])
		p->rank_line[f->rank] = p->line;
	f->fn(p);
}

/* ---- blocks ---- */

static void block_finish(struct parser *p)
{
	if (p->block == BLOCK_NODE) {
		struct roster_node *n = cur_node(p);

		if (!p->rank_line[0])
			errat(p, n->line, "node '%s' has no key", n->name);
		/* An address line that failed was reported where it was read. */
		if (!n->has_addr4 && !n->has_addr6 && !p->rank_line[1])
			errat(p, n->line, "node '%s' has no address", n->name);
	} else if (p->block == BLOCK_ENGINEER) {
		struct roster_engineer *e = cur_engineer(p);

		/* With an engineer CA, a certificate alone may identify her (docs/roster.md). */
		if (!e->n_ssh_keys && !p->rank_line[0] && !p->r->has_engineer_ca)
			errat(p, e->line, "engineer '%s' has no ssh-key (and the roster has no "
			    "engineer-ca)", e->name);
	}
	p->block = BLOCK_NONE;
	p->rank = 0;
	memset(p->rank_line, 0, sizeof(p->rank_line));
}

static void open_node(struct parser *p)
{
	struct roster *r = p->r;
	struct roster_node *n;
	int c;

	if (r->n_engineers) {
		perr(p, "node after engineers (nodes come first)");
		return;
	}
	if (!roster_name_valid(p->tok[1])) {
		perr(p, "bad node name '%s' (lowercase letters, digits, '.', '-'; at most %d)",
		    q(p, p->tok[1]), ROSTER_NAME_MAX);
		return;
	}
	if (r->n_nodes) {
		c = strcmp(r->nodes[r->n_nodes - 1].name, p->tok[1]);
		if (c == 0) {
			perr(p, "duplicate node name '%s' (first at line %u)", p->tok[1],
			    r->nodes[r->n_nodes - 1].line);
			return;
		}
		if (c > 0)
			perr(p, "nodes not sorted: '%s' after '%s'", p->tok[1],
			    r->nodes[r->n_nodes - 1].name);
	}
	n = push(p, &r->nodes, &r->n_nodes, sizeof(*r->nodes));
	if (!n)
		return;
	memset(n, 0, sizeof(*n));
	strcpy(n->name, p->tok[1]);
	n->line = p->line;
	p->block = BLOCK_NODE;
}

static void open_engineer(struct parser *p)
{
	struct roster *r = p->r;
	struct roster_engineer *e;
	int c;

	if (!roster_name_valid(p->tok[1])) {
		perr(p, "bad engineer name '%s' (lowercase letters, digits, '.', '-'; at most %d)",
		    q(p, p->tok[1]), ROSTER_NAME_MAX);
		return;
	}
	if (r->n_engineers) {
		c = strcmp(r->engineers[r->n_engineers - 1].name, p->tok[1]);
		if (c == 0) {
			perr(p, "duplicate engineer name '%s' (first at line %u)", p->tok[1],
			    r->engineers[r->n_engineers - 1].line);
			return;
		}
		if (c > 0)
			perr(p, "engineers not sorted: '%s' after '%s'", p->tok[1],
			    r->engineers[r->n_engineers - 1].name);
	}
	e = push(p, &r->engineers, &r->n_engineers, sizeof(*r->engineers));
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	strcpy(e->name, p->tok[1]);
	e->line = p->line;
	p->block = BLOCK_ENGINEER;
}

/* "policy default deny" (first, once) or "policy allow|deny FROM -> TO PROTO[/PORTS]". */
static void policy_line(struct parser *p)
{
	struct roster *r = p->r;
	struct roster_policy_rule rule, *slot;
	char why[160];
	int c;

	p->in_policy = true;
	if (p->ntok >= 2 && strcmp(p->tok[1], "default") == 0) {
		if (p->ntok != 3 || (strcmp(p->tok[2], "deny") && strcmp(p->tok[2], "allow")))
			perr(p, "expected 'policy default deny'");
		else if (strcmp(p->tok[2], "allow") == 0)
			perr(p, "non-canonical 'policy default allow' (allow is the default: write "
			    "nothing)");
		else if (r->policy_default_deny || r->n_policy)
			perr(p, "'policy default deny' comes once, before the rules");
		else
			r->policy_default_deny = true;
		return;
	}
	if (!p->rest || !roster_policy_rule_parse(&rule, p->rest, why, sizeof(why))) {
		perr(p, "%s", p->rest ? why : "expected 'policy allow|deny FROM -> TO PROTO'");
		return;
	}
	rule.line = p->line;
	if (r->n_policy) {
		c = roster_policy_cmp(&r->policy[r->n_policy - 1], &rule);
		if (c == 0) {
			perr(p, "duplicate policy rule (first at line %u)",
			    r->policy[r->n_policy - 1].line);
			return;
		}
		if (c > 0)
			perr(p, "policy rules not sorted (deny before allow, then by from, to, "
			    "protocol, ports)");
	}
	slot = push(p, &r->policy, &r->n_policy, sizeof(*r->policy));
	if (slot)
		*slot = rule;
}

static void top_line(struct parser *p)
{
	const char *k = p->tok[0];
	bool node = strcmp(k, "node") == 0, eng = strcmp(k, "engineer") == 0;
	bool sig = strcmp(k, "signature") == 0, pol = strcmp(k, "policy") == 0;
	int h = header_index(k);

	if (p->sig_line) {
		perr(p, "line after the signature (the signature line is last)");
		return;
	}
	if (h >= 0 && !p->header_done) {
		header_line(p, h);
		return;
	}
	if (h >= 0) {
		perr(p, "'%s' belongs in the header, before the first node", k);
		return;
	}
	if (!node && !eng && !sig && !pol) {
		perr(p, "unknown field '%s'", q(p, k));
		return;
	}
	header_finish(p);
	block_finish(p);
	if (pol) {
		policy_line(p);
		return;
	}
	if ((node || eng) && p->in_policy) {
		perr(p, "%s after policy lines (nodes, engineers, then policy)", k);
		return;
	}
	if (p->ntok != 2) {
		perr(p, "'%s' takes 1 value, not %zu", k, p->ntok - 1);
		if (sig)
			p->sig_line = p->line;
		return;
	}
	if (node) {
		open_node(p);
	} else if (eng) {
		open_engineer(p);
	} else {
		p->sig_line = p->line;
		p->block = BLOCK_SIGNATURE;
		if (!sig_decode(p->r->signature, p->tok[1]))
			perr(p, "bad signature '%s' (expected 88 characters of base64)",
			    q(p, p->tok[1]));
		else
			p->r->has_signature = true;
	}
}

/* The first line names the format; anything else there is not a roster at all. */
static void version_line(struct parser *p, const char *s, size_t len)
{
	uint64_t v;
	char ver[24];
	size_t n;

	if (len < 14 || memcmp(s, "warren-roster ", 14) != 0) {
		perr(p, "not a warren roster (expected 'warren-roster %d' on the first line)",
		    ROSTER_VERSION);
		p->stop = true;
		return;
	}
	n = len - 14 < sizeof(ver) - 1 ? len - 14 : sizeof(ver) - 1;
	memcpy(ver, s + 14, n);
	ver[n] = '\0';
	if (strlen(ver) != len - 14 || !roster_u64_parse(&v, ver, UINT32_MAX) ||
	    v != ROSTER_VERSION) {
		perr(p, "unsupported roster version %s", q(p, ver));
		p->stop = true;
		return;
	}
	p->r->version = (unsigned)v;
}

/* A line refused by the lexical rules still says what it was meant to be: note its keyword,
 * so one bad line gives one error, not a "missing ..." cascade after it. */
static void note_skipped(struct parser *p, const char *s, size_t len)
{
	const struct field *f;
	char k[16];
	size_t n = 0, start = 0;
	int h;

	while (start < len && (s[start] == '\t' || s[start] == ' '))
		start++;
	while (start + n < len && n < sizeof(k) - 1 && s[start + n] != ' ' && s[start + n] != '\r')
		n++;
	memcpy(k, s + start, n);
	k[n] = '\0';
	h = header_index(k);
	if (start == 0 && h >= 0 && !p->header_done && !p->hseen[h] && (size_t)h >= p->hpos) {
		p->hseen[h] = p->line;
		p->hpos = header_fields[h].repeat ? (size_t)h : (size_t)h + 1;
		return;
	}
	if (start == 0 || (p->block != BLOCK_NODE && p->block != BLOCK_ENGINEER))
		return;
	for (f = p->block == BLOCK_NODE ? node_fields : engineer_fields; f->name; f++)
		if (strcmp(f->name, k) == 0 && f->rank >= p->rank) {
			p->rank = f->rank;
			if (!p->rank_line[f->rank])
				p->rank_line[f->rank] = p->line;
		}
}

/* Lexical rules first (they are what make the text canonical), then the grammar. */
static void one_line(struct parser *p, const char *s, size_t len)
{
	size_t i, start;
	bool field;

	if (len > ROSTER_LINE_MAX) {
		perr(p, "line too long (%zu bytes; at most %d)", len, ROSTER_LINE_MAX);
		return;
	}
	/* The first line names the format: anything else is not a roster at all. */
	if (p->line == 1) {
		version_line(p, s, len);
		return;
	}
	if (len == 0) {
		perr(p, "blank line");
		return;
	}
	if (s[len - 1] == '\r') {
		perr(p, "CR before LF (expected LF line ends)");
		return;
	}
	if (s[0] == '\t' && len > 1 && (s[1] == ' ' || s[1] == '\t')) {
		perr(p, "expected exactly one tab before a field");
		return;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && !(c == '\t' && i == 0)) || c == 0x7f) {
			perr(p, "control character 0x%02x at column %zu", c, i + 1);
			return;
		}
	}
	if (s[len - 1] == ' ' || s[len - 1] == '\t') {
		perr(p, "trailing space");
		return;
	}
	if (s[0] == '#') {
		perr(p, "comments are not allowed");
		return;
	}
	field = s[0] == '\t';
	if (s[0] == ' ') {
		perr(p, p->block == BLOCK_NODE || p->block == BLOCK_ENGINEER ?
		    "expected tab indentation" : "leading space");
		return;
	}
	start = field ? 1 : 0;
	memcpy(p->buf, s + start, len - start);
	p->buf[len - start] = '\0';
	memcpy(p->raw, p->buf, len - start + 1);
	p->ntok = 0;
	p->rest = NULL;
	for (i = 0; i < len - start;) {
		if (p->buf[i] == ' ') {
			perr(p, "more than one space between tokens");
			return;
		}
		if (p->ntok == 1 && !p->rest)
			p->rest = p->raw + i;
		if (p->ntok < MAX_TOKENS)
			p->tok[p->ntok] = &p->buf[i];
		p->ntok++;
		while (i < len - start && p->buf[i] != ' ')
			i++;
		if (i < len - start)
			p->buf[i++] = '\0';
	}
	if (p->ntok > MAX_TOKENS && strcmp(p->tok[0], "ssh-key") != 0) {
		perr(p, "too many values on the line");
		return;
	}
	if (p->ntok > MAX_TOKENS)
		p->ntok = MAX_TOKENS;
	if (field) {
		field_line(p);
		return;
	}
	if (p->ntok < 2) {
		perr(p, "'%s' without a value", q(p, p->tok[0]));
		return;
	}
	top_line(p);
}

/* ---- cross-entry checks ---- */

static int key_rec_cmp(const void *a, const void *b)
{
	const struct key_rec *x = a, *y = b;
	int c = memcmp(x->key, y->key, KEY_LEN);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int addr_rec_cmp(const void *a, const void *b)
{
	const struct addr_rec *x = a, *y = b;
	int c = roster_prefix_cmp(&x->p, &y->p);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int ssh_rec_cmp(const void *a, const void *b)
{
	const struct ssh_rec *x = a, *y = b;
	int c;

	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->blob, y->blob, x->len);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void check_keys(struct parser *p)
{
	size_t i;

	array_sort(p->keys, p->n_keys, sizeof(*p->keys), key_rec_cmp);
	for (i = 1; i < p->n_keys; i++)
		if (memcmp(p->keys[i - 1].key, p->keys[i].key, KEY_LEN) == 0)
			errat(p, p->keys[i].line, "WireGuard key already used by node '%s' (line %u)",
			    p->r->nodes[p->keys[i - 1].owner].name, p->keys[i - 1].line);
}

static void check_addrs(struct parser *p)
{
	char s[INET6_ADDRSTRLEN];
	size_t i;

	array_sort(p->addrs, p->n_addrs, sizeof(*p->addrs), addr_rec_cmp);
	for (i = 1; i < p->n_addrs; i++) {
		if (roster_prefix_cmp(&p->addrs[i - 1].p, &p->addrs[i].p) != 0)
			continue;
		roster_address_format(s, sizeof(s), p->addrs[i].p.family, p->addrs[i].p.addr);
		errat(p, p->addrs[i].line, "address %s already used by node '%s' (line %u)", s,
		    p->r->nodes[p->addrs[i - 1].owner].name, p->addrs[i - 1].line);
	}
}

/* Sorted by address then length, prefixes nest or are disjoint: one overlaps an earlier one
 * exactly when it overlaps the last one not nested in another. */
static void check_subnets(struct parser *p)
{
	char s[INET6_ADDRSTRLEN + 8], t[INET6_ADDRSTRLEN + 8];
	const struct addr_rec *cover = NULL, *cur;
	size_t i;

	array_sort(p->subnets, p->n_subnets, sizeof(*p->subnets), addr_rec_cmp);
	for (i = 0; i < p->n_subnets; i++) {
		cur = &p->subnets[i];
		if (cover && roster_prefix_overlaps(&cover->p, &cur->p)) {
			roster_prefix_format(s, sizeof(s), &cur->p);
			roster_prefix_format(t, sizeof(t), &cover->p);
			/* A duplicate within one node was reported where it was read. */
			if (cover->owner != cur->owner || roster_prefix_cmp(&cover->p, &cur->p))
				errat(p, cur->line, "subnet %s overlaps %s of node '%s' (line %u)", s,
				    t, p->r->nodes[cover->owner].name, cover->line);
			continue;
		}
		cover = cur;
	}
}

/* Every node routes every other node's subnets into the tunnel, so an endpoint inside a
 * subnet would have its encrypted packets sent into the tunnel they carry: that node is cut
 * off.  check_subnets sorted the subnets; those that do not overlap (anything else is an error
 * already) are disjoint, so the only one that can hold an address is the last one starting at
 * or below it: a binary search, not a scan, per endpoint. */
static void check_endpoints(struct parser *p)
{
	char s[INET6_ADDRSTRLEN + 8], e[INET6_ADDRSTRLEN];
	const struct addr_rec *ep, *sub;
	size_t i, lo, hi, mid;

	for (i = 0; i < p->n_endpoints; i++) {
		ep = &p->endpoints[i];
		lo = 0;
		hi = p->n_subnets;	/* the answer is lo - 1: subnets[0, lo) start at or below */
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (addr_rec_cmp(&p->subnets[mid], ep) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0)
			continue;
		sub = &p->subnets[lo - 1];
		if (!roster_prefix_overlaps(&sub->p, &ep->p))
			continue;
		roster_prefix_format(s, sizeof(s), &sub->p);
		roster_address_format(e, sizeof(e), ep->p.family, ep->p.addr);
		errat(p, sub->line, "subnet %s of node '%s' contains endpoint %s of node '%s' "
		    "(line %u): the nodes would route that endpoint's tunnel packets into the tunnel",
		    s, p->r->nodes[sub->owner].name, e, p->r->nodes[ep->owner].name, ep->line);
	}
}

static void check_ssh(struct parser *p)
{
	size_t i;

	array_sort(p->ssh, p->n_ssh, sizeof(*p->ssh), ssh_rec_cmp);
	for (i = 1; i < p->n_ssh; i++)
		if (p->ssh[i - 1].owner == p->ssh[i].owner && p->ssh[i - 1].len == p->ssh[i].len &&
		    memcmp(p->ssh[i - 1].blob, p->ssh[i].blob, p->ssh[i].len) == 0)
			errat(p, p->ssh[i].line, "duplicate SSH key (first at line %u)",
			    p->ssh[i - 1].line);
}

/* A policy rule's FROM or TO names something this roster has. */
static void policy_target_check(struct parser *p, const struct roster_allow *a, unsigned line,
    const char *side)
{
	if (strcmp(a->target, "*") == 0)
		return;
	if (a->is_prefix) {
		if (!roster_allow_target_exists(p->r, a))
			errat(p, line, "policy %s names prefix %s that is inside no node's subnet nor "
			    "the overlay cidr", side, a->target);
	} else if (strncmp(a->target, "group:", 6) == 0) {
		if (!array_search(a->target + 6, p->groups, p->n_groups, sizeof(*p->groups),
		    name_cmp))
			errat(p, line, "policy %s names group '%s' that no node is in", side,
			    a->target + 6);
	} else if (!roster_node_find(p->r, a->target)) {
		errat(p, line, "policy %s names node '%s' that is not in the roster", side,
		    a->target);
	}
}

static void check_targets(struct parser *p)
{
	const struct roster_allow *a;
	size_t i;

	array_sort(p->groups, p->n_groups, sizeof(*p->groups), name_cmp);
	for (i = 0; i < p->r->n_policy; i++) {
		policy_target_check(p, &p->r->policy[i].from, p->r->policy[i].line, "FROM");
		policy_target_check(p, &p->r->policy[i].to, p->r->policy[i].line, "TO");
	}
	for (i = 0; i < p->n_targets; i++) {
		a = &p->r->engineers[p->targets[i].owner].allows[p->targets[i].allow];
		if (a->is_prefix) {
			/* Only what the overlay reaches: hosts behind a node, or nodes. */
			if (!roster_allow_target_exists(p->r, a))
				errat(p, p->targets[i].line, "allow names prefix %s that is inside no "
				    "node's subnet nor the overlay cidr", a->target);
		} else if (strncmp(a->target, "group:", 6) == 0) {
			if (!array_search(a->target + 6, p->groups, p->n_groups, sizeof(*p->groups),
			    name_cmp))
				errat(p, p->targets[i].line, "allow names group '%s' that no node is in",
				    a->target + 6);
		} else if (!roster_node_find(p->r, a->target)) {
			errat(p, p->targets[i].line, "allow names node '%s' that is not in the roster",
			    a->target);
		}
	}
}

static void parser_free(struct parser *p)
{
	free(p->keys);
	free(p->addrs);
	free(p->subnets);
	free(p->endpoints);
	free(p->ssh);
	free(p->targets);
	free(p->groups);
}

bool roster_parse(const char *text, size_t len, const char *filename, struct roster *out,
    struct roster_errors *errs)
{
	struct parser *p;
	const char *s = text, *end = text + len, *nl;
	size_t before = errs->count, before_line;
	bool ok;

	roster_init(out);
	p = calloc(1, sizeof(*p));
	if (!p)
		return false;
	p->file = filename ? filename : "<roster>";
	p->r = out;
	p->errs = errs;
	if (len > ROSTER_MAX_BYTES) {
		errat(p, 1, "roster larger than %d bytes", ROSTER_MAX_BYTES);
		goto done;
	}
	if (len == 0) {
		errat(p, 1, "empty file");
		goto done;
	}
	while (s < end && !p->stop) {
		p->line++;
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl) {
			perr(p, "truncated file (no newline at the end)");
			one_line(p, s, (size_t)(end - s));
			break;
		}
		before_line = errs->count;
		one_line(p, s, (size_t)(nl - s));
		if (errs->count != before_line)
			note_skipped(p, s, (size_t)(nl - s));
		s = nl + 1;
	}
	if (p->stop)
		goto done;
	header_finish(p);
	block_finish(p);
	if (p->r->n_endorsements &&
	    sodium_memcmp(p->r->endorsements[p->r->n_endorsements - 1].new_key, p->r->admin_key,
		KEY_LEN) != 0)
		errat(p, p->hseen[header_index("endorse")], "the last endorsement does not endorse "
		    "the admin key");
	check_keys(p);
	check_addrs(p);
	check_subnets(p);
	check_endpoints(p);
	check_ssh(p);
	check_targets(p);
done:
	if (p->oom && errs->count == before)
		errat(p, p->line, "out of memory");
	ok = errs->count == before && !p->oom;
	parser_free(p);
	free(p);
	if (!ok)
		roster_free(out);
	return ok;
}

bool roster_load(const char *path, struct roster *out, struct roster_errors *errs)
{
	struct parser tmp = { .file = path, .errs = errs };
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	bool ok = false;
	int fd;

	roster_init(out);
	/* Non-blocking: a FIFO dropped in place of the file is refused, not waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		errat(&tmp, 0, "cannot open: %s", strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errat(&tmp, 0, "not a regular file");
		goto out;
	}
	if (st.st_size > ROSTER_MAX_BYTES) {
		errat(&tmp, 1, "roster larger than %d bytes", ROSTER_MAX_BYTES);
		goto out;
	}
	/* One byte more than allowed, so a file that grew meanwhile is still caught. */
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		errat(&tmp, 0, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size + 1) {
		n = read(fd, text + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errat(&tmp, 0, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > (size_t)st.st_size) {
		errat(&tmp, 0, "file changed while being read");
		goto out;
	}
	ok = roster_parse(text, len, path, out, errs);
out:
	free(text);
	close(fd);
	return ok;
}
