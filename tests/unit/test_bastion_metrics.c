/* The bastion's counters and page (bastion/metrics.c): reasons map to a fixed label set
 * ("other" for one the tables do not know), and the page names every family with its type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bastion/bastion.h"
#include "bastion/metrics.h"

static void test_reasons(void **state)
{
	(void)state;
	assert_int_equal(bastion_auth_result_of("key not in roster"), BAUTH_KEY_NOT_IN_ROSTER);
	assert_int_equal(bastion_auth_result_of("password refused"), BAUTH_PASSWORD);
	assert_int_equal(bastion_auth_result_of("made up"), BAUTH_OTHER);
	assert_int_equal(bastion_auth_result_of(NULL), BAUTH_OTHER);
	assert_int_equal(bastion_jump_result_of("not allowed"), BJUMP_NOT_ALLOWED);
	assert_int_equal(bastion_jump_result_of("connect failed: No route to host"),
	    BJUMP_CONNECT_FAILED);
	assert_int_equal(bastion_jump_result_of("no socket"), BJUMP_OTHER);
	assert_int_equal(bastion_admission_result_of("PerSourcePenalties"),
	    BADMIT_PER_SOURCE_PENALTIES);
	assert_int_equal(bastion_admission_result_of("PerSourceMaxStartups"),
	    BADMIT_PER_SOURCE_MAX_STARTUPS);
	assert_int_equal(bastion_admission_result_of("MaxStartups"), BADMIT_MAX_STARTUPS);
}

static void test_page(void **state)
{
	static struct bastion b;
	struct prom_writer w;

	(void)state;
	b.n_sessions = 3;
	b.n_relays = 2;
	b.stats.auth[BAUTH_ACCEPTED] = 5;
	b.stats.jumps[BJUMP_NOT_ALLOWED] = 7;
	b.stats.bytes_to_engineer = 1234;
	prom_writer_init(&w);
	bastion_metrics_write(&w, &b, 1);
	assert_false(prom_writer_failed(&w));
	assert_non_null(strstr(w.buf, "# TYPE bastion_jumps_open gauge\nbastion_jumps_open 2\n"));
	assert_non_null(strstr(w.buf,
	    "bastion_auth_attempts_total{result=\"accepted\",reason=\"none\"} 5\n"));
	assert_non_null(strstr(w.buf,
	    "bastion_jumps_total{result=\"refused\",reason=\"not_allowed\"} 7\n"));
	assert_non_null(strstr(w.buf,
	    "bastion_relayed_bytes_total{direction=\"to_engineer\"} 1234\n"));
	assert_non_null(strstr(w.buf, "bastion_audit_writable 0\n"));	/* no audit process */
	prom_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
