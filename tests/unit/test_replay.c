/* Replay window: a numbered case table in the spirit of the kernel's counter selftest, long
 * in-order / reversed runs, and a differential test against a naive "set of seen counters"
 * reference with random jumps (seeded; the seed is printed on failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tunneld/wg/messages.h"
#include "tunneld/wg/replay.h"

#define W	((uint64_t)REPLAY_WINDOW_SIZE)
#define L	(W + 1)			/* first counter that pushes 0 out of the window */
#define RJ	REJECT_AFTER_MESSAGES

struct replay_case {
	uint64_t counter;
	bool accept;
};

/* Run in order against one window.  The comment says what each case exercises. */
static const struct replay_case cases[] = {
	/*  1 */ { 0, true },			/* first packet */
	/*  2 */ { 1, true },			/* in order */
	/*  3 */ { 1, false },			/* duplicate */
	/*  4 */ { 9, true },			/* small jump */
	/*  5 */ { 8, true },			/* reordered within window */
	/*  6 */ { 7, true },
	/*  7 */ { 7, false },			/* duplicate of a reordered one */
	/*  8 */ { L, true },			/* window now [1, L] */
	/*  9 */ { L - 1, true },
	/* 10 */ { L - 1, false },
	/* 11 */ { L - 2, true },
	/* 12 */ { 2, true },			/* oldest still in window, never seen */
	/* 13 */ { 2, false },
	/* 14 */ { L + 16, true },		/* window now [17, L + 16] */
	/* 15 */ { 3, false },			/* fell out of the window */
	/* 16 */ { L + 16, false },
	/* 17 */ { 4 * L, true },		/* jump > ring: whole bitmap cleared */
	/* 18 */ { 4 * L - (L - 1), true },	/* exactly at the window edge */
	/* 19 */ { 10, false },
	/* 20 */ { 4 * L - L, false },		/* one past the edge */
	/* 21 */ { 4 * L - (L + 1), false },	/* two past */
	/* 22 */ { 4 * L - (L - 2), true },
	/* 23 */ { 4 * L + 1 - L, false },	/* case 18 again: duplicate at edge */
	/* 24 */ { 0, false },
	/* 25 */ { RJ, false },			/* the limit itself is refused */
	/* 26 */ { RJ - 1, true },		/* last acceptable counter */
	/* 27 */ { RJ, false },
	/* 28 */ { RJ - 1, false },
	/* 29 */ { RJ - 2, true },
	/* 30 */ { RJ + 1, false },
	/* 31 */ { RJ + 2, false },
	/* 32 */ { RJ - 2, false },
	/* 33 */ { RJ - 3, true },
	/* 34 */ { 0, false },
	/* 35 */ { UINT64_MAX, false },		/* would wrap the +1 shift */
	/* 36 */ { RJ - 1 - W, true },		/* exactly at the edge below the top */
	/* 37 */ { RJ - 2 - W, false },		/* one past it */
};

static void
test_replay_table(void **state)
{
	struct replay_counter r;
	size_t i;

	(void)state;
	replay_counter_init(&r);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = replay_counter_validate(&r, cases[i].counter);

		if (got != cases[i].accept)
			fail_msg("case %zu: counter %llu: got %d, want %d", i + 1,
			    (unsigned long long)cases[i].counter, got, cases[i].accept);
	}
}

/* The paper value: REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1. */
static void
test_replay_limit_value(void **state)
{
	(void)state;
	assert_true(RJ == UINT64_MAX - 8192);
	assert_int_equal(REPLAY_WINDOW_SIZE, 8128);
}

static void
test_replay_in_order_full_window(void **state)
{
	struct replay_counter r;
	uint64_t i;

	(void)state;
	replay_counter_init(&r);
	for (i = 1; i <= W; i++)
		assert_true(replay_counter_validate(&r, i));
	assert_true(replay_counter_validate(&r, 0));	/* still exactly at the edge */
	assert_false(replay_counter_validate(&r, 0));

	replay_counter_init(&r);
	for (i = 1; i <= W + 1; i++)
		assert_true(replay_counter_validate(&r, i));
	assert_false(replay_counter_validate(&r, 0));	/* one past the edge */
}

static void
test_replay_reverse_full_window(void **state)
{
	struct replay_counter r;
	uint64_t i;

	(void)state;
	replay_counter_init(&r);
	for (i = W + 1; i-- > 0;)
		assert_true(replay_counter_validate(&r, i));
	for (i = W + 1; i-- > 0;)
		assert_false(replay_counter_validate(&r, i));

	/* Descending after a single advance: 0 has left, everything else is a duplicate. */
	assert_true(replay_counter_validate(&r, W + 1));
	for (i = W + 2; i-- > 0;)
		assert_false(replay_counter_validate(&r, i));
}

/* Stale bits in the ring must not survive a forward slide of any size: fill a whole window,
 * jump forward, then sweep every counter of the new window from the top down. */
static const uint64_t jumps[] = {
	1, 63, 64, 65, W - 1, W, W + 1, REPLAY_BITS_TOTAL - 1, REPLAY_BITS_TOTAL,
	REPLAY_BITS_TOTAL + 1, REPLAY_BITS_TOTAL + 64 + 5, 2 * REPLAY_BITS_TOTAL,
	3 * REPLAY_BITS_TOTAL + 7,
};

static void
test_replay_ring_wrap(void **state)
{
	struct replay_counter r;
	uint64_t base = 3 * REPLAY_BITS_TOTAL + 17, top, c;
	size_t j;

	(void)state;
	for (j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
		replay_counter_init(&r);
		for (c = base - W; c <= base; c++)
			assert_true(replay_counter_validate(&r, c));
		top = base + jumps[j];
		if (!replay_counter_validate(&r, top))
			fail_msg("jump %zu (+%llu): top refused", j + 1,
			    (unsigned long long)jumps[j]);
		for (c = top - 1; c + W >= top; c--) {
			bool want = c > base;

			if (replay_counter_validate(&r, c) != want)
				fail_msg("jump %zu (+%llu): counter top-%llu: want %d", j + 1,
				    (unsigned long long)jumps[j],
				    (unsigned long long)(top - c), want);
		}
		/* c is now one past the edge. */
		assert_false(replay_counter_validate(&r, c));
	}
}

/* Naive reference: remember every counter seen in a bounded range. */
enum { REF_RANGE = 1 << 20 };

struct ref_window {
	uint8_t seen[REF_RANGE / 8];
	bool any;
	uint64_t max;
};

static bool
ref_validate(struct ref_window *ref, uint64_t c)
{
	if (ref->any && c + W < ref->max)
		return false;
	if (ref->seen[c / 8] & (1u << (c % 8)))
		return false;
	ref->seen[c / 8] |= (uint8_t)(1u << (c % 8));
	if (!ref->any || c > ref->max)
		ref->max = c;
	ref->any = true;
	return true;
}

static uint64_t
rng_next(uint64_t *s)
{
	/* splitmix64: reproducible from the printed seed. */
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
test_replay_differential(void **state)
{
	static struct ref_window ref;
	struct replay_counter r;
	uint64_t seed, s, c = 0;
	const char *env = getenv("TEST_SEED");
	int i;

	(void)state;
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	s = seed;
	memset(&ref, 0, sizeof(ref));
	replay_counter_init(&r);
	for (i = 0; i < 400000; i++) {
		uint64_t pick = rng_next(&s) % 100, x = rng_next(&s);
		bool got, want;

		if (pick < 60)		/* mostly near the front, as real traffic */
			c = ref.max + x % 64;
		else if (pick < 90)	/* reordering and duplicates around the edge */
			c = ref.max > W + 200 ? ref.max - W - 100 + x % 300 : x % (W + 200);
		else if (pick < 99)	/* anywhere behind */
			c = ref.max ? x % (ref.max + 1) : 0;
		else			/* big jump, sometimes larger than the ring */
			c = ref.max + x % (3 * REPLAY_BITS_TOTAL);
		if (c >= REF_RANGE)
			break;
		want = ref_validate(&ref, c);
		got = replay_counter_validate(&r, c);
		if (got != want)
			fail_msg("seed %llu (TEST_SEED=%llu): step %d counter %llu: got %d, want %d",
			    (unsigned long long)seed, (unsigned long long)seed, i,
			    (unsigned long long)c, got, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_table),
		cmocka_unit_test(test_replay_limit_value),
		cmocka_unit_test(test_replay_in_order_full_window),
		cmocka_unit_test(test_replay_reverse_full_window),
		cmocka_unit_test(test_replay_ring_wrap),
		cmocka_unit_test(test_replay_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
