/* The logger: the per-call-site rate limit (a numbered case table on a fake clock, then the
 * log_rl macro end to end into a captured stderr: one budget per call site, the summary line),
 * the escaping of each whole message (a forged line, terminal escapes, C1, UTF-8 kept, in
 * log_msg and log_errno, on stderr and to syslog), a message cut at its bound on an escape
 * boundary, and the command line tool's format; the styles: timestamps, JSON lines (read back
 * with the strict reader: fields, escaping, bounds) and the journal's detection. */
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

#include <regex.h>
#include <sys/stat.h>

#include "common/json_read.h"
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

/* ---- styles ---- */

static void plain_line(void)
{
	log_info("hello %s", "world");
}

static void test_log_timestamps(void **state)
{
	regex_t re;
	char *out;

	(void)state;
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_STDERR);
	log_style_set(LOG_FORMAT_TEXT, true);
	out = capture(plain_line);
	assert_int_equal(regcomp(&re, "^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:"
	    "[0-6][0-9]\\.[0-9]{3}Z test: info: hello world\n$", REG_EXTENDED), 0);
	if (regexec(&re, out, 0, NULL, 0) != 0)
		fail_msg("not a stamped line: '%s'", out);
	regfree(&re);
	free(out);
	/* A tool's messages are not stamped. */
	log_init("keys", LOG_LEVEL_INFO, LOG_DEST_TOOL);
	out = capture(plain_line);
	assert_string_equal(out, "keys: hello world\n");
	free(out);
	log_style_set(LOG_FORMAT_TEXT, false);
}

/* Reads one JSON line: the fixed keys, then the fields present; false if not exactly that. */
static bool json_line_read(const char *line, size_t len, char level[16], char msg[8192],
    char peer[512], char name[512], char endpoint[512])
{
	struct json_read r;
	char key[32], value[64];

	peer[0] = name[0] = endpoint[0] = '\0';
	json_read_init(&r, line, len);
	if (!json_read_char(&r, '{'))
		return false;
	do {
		if (!json_read_string(&r, key, sizeof(key)) || !json_read_char(&r, ':'))
			return false;
		if (!strcmp(key, "time") || !strcmp(key, "program")) {
			if (!json_read_string(&r, value, sizeof(value)))
				return false;
			if (!strcmp(key, "program") && strcmp(value, "test") != 0)
				return false;
			if (!strcmp(key, "time") && (strlen(value) != 24 || value[23] != 'Z'))
				return false;
		} else if (!strcmp(key, "level")) {
			if (!json_read_string(&r, level, 16))
				return false;
		} else if (!strcmp(key, "message")) {
			if (!json_read_string(&r, msg, 8192))
				return false;
		} else if (!strcmp(key, "peer") || !strcmp(key, "name") ||
		    !strcmp(key, "endpoint")) {
			if (!json_read_string(&r, key[0] == 'p' ? peer : key[0] == 'n' ? name :
			    endpoint, 512))
				return false;
		} else {
			return false;
		}
	} while (json_read_char(&r, ','));
	return json_read_char(&r, '}') && json_read_end(&r);
}

static void json_lines(void)
{
	struct log_fields f = { .peer = "AbCd+/=", .name = "db-1\n\"x\"", .endpoint = "192.0.2.1:51820" };
	char big[3 * LOG_FIELD_MAX];

	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_warn("peer said %s", "a\nb\x1b[31m\"q\"\\");
	log_fields_msg(LOG_LEVEL_INFO, &f, "handshake with %s", "db-1");
	log_errno(LOG_LEVEL_ERROR, 2, "cannot open %s", "f");
	f.name = big;
	f.endpoint = NULL;
	log_fields_msg(LOG_LEVEL_INFO, &f, "long name");
	log_info("bad utf-8 \xff\xfe");
}

static void test_log_json_lines(void **state)
{
	char level[16], msg[8192], peer[512], name[512], endpoint[512];
	char *out, *line, *nl;
	unsigned n = 0;

	(void)state;
	log_init("test", LOG_LEVEL_INFO, LOG_DEST_STDERR);
	log_style_set(LOG_FORMAT_JSON, false);
	out = capture(json_lines);
	log_style_set(LOG_FORMAT_TEXT, false);
	for (line = out; (nl = strchr(line, '\n')); line = nl + 1, n++) {
		if (!json_line_read(line, (size_t)(nl - line), level, msg, peer, name, endpoint))
			fail_msg("line %u is not the logger's JSON: '%.*s'", n + 1, (int)(nl - line),
			    line);
		switch (n) {
		case 0:
			assert_string_equal(level, "warning");
			assert_string_equal(msg, "peer said a\nb\x1b[31m\"q\"\\");
			assert_string_equal(peer, "");
			break;
		case 1:
			assert_string_equal(level, "info");
			assert_string_equal(msg, "handshake with db-1");
			assert_string_equal(peer, "AbCd+/=");
			assert_string_equal(name, "db-1\n\"x\"");
			assert_string_equal(endpoint, "192.0.2.1:51820");
			break;
		case 2:
			assert_string_equal(level, "error");
			assert_string_equal(msg, "cannot open f: No such file or directory");
			break;
		case 3:
			assert_int_equal(strlen(name), LOG_FIELD_MAX - 1);
			assert_string_equal(endpoint, "");
			break;
		case 4:
			/* Raw bytes as \u00XX: read back as U+00FF U+00FE. */
			assert_string_equal(msg, "bad utf-8 \xc3\xbf\xc3\xbe");
			break;
		}
	}
	assert_int_equal(n, 5);
	assert_int_equal(count(out, "\\u000a"), 2);		/* no raw newline inside a line */
	free(out);
}

static void test_log_journal_detection(void **state)
{
	char path[] = "/tmp/test_log.XXXXXX", env[64];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(fstat(fd, &st), 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	unsetenv("JOURNAL_STREAM");
	assert_false(log_stderr_is_journal());
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_true(log_stderr_is_journal());
	/* Inherited by a child whose stderr is elsewhere: not the journal. */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	assert_false(log_stderr_is_journal());
	static const char *const bad[] = { "", ":", "1:", ":1", "x:1", "1:1x", "-1:2", "1:2:3",
	    "99999999999999999999999:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		assert_false(log_stderr_is_journal());
	}
	unsetenv("JOURNAL_STREAM");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
}

static void test_log_format_parse(void **state)
{
	enum log_format f;

	(void)state;
	assert_true(log_format_parse("json", &f) && f == LOG_FORMAT_JSON);
	assert_true(log_format_parse("text", &f) && f == LOG_FORMAT_TEXT);
	assert_false(log_format_parse("JSON", &f));
	assert_false(log_format_parse("", &f));
	assert_false(log_format_parse("json ", &f));
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
		cmocka_unit_test(test_log_timestamps),
		cmocka_unit_test(test_log_json_lines),
		cmocka_unit_test(test_log_journal_detection),
		cmocka_unit_test(test_log_format_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
