/* tunneld's roster mode: the accept/reject rules for a candidate roster (size, network,
 * serial, the signature over the raw bytes before any parse, endorsement chain, parse),
 * claiming Roster.new (a newer file dropped while one is read is never deleted unread; an
 * unfinished one is left for its writer), finding ourselves in a roster, and the roster ->
 * struct config conversion; plus the roster-mode keys of the config file.  Rosters are
 * built and signed here with libkeys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/key.h"
#include "keys/lib/roster.h"
#include "tunneld/config.h"
#include "tunneld/device.h"
#include "tunneld/roster_sync.h"

/* Three admin keys: 0 is the pinned one, 1 is endorsed by 0, 2 is a stranger. */
static uint8_t admin_sec[3][ROSTER_ADMIN_SECRET_LEN], admin_pub[3][KEY_LEN];
/* Node keys (X25519): a, b, c, and a's rotation key. */
static uint8_t node_priv[4][KEY_LEN], node_pub[4][KEY_LEN];

static int setup(void **state)
{
	(void)state;
	if (!key_lib_init())
		return -1;
	for (int i = 0; i < 3; i++) {
		/* Deterministic, so a failure reproduces. */
		uint8_t seed[crypto_sign_SEEDBYTES];

		memset(seed, 0xa0 + i, sizeof(seed));
		crypto_sign_seed_keypair(admin_pub[i], admin_sec[i], seed);
	}
	for (int i = 0; i < 4; i++) {
		memset(node_priv[i], 0x31 + i, KEY_LEN);
		node_priv[i][0] &= 248;
		node_priv[i][31] = (node_priv[i][31] & 127) | 64;
		if (!key_public_from_private(node_pub[i], node_priv[i]))
			return -1;
	}
	return 0;
}

static void ip(int family, const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(family, s, out), 1);
}

static void add_node(struct roster *r, const char *name, int key, const char *a4, const char *a6,
    const char *subnet, const char *ep_host, uint16_t ep_port)
{
	struct roster_node *n;

	r->nodes = realloc(r->nodes, (r->n_nodes + 1) * sizeof(*r->nodes));
	assert_non_null(r->nodes);
	n = &r->nodes[r->n_nodes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	memcpy(n->key, node_pub[key], KEY_LEN);
	if (a4) {
		n->has_addr4 = true;
		ip(AF_INET, a4, n->addr4);
	}
	if (a6) {
		n->has_addr6 = true;
		ip(AF_INET6, a6, n->addr6);
	}
	if (subnet) {
		n->subnets = calloc(1, sizeof(*n->subnets));
		assert_non_null(n->subnets);
		n->n_subnets = 1;
		n->subnets[0].family = AF_INET;
		ip(AF_INET, subnet, n->subnets[0].addr);
		n->subnets[0].cidr = 16;
	}
	if (ep_host) {
		n->endpoints = calloc(1, sizeof(*n->endpoints));
		assert_non_null(n->endpoints);
		n->n_endpoints = 1;
		snprintf(n->endpoints[0].host, sizeof(n->endpoints[0].host), "%s", ep_host);
		n->endpoints[0].port = ep_port;
	}
}

/* Network "prod" (or net), 100.64.0.0/16 + fd00:1234::/48; nodes a (key k_a), b, c. */
static void build(struct roster *r, const char *net, uint64_t serial, int k_a)
{
	roster_init(r);
	r->version = ROSTER_VERSION;
	snprintf(r->network, sizeof(r->network), "%s", net);
	r->cidr4.family = AF_INET;
	ip(AF_INET, "100.64.0.0", r->cidr4.addr);
	r->cidr4.cidr = 16;
	r->has_cidr6 = true;
	r->cidr6.family = AF_INET6;
	ip(AF_INET6, "fd00:1234::", r->cidr6.addr);
	r->cidr6.cidr = 48;
	r->serial = serial;
	r->issued = 1795305600;
	add_node(r, "a", k_a, "100.64.0.1", "fd00:1234::1", NULL, "192.0.2.1", 51820);
	add_node(r, "b", 1, "100.64.0.2", "fd00:1234::2", "10.20.0.0", "192.0.2.2", 51821);
	add_node(r, "c", 2, "100.64.0.3", NULL, NULL, NULL, 0);
}

/* The signed text of r, signed by admin key `by` (after endorsements from `chain`). */
static char *signed_text(struct roster *r, int by, size_t *len)
{
	char *t;

	roster_sign(r, admin_sec[by]);
	t = roster_serialize(r, true, len);
	assert_non_null(t);
	return t;
}

static char *make(const char *net, uint64_t serial, int by, bool endorse, size_t *len)
{
	struct roster r;
	char *t;

	build(&r, net, serial, 0);
	if (endorse)
		assert_true(roster_endorse(&r, admin_sec[0], admin_pub[1]));
	t = signed_text(&r, by, len);
	roster_free(&r);
	return t;
}

/* 1..N: candidates against a running roster of serial 7 (network prod), pinned admin 0. */
static void test_check_rules(void **state)
{
	struct roster running, out;
	uint8_t trusted[KEY_LEN];
	char why[512], *t;
	size_t len;

	(void)state;
	t = make("prod", 7, 0, false, &len);
	assert_int_equal(roster_sync_check(NULL, admin_pub[0], t, len, "t", &running, trusted, why,
	    sizeof(why)), ROSTER_OFFER_ACCEPTED);
	free(t);
	assert_int_equal(running.serial, 7);

	static const struct {
		const char *net;
		uint64_t serial;
		int by;			/* signing admin key */
		bool endorse;		/* roster carries endorsement 0 -> 1 */
		int mangle;		/* 0 none, 1 truncate, 2 garbage, 3 flip a body byte, 4 unsigned,
					 * 5 too large, 6 a body the parser refuses and
					 * the signature does not cover */
		enum roster_offer_result want;
		const char *why;	/* substring of the reason */
		int trusted;		/* admin key pinned after acceptance */
	} cases[] = {
		/* 1 */ { "prod", 8, 0, false, 0, ROSTER_OFFER_ACCEPTED, "", 0 },
		/* 2 */ { "prod", 7, 0, false, 0, ROSTER_OFFER_NOT_NEWER, "not newer", 0 },
		/* 3 */ { "prod", 6, 0, false, 0, ROSTER_OFFER_NOT_NEWER, "not newer", 0 },
		/* 4 */ { "prod", 8, 2, false, 0, ROSTER_OFFER_INVALID, "signature", 0 },
		/* 5 */ { "prod", 8, 1, false, 0, ROSTER_OFFER_INVALID, "signature", 0 },
		/* 6 */ { "prod", 8, 1, true, 0, ROSTER_OFFER_ACCEPTED, "", 1 },
		/* 7 */ { "other", 8, 0, false, 0, ROSTER_OFFER_INVALID, "network 'other'", 0 },
		/* 8 */ { "prod", 8, 0, false, 1, ROSTER_OFFER_INVALID, "parse", 0 },
		/* 9 */ { "prod", 8, 0, false, 2, ROSTER_OFFER_INVALID, "parse", 0 },
		/* 10 */ { "prod", 8, 0, false, 3, ROSTER_OFFER_INVALID, "signature", 0 },
		/* 11 */ { "prod", 8, 0, false, 4, ROSTER_OFFER_INVALID, "not signed", 0 },
		/* 12 */ { "prod", 8, 0, false, 5, ROSTER_OFFER_INVALID, "larger", 0 },
		/* 13: a huge serial is fine */
		{ "prod", UINT64_MAX, 0, false, 0, ROSTER_OFFER_ACCEPTED, "", 0 },
		/* 14: the signature is checked over the raw bytes before the parse, so an
		 * unsigned body costs a hash, never a parse: refused for its signature. */
		{ "prod", 8, 0, false, 6, ROSTER_OFFER_INVALID, "signature: bad signature", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum roster_offer_result got;
		char *p;

		t = make(cases[i].net, cases[i].serial, cases[i].by, cases[i].endorse, &len);
		switch (cases[i].mangle) {
		case 1:
			len /= 2;
			break;
		case 2:
			memset(t, '\x01', len);
			break;
		case 3:
			/* b's endpoint port 51821 -> 51822: still parses, no longer signed. */
			p = strstr(t, ":51821");
			assert_non_null(p);
			p[5] = '2';
			break;
		case 4:
			p = strstr(t, "signature ");
			assert_non_null(p);
			len = (size_t)(p - t);
			break;
		case 5:
			len = (size_t)ROSTER_MAX_BYTES + 1;	/* refused before reading */
			break;
		case 6:
			/* b's endpoint port 51821 -> 61821 and its group line made invalid. */
			p = strstr(t, ":51821");
			assert_non_null(p);
			p[1] = '6';
			p = strstr(t, "\tkey ");
			assert_non_null(p);
			p[1] = 'K';
			break;
		}
		memset(trusted, 0, sizeof(trusted));
		why[0] = '\0';
		got = roster_sync_check(&running, admin_pub[0], t, len, "cand", &out, trusted, why,
		    sizeof(why));
		if (got != cases[i].want || !strstr(why, cases[i].why))
			fail_msg("case %zu: got %d (%s), want %d (%s)", i + 1, got, why,
			    cases[i].want, cases[i].why);
		if (got == ROSTER_OFFER_ACCEPTED) {
			assert_int_equal(out.serial, cases[i].serial);
			assert_memory_equal(trusted, admin_pub[cases[i].trusted], KEY_LEN);
			roster_free(&out);
		} else {
			assert_int_equal(out.n_nodes, 0);
		}
		free(t);
	}
	roster_free(&running);
}

/* With no running roster (first one), any network is fine; the pin still applies. */
static void test_check_first(void **state)
{
	struct roster out;
	uint8_t trusted[KEY_LEN];
	char why[512], *t;
	size_t len;

	(void)state;
	t = make("elsewhere", 1, 0, false, &len);
	assert_int_equal(roster_sync_check(NULL, admin_pub[0], t, len, "t", &out, trusted, why,
	    sizeof(why)), ROSTER_OFFER_ACCEPTED);
	roster_free(&out);
	assert_int_equal(roster_sync_check(NULL, admin_pub[2], t, len, "t", &out, trusted, why,
	    sizeof(why)), ROSTER_OFFER_INVALID);
	free(t);
}

/* A body of ROSTER_MAX_BYTES under a signature that does not match costs one hash: refused
 * for its signature with no parse (a parse of it would fail on its junk nodes).  Prints both
 * times: the check, and what a parse of the same bytes costs. */
static void test_check_max_size_unsigned(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster out;
	struct timespec t0, t1, t2;
	uint8_t trusted[KEY_LEN];
	char why[512], *t, *big, *sig;
	size_t len, head, pos, n;

	(void)state;
	t = make("prod", 9, 0, false, &len);
	sig = strstr(t, "signature ");
	assert_non_null(sig);
	head = (size_t)(strstr(t, "node ") - t);
	big = malloc(ROSTER_MAX_BYTES);
	assert_non_null(big);
	memcpy(big, t, head);
	pos = head;
	for (n = 0; pos + 200 < (size_t)ROSTER_MAX_BYTES; n++)
		pos += (size_t)sprintf(big + pos, "node n%07zu\n\tkey AQEBAQEBAQEBAQEBAQEBAQEBAQEB"
		    "AQEBAQEBAQEBAQE=\n\taddress 100.64.%zu.%zu\n", n, (n >> 8) & 0xff, n & 0xff);
	memcpy(big + pos, sig, len - (size_t)(sig - t));
	pos += len - (size_t)(sig - t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(roster_sync_check(NULL, admin_pub[0], big, pos, "big", &out, trusted,
	    why, sizeof(why)), ROSTER_OFFER_INVALID);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(why, "signature: bad signature"));
	assert_false(roster_parse(big, pos, "big", &out, &errs));
	clock_gettime(CLOCK_MONOTONIC, &t2);
	print_message("# %zu-byte body, bad signature: refused in %.1f ms (a parse of it: %.1f ms)\n",
	    pos, (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	    (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
	roster_errors_free(&errs);
	free(big);
	free(t);
}

/* ---- Roster.new is claimed atomically ---- */

/* When armed, the next unlink() first moves hook_src over hook_dst: a newer candidate landing
 * in the instant between tunneld reading Roster.new and removing what it read. */
static char hook_src[PATH_MAX], hook_dst[PATH_MAX];
static bool hook_armed;

int unlink(const char *path)
{
	if (hook_armed) {
		hook_armed = false;
		assert_int_equal(rename(hook_src, hook_dst), 0);
	}
	return unlinkat(AT_FDCWD, path, 0);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 16);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	return buf;
}

struct claim_env {
	char dir[64], roster[PATH_MAX], new_path[PATH_MAX];
	struct event_base *base;
	struct device dev;
	struct roster_sync rs;
};

static void claim_setup(struct claim_env *e)
{
	struct config cfg;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_roster_claim.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->roster, sizeof(e->roster), "%s/roster", e->dir);
	snprintf(e->new_path, sizeof(e->new_path), "%s/roster.new", e->dir);
	e->base = event_base_new();
	assert_non_null(e->base);
	e->dev.base = e->base;
	snprintf(e->dev.ifname, sizeof(e->dev.ifname), "t0");
	config_init(&cfg);
	snprintf(cfg.roster_path, sizeof(cfg.roster_path), "%s", e->roster);
	cfg.has_admin_key = true;
	memcpy(cfg.admin_key, admin_pub[0], KEY_LEN);
	assert_int_equal(roster_sync_init(&e->rs, &e->dev, &cfg), 0);
	config_free(&cfg);
	/* The persister thread starts at the loop's first turn, as in tunneld. */
	assert_int_equal(event_base_loop(e->base, EVLOOP_ONCE), 0);
	assert_true(e->rs.persist_running);
}

/* roster_sync_check_new hands the claim to the persister thread, which wakes the loop when it
 * is done: runs the loop until then (at most 5 s), which also offers what was claimed. */
static void settle_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("the persister thread did not hand the claim back within 5 s");
}

static void claim_settle(struct claim_env *e)
{
	struct timeval tv = { 5, 0 };
	struct event *t = evtimer_new(e->base, settle_timeout, NULL);

	assert_non_null(t);
	assert_int_equal(evtimer_add(t, &tv), 0);
	assert_int_equal(event_base_loop(e->base, EVLOOP_ONCE), 0);
	event_free(t);
}

static void claim_teardown(struct claim_env *e)
{
	char cmd[128];

	roster_sync_free(&e->rs);
	event_base_free(e->base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
}

/* A newer Roster.new that replaces the one being read is never deleted unread. */
static void test_claim_replaced_between_read_and_unlink(void **state)
{
	struct claim_env e;
	char *stranger, *newer, *got;
	size_t slen, nlen, glen = 0;

	(void)state;
	claim_setup(&e);
	stranger = make("prod", 8, 2, false, &slen);	/* rejected: unknown admin key */
	newer = make("prod", 9, 0, false, &nlen);
	write_file(e.new_path, stranger, slen);
	snprintf(hook_src, sizeof(hook_src), "%s/newer", e.dir);
	snprintf(hook_dst, sizeof(hook_dst), "%s", e.new_path);
	write_file(hook_src, newer, nlen);
	hook_armed = true;
	roster_sync_check_new(&e.rs);
	claim_settle(&e);
	hook_armed = false;
	got = slurp(e.new_path, &glen);
	if (!got)
		fail_msg("the newer Roster.new was deleted unread");
	assert_int_equal(glen, nlen);
	assert_memory_equal(got, newer, nlen);
	free(got);
	free(stranger);
	free(newer);
	claim_teardown(&e);
}

/* A Roster.new still being written in place (scp) is left for its writer, not consumed. */
static void test_claim_unfinished_left_in_place(void **state)
{
	struct claim_env e;
	char *t, *got;
	size_t len, glen = 0;

	(void)state;
	claim_setup(&e);
	t = make("prod", 9, 0, false, &len);
	for (size_t cut = 0; cut < len; cut += len / 3) {
		write_file(e.new_path, t, cut);
		roster_sync_check_new(&e.rs);
		claim_settle(&e);
		got = slurp(e.new_path, &glen);
		if (!got)
			fail_msg("a Roster.new of %zu of %zu bytes was consumed", cut, len);
		assert_int_equal(glen, cut);
		free(got);
	}
	/* A finished file, even a rejected one, is consumed. */
	t[len - 2] = t[len - 2] == 'A' ? 'B' : 'A';
	write_file(e.new_path, t, len);
	roster_sync_check_new(&e.rs);
	claim_settle(&e);
	assert_int_equal(access(e.new_path, F_OK), -1);
	free(t);
	claim_teardown(&e);
}

/* A candidate the persister thread claimed (and removed from disk) but the loop never offered,
 * because tunneld stopped in between, is put back for the next start: never lost. */
static void test_claim_put_back_at_stop(void **state)
{
	struct claim_env e;
	char *t, *got;
	size_t len, glen = 0;
	unsigned n = 0;

	(void)state;
	claim_setup(&e);
	t = make("prod", 9, 0, false, &len);
	write_file(e.new_path, t, len);
	roster_sync_check_new(&e.rs);
	/* The loop is not run: wait (at most 5 s) until the claim is handed back. */
	for (int i = 0; i < 500 && !n; i++) {
		pthread_mutex_lock(&e.rs.persist_lock);
		n = e.rs.n_claimed;
		pthread_mutex_unlock(&e.rs.persist_lock);
		if (!n)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(access(e.new_path, F_OK), -1);
	roster_sync_free(&e.rs);
	got = slurp(e.new_path, &glen);
	if (!got)
		fail_msg("a claimed, never offered Roster.new was lost at stop");
	assert_int_equal(glen, len);
	assert_memory_equal(got, t, len);
	free(got);
	free(t);
	/* claim_teardown frees again: roster_sync_free leaves rs reusable for that. */
	claim_teardown(&e);
}

static void test_find_self(void **state)
{
	struct roster r;
	const struct roster_node *n;
	bool is_next;

	(void)state;
	build(&r, "prod", 1, 3);	/* a is enrolled with its rotation key */
	static const struct {
		int ours, next;		/* key indices, -1 none */
		const char *want;	/* NULL: not enrolled */
		bool is_next;
	} cases[] = {
		/* 1 */ { 1, -1, "b", false },
		/* 2 */ { 0, 3, "a", true },
		/* 3 */ { 0, -1, NULL, false },
		/* 4 */ { -1, 2, "c", true },
		/* 5 */ { 2, 1, "c", false },	/* the running key wins */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = roster_sync_find_self(&r, cases[i].ours < 0 ? NULL : node_pub[cases[i].ours],
		    cases[i].next < 0 ? NULL : node_pub[cases[i].next], &is_next);
		if (!cases[i].want) {
			assert_null(n);
			continue;
		}
		assert_non_null(n);
		assert_string_equal(n->name, cases[i].want);
		assert_int_equal(is_next, cases[i].is_next);
	}
	roster_free(&r);
}

static bool has_prefix(const struct config_prefix *v, size_t n, const char *s, uint8_t cidr)
{
	uint8_t a[16] = { 0 };
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;

	ip(family, s, a);
	for (size_t i = 0; i < n; i++) {
		if (v[i].family == family && v[i].cidr == cidr &&
		    memcmp(v[i].addr, a, family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

static void test_to_config(void **state)
{
	struct roster r;
	struct config base, c;
	const struct config_peer *pb, *pc;

	(void)state;
	build(&r, "prod", 1, 0);
	config_init(&base);
	base.has_private_key = true;
	memcpy(base.private_key, node_priv[0], KEY_LEN);
	base.has_listen_port = true;
	base.listen_port = 51820;
	assert_true(roster_sync_to_config(&r, &r.nodes[0], &base, &c));
	assert_true(c.has_private_key);
	assert_memory_equal(c.private_key, node_priv[0], KEY_LEN);
	assert_int_equal(c.listen_port, 51820);
	assert_true(c.replace_peers);
	/* Our addresses carry the overlay's prefix length: the whole overlay routes here. */
	assert_int_equal(c.n_addresses, 2);
	assert_true(has_prefix(c.addresses, c.n_addresses, "100.64.0.1", 16));
	assert_true(has_prefix(c.addresses, c.n_addresses, "fd00:1234::1", 48));
	/* Every other node is a peer. */
	assert_int_equal(c.n_peers, 2);
	pb = &c.peers[0];
	pc = &c.peers[1];
	assert_memory_equal(pb->public_key, node_pub[1], KEY_LEN);
	assert_memory_equal(pc->public_key, node_pub[2], KEY_LEN);
	assert_int_equal(pb->n_allowed_ips, 3);
	assert_true(has_prefix(pb->allowed_ips, pb->n_allowed_ips, "100.64.0.2", 32));
	assert_true(has_prefix(pb->allowed_ips, pb->n_allowed_ips, "fd00:1234::2", 128));
	assert_true(has_prefix(pb->allowed_ips, pb->n_allowed_ips, "10.20.0.0", 16));
	assert_true(pb->replace_allowed_ips);
	assert_true(pb->has_endpoint);
	assert_int_equal(pb->endpoint.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(pb->endpoint.in4.sin_port), 51821);
	assert_int_equal(pb->endpoint.in4.sin_addr.s_addr, inet_addr("192.0.2.2"));
	assert_string_equal(pb->endpoint_host, "192.0.2.2");
	assert_int_equal(pc->n_allowed_ips, 1);
	assert_true(has_prefix(pc->allowed_ips, pc->n_allowed_ips, "100.64.0.3", 32));
	assert_false(pc->has_endpoint);
	config_free(&c);

	/* From b's point of view: a and c. */
	assert_true(roster_sync_to_config(&r, &r.nodes[1], &base, &c));
	assert_int_equal(c.n_peers, 2);
	assert_memory_equal(c.peers[0].public_key, node_pub[0], KEY_LEN);
	assert_memory_equal(c.peers[1].public_key, node_pub[2], KEY_LEN);
	assert_true(has_prefix(c.addresses, c.n_addresses, "100.64.0.2", 16));
	config_free(&c);

	/* Revoked: nothing but the key and the port. */
	assert_true(roster_sync_to_config(&r, NULL, &base, &c));
	assert_int_equal(c.n_peers, 0);
	assert_int_equal(c.n_addresses, 0);
	assert_true(c.has_private_key);
	assert_int_equal(c.listen_port, 51820);
	config_free(&c);
	config_free(&base);
	roster_free(&r);
}

/* Writes body with ADMIN and PRIV replaced by the given keys. */
static void subst(FILE *f, const char *body, const char *admin, const char *priv)
{
	while (*body) {
		if (strncmp(body, "ADMIN", 5) == 0) {
			fputs(admin, f);
			body += 5;
		} else if (strncmp(body, "PRIV", 4) == 0) {
			fputs(priv, f);
			body += 4;
		} else {
			fputc(*body++, f);
		}
	}
}

/* The roster-mode keys of the config file. */
static void test_config_roster_mode(void **state)
{
	char dir[] = "/tmp/test_roster_sync.XXXXXX", path[256], keyp[256], b64[KEY_B64_LEN + 1];
	char admin[KEY_B64_LEN + 1];
	struct config c;
	struct config_errors errs = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(keyp, sizeof(keyp), "%s/wg0.key", dir);
	assert_int_equal(key_file_write(keyp, node_priv[0], true), 0);
	key_to_base64(b64, node_priv[0]);
	key_to_base64(admin, admin_pub[0]);
	static const struct {
		const char *body;	/* after "[Interface]\n"; ADMIN and PRIV are replaced */
		bool ok;
		const char *err;
	} cases[] = {
		/* 1 */ { "PrivateKeyFile = wg0.key\nRoster = roster\nAdminKey = ADMIN\n"
			  "GossipPort = 7946\n", true, NULL },
		/* 2 */ { "PrivateKeyFile = wg0.key\nRoster = roster\nAdminKey = ADMIN\n"
			  "[Peer]\nPublicKey = ADMIN\n", false, "[Peer] sections are not allowed" },
		/* 3 */ { "PrivateKeyFile = wg0.key\nRoster = roster\n", false, "needs AdminKey" },
		/* 4 */ { "PrivateKey = PRIV\nRoster = roster\nAdminKey = ADMIN\n", false,
			  "needs PrivateKeyFile" },
		/* 5 */ { "PrivateKeyFile = wg0.key\nAdminKey = ADMIN\n", false, "only meaningful" },
		/* 6 */ { "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\nGossipPort = -1\n",
			  false, "GossipPort '-1'" },
		/* 7 */ { "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\n"
			  "Address = 100.64.0.1/16\n", false, "Address is not allowed" },
		/* 8 */ { "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = nope\n", false,
			  "invalid AdminKey" },
		/* 9 */ { "PrivateKeyFile = wg0.key\nGossipPort = 7946\n", false, "only meaningful" },
		/* 10: default port */
		{ "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\n", true, NULL },
		/* 11: off */
		{ "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\nGossipPort = 0\n", true,
		  NULL },
		/* 12 */ { "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\n"
			   "RosterExpiryWarning = 36h\n", true, NULL },
		/* 13 */ { "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\n"
			   "RosterExpiryWarning = soon\n", false, "RosterExpiryWarning 'soon' is not a "
			   "duration" },
		/* 14 */ { "PrivateKeyFile = wg0.key\nRosterExpiryWarning = 1d\n", false,
			   "RosterExpiryWarning is only meaningful with Roster" },
		/* 15 */ { "PrivateKeyFile = wg0.key\nRoster = r\nAdminKey = ADMIN\n"
			   "RosterExpiryWarning = 0\n", true, NULL },
	};
	static const uint16_t want_port[] = { [0] = 7946, [9] = 7946, [10] = 0, [11] = 7946,
	    [14] = 7946 };
	/* RosterExpiryWarning: a week unless given. */
	static const uint64_t want_warning[] = { [0] = 604800, [9] = 604800, [10] = 604800,
	    [11] = 129600, [14] = 0 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok, found = false;

		snprintf(path, sizeof(path), "%s/wg0.conf", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fchmod(fileno(f), 0600);
		fprintf(f, "[Interface]\n");
		subst(f, cases[i].body, admin, b64);
		fclose(f);
		ok = config_parse_file(path, &c, &errs, NULL);
		for (size_t j = 0; j < errs.count; j++)
			found = found || (cases[i].err && strstr(errs.msgs[j], cases[i].err));
		if (ok != cases[i].ok || (!ok && !found))
			fail_msg("case %zu: ok %d, first error: %s", i + 1, ok,
			    errs.count ? errs.msgs[0] : "(none)");
		if (i == 0) {
			char want[512];

			snprintf(want, sizeof(want), "%s/roster", dir);
			assert_string_equal(c.roster_path, want);
			assert_string_equal(c.private_key_file, keyp);
			assert_true(c.has_admin_key);
			assert_memory_equal(c.admin_key, admin_pub[0], KEY_LEN);
			assert_true(c.has_gossip_port);
		}
		if (ok) {
			assert_int_equal(c.gossip_port, want_port[i]);
			assert_int_equal(c.roster_expiry_warning, want_warning[i]);
		}
		config_free(&c);
		config_errors_free(&errs);
	}
	unlink(path);
	unlink(keyp);
	rmdir(dir);
}

/* A node's literal endpoint becomes the sockaddr a numeric getaddrinfo gives
 * (config_resolve_endpoint), byte for byte, IPv4 and IPv6; a name is left to the resolver. */
static void test_to_config_endpoints(void **state)
{
	static const struct {
		const char *host;
		uint16_t port;
	} eps[] = {
		{ "192.0.2.7", 1 }, { "198.51.100.255", 65535 }, { "2001:db8::1", 51820 },
		{ "2001:db8:1:2:3:4:5:6", 7 }, { "::ffff:192.0.2.1", 51820 }, { "::1", 2 },
		{ "relay.example.net", 51820 },
	};
	struct config base, c;
	struct roster r;
	char port[8], err[256];
	union wg_sockaddr want;

	(void)state;
	build(&r, "prod", 1, 0);
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		snprintf(r.nodes[1].endpoints[0].host, sizeof(r.nodes[1].endpoints[0].host), "%s",
		    eps[i].host);
		r.nodes[1].endpoints[0].port = eps[i].port;
		config_init(&base);
		assert_true(roster_sync_to_config(&r, &r.nodes[0], &base, &c));
		assert_memory_equal(c.peers[0].public_key, node_pub[1], KEY_LEN);
		assert_string_equal(c.peers[0].endpoint_host, eps[i].host);
		snprintf(port, sizeof(port), "%u", eps[i].port);
		assert_string_equal(c.peers[0].endpoint_port, port);
		memset(&want, 0, sizeof(want));
		if (config_resolve_endpoint(eps[i].host, port, &want, err, sizeof(err)) == 0) {
			assert_true(c.peers[0].has_endpoint);
			assert_false(c.peers[0].endpoint_unresolved);
			assert_memory_equal(&c.peers[0].endpoint, &want, sizeof(want));
		} else {
			assert_false(c.peers[0].has_endpoint);
			assert_true(c.peers[0].endpoint_unresolved);
		}
		config_free(&c);
		config_free(&base);
	}
	roster_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_rules),
		cmocka_unit_test(test_check_first),
		cmocka_unit_test(test_check_max_size_unsigned),
		cmocka_unit_test(test_claim_replaced_between_read_and_unlink),
		cmocka_unit_test(test_claim_unfinished_left_in_place),
		cmocka_unit_test(test_claim_put_back_at_stop),
		cmocka_unit_test(test_find_self),
		cmocka_unit_test(test_to_config),
		cmocka_unit_test(test_to_config_endpoints),
		cmocka_unit_test(test_config_roster_mode),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
