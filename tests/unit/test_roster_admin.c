/* libkeys pieces of day-2 administration: allocation that skips addresses held after a revoke
 * (roster_allocate_address_avoiding) and engineer names that are system accounts
 * (roster_engineer_name_reserved). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "keys/lib/roster.h"

static void node(struct roster *r, const char *name, const char *a4)
{
	struct roster_node *n = roster_node_add(r, name);
	uint8_t a[16];
	int fam;

	assert_non_null(n);
	assert_true(roster_address_parse(&fam, a, a4));
	memcpy(n->addr4, a, 4);
	n->has_addr4 = true;
}

static void want(const uint8_t *a, int family, const char *s)
{
	char got[64];

	roster_address_format(got, sizeof(got), family, a);
	assert_string_equal(got, s);
}

/* 1. Held addresses are skipped like used ones, in any order, outside the CIDR harmlessly;
 *    no hold = roster_allocate_address; all free ones held = full. */
static void test_allocate_avoiding(void **state)
{
	uint8_t avoid[5][16], a[16], b[16];
	struct roster r;
	int fam;

	(void)state;
	roster_init(&r);
	assert_true(roster_prefix_parse(&r.cidr4, "100.64.0.0/29"));	/* hosts .1-.6 */
	r.has_cidr6 = true;
	assert_true(roster_prefix_parse(&r.cidr6, "fd00:64::/125"));
	node(&r, "a", "100.64.0.1");
	node(&r, "b", "100.64.0.3");
	assert_true(roster_allocate_address_avoiding(&r, AF_INET, NULL, 0, a));
	assert_true(roster_allocate_address(&r, AF_INET, b));
	assert_memory_equal(a, b, 16);
	want(a, AF_INET, "100.64.0.2");
	memset(avoid, 0, sizeof(avoid));
	assert_true(roster_address_parse(&fam, avoid[0], "100.64.0.4"));
	assert_true(roster_address_parse(&fam, avoid[1], "100.64.0.2"));
	assert_true(roster_address_parse(&fam, avoid[2], "198.51.100.2"));	/* outside */
	assert_true(roster_allocate_address_avoiding(&r, AF_INET,
	    (const uint8_t (*)[16])avoid, 3, a));
	want(a, AF_INET, "100.64.0.5");
	assert_true(roster_address_parse(&fam, avoid[3], "100.64.0.5"));
	assert_true(roster_address_parse(&fam, avoid[4], "100.64.0.6"));
	assert_false(roster_allocate_address_avoiding(&r, AF_INET,
	    (const uint8_t (*)[16])avoid, 5, a));	/* .7 is the broadcast: full */
	/* IPv6: the same, 16 bytes. */
	assert_true(roster_address_parse(&fam, avoid[0], "fd00:64::1"));
	assert_true(roster_allocate_address_avoiding(&r, AF_INET6,
	    (const uint8_t (*)[16])avoid, 1, a));
	want(a, AF_INET6, "fd00:64::2");
	roster_free(&r);
}

/* 2. System accounts, and names that only look like them. */
static void test_name_reserved(void **state)
{
	static const char *const yes[] = { "root", "daemon", "sshd", "nobody", "www-data",
		"systemd-network", "systemd-timesync", "tunneld", "bastion" };
	static const char *const no[] = { "alice", "rooter", "root1", "sshd-admin", "bob.smith",
		"systemd", "adm1n" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(roster_engineer_name_reserved(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(roster_engineer_name_reserved(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocate_avoiding),
		cmocka_unit_test(test_name_reserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
