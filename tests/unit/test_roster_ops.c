/* libkeys roster operations: signatures (tampering anywhere fails), admin-key endorsement
 * chains, the rollback rule, address allocation, ACL matching, node diff, atomic save and
 * admin key files. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/roster.h"

/* A small roster built through the API: web-1, web-2 (group web), db-1 (group db). */
static void build(struct roster *r)
{
	static const struct {
		const char *name, *addr, *group;
	} nodes[] = {
		{ "web-1", "100.64.0.1", "web" },
		{ "web-2", "100.64.0.2", "web" },
		{ "db-1", "100.64.0.5", "db" },
	};
	uint8_t a[16];
	size_t i;
	int fam;

	roster_init(r);
	strcpy(r->network, "prod");
	assert_true(roster_prefix_parse(&r->cidr4, "100.64.0.0/24"));
	r->has_cidr6 = roster_prefix_parse(&r->cidr6, "fd00:1234::/120");
	assert_true(r->has_cidr6);
	r->serial = 5;
	r->issued = 1795302000;
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct roster_node *n = roster_node_add(r, nodes[i].name);

		assert_non_null(n);
		memset(n->key, (int)i + 1, KEY_LEN);
		assert_true(roster_address_parse(&fam, a, nodes[i].addr));
		memcpy(n->addr4, a, 4);
		n->has_addr4 = true;
		n->groups = calloc(1, sizeof(*n->groups));
		assert_non_null(n->groups);
		strcpy(n->groups[0], nodes[i].group);
		n->n_groups = 1;
	}
	roster_sort(r);
}

static char *signed_text(struct roster *r, size_t *len)
{
	char *t = roster_serialize(r, true, len);

	assert_non_null(t);
	return t;
}

/* 1. Sign, parse, verify; every single flipped byte of the file fails, parse or verify. */
static void test_sign_verify_tamper(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r, p;
	uint8_t sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN], other[KEY_LEN], trusted[KEY_LEN];
	char *text, why[128];
	size_t len, i, parsed = 0;

	(void)state;
	build(&r);
	assert_int_equal(roster_admin_key_generate(sk, pk), 0);
	roster_sign(&r, sk);
	assert_true(r.has_signature);
	assert_memory_equal(r.admin_key, pk, KEY_LEN);
	text = signed_text(&r, &len);
	assert_true(roster_parse(text, len, "s", &p, &errs));
	memset(trusted, 0, sizeof(trusted));
	assert_true(roster_verify(&p, pk, trusted, why, sizeof(why)));
	assert_memory_equal(trusted, pk, KEY_LEN);
	/* Another pinned key: the signature is fine, the signer is not trusted. */
	memset(other, 7, sizeof(other));
	assert_false(roster_verify(&p, other, trusted, why, sizeof(why)));
	assert_string_equal(why, "admin key not endorsed by the pinned key");
	roster_free(&p);

	for (i = 0; i < len; i++) {
		text[i] ^= 0x01;
		if (roster_parse(text, len, "s", &p, &errs)) {
			parsed++;
			if (roster_verify(&p, pk, trusted, why, sizeof(why))) {
				print_error("flipped byte %zu still verifies\n", i);
				fail();
			}
			roster_free(&p);
		}
		roster_errors_free(&errs);
		text[i] ^= 0x01;
	}
	/* Many flips still parse (keys, digits, names): those must be caught by the signature. */
	assert_true(parsed > 100);
	printf("# %zu of %zu flipped bytes parsed; none verified\n", parsed, len);

	/* Unsigned roster. */
	r.has_signature = false;
	assert_false(roster_verify(&r, pk, trusted, why, sizeof(why)));
	assert_string_equal(why, "roster is not signed");
	free(text);
	roster_free(&r);
	sodium_memzero(sk, sizeof(sk));
}

/* 2. Known answer: a fixed seed signs the fixed roster to a fixed signature (reproducible). */
static void test_sign_deterministic(void **state)
{
	struct roster r1, r2;
	uint8_t seed[32], sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN];
	uint8_t msg[24 + 4 + 64], hash[64];
	char *body;
	size_t len;

	(void)state;
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	build(&r1);
	build(&r2);
	roster_sign(&r1, sk);
	roster_sign(&r2, sk);
	assert_memory_equal(r1.signature, r2.signature, ROSTER_SIG_LEN);
	/* The construction: "warren roster signature\n" || be32(1) || SHA-512(body). */
	body = roster_serialize(&r1, false, &len);
	assert_non_null(body);
	crypto_hash_sha512(hash, (const uint8_t *)body, len);
	memcpy(msg, "warren roster signature\n", 24);
	memcpy(msg + 24, "\0\0\0\1", 4);
	memcpy(msg + 28, hash, 64);
	assert_int_equal(crypto_sign_verify_detached(r1.signature, msg, sizeof(msg), pk), 0);
	free(body);
	roster_free(&r1);
	roster_free(&r2);
}

/* 3. Endorsement chains: K0 -> K1 -> K2. */
static void test_endorsement_chain(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r, p;
	uint8_t sk[3][ROSTER_ADMIN_SECRET_LEN], pk[3][KEY_LEN], stranger[KEY_LEN];
	uint8_t ssk[ROSTER_ADMIN_SECRET_LEN], trusted[KEY_LEN];
	char *text, why[128];
	size_t len, i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(roster_admin_key_generate(sk[i], pk[i]), 0);
	assert_int_equal(roster_admin_key_generate(ssk, stranger), 0);
	build(&r);
	assert_true(roster_endorse(&r, sk[0], pk[1]));
	assert_true(roster_endorse(&r, sk[1], pk[2]));
	roster_sign(&r, sk[2]);
	text = signed_text(&r, &len);
	assert_true(roster_parse(text, len, "e", &p, &errs));
	assert_int_equal(p.n_endorsements, 2);
	/* Chain of length 2 from the first key; from the middle key; the admin key itself. */
	for (i = 0; i < 3; i++) {
		memset(trusted, 0, sizeof(trusted));
		assert_true(roster_verify(&p, pk[i], trusted, why, sizeof(why)));
		assert_memory_equal(trusted, pk[2], KEY_LEN);
	}
	/* An unpinned key reaches nothing. */
	assert_false(roster_verify(&p, stranger, trusted, why, sizeof(why)));
	assert_string_equal(why, "admin key not endorsed by the pinned key");
	/* The endorse lines are part of the signed body. */
	p.endorsements[1].sig[5] ^= 1;
	assert_false(roster_verify(&p, pk[2], trusted, why, sizeof(why)));
	assert_string_equal(why, "bad signature");
	/* A broken link the admin signed anyway: trusted from the admin key, not through it. */
	roster_sign(&p, sk[2]);
	assert_true(roster_verify(&p, pk[2], trusted, why, sizeof(why)));
	assert_false(roster_verify(&p, pk[0], trusted, why, sizeof(why)));
	assert_string_equal(why, "endorsement 2 has a bad signature");
	p.endorsements[1].sig[5] ^= 1;
	/* Endorsements are bound to the network name: they do not carry over to another. */
	strcpy(p.network, "staging");
	roster_sign(&p, sk[2]);
	assert_true(roster_verify(&p, pk[2], trusted, why, sizeof(why)));
	assert_false(roster_verify(&p, pk[0], trusted, why, sizeof(why)));
	assert_string_equal(why, "endorsement 1 has a bad signature");
	roster_free(&p);
	/* A chain signed by a stranger in the middle: K0 -> S, S -> K2 is not reachable from K0
	 * unless K0 signed S; here K1 -> K2 is signed by the stranger instead. */
	roster_free(&r);
	build(&r);
	assert_true(roster_endorse(&r, sk[0], pk[1]));
	assert_true(roster_endorse(&r, ssk, pk[2]));
	memcpy(r.endorsements[1].old_key, pk[1], KEY_LEN);	/* claims K1 signed it */
	roster_sign(&r, sk[2]);
	assert_false(roster_verify(&r, pk[0], trusted, why, sizeof(why)));
	assert_string_equal(why, "endorsement 2 has a bad signature");
	roster_free(&r);
	free(text);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(ssk, sizeof(ssk));
}

/* 4. Rollback and network rules (the caller's rule; roster_is_newer is its helper). */
static const struct {
	const char *run_net, *cand_net;
	uint64_t run_serial, cand_serial;
	bool first, want;
} newer_cases[] = {
	/* 1 */ { "prod", "prod", 5, 6, false, true },
	/* 2 */ { "prod", "prod", 5, 5, false, false },	/* replay */
	/* 3 */ { "prod", "prod", 5, 4, false, false },	/* rollback */
	/* 4 */ { "prod", "staging", 5, 9, false, false },	/* other network */
	/* 5 */ { NULL, "anything", 0, 1, true, true },	/* first roster */
	/* 6 */ { "prod", "prod", 5, UINT64_MAX, false, true },
};

static void test_is_newer(void **state)
{
	struct roster run, cand;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(newer_cases) / sizeof(newer_cases[0]); i++) {
		roster_init(&run);
		roster_init(&cand);
		if (newer_cases[i].run_net)
			strcpy(run.network, newer_cases[i].run_net);
		strcpy(cand.network, newer_cases[i].cand_net);
		run.serial = newer_cases[i].run_serial;
		cand.serial = newer_cases[i].cand_serial;
		why[0] = '\0';
		if (roster_is_newer(newer_cases[i].first ? NULL : &run, &cand, why, sizeof(why)) !=
		    newer_cases[i].want) {
			print_error("newer case %zu\n", i + 1);
			fail();
		}
		if (!newer_cases[i].want)
			assert_true(why[0] != '\0');
	}
}

/* 5. Address allocation. */
static void test_allocate(void **state)
{
	struct roster r;
	struct roster_node *n;
	uint8_t a[16], want[16];
	char s[64];
	int fam;
	unsigned i;

	(void)state;
	build(&r);	/* .1, .2, .5 used in 100.64.0.0/24 */
	assert_true(roster_allocate_address(&r, AF_INET, a));
	assert_true(roster_address_parse(&fam, want, "100.64.0.3"));
	assert_memory_equal(a, want, 4);
	/* v6: nothing used, network fd00:1234:: skipped */
	assert_true(roster_allocate_address(&r, AF_INET6, a));
	roster_address_format(s, sizeof(s), AF_INET6, a);
	assert_string_equal(s, "fd00:1234::1");
	/* Fill 100.64.0.0/24: .1 - .254 usable; the broadcast .255 is never handed out. */
	for (i = 0; i < 251; i++) {
		assert_true(roster_allocate_address(&r, AF_INET, a));
		snprintf(s, sizeof(s), "x%u", i);
		n = roster_node_add(&r, s);
		assert_non_null(n);
		memcpy(n->addr4, a, 4);
		n->has_addr4 = true;
		assert_true(a[3] != 0 && a[3] != 255);
	}
	assert_int_equal(r.n_nodes, 254);
	assert_false(roster_allocate_address(&r, AF_INET, a));
	/* v6 in a /126: ::1 - ::3 usable (no broadcast in IPv6), the network ::0 skipped. */
	assert_true(roster_prefix_parse(&r.cidr6, "fd00:1234::/126"));
	for (i = 0; i < 3; i++) {
		r.nodes[i].has_addr6 = true;
		assert_true(roster_address_parse(&fam, r.nodes[i].addr6, i == 1 ? "fd00:1234::3" :
		    i == 0 ? "fd00:1234::1" : "fd00:1234::5"));
	}
	assert_true(roster_allocate_address(&r, AF_INET6, a));
	roster_address_format(s, sizeof(s), AF_INET6, a);
	assert_string_equal(s, "fd00:1234::2");
	assert_true(roster_address_parse(&fam, r.nodes[2].addr6, "fd00:1234::2"));
	assert_false(roster_allocate_address(&r, AF_INET6, a));	/* full */
	/* No cidr6: no v6 allocation. */
	r.has_cidr6 = false;
	assert_false(roster_allocate_address(&r, AF_INET6, a));
	roster_free(&r);
}

/* 6. ACL matching: node, group, *, port ranges, no match. */
static const struct {
	const char *allow;	/* one rule, CLI form */
	const char *node;
	uint16_t port;
	bool want;
} acl_cases[] = {
	/*  1 */ { "web-1:22", "web-1", 22, true },
	/*  2 */ { "web-1:22", "web-1", 23, false },
	/*  3 */ { "web-1:22", "web-2", 22, false },
	/*  4 */ { "group:web:80-443", "web-2", 80, true },
	/*  5 */ { "group:web:80-443", "web-2", 443, true },
	/*  6 */ { "group:web:80-443", "web-2", 444, false },
	/*  7 */ { "group:web:80-443", "db-1", 80, false },
	/*  8 */ { "*:*", "db-1", 5432, true },
	/*  9 */ { "*:*", "db-1", 0, false },
	/* 10 */ { "*:1-1023", "db-1", 1024, false },
	/* 11 */ { "group:db", "db-1", 65535, true },
	/* 12 */ { "group:dbx:22", "db-1", 22, false },
	/* 13 */ { "100.64.0.0/30:22", "web-2", 22, true },	/* a prefix over overlay addresses */
	/* 14 */ { "100.64.0.0/30:22", "db-1", 22, false },
	/* 15 */ { "100.64.0.5/32:22", "db-1", 23, false },
	/* 16 */ { "100.100.1.0/24:22", "web-1", 22, false },	/* a subnet prefix is no node */
};

/* 6b. Hosts inside a node's subnet: only prefix rules cover them. */
static const struct {
	const char *allow;
	const char *addr;
	uint16_t port;
	bool want;
} acl_addr_cases[] = {
	/*  1 */ { "100.100.1.0/24:22", "100.100.1.5", 22, true },
	/*  2 */ { "100.100.1.0/24:22", "100.100.1.5", 23, false },
	/*  3 */ { "100.100.1.0/24:22", "100.100.2.5", 22, false },
	/*  4 */ { "100.100.1.5/32:22", "100.100.1.6", 22, false },
	/*  5 */ { "*:*", "100.100.1.5", 22, false },
	/*  6 */ { "group:web", "100.100.1.5", 22, false },
	/*  7 */ { "web-1", "100.100.1.5", 22, false },
	/*  8 */ { "fd00:9::/64:22", "fd00:9::5", 22, true },
	/*  9 */ { "fd00:9::/64:22", "100.100.1.5", 22, false },	/* another family */
	/* 10 */ { "100.100.1.0/24:22", "100.100.1.5", 0, false },
};

static void test_acl(void **state)
{
	struct roster r;
	struct roster_engineer *e;
	size_t i;

	(void)state;
	build(&r);
	e = roster_engineer_add(&r, "alice");
	assert_non_null(e);
	e->allows = calloc(1, sizeof(*e->allows));
	assert_non_null(e->allows);
	e->n_allows = 1;
	for (i = 0; i < sizeof(acl_cases) / sizeof(acl_cases[0]); i++) {
		const struct roster_node *n = roster_node_find(&r, acl_cases[i].node);

		assert_non_null(n);
		assert_true(roster_allow_parse(&e->allows[0], acl_cases[i].allow));
		if (roster_engineer_allows(&r, e, n, acl_cases[i].port, 0) != acl_cases[i].want) {
			print_error("acl case %zu\n", i + 1);
			fail();
		}
	}
	for (i = 0; i < sizeof(acl_addr_cases) / sizeof(acl_addr_cases[0]); i++) {
		uint8_t a[16] = { 0 };
		int fam;

		assert_true(roster_address_parse(&fam, a, acl_addr_cases[i].addr));
		assert_true(roster_allow_parse(&e->allows[0], acl_addr_cases[i].allow));
		if (roster_engineer_allows_address(e, fam, 0, a, acl_addr_cases[i].port) !=
		    acl_addr_cases[i].want) {
			print_error("acl address case %zu\n", i + 1);
			fail();
		}
	}
	/* A line with an until grants up to the second before it, then nothing; INT64_MIN asks
	 * what it grants at all.  Both the node and the subnet host forms. */
	assert_true(roster_allow_parse(&e->allows[0], "web-1:22"));
	e->allows[0].has_until = true;
	e->allows[0].until = 1000;
	assert_true(roster_engineer_allows(&r, e, roster_node_find(&r, "web-1"), 22, 999));
	assert_false(roster_engineer_allows(&r, e, roster_node_find(&r, "web-1"), 22, 1000));
	assert_false(roster_engineer_allows(&r, e, roster_node_find(&r, "web-1"), 22, INT64_MAX));
	assert_true(roster_engineer_allows(&r, e, roster_node_find(&r, "web-1"), 22, INT64_MIN));
	{
		uint8_t a[16] = { 0 };
		int fam;

		assert_true(roster_address_parse(&fam, a, "100.100.1.5"));
		assert_true(roster_allow_parse(&e->allows[0], "100.100.1.0/24:22"));
		e->allows[0].has_until = true;
		e->allows[0].until = 1000;
		assert_true(roster_engineer_allows_address(e, fam, 999, a, 22));
		assert_false(roster_engineer_allows_address(e, fam, 1000, a, 22));
	}
	/* No rules: nothing allowed. */
	e->n_allows = 0;
	assert_false(roster_engineer_allows(&r, e, roster_node_find(&r, "web-1"), 22, 0));
	roster_free(&r);
}

/* 6c. Which node routes an address, and which allow targets name something. */
static void test_subnet_router(void **state)
{
	struct roster_allow al;
	struct roster_node *n;
	struct roster r;
	uint8_t a[16] = { 0 };
	int fam;

	(void)state;
	build(&r);
	n = roster_node_find(&r, "db-1");
	n->subnets = calloc(1, sizeof(*n->subnets));
	assert_non_null(n->subnets);
	assert_true(roster_prefix_parse(&n->subnets[0], "100.100.1.0/24"));
	n->n_subnets = 1;
	assert_true(roster_address_parse(&fam, a, "100.100.1.200"));
	assert_ptr_equal(roster_subnet_router(&r, fam, a), n);
	assert_true(roster_address_parse(&fam, a, "100.100.2.1"));
	assert_null(roster_subnet_router(&r, fam, a));
	assert_true(roster_allow_parse(&al, "100.100.1.128/25:22"));
	assert_true(roster_allow_target_exists(&r, &al));
	assert_true(roster_allow_parse(&al, "100.100.0.0/23:22"));	/* wider than the subnet */
	assert_false(roster_allow_target_exists(&r, &al));
	assert_true(roster_allow_parse(&al, "100.64.0.0/24"));		/* the overlay itself */
	assert_true(roster_allow_target_exists(&r, &al));
	assert_true(roster_allow_parse(&al, "fd00:1234::/120:22"));
	assert_true(roster_allow_target_exists(&r, &al));
	assert_true(roster_allow_parse(&al, "fd00:1235::/120:22"));
	assert_false(roster_allow_target_exists(&r, &al));
	roster_free(&r);
}

/* 7. Diff. */
struct seen {
	char lines[8][96];
	size_t n;
};

static void record(void *ctx, enum roster_change what, const struct roster_node *o,
    const struct roster_node *n)
{
	static const char *const names[] = { "added", "removed", "key", "changed" };
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %s", names[what], o ? o->name : n->name);
}

static void test_diff(void **state)
{
	struct roster a, b;
	struct roster_node *n;
	struct seen s = { .n = 0 };

	(void)state;
	build(&a);
	build(&b);
	roster_diff_nodes(&a, &b, record, &s);
	assert_int_equal(s.n, 0);			/* unchanged: no callback */
	assert_true(roster_node_remove(&b, "web-2"));	/* removed */
	n = roster_node_add(&b, "app-1");		/* added */
	assert_non_null(n);
	memset(n->key, 9, KEY_LEN);
	n->has_addr4 = true;
	roster_node_find(&b, "db-1")->key[0] ^= 1;	/* key changed */
	n = roster_node_find(&b, "web-1");		/* changed: an endpoint */
	n->endpoints = calloc(1, sizeof(*n->endpoints));
	assert_non_null(n->endpoints);
	assert_true(roster_endpoint_parse(n->endpoints, "192.0.2.1:51820"));
	n->n_endpoints = 1;
	roster_sort(&b);
	roster_diff_nodes(&a, &b, record, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.lines[0], "added app-1");
	assert_string_equal(s.lines[1], "key db-1");
	assert_string_equal(s.lines[2], "changed web-1");
	assert_string_equal(s.lines[3], "removed web-2");
	roster_free(&a);
	roster_free(&b);
}

/* 8. roster_save: complete file, requested mode, no temp file left; load round trip. */
static void test_save(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r, back;
	uint8_t sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN];
	char dir[] = "/tmp/test_roster_XXXXXX", path[128], *text, *file;
	struct stat st;
	size_t len;
	FILE *f;
	long n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/roster.signed", dir);
	build(&r);
	assert_int_equal(roster_admin_key_generate(sk, pk), 0);
	roster_sign(&r, sk);
	assert_int_equal(roster_save(&r, path, 0640), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	text = roster_serialize(&r, true, &len);
	f = fopen(path, "r");
	assert_non_null(f);
	file = malloc(len + 16);
	assert_non_null(file);
	n = (long)fread(file, 1, len + 16, f);
	fclose(f);
	assert_int_equal(n, (long)len);
	assert_memory_equal(file, text, len);
	/* Overwrite with another mode: replaced atomically, the old inode is not rewritten. */
	r.serial++;
	roster_sign(&r, sk);
	assert_int_equal(roster_save(&r, path, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(roster_load(path, &back, &errs));
	assert_int_equal(back.serial, 6);
	roster_free(&back);
	/* Nothing else in the directory (no temp files). */
	snprintf(file, len + 16, "ls -A %s | wc -l | grep -qx 1", dir);
	assert_int_equal(system(file), 0);
	/* A missing directory fails cleanly. */
	snprintf(file, len + 16, "%s/nope/roster", dir);
	assert_int_equal(roster_save(&r, file, 0600), -ENOENT);
	assert_false(roster_load(file, &back, &errs));
	assert_true(strstr(errs.msgs[0], "cannot open") != NULL);
	roster_errors_free(&errs);
	unlink(path);
	rmdir(dir);
	free(file);
	free(text);
	roster_free(&r);
	sodium_memzero(sk, sizeof(sk));
}

/* 9. Admin key files: written 0600, read back, refused when too open or corrupt. */
static void test_admin_key_file(void **state)
{
	uint8_t sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN], back[ROSTER_ADMIN_SECRET_LEN];
	char dir[] = "/tmp/test_roster_XXXXXX", path[128], err[256];
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/admin.key", dir);
	assert_int_equal(roster_admin_key_generate(sk, pk), 0);
	assert_int_equal(roster_admin_key_write(path, sk), 0);
	assert_int_equal(roster_admin_key_write(path, sk), -EEXIST);	/* never overwritten */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(roster_admin_key_read(path, back, err, sizeof(err)), 0);
	assert_memory_equal(back, sk, sizeof(sk));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(roster_admin_key_read(path, back, err, sizeof(err)), -EACCES);
	assert_true(strstr(err, "too open") != NULL);
	assert_int_equal(chmod(path, 0600), 0);
	/* Public half that does not belong to the seed. */
	sk[40] ^= 1;
	unlink(path);
	assert_int_equal(roster_admin_key_write(path, sk), 0);
	assert_int_equal(roster_admin_key_read(path, back, err, sizeof(err)), -EINVAL);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(roster_admin_key_read(path, back, err, sizeof(err)), -EINVAL);
	unlink(path);
	rmdir(dir);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(back, sizeof(back));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify_tamper),
		cmocka_unit_test(test_sign_deterministic),
		cmocka_unit_test(test_endorsement_chain),
		cmocka_unit_test(test_is_newer),
		cmocka_unit_test(test_allocate),
		cmocka_unit_test(test_acl),
		cmocka_unit_test(test_subnet_router),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_save),
		cmocka_unit_test(test_admin_key_file),
	};

	if (!key_lib_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
