/* The logger: the per-call-site rate limit (a numbered case table on a fake clock, then the
 * log_rl macro end to end into a captured stderr: one budget per call site, the summary line),
 * the escaping of each whole message (a forged line, terminal escapes, C1, UTF-8 kept, in
 * log_msg and log_errno, on stderr and to syslog), a message cut at its bound on an escape
 * boundary, and the command line tool's format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/vis.h"

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
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_STDERR);
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
	log_info("jump to %.100s port %d", "x\ntest: info: accepted publickey for root", 22);
	log_info("name %s, csi %s, bidi %s", "jos\xc3\xa9", "\xc2\x9b" "2J", "\xe2\x80\xae");
	log_errno(LOG_LEVEL_ERROR, 2, "cannot open %s", "f\n\x1b");
}

static void test_log_escapes_control_bytes(void **state)
{
	char *out;

	(void)state;
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_STDERR);
	out = capture(hostile_bytes);
	assert_string_equal(out,
	    "test: warning: peer said a\\nb\\r\\033[31mred\\177\n"
	    "test: info: jump to x\\ntest: info: accepted publickey for root port 22\n"
	    "test: info: name jos\xc3\xa9, csi \\302\\2332J, bidi \\342\\200\\256\n"
	    "test: error: cannot open f\\n\\033: No such file or directory\n");
	free(out);
}

/* A message of 2 * LOG_MSG_MAX ESC bytes: cut to LOG_MSG_MAX - 1 bytes, every one escaped
 * whole, one line. */
static void long_hostile(void)
{
	char big[2 * LOG_MSG_MAX];

	memset(big, 0x1b, sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
}

static void test_log_truncates_on_escape_boundary(void **state)
{
	char *out;
	size_t prefix = strlen("test: info: ");

	(void)state;
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_STDERR);
	out = capture(long_hostile);
	assert_int_equal(strlen(out), prefix + VIS_ESCAPE_MAX * (LOG_MSG_MAX - 1) + 1);
	assert_int_equal(count(out, "\n"), 1);
	assert_int_equal(count(out, "\\033"), LOG_MSG_MAX - 1);
	assert_int_equal(out[strlen(out) - 2], '3');
	free(out);
}

/* syslog(3) replaced for this test (the executable's definitions win over libc's): the last
 * message, formatted.  __syslog_chk is what syslog becomes under _FORTIFY_SOURCE. */
static char syslog_last[8192];
static int syslog_pri = -1;

void __syslog_chk(int pri, int flag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void syslog_record(int pri, const char *fmt, va_list ap)
{
	syslog_pri = pri;
	vsnprintf(syslog_last, sizeof(syslog_last), fmt, ap);
}

void openlog(const char *ident, int option, int facility)
{
	(void)ident;
	(void)option;
	(void)facility;
}

void syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	syslog_record(pri, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	syslog_record(pri, fmt, ap);
	va_end(ap);
}

static void test_log_syslog_escaped(void **state)
{
	(void)state;
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_SYSLOG);
	log_warn("jump to %s", "x\ntest: accepted\x1b[2J\xc2\x9b caf\xc3\xa9");
	assert_int_equal(syslog_pri, LOG_WARNING);
	assert_string_equal(syslog_last,
	    "jump to x\\ntest: accepted\\033[2J\\302\\233 caf\xc3\xa9");
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_STDERR);
}

static void tool_lines(void)
{
	log_error("no engineer '%s'", "e\x1b");
	log_warn("writing a key to a file with mode %o", 0644u);
}

static void test_log_tool_format(void **state)
{
	char *out;

	(void)state;
	log_init("keys", LOG_LEVEL_INFO, LOG_DEST_TOOL);
	out = capture(tool_lines);
	assert_string_equal(out, "keys: no engineer 'e\\033'\n"
	    "keys: warning: writing a key to a file with mode 644\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_ratelimit_table),
		cmocka_unit_test(test_log_rl_per_site),
		cmocka_unit_test(test_log_escapes_control_bytes),
		cmocka_unit_test(test_log_truncates_on_escape_boundary),
		cmocka_unit_test(test_log_tool_format),
		cmocka_unit_test(test_log_syslog_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
