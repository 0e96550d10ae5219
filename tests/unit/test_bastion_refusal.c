/* Refused-request limits on a fake clock: REFUSAL_SESSION_MAX per session, then the session
 * limit; the engineer's bucket shared by their sessions, REFUSAL_ENGINEER_BURST then the
 * engineer limit, one back per REFUSAL_ENGINEER_REFILL_S, never above the burst; engineers are
 * independent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bastion/refusal.h"

#define SEC 1000000000ull
#define T0 (100000 * SEC)

static struct refusals *r;

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	r = malloc(sizeof(*r));
	return r ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(r);
	return 0;
}

static void test_session_limit(void **state)
{
	unsigned n = 0, i;

	(void)state;
	refusals_init(r);
	for (i = 0; i < REFUSAL_SESSION_MAX; i++)
		assert_null(refusals_take(r, "alice", &n, T0));
	assert_string_equal(refusals_take(r, "alice", &n, T0), "refused requests: session limit");
	/* A new session of hers starts again from 0 (her bucket still has tokens). */
	n = 0;
	assert_null(refusals_take(r, "alice", &n, T0));
}

static void test_engineer_limit(void **state)
{
	unsigned n, i, sessions = 0, ok = 0;
	const char *why = NULL;

	(void)state;
	refusals_init(r);
	memset(r->key, 0x5a, sizeof(r->key));	/* alice and bob in different slots, always */
	while (!why && sessions < 100) {
		n = 0;
		sessions++;
		for (i = 0; i < REFUSAL_SESSION_MAX + 1; i++) {
			why = refusals_take(r, "alice", &n, T0);
			if (why)
				break;
			ok++;
		}
		if (why && strcmp(why, "refused requests: session limit") == 0)
			why = NULL;
	}
	assert_int_equal(ok, REFUSAL_ENGINEER_BURST);
	assert_string_equal(why, "refused requests: engineer limit");
	n = 0;
	assert_null(refusals_take(r, "bob", &n, T0));		/* bob's own bucket */
	n = 0;
	assert_non_null(refusals_take(r, "alice", &n, T0 + REFUSAL_ENGINEER_REFILL_S * SEC - 1));
	n = 0;
	assert_null(refusals_take(r, "alice", &n, T0 + REFUSAL_ENGINEER_REFILL_S * SEC));
	assert_non_null(refusals_take(r, "alice", &n, T0 + REFUSAL_ENGINEER_REFILL_S * SEC));
	/* A long pause refills to the burst, not beyond. */
	ok = 0;
	for (i = 0; i < 4 * REFUSAL_ENGINEER_BURST; i++) {
		n = 0;
		if (!refusals_take(r, "alice", &n, T0 + 3600 * SEC))
			ok++;
	}
	assert_int_equal(ok, REFUSAL_ENGINEER_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_limit),
		cmocka_unit_test(test_engineer_limit),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
