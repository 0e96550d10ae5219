/* The Prometheus text writer (common/prom.c): label values escaped as the 0.0.4 format defines
 * (backslash, double quote, newline; invalid UTF-8 as '?'), HELP text, numbers, the size
 * bound. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/prom.h"

static const struct {
	const char *in, *out;
} cases[] = {
	/* 1 */ { "db-1", "x{name=\"db-1\"} 7\n" },
	/* 2 */ { "a\\b", "x{name=\"a\\\\b\"} 7\n" },
	/* 3 */ { "say \"hi\"", "x{name=\"say \\\"hi\\\"\"} 7\n" },
	/* 4 */ { "two\nlines", "x{name=\"two\\nlines\"} 7\n" },
	/* 5: all three, and a backslash before a quote (not an escaped quote) */
	/* 5 */ { "\\\"\n", "x{name=\"\\\\\\\"\\n\"} 7\n" },
	/* 6: UTF-8 kept, invalid bytes replaced */
	/* 6 */ { "jos\xc3\xa9 \xc3 \xff", "x{name=\"jos\xc3\xa9 ? ?\"} 7\n" },
	/* 7 */ { "", "x{name=\"\"} 7\n" },
};

static void test_prom_label_escaping(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prom_writer w;
		struct prom_label l = { "name", cases[i].in };

		prom_writer_init(&w);
		prom_sample_u64(&w, "x", &l, 1, 7);
		assert_false(prom_writer_failed(&w));
		if (strcmp(w.buf, cases[i].out))
			fail_msg("case %zu: %s, want %s", i + 1, w.buf, cases[i].out);
		prom_writer_free(&w);
	}
}

static void test_prom_family_and_values(void **state)
{
	const struct prom_label two[2] = { { "a", "1" }, { "b", "2" } };
	struct prom_writer w;

	(void)state;
	prom_writer_init(&w);
	prom_family(&w, "t_total", "counter", "back\\slash and\nnewline \"kept\"");
	prom_sample_u64(&w, "t_total", NULL, 0, UINT64_MAX);
	prom_sample_u64(&w, "t_total", two, 2, 0);
	prom_sample_double(&w, "g", NULL, 0, 1.5);
	prom_sample_double(&w, "g", NULL, 0, NAN);
	prom_sample_double(&w, "g", NULL, 0, -INFINITY);
	prom_sample_double(&w, "g", NULL, 0, 1764570000.123);
	assert_false(prom_writer_failed(&w));
	assert_string_equal(w.buf,
	    "# HELP t_total back\\\\slash and\\nnewline \"kept\"\n"
	    "# TYPE t_total counter\n"
	    "t_total 18446744073709551615\n"
	    "t_total{a=\"1\",b=\"2\"} 0\n"
	    "g 1.5\n"
	    "g NaN\n"
	    "g -Inf\n"
	    "g 1764570000.1229999\n");
	prom_writer_free(&w);
}

/* A value longer than PROM_LABEL_VALUE_MAX is cut; the page stops at PROM_MAX_BYTES and the
 * writer says it failed (no half page is served). */
static void test_prom_bounds(void **state)
{
	char *big = malloc(PROM_LABEL_VALUE_MAX * 2 + 1);
	struct prom_label l = { "v", big };
	struct prom_writer w;
	size_t n = 0;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', PROM_LABEL_VALUE_MAX * 2);
	big[PROM_LABEL_VALUE_MAX * 2] = '\0';
	prom_writer_init(&w);
	prom_sample_u64(&w, "x", &l, 1, 1);
	assert_int_equal(w.len, strlen("x{v=\"\"} 1\n") + PROM_LABEL_VALUE_MAX);
	while (!prom_writer_failed(&w) && n++ < PROM_MAX_BYTES)
		prom_sample_u64(&w, "x", &l, 1, 1);
	assert_true(prom_writer_failed(&w));
	assert_true(w.len <= PROM_MAX_BYTES);
	n = w.len;
	prom_sample_u64(&w, "y", NULL, 0, 1);
	assert_int_equal(w.len, n);
	prom_writer_free(&w);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_label_escaping),
		cmocka_unit_test(test_prom_family_and_values),
		cmocka_unit_test(test_prom_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
