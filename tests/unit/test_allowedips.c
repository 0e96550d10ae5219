/* Allowed-IPs trie: a numbered table of hand cases, then a differential test against a
 * deliberately naive reference (an array of prefixes, linear longest match) with inserts,
 * moves, removals and lookups interleaved, IPv4 and IPv6 (seeded; seed printed on failure,
 * TEST_SEED=n reproduces). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "tunneld/wg/allowedips.h"

enum { NOWNERS = 64 };
static char owner_tag[NOWNERS];

static void *
owner_of(int i)
{
	return i < 0 ? NULL : &owner_tag[i];
}

static int
owner_index(const void *p)
{
	return p ? (int)((const char *)p - owner_tag) : -1;
}

/* ---- hand cases ---- */

enum hand_op { INS, DEL, DEL_OWNER, LOOK };
enum { A, B, C, D, E, NONE = -1 };

struct hand_case {
	enum hand_op op;
	int family;
	const char *addr;
	uint8_t cidr;
	int owner;	/* INS/DEL/DEL_OWNER: the owner; LOOK: unused */
	int want;	/* INS/DEL: return code; LOOK: expected owner or NONE */
};

#define V4 AF_INET
#define V6 AF_INET6

static const struct hand_case hand[] = {
	/*  1 */ { INS, V4, "10.0.0.0", 8, A, 0 },
	/*  2 */ { LOOK, V4, "10.1.2.3", 0, 0, A },
	/*  3 */ { LOOK, V4, "11.0.0.1", 0, 0, NONE },
	/*  4 */ { INS, V4, "10.1.0.0", 16, B, 0 },
	/*  5 */ { LOOK, V4, "10.1.2.3", 0, 0, B },
	/*  6 */ { LOOK, V4, "10.2.0.1", 0, 0, A },
	/*  7 */ { INS, V4, "10.1.2.3", 32, C, 0 },
	/*  8 */ { LOOK, V4, "10.1.2.3", 0, 0, C },		/* /32 wins */
	/*  9 */ { LOOK, V4, "10.1.2.4", 0, 0, B },
	/* 10 */ { INS, V4, "0.0.0.0", 0, D, 0 },
	/* 11 */ { LOOK, V4, "192.168.1.1", 0, 0, D },	/* default route */
	/* 12 */ { LOOK, V4, "10.200.0.0", 0, 0, A },
	/* 13 */ { INS, V4, "10.1.255.255", 16, A, 0 },	/* host bits masked: moves 10.1/16 */
	/* 14 */ { LOOK, V4, "10.1.9.9", 0, 0, A },
	/* 15 */ { DEL, V4, "10.1.0.0", 16, B, -ENOENT },	/* B no longer holds it */
	/* 16 */ { DEL, V4, "10.1.7.7", 16, A, 0 },
	/* 17 */ { LOOK, V4, "10.1.9.9", 0, 0, A },		/* now via 10/8 */
	/* 18 */ { LOOK, V4, "10.1.2.3", 0, 0, C },
	/* 19 */ { INS, V4, "255.255.255.255", 32, E, 0 },
	/* 20 */ { LOOK, V4, "255.255.255.255", 0, 0, E },
	/* 21 */ { LOOK, V4, "255.255.255.254", 0, 0, D },
	/* 22 */ { INS, V4, "10.0.0.0", 33, A, -EINVAL },
	/* 23 */ { INS, 99, "10.0.0.0", 8, A, -EINVAL },
	/* 24 */ { INS, V4, "10.0.0.0", 8, NONE, -EINVAL },
	/* 25 */ { LOOK, V6, "fd00::1", 0, 0, NONE },		/* v4 default does not leak */
	/* 26 */ { INS, V6, "::", 0, A, 0 },
	/* 27 */ { LOOK, V6, "fd00::1", 0, 0, A },
	/* 28 */ { INS, V6, "fd00::", 8, B, 0 },
	/* 29 */ { INS, V6, "fd00::1", 128, C, 0 },
	/* 30 */ { LOOK, V6, "fd00::1", 0, 0, C },
	/* 31 */ { LOOK, V6, "fd00::2", 0, 0, B },
	/* 32 */ { LOOK, V6, "fe80::1", 0, 0, A },
	/* 33 */ { INS, V6, "2001:db8::", 32, D, 0 },
	/* 34 */ { INS, V6, "2001:db8:0:1::", 64, E, 0 },
	/* 35 */ { LOOK, V6, "2001:db8:0:1::5", 0, 0, E },
	/* 36 */ { LOOK, V6, "2001:db8:0:2::5", 0, 0, D },
	/* 37 */ { INS, V6, "2001:db8:0:1:ffff::", 64, D, 0 },	/* move, host bits masked */
	/* 38 */ { LOOK, V6, "2001:db8:0:1::5", 0, 0, D },
	/* 39 */ { DEL_OWNER, 0, NULL, 0, D, 0 },
	/* 40 */ { LOOK, V6, "2001:db8:0:1::5", 0, 0, A },
	/* 41 */ { LOOK, V4, "1.2.3.4", 0, 0, NONE },		/* 0.0.0.0/0 was D's */
	/* 42 */ { LOOK, V4, "10.0.0.1", 0, 0, A },
	/* 43 */ { INS, V6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, E, 0 },
	/* 44 */ { LOOK, V6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, 0, E },
	/* 45 */ { LOOK, V6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 0, 0, A },
	/* 46 */ { DEL, V6, "fd00::", 8, C, -ENOENT },
	/* 47 */ { DEL, V6, "fd00::", 8, B, 0 },
	/* 48 */ { LOOK, V6, "fd00::2", 0, 0, A },
	/* 49 */ { LOOK, V6, "fd00::1", 0, 0, C },
	/* 50 */ { INS, V6, "::", 129, A, -EINVAL },
	/* 51 */ { INS, V4, "192.168.0.0", 24, A, 0 },		/* siblings under a branch */
	/* 52 */ { INS, V4, "192.168.1.0", 24, B, 0 },
	/* 53 */ { INS, V4, "192.168.0.0", 23, C, 0 },		/* lands on the branch point */
	/* 54 */ { LOOK, V4, "192.168.0.9", 0, 0, A },
	/* 55 */ { LOOK, V4, "192.168.1.9", 0, 0, B },
	/* 56 */ { DEL, V4, "192.168.0.0", 24, A, 0 },
	/* 57 */ { LOOK, V4, "192.168.0.9", 0, 0, C },
	/* 58 */ { DEL, V4, "192.168.0.0", 23, C, 0 },
	/* 59 */ { LOOK, V4, "192.168.0.9", 0, 0, NONE },
	/* 60 */ { LOOK, V4, "192.168.1.9", 0, 0, B },
	/* 61 */ { INS, V4, "128.0.0.0", 1, B, 0 },
	/* 62 */ { LOOK, V4, "200.0.0.1", 0, 0, B },
	/* 63 */ { LOOK, V4, "100.0.0.1", 0, 0, NONE },
	/* 64 */ { DEL, V4, "128.0.0.0", 1, NONE, -ENOENT },	/* NULL owner never matches */
	/* 65 */ { DEL, V4, "10.0.0.0", 9, A, -ENOENT },	/* not an exact prefix */
	/* 66 */ { DEL_OWNER, 0, NULL, 0, C, 0 },
	/* 67 */ { LOOK, V4, "10.1.2.3", 0, 0, A },
	/* 68 */ { LOOK, V6, "fd00::1", 0, 0, A },
};

static void
parse_addr(int family, const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(family == V6 ? AF_INET6 : AF_INET, s, out) != 1)
		fail_msg("bad test address %s", s);
}

static void
test_allowedips_hand(void **state)
{
	struct allowedips t;
	uint8_t addr[16];
	size_t i;
	int got;

	(void)state;
	allowedips_init(&t);
	for (i = 0; i < sizeof(hand) / sizeof(hand[0]); i++) {
		const struct hand_case *c = &hand[i];

		if (c->addr)
			parse_addr(c->family, c->addr, addr);
		switch (c->op) {
		case INS:
			got = allowedips_insert(&t, c->family, addr, c->cidr, owner_of(c->owner));
			break;
		case DEL:
			got = allowedips_remove(&t, c->family, addr, c->cidr, owner_of(c->owner));
			break;
		case DEL_OWNER:
			allowedips_remove_by_owner(&t, owner_of(c->owner));
			got = 0;
			break;
		case LOOK:
		default:
			got = owner_index(allowedips_lookup(&t, c->family, addr));
			break;
		}
		if (got != c->want)
			fail_msg("case %zu: %s/%u: got %d, want %d", i + 1,
			    c->addr ? c->addr : "-", c->cidr, got, c->want);
	}
	allowedips_free(&t);
}

/* ---- walk order and seq ---- */

struct collected {
	int n;
	char text[16][64];
};

static void
collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct collected *col = ctx;
	char buf[INET6_ADDRSTRLEN];

	assert_true(col->n < 16);
	inet_ntop(family, addr, buf, sizeof(buf));
	snprintf(col->text[col->n++], sizeof(col->text[0]), "%s/%u", buf, cidr);
}

static void
test_allowedips_walk_seq(void **state)
{
	static const struct { int family; const char *addr; uint8_t cidr; } ins[] = {
		{ V6, "fd00::", 64 }, { V4, "10.0.0.0", 24 }, { V4, "10.0.0.0", 8 },
		{ V6, "::", 0 }, { V4, "192.168.0.1", 32 }, { V4, "10.0.0.128", 25 },
	};
	static const char *const want[] = {
		"10.0.0.0/8", "10.0.0.0/24", "10.0.0.128/25", "192.168.0.1/32", "::/0",
		"fd00::/64",
	};
	struct allowedips t;
	struct collected col = { 0 };
	uint8_t addr[16];
	uint64_t seq;
	size_t i;

	(void)state;
	allowedips_init(&t);
	for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		parse_addr(ins[i].family, ins[i].addr, addr);
		seq = t.seq;
		assert_int_equal(allowedips_insert(&t, ins[i].family, addr, ins[i].cidr,
		    owner_of(A)), 0);
		assert_true(t.seq != seq);
	}
	parse_addr(V4, "10.0.0.0", addr);
	assert_int_equal(allowedips_insert(&t, V4, addr, 16, owner_of(B)), 0);
	allowedips_walk_owner(&t, owner_of(A), collect, &col);
	assert_int_equal(col.n, 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(col.text[i], want[i]);
	col.n = 0;
	allowedips_walk_owner(&t, owner_of(B), collect, &col);
	assert_int_equal(col.n, 1);
	assert_string_equal(col.text[0], "10.0.0.0/16");

	seq = t.seq;
	assert_int_equal(allowedips_remove(&t, V4, addr, 16, owner_of(A)), -ENOENT);
	assert_true(t.seq == seq);	/* failed remove changes nothing */
	allowedips_remove_by_owner(&t, owner_of(A));
	assert_true(t.seq != seq);
	col.n = 0;
	allowedips_walk_owner(&t, owner_of(A), collect, &col);
	assert_int_equal(col.n, 0);
	assert_ptr_equal(allowedips_lookup(&t, V4, addr), owner_of(B));
	allowedips_free(&t);
	assert_null(allowedips_lookup(&t, V4, addr));
}

/* ---- differential test against a naive reference ---- */

struct ref_entry {
	int family;
	uint8_t addr[16];	/* host bits zero */
	uint8_t cidr;
	int owner;
};

enum { REF_MAX = 20000 };

static struct ref_entry ref[REF_MAX];
static int nref;

static void
mask_bytes(uint8_t a[16], unsigned cidr)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (cidr >= 8 * (i + 1))
			continue;
		a[i] &= cidr <= 8 * i ? 0 : (uint8_t)(0xff << (8 - (cidr - 8 * i)));
	}
}

static bool
ref_match(const struct ref_entry *e, int family, const uint8_t a[16])
{
	uint8_t m[16];

	if (e->family != family)
		return false;
	memcpy(m, a, 16);
	mask_bytes(m, e->cidr);
	return memcmp(m, e->addr, 16) == 0;
}

static int
ref_find(int family, const uint8_t a[16], uint8_t cidr)
{
	int i;

	for (i = 0; i < nref; i++)
		if (ref[i].family == family && ref[i].cidr == cidr && !memcmp(ref[i].addr, a, 16))
			return i;
	return -1;
}

static void
ref_insert(int family, const uint8_t a[16], uint8_t cidr, int owner)
{
	int i = ref_find(family, a, cidr);

	if (i >= 0) {
		ref[i].owner = owner;
		return;
	}
	ref[nref].family = family;
	memcpy(ref[nref].addr, a, 16);
	ref[nref].cidr = cidr;
	ref[nref].owner = owner;
	nref++;
}

static int
ref_remove(int family, const uint8_t a[16], uint8_t cidr, int owner)
{
	int i = ref_find(family, a, cidr);

	if (i < 0 || ref[i].owner != owner)
		return -ENOENT;
	ref[i] = ref[--nref];
	return 0;
}

static void
ref_remove_owner(int owner)
{
	int i;

	for (i = 0; i < nref;)
		if (ref[i].owner == owner)
			ref[i] = ref[--nref];
		else
			i++;
}

static int
ref_lookup(int family, const uint8_t a[16])
{
	int i, best = -1, best_cidr = -1;

	for (i = 0; i < nref; i++)
		if (ref[i].cidr > best_cidr && ref_match(&ref[i], family, a)) {
			best = ref[i].owner;
			best_cidr = ref[i].cidr;
		}
	return best;
}

static int
ref_cmp(const void *pa, const void *pb)
{
	const struct ref_entry *a = pa, *b = pb;
	int c;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, 16)))
		return c;
	return (int)a->cidr - (int)b->cidr;
}

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

enum { NBASES = 24 };

struct gen {
	uint64_t s;
	uint8_t base[2][NBASES][16];
};

/* An address near one of a few bases, so prefixes overlap and nest a lot. */
static void
gen_addr(struct gen *g, int family, uint8_t a[16])
{
	unsigned len = family == AF_INET ? 4 : 16, from, i;
	uint64_t x = rng_next(&g->s);

	memset(a, 0, 16);
	memcpy(a, g->base[family == AF_INET6][x % NBASES], len);
	/* Randomise the bytes from a random point on. */
	from = (unsigned)((x >> 8) % (len + 1));
	for (i = from; i < len; i++)
		a[i] = (uint8_t)rng_next(&g->s);
}

static uint8_t
gen_cidr(struct gen *g, int family)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	uint64_t x = rng_next(&g->s);

	/* Defaults and host routes more often than uniform would give. */
	if (x % 32 == 0)
		return 0;
	if (x % 32 < 4)
		return (uint8_t)bits;
	return (uint8_t)((x >> 8) % (bits + 1));
}

struct walk_check {
	const struct ref_entry *want;
	int n, pos;
	bool bad;
};

static void
walk_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_check *w = ctx;
	const struct ref_entry *e;
	unsigned len = family == AF_INET ? 4 : 16;

	if (w->pos >= w->n) {
		w->bad = true;
		return;
	}
	e = &w->want[w->pos++];
	if (e->family != family || e->cidr != cidr || memcmp(e->addr, addr, len))
		w->bad = true;
}

static void
check_walk(struct allowedips *t, int owner, uint64_t seed, int step)
{
	static struct ref_entry sorted[REF_MAX];
	struct walk_check w = { sorted, 0, 0, false };
	int i;

	for (i = 0; i < nref; i++)
		if (ref[i].owner == owner)
			sorted[w.n++] = ref[i];
	qsort(sorted, (size_t)w.n, sizeof(sorted[0]), ref_cmp);
	allowedips_walk_owner(t, owner_of(owner), walk_cb, &w);
	if (w.bad || w.pos != w.n)
		fail_msg("seed %llu step %d: walk of owner %d differs (%d of %d)",
		    (unsigned long long)seed, step, owner, w.pos, w.n);
}

static void
run_differential(uint64_t seed, int steps)
{
	static struct gen g;
	struct allowedips t;
	uint8_t a[16];
	int i, j, family, owner, got, want, i_ref;
	uint8_t cidr;

	g.s = seed;
	for (i = 0; i < 2; i++)
		for (j = 0; j < NBASES; j++)
			for (family = 0; family < 16; family++)
				g.base[i][j][family] = (uint8_t)rng_next(&g.s);
	nref = 0;
	allowedips_init(&t);

	for (i = 0; i < steps; i++) {
		uint64_t pick = rng_next(&g.s) % 1000;

		family = rng_next(&g.s) & 1 ? AF_INET6 : AF_INET;
		owner = (int)(rng_next(&g.s) % NOWNERS);
		if (pick < 450 && nref < REF_MAX) {
			gen_addr(&g, family, a);
			cidr = gen_cidr(&g, family);
			/* Host bits stay set in what we pass: the trie must ignore them. */
			got = allowedips_insert(&t, family, a, cidr, owner_of(owner));
			mask_bytes(a, cidr);
			ref_insert(family, a, cidr, owner);
			want = 0;
		} else if (pick < 550 && nref > 0) {
			/* Remove an existing prefix, with the right owner most of the time. */
			const struct ref_entry *e = &ref[rng_next(&g.s) % (uint64_t)nref];

			if (rng_next(&g.s) % 4)
				owner = e->owner;
			family = e->family;
			cidr = e->cidr;
			memcpy(a, e->addr, 16);
			got = allowedips_remove(&t, family, a, cidr, owner_of(owner));
			want = ref_remove(family, a, cidr, owner);
		} else if (pick < 560) {
			gen_addr(&g, family, a);
			cidr = gen_cidr(&g, family);
			got = allowedips_remove(&t, family, a, cidr, owner_of(owner));
			mask_bytes(a, cidr);
			want = ref_remove(family, a, cidr, owner);
		} else if (pick < 565) {
			allowedips_remove_by_owner(&t, owner_of(owner));
			ref_remove_owner(owner);
			got = want = 0;
		} else if (pick < 575) {
			check_walk(&t, owner, seed, i);
			got = want = 0;
		} else if (pick < 585) {
			/* Exact-prefix owner: a prefix held (if any), or a random one. */
			if (nref && rng_next(&g.s) % 2) {
				const struct ref_entry *e = &ref[rng_next(&g.s) % (uint64_t)nref];

				family = e->family;
				cidr = e->cidr;
				memcpy(a, e->addr, 16);
			} else {
				gen_addr(&g, family, a);
				cidr = gen_cidr(&g, family);
				mask_bytes(a, cidr);
			}
			got = owner_index(allowedips_owner_of(&t, family, a, cidr));
			i_ref = ref_find(family, a, cidr);
			want = i_ref < 0 ? -1 : ref[i_ref].owner;
		} else {
			gen_addr(&g, family, a);
			got = owner_index(allowedips_lookup(&t, family, a));
			want = ref_lookup(family, a);
			cidr = 0;
		}
		if (got != want)
			fail_msg("seed %llu (TEST_SEED=%llu) step %d op %llu: got %d, want %d",
			    (unsigned long long)seed, (unsigned long long)seed, i,
			    (unsigned long long)pick, got, want);
	}
	for (owner = 0; owner < NOWNERS; owner++)
		check_walk(&t, owner, seed, steps);
	allowedips_free(&t);
}

static void
test_allowedips_differential(void **state)
{
	const char *env = getenv("TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	int round;

	(void)state;
	for (round = 0; round < 4; round++)
		run_differential(seed + (uint64_t)round, 30000);
}

/* Many owners and prefixes: removing every owner in turn must leave an empty table. */
static void
test_allowedips_remove_all(void **state)
{
	static char peers[10000];
	struct allowedips t;
	uint8_t a[16] = { 0 };
	int i;

	(void)state;
	allowedips_init(&t);
	for (i = 0; i < 10000; i++) {
		a[0] = 10;
		a[1] = (uint8_t)(i >> 8);
		a[2] = (uint8_t)i;
		a[3] = 1;
		assert_int_equal(allowedips_insert(&t, AF_INET, a, 32, &peers[i]), 0);
		a[0] = 0xfd;
		assert_int_equal(allowedips_insert(&t, AF_INET6, a, 64, &peers[i]), 0);
	}
	for (i = 0; i < 10000; i++)
		allowedips_remove_by_owner(&t, &peers[i]);
	assert_null(t.root4);
	assert_null(t.root6);
	allowedips_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowedips_hand),
		cmocka_unit_test(test_allowedips_walk_seq),
		cmocka_unit_test(test_allowedips_differential),
		cmocka_unit_test(test_allowedips_remove_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
