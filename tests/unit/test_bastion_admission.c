/* The bastion's admission, on a fake clock: sources masked to PerSourceNetBlockSize (IPv6 per
 * /64, an IPv4-mapped address as IPv4), MaxStartups' random early drop at its bounds,
 * PerSourceMaxStartups, and PerSourcePenalties: a success costs nothing, failures add up to
 * min before the source is refused, the refusal lasts what was added (never more than max) and
 * then ends, exempt peers (by their own address) are never penalised, and a full bucket forgives rather than
 * refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "bastion/admission.h"

#define SEC 1000000000ull
#define T0 (100000 * SEC)

static struct admission *adm;
static struct bastion_config cfg;

static void sockaddr_of(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
}

static struct admission_source src(const char *text)
{
	struct sockaddr_storage ss;
	struct admission_source s;

	sockaddr_of(text, &ss);
	assert_true(admission_source_of(adm, (struct sockaddr *)&ss, &s));
	return s;
}

static void setup_defaults(void)
{
	bastion_config_defaults(&cfg);
	admission_init(adm, &cfg);
}

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	adm = malloc(sizeof(*adm));
	return adm ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(adm);
	return 0;
}

static void test_sources(void **state)
{
	struct admission_source a, b;

	(void)state;
	setup_defaults();
	a = src("2001:db8:1:2:aaaa::1");
	b = src("2001:db8:1:2:ffff:1:2:3");
	assert_memory_equal(&a, &b, sizeof(a));		/* one /64 */
	b = src("2001:db8:1:3::1");
	assert_memory_not_equal(&a, &b, sizeof(a));
	a = src("203.0.113.7");
	b = src("::ffff:203.0.113.7");
	assert_memory_equal(&a, &b, sizeof(a));		/* mapped: the same IPv4 source */
	b = src("203.0.113.8");
	assert_memory_not_equal(&a, &b, sizeof(a));
	/* PerSourceNetBlockSize 24:48 */
	cfg.per_source_v4_bits = 24;
	cfg.per_source_v6_bits = 48;
	a = src("203.0.113.7");
	b = src("203.0.113.200");
	assert_memory_equal(&a, &b, sizeof(a));
	a = src("2001:db8:1:2::1");
	b = src("2001:db8:1:ffff::1");
	assert_memory_equal(&a, &b, sizeof(a));
	b = src("2001:db8:2::1");
	assert_memory_not_equal(&a, &b, sizeof(a));
}

/* 64:30:256: below begin always, at full never; in between rate% at begin rising to 100%. */
static void test_max_startups(void **state)
{
	struct admission_source a;

	(void)state;
	setup_defaults();
	cfg.per_source_max_startups = 0;
	a = src("198.51.100.1");
	assert_null(admission_check(adm, &a, 63, 0, T0, 0));
	assert_null(admission_check(adm, &a, 0, 0, T0, 0));
	assert_string_equal(admission_check(adm, &a, 256, 0, T0, 99), "MaxStartups");
	assert_string_equal(admission_check(adm, &a, 64, 0, T0, 29), "MaxStartups");
	assert_null(admission_check(adm, &a, 64, 0, T0, 30));
	/* halfway (160): 30 + 70 * 96 / 192 = 65% */
	assert_string_equal(admission_check(adm, &a, 160, 0, T0, 64), "MaxStartups");
	assert_null(admission_check(adm, &a, 160, 0, T0, 65));
	assert_string_equal(admission_check(adm, &a, 255, 0, T0, 98), "MaxStartups");
	/* A single number is a hard limit (begin = full). */
	cfg.max_startups_begin = cfg.max_startups = 3;
	cfg.max_startups_rate = 100;
	assert_null(admission_check(adm, &a, 2, 0, T0, 99));
	assert_string_equal(admission_check(adm, &a, 3, 0, T0, 99), "MaxStartups");
}

static void test_per_source(void **state)
{
	struct admission_source a;

	(void)state;
	setup_defaults();
	a = src("198.51.100.1");
	assert_null(admission_check(adm, &a, 15, 15, T0, 99));
	assert_string_equal(admission_check(adm, &a, 16, 16, T0, 99), "PerSourceMaxStartups");
	cfg.per_source_max_startups = 0;		/* none */
	assert_null(admission_check(adm, &a, 16, 16, T0, 99));
}

/* OpenSSH's defaults: authfail 5 s, noauth 1 s, grace-exceeded 10 s, min 15 s, max 600 s. */
static void test_penalties(void **state)
{
	struct admission_source a, b;
	uint64_t now = T0;
	int i;

	(void)state;
	setup_defaults();
	a = src("198.51.100.1");
	b = src("198.51.100.2");
	/* Successes cost nothing, however many. */
	for (i = 0; i < 1000; i++)
		admission_done(adm, &a, ADMISSION_AUTHENTICATED, now);
	assert_null(admission_check(adm, &a, 0, 0, now, 99));
	/* Two failures: 10 s accrued, under min: still admitted. */
	admission_done(adm, &a, ADMISSION_AUTHFAIL, now);
	admission_done(adm, &a, ADMISSION_AUTHFAIL, now);
	assert_null(admission_check(adm, &a, 0, 0, now, 99));
	assert_int_equal(admission_penalty_left(adm, &a, now), 0);
	/* The third reaches min: refused for 15 s, then admitted again. */
	admission_done(adm, &a, ADMISSION_AUTHFAIL, now);
	assert_string_equal(admission_check(adm, &a, 0, 0, now, 99), "PerSourcePenalties");
	assert_int_equal(admission_penalty_left(adm, &a, now), 15);
	assert_null(admission_check(adm, &b, 0, 0, now, 99));	/* only that source */
	assert_string_equal(admission_check(adm, &a, 0, 0, now + 14 * SEC, 99),
	    "PerSourcePenalties");
	assert_null(admission_check(adm, &a, 0, 0, now + 15 * SEC, 99));
	/* Accrued time that expired is forgotten: one failure later is under min again. */
	now += 100 * SEC;
	admission_done(adm, &a, ADMISSION_AUTHFAIL, now);
	assert_null(admission_check(adm, &a, 0, 0, now, 99));
	/* Growing: each grace-exceeded adds 10 s, up to max (600 s). */
	for (i = 0; i < 100; i++)
		admission_done(adm, &b, ADMISSION_GRACE_EXCEEDED, now);
	assert_int_equal(admission_penalty_left(adm, &b, now), 600);
	assert_string_equal(admission_check(adm, &b, 0, 0, now + 599 * SEC, 99),
	    "PerSourcePenalties");
	assert_null(admission_check(adm, &b, 0, 0, now + 600 * SEC, 99));
	/* noauth: 1 s each, 15 needed. */
	a = src("198.51.100.3");
	for (i = 0; i < 14; i++)
		admission_done(adm, &a, ADMISSION_NOAUTH, now);
	assert_null(admission_check(adm, &a, 0, 0, now, 99));
	admission_done(adm, &a, ADMISSION_NOAUTH, now);
	assert_non_null(admission_check(adm, &a, 0, 0, now, 99));
	/* Disabled: nothing is recorded. */
	cfg.penalties.enabled = false;
	a = src("198.51.100.4");
	for (i = 0; i < 10; i++)
		admission_done(adm, &a, ADMISSION_AUTHFAIL, now);
	cfg.penalties.enabled = true;
	assert_null(admission_check(adm, &a, 0, 0, now, 99));
}

static bool exempt(const char *text)
{
	struct sockaddr_storage ss;

	sockaddr_of(text, &ss);
	return admission_exempt(adm, (struct sockaddr *)&ss);
}

/* Exemption is decided on the peer's own address (as sshd), not on its source block: an
 * exempt IPv6 /128 inside a /64, an exempt IPv4 address with PerSourceNetBlockSize 24. */
static void test_exempt(void **state)
{
	(void)state;
	setup_defaults();
	cfg.penalties.exempt[0] = (struct bastion_net){ .family = 4, .addr = { 192, 0, 2, 0 },
	    .bits = 24 };
	cfg.penalties.exempt[1] = (struct bastion_net){ .family = 6, .addr = { 0x20, 0x01, 0x0d,
	    0xb8, [15] = 5 }, .bits = 128 };
	cfg.penalties.exempt[2] = (struct bastion_net){ .family = 4, .addr = { 198, 51, 100, 9 },
	    .bits = 32 };
	cfg.penalties.n_exempt = 3;
	cfg.per_source_v4_bits = 24;
	assert_true(exempt("192.0.2.77"));
	assert_true(exempt("::ffff:192.0.2.77"));
	assert_false(exempt("192.0.3.77"));
	assert_true(exempt("2001:db8::5"));
	assert_false(exempt("2001:db8::6"));	/* same /64 block, not exempt */
	assert_true(exempt("198.51.100.9"));
	assert_false(exempt("198.51.100.10"));	/* same /24 block, not exempt */
}

/* Many more sources than the table holds: memory stays fixed, the most recent sources are
 * still refused, and nothing that was never penalised is refused. */
static void test_table_full(void **state)
{
	struct admission_source s, fresh;
	char text[64];
	unsigned i, refused = 0;

	(void)state;
	setup_defaults();
	for (i = 0; i < 4 * ADMISSION_BUCKETS * ADMISSION_WAYS; i++) {
		snprintf(text, sizeof(text), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		s = src(text);
		admission_done(adm, &s, ADMISSION_GRACE_EXCEEDED, T0 + i);
		admission_done(adm, &s, ADMISSION_GRACE_EXCEEDED, T0 + i);
	}
	/* The last source added is refused (it was just written). */
	assert_non_null(admission_check(adm, &s, 0, 0, T0 + i, 99));
	for (i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "2001:db8:ffff:%x::1", i);
		fresh = src(text);
		if (admission_check(adm, &fresh, 0, 0, T0 + 4 * ADMISSION_BUCKETS * ADMISSION_WAYS,
		    99))
			refused++;
	}
	assert_int_equal(refused, 0);
}

/* One log line a second; the refusals in between are counted. */
static void test_log_due(void **state)
{
	unsigned long n = 99;
	int i;

	(void)state;
	setup_defaults();
	assert_true(admission_log_due(adm, T0, &n));
	assert_int_equal(n, 0);
	for (i = 0; i < 500; i++)
		assert_false(admission_log_due(adm, T0 + (uint64_t)i * 1000000, &n));
	assert_true(admission_log_due(adm, T0 + SEC, &n));
	assert_int_equal(n, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_max_startups),
		cmocka_unit_test(test_per_source),
		cmocka_unit_test(test_penalties),
		cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_log_due),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
