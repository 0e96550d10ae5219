/* The bastion's trust in the roster (bastion/access.c): the configured AdminKey is the only
 * anchor.  A key file planted next to the roster and a roster signed by the planter are
 * refused; a real admin rotation is followed through the roster's endorsement chain, and the
 * old key alone is refused afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "bastion/access.h"
#include "keys/lib/key.h"
#include "keys/lib/roster.h"

/* 0: the configured admin key, 1: endorsed by 0 (a rotation), 2: an attacker's. */
static uint8_t admin_sec[3][ROSTER_ADMIN_SECRET_LEN], admin_pub[3][KEY_LEN];
static char dir[64], path[PATH_MAX], pin_path[PATH_MAX];

static int setup(void **state)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	(void)state;
	if (!key_lib_init())
		return -1;
	for (int i = 0; i < 3; i++) {
		memset(seed, 0xb0 + i, sizeof(seed));
		crypto_sign_seed_keypair(admin_pub[i], admin_sec[i], seed);
	}
	snprintf(dir, sizeof(dir), "/tmp/test_bastion_access.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/roster", dir);
	snprintf(pin_path, sizeof(pin_path), "%s/roster.admin", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Network prod, one node, signed by `by` after the endorsement 0 -> 1 if endorse. */
static void publish(uint64_t serial, int by, bool endorse)
{
	struct roster r;
	struct roster_node *n;

	roster_init(&r);
	r.version = ROSTER_VERSION;
	snprintf(r.network, sizeof(r.network), "prod");
	r.cidr4.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "100.64.0.0", r.cidr4.addr), 1);
	r.cidr4.cidr = 16;
	r.serial = serial;
	r.issued = 1795305600;
	n = roster_node_add(&r, "a");
	assert_non_null(n);
	memset(n->key, 0x42 + by, KEY_LEN);
	n->has_addr4 = true;
	assert_int_equal(inet_pton(AF_INET, "100.64.0.1", n->addr4), 1);
	if (endorse)
		assert_true(roster_endorse(&r, admin_sec[0], admin_pub[1]));
	roster_sign(&r, admin_sec[by]);
	assert_int_equal(roster_save(&r, path, 0644), 0);
	roster_free(&r);
}

static void plant_pin(int key)
{
	FILE *f = fopen(pin_path, "w");
	char b64[KEY_B64_LEN + 1];

	assert_non_null(f);
	key_to_base64(b64, admin_pub[key]);
	fprintf(f, "%s\n", b64);
	assert_int_equal(fclose(f), 0);
}

/* Open jumps are checked again when an allow line's until passes, also after the wall clock
 * was stepped past it and back (a VM resumed, an NTP step): the line grants again, and its
 * until must be the next check, not the one after it. */
static void test_until_schedule(void **state)
{
	struct access a = { 0 };
	struct access_until u = { 0 };
	struct roster_engineer *e;

	(void)state;
	roster_init(&a.r);
	a.has_roster = true;
	e = roster_engineer_add(&a.r, "bob");
	assert_non_null(e);
	e->allows = calloc(2, sizeof(*e->allows));
	assert_non_null(e->allows);
	e->n_allows = 2;
	assert_true(roster_allow_parse(&e->allows[0], "a:22"));
	e->allows[0].has_until = true;
	e->allows[0].until = 1000;
	assert_true(roster_allow_parse(&e->allows[1], "a:80"));
	e->allows[1].has_until = true;
	e->allows[1].until = 5000;

	assert_false(access_until_due(&u, &a, 500));	/* first call: schedules 1000 */
	assert_int_equal(u.next, 1000);
	assert_false(access_until_due(&u, &a, 999));
	assert_true(access_until_due(&u, &a, 2000));	/* stepped past 1000: due */
	assert_int_equal(u.next, 5000);
	assert_false(access_until_due(&u, &a, 500));	/* stepped back: 1000 grants again */
	assert_int_equal(u.next, 1000);
	assert_true(access_until_due(&u, &a, 1000));
	assert_false(access_until_due(&u, &a, 4999));
	assert_true(access_until_due(&u, &a, 5000));
	assert_int_equal(u.next, INT64_MAX);
	access_until_reset(&u);				/* a new roster */
	assert_false(access_until_due(&u, &a, 100));
	assert_int_equal(u.next, 1000);
	roster_free(&a.r);
}

/* An attacker's key next to the roster and an attacker-signed roster: refused at start. */
static void test_planted_pin_refused(void **state)
{
	struct access a;
	char why[256];

	(void)state;
	publish(1, 2, false);
	plant_pin(2);
	assert_int_equal(access_open(&a, path, admin_pub[0]), 0);
	if (access_reload(&a, why, sizeof(why)))
		fail_msg("a roster signed by the key planted in %s was trusted", pin_path);
	assert_false(a.has_roster);
	assert_memory_equal(a.pinned, admin_pub[0], KEY_LEN);
	access_close(&a);
	unlink(pin_path);
}

/* A rotation is followed by its chain from AdminKey, across restarts; the old key alone is
 * refused once the rotation was seen. */
static void test_rotation_followed_by_chain(void **state)
{
	struct access a;
	char why[256];

	(void)state;
	publish(5, 1, true);
	assert_int_equal(access_open(&a, path, admin_pub[0]), 0);
	assert_true(access_reload(&a, why, sizeof(why)));
	assert_memory_equal(a.pinned, admin_pub[1], KEY_LEN);
	publish(6, 0, false);
	assert_false(access_reload(&a, why, sizeof(why)));
	assert_non_null(strstr(why, "endorsed"));
	assert_int_equal(a.r.serial, 5);
	access_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_until_schedule),
		cmocka_unit_test(test_planted_pin_refused),
		cmocka_unit_test(test_rotation_followed_by_chain),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
