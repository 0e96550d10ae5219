/* The bastion's failed-auth limiter, on a fake clock: RATELIMIT_BURST failures allowed, then
 * refused; one more allowed per RATELIMIT_REFILL_S seconds and never more than the burst; a
 * clock step backwards forgives nothing; addresses (v4, v6, and a v4 address spelled as the
 * start of a v6 one) are independent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bastion/ratelimit.h"

#define SEC 1000000000ull
#define T0 (100000 * SEC)		/* the fake clock's start: far from 0, so T0 - 1 h does not wrap */

static struct ratelimit *rl;

static struct ratelimit_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct ratelimit_addr x = { .bytes = { 4, a, b, c, d } };

	return x;
}

static struct ratelimit_addr v6(uint8_t last)
{
	struct ratelimit_addr x = { .bytes = { 6, 0x20, 0x01, 0x0d, 0xb8 } };

	x.bytes[16] = last;
	return x;
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	rl = malloc(sizeof(*rl));
	if (!rl)
		return -1;
	ratelimit_init(rl);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(rl);
	return 0;
}

/* Fails addr until refused; returns how many failures were taken (bounded). */
static unsigned drain(const struct ratelimit_addr *a, uint64_t now)
{
	unsigned n = 0;

	while (ratelimit_allowed(rl, a, now) && n < 100) {
		ratelimit_fail(rl, a, now);
		n++;
	}
	return n;
}

static void test_burst(void **state)
{
	struct ratelimit_addr a = v4(203, 0, 113, 100);
	unsigned i;

	(void)state;
	ratelimit_init(rl);
	for (i = 1; i <= RATELIMIT_BURST; i++) {
		assert_true(ratelimit_allowed(rl, &a, T0));
		/* still allowed after it, except after the last one */
		assert_int_equal(ratelimit_fail(rl, &a, T0), i < RATELIMIT_BURST);
	}
	assert_false(ratelimit_allowed(rl, &a, T0));
	assert_false(ratelimit_fail(rl, &a, T0));	/* more failures: still refused */
	assert_false(ratelimit_allowed(rl, &a, T0));
	/* Asking does not spend. */
	ratelimit_init(rl);
	for (i = 0; i < 3 * RATELIMIT_BURST; i++)
		assert_true(ratelimit_allowed(rl, &a, T0));
	assert_int_equal(drain(&a, T0), RATELIMIT_BURST);
}

/* Numbered: after the burst is spent at T0, how many failures are allowed at T0 + dt. */
static const struct {
	uint64_t dt_ns;
	unsigned allowed;
} refill[] = {
	/* 0 */ { 0, 0 },
	/* 1 */ { 1000000, 0 },				/* 1 ms */
	/* 2 */ { SEC, 0 },
	/* 3 */ { RATELIMIT_REFILL_S * SEC - 1, 0 },
	/* 4 */ { RATELIMIT_REFILL_S * SEC, 1 },
	/* 5 */ { 2 * RATELIMIT_REFILL_S * SEC - 1, 1 },
	/* 6 */ { 3 * RATELIMIT_REFILL_S * SEC, 3 },
	/* 7 */ { (RATELIMIT_BURST - 1) * RATELIMIT_REFILL_S * SEC, RATELIMIT_BURST - 1 },
	/* 8 */ { RATELIMIT_BURST * RATELIMIT_REFILL_S * SEC, RATELIMIT_BURST },
	/* 9 */ { 100 * RATELIMIT_BURST * RATELIMIT_REFILL_S * SEC, RATELIMIT_BURST },
	/* 10 */ { 86400 * 365 * SEC, RATELIMIT_BURST },
};

static void test_refill_table(void **state)
{
	struct ratelimit_addr a = v4(198, 51, 100, 7);
	unsigned got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refill) / sizeof(refill[0]); i++) {
		ratelimit_init(rl);
		assert_int_equal(drain(&a, T0), RATELIMIT_BURST);
		got = drain(&a, T0 + refill[i].dt_ns);
		if (got != refill[i].allowed) {
			print_error("case %zu: %u failures allowed after %llu ns, want %u\n", i, got,
			    (unsigned long long)refill[i].dt_ns, refill[i].allowed);
			fail();
		}
	}
}

/* A steady trickle of one failure per refill period is never refused; one faster is, and
 * partial periods carry over (two half periods make one token). */
static void test_refill_steady(void **state)
{
	struct ratelimit_addr a = v6(9);
	uint64_t now = T0;
	unsigned i;

	(void)state;
	ratelimit_init(rl);
	assert_int_equal(drain(&a, now), RATELIMIT_BURST);
	for (i = 0; i < 50; i++) {
		now += RATELIMIT_REFILL_S * SEC;
		assert_true(ratelimit_allowed(rl, &a, now));
		assert_false(ratelimit_fail(rl, &a, now));
	}
	now += RATELIMIT_REFILL_S * SEC / 2;
	assert_false(ratelimit_allowed(rl, &a, now));
	now += RATELIMIT_REFILL_S * SEC / 2;
	assert_true(ratelimit_allowed(rl, &a, now));
	assert_false(ratelimit_fail(rl, &a, now));
	assert_false(ratelimit_allowed(rl, &a, now));
}

/* The clock going backwards (it should not: callers pass CLOCK_MONOTONIC) gives nothing back. */
static void test_clock_backwards(void **state)
{
	struct ratelimit_addr a = v4(192, 0, 2, 1);

	(void)state;
	ratelimit_init(rl);
	assert_int_equal(drain(&a, T0), RATELIMIT_BURST);
	assert_false(ratelimit_allowed(rl, &a, T0 - 3600 * SEC));
	assert_false(ratelimit_allowed(rl, &a, T0));
}

static void test_independent(void **state)
{
	struct ratelimit_addr a = v4(203, 0, 113, 100), b = v4(203, 0, 113, 101);
	struct ratelimit_addr c = v6(100), d = v6(101);
	/* The same four bytes as a but tagged v6: a different source. */
	struct ratelimit_addr e = a;

	(void)state;
	e.bytes[0] = 6;
	ratelimit_init(rl);
	/* A fixed key: with a random one, two of these could share a slot (a 1 in ~400 chance)
	 * and the eviction would make the run flaky. */
	memset(rl->key, 0x5a, sizeof(rl->key));
	assert_int_equal(drain(&a, T0), RATELIMIT_BURST);
	assert_false(ratelimit_allowed(rl, &a, T0));
	assert_true(ratelimit_allowed(rl, &b, T0));
	assert_true(ratelimit_allowed(rl, &c, T0));
	assert_true(ratelimit_allowed(rl, &e, T0));
	/* b's failures are its own: a full burst, and a stays refused. */
	assert_int_equal(drain(&b, T0), RATELIMIT_BURST);
	assert_int_equal(drain(&c, T0), RATELIMIT_BURST);
	assert_int_equal(drain(&d, T0), RATELIMIT_BURST);
	assert_int_equal(drain(&e, T0), RATELIMIT_BURST);
	assert_false(ratelimit_allowed(rl, &a, T0));
	/* One refill period: exactly one more for each refused source, independently. */
	assert_true(ratelimit_allowed(rl, &b, T0 + RATELIMIT_REFILL_S * SEC));
	assert_false(ratelimit_fail(rl, &b, T0 + RATELIMIT_REFILL_S * SEC));
	assert_false(ratelimit_allowed(rl, &b, T0 + RATELIMIT_REFILL_S * SEC));
	assert_true(ratelimit_allowed(rl, &c, T0 + RATELIMIT_REFILL_S * SEC));
}

/* A fresh table (new random key) knows nobody. */
static void test_init_forgets(void **state)
{
	struct ratelimit_addr a = v4(203, 0, 113, 5);

	(void)state;
	ratelimit_init(rl);
	assert_int_equal(drain(&a, T0), RATELIMIT_BURST);
	ratelimit_init(rl);
	assert_int_equal(drain(&a, T0), RATELIMIT_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_refill_table),
		cmocka_unit_test(test_refill_steady),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_independent),
		cmocka_unit_test(test_init_forgets),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
