/* The logger: the per-call-site rate limit (a numbered case table on a fake clock, then the
 * log_rl macro end to end into a captured stderr: one budget per call site, the summary line)
 * and the escaping of control bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunneld/log.h"

#define S	1000000000ull

/* Each step: at time t (ns), n calls; expect allowed of them to pass and the first to report
 * suppressed. */
static const struct {
	uint64_t t;
	unsigned n, allowed;
	unsigned long suppressed;
} steps[] = {
	/* 1 */ { 0, 1, 1, 0 },
	/* 2 */ { 1 * S, LOG_RATELIMIT_BURST - 1, LOG_RATELIMIT_BURST - 1, 0 },
	/* 3 */ { 2 * S, 25, 0, 0 },				/* over budget: counted */
	/* 4: still the first interval; 5: a new interval, the summary */
	/* 4 */ { LOG_RATELIMIT_INTERVAL * S - 1, 5, 0, 0 },
	/* 5 */ { LOG_RATELIMIT_INTERVAL * S, 1, 1, 30 },
	/* 6 */ { LOG_RATELIMIT_INTERVAL * S + 1, LOG_RATELIMIT_BURST + 3,
		  LOG_RATELIMIT_BURST - 1, 0 },
	/* 7 */ { 100 * S, 2, 2, 4 },				/* long quiet: one summary */
	/* 8 */ { 200 * S, 1, 1, 0 },				/* nothing dropped: none */
};

static void test_log_ratelimit_table(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned long suppressed, first;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		unsigned allowed = 0;

		for (unsigned k = 0; k < steps[i].n; k++) {
			allowed += log_ratelimit_check(&rl, steps[i].t, &suppressed);
			if (k == 0)
				first = suppressed;
			else
				assert_int_equal(suppressed, 0);
		}
		if (allowed != steps[i].allowed || first != steps[i].suppressed)
			fail_msg("step %zu: %u allowed (want %u), %lu reported (want %lu)", i + 1,
			    allowed, steps[i].allowed, first, steps[i].suppressed);
	}
}

/* Runs fn with stderr captured; returns what it wrote (malloc'd). */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/test_log.XXXXXX", *out;
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	long len;
	FILE *f;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	out = calloc(1, (size_t)len + 1);
	assert_non_null(out);
	assert_int_equal(fread(out, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return out;
}

static unsigned count(const char *s, const char *what)
{
	unsigned n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void two_sites_flooded(void)
{
	for (int i = 0; i < 1000; i++) {
		log_warn_rl("site one %d", i);
		log_rl_errno(LOG_LEVEL_WARN, 24, "site two %d", i);
		log_debug_rl("below the level %d", i);	/* not even counted */
	}
}

static void test_log_rl_per_site(void **state)
{
	char *out;

	(void)state;
	log_init("test", LOG_LEVEL_INFO, false);
	out = capture(two_sites_flooded);
	assert_int_equal(count(out, "site one"), LOG_RATELIMIT_BURST);
	assert_int_equal(count(out, "site two"), LOG_RATELIMIT_BURST);
	assert_int_equal(count(out, "Too many open files"), LOG_RATELIMIT_BURST);
	assert_int_equal(count(out, "below the level"), 0);
	assert_int_equal(count(out, "\n"), 2 * LOG_RATELIMIT_BURST);
	free(out);
}

static void hostile_bytes(void)
{
	log_warn("peer said %s", "a\nb\r\x1b[31mred\x7f");
}

static void test_log_escapes_control_bytes(void **state)
{
	char *out;

	(void)state;
	log_init("test", LOG_LEVEL_INFO, false);
	out = capture(hostile_bytes);
	assert_string_equal(out, "test: warning: peer said a\\x0ab\\x0d\\x1b[31mred\\x7f\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_ratelimit_table),
		cmocka_unit_test(test_log_rl_per_site),
		cmocka_unit_test(test_log_escapes_control_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
