/* The JSON string escaper (common/json.c): a numbered case table (UTF-8 kept, quotes,
 * backslash, controls, ESC, DEL, invalid UTF-8 as \u00XX), json_string_write into a memory
 * stream, and long random input: the output is valid UTF-8 with no raw control byte, and every
 * piece stands for the input it claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "common/json_read.h"
#include "common/utf8.h"

static const struct {
	const char *in, *out;
} cases[] = {
	/* 1 */ { "jos\xc3\xa9", "\"jos\xc3\xa9\"" },
	/* 2 */ { "\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xe2\x82\xac\xf0\x9f\x98\x80\"" },
	/* 3 */ { "say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"" },
	/* 4 */ { "a\nb\r\t", "\"a\\u000ab\\u000d\\u0009\"" },
	/* 5 */ { "\x1b[31m\x7f", "\"\\u001b[31m\\u007f\"" },
	/* 6: invalid UTF-8: a lone lead byte, an overlong '/', a surrogate, a stray byte */
	/* 6 */ { "\xc3 \xc0\xaf \xed\xa0\x80 \x80",
		  "\"\\u00c3 \\u00c0\\u00af \\u00ed\\u00a0\\u0080 \\u0080\"" },
	/* 7: the Latin-1 reading of UTF-8 (what keys --json printed before) is not produced */
	/* 7 */ { "\xc3\xa9", "\"\xc3\xa9\"" },
	/* 8 */ { "", "\"\"" },
};

static void test_json_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		json_string_write(f, cases[i].in);
		fclose(f);
		if (strcmp(buf, cases[i].out))
			fail_msg("case %zu: %s, want %s", i + 1, buf, cases[i].out);
		free(buf);
	}
}

static void test_json_long_random(void **state)
{
	enum { N = 65536 };
	unsigned char *in = malloc(N);
	char piece[JSON_ESCAPE_MAX];
	uint32_t x = 777, cp;
	size_t i = 0, len, k, j;

	(void)state;
	assert_non_null(in);
	for (j = 0; j < N; j++) {
		x = x * 1103515245u + 12345u;
		/* Half ASCII, half high bytes, so that valid sequences occur too. */
		in[j] = (unsigned char)(x >> 16) | ((x >> 8 & 1) ? 0x80 : 0);
	}
	while (i < N) {
		k = json_escape_next((const char *)in + i, N - i, piece, &len);
		assert_true(k >= 1 && k <= 4 && len >= 1 && len <= JSON_ESCAPE_MAX);
		if (piece[0] == '\\') {
			if (len == 2) {
				assert_true(k == 1 && (piece[1] == '"' || piece[1] == '\\') &&
				    in[i] == (unsigned char)piece[1]);
			} else {
				unsigned v = (unsigned)strtoul(piece + 2, NULL, 16);

				assert_int_equal(len, 6);
				assert_int_equal(k, 1);
				assert_memory_equal(piece, "\\u00", 4);
				assert_int_equal(v, in[i]);
			}
		} else {
			/* Passed through: exactly the input, well-formed, no control byte. */
			assert_int_equal(len, k);
			assert_memory_equal(piece, in + i, k);
			assert_int_equal(utf8_seq_decode((const unsigned char *)piece, len, &cp),
			    len);
			assert_true(cp >= 0x20 && cp != 0x7f && cp != '"');
		}
		i += k;
	}
	free(in);
}

/* ---- the strict reader (json_read.h) ---- */

/* Each text: whether json_read_skip + json_read_end accept it as one whole JSON text. */
static const struct {
	const char *text;
	bool valid;
} skip_cases[] = {
	/* 1 */ { "{\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\ud83d\\ude00\"]}", true },
	/* 2 */ { " [ ] ", true },
	/* 3 */ { "{}", true },
	/* 4 */ { "0", true },
	/* 5 */ { "[1,]", false },
	/* 6 */ { "{\"a\" 1}", false },
	/* 7 */ { "{\"a\": 1,}", false },
	/* 8 */ { "01", false },
	/* 9 */ { "1.", false },
	/* 10 */ { "\"tab\there\"", false },		/* raw control byte */
	/* 11 */ { "\"\\ud800\"", false },		/* unpaired surrogate */
	/* 12 */ { "\"\\u0000\"", false },
	/* 13 */ { "\"\\x\"", false },
	/* 14 */ { "\"\xff\"", false },			/* not UTF-8 */
	/* 15 */ { "[1] 2", false },
	/* 16 */ { "\"open", false },
	/* 17 */ { "tru", false },
	/* 18 */ { "{\"a\": {\"b\": [}}", false },
};

static void test_json_read_skip_cases(void **state)
{
	struct json_read r;

	(void)state;
	for (size_t i = 0; i < sizeof(skip_cases) / sizeof(skip_cases[0]); i++) {
		const char *t = skip_cases[i].text;
		bool ok;

		json_read_init(&r, t, strlen(t));
		ok = json_read_skip(&r) && json_read_end(&r);
		if (ok != skip_cases[i].valid)
			fail_msg("case %zu: '%s' %s", i + 1, t, ok ? "accepted" : "refused");
	}
}

static void test_json_read_depth_bound(void **state)
{
	char deep[2 * JSON_READ_DEPTH + 3];
	struct json_read r;
	size_t n;

	(void)state;
	/* JSON_READ_DEPTH levels pass, one more is refused (no unbounded recursion). */
	for (n = JSON_READ_DEPTH; n <= JSON_READ_DEPTH + 1; n++) {
		memset(deep, '[', n);
		memset(deep + n, ']', n);
		json_read_init(&r, deep, 2 * n);
		assert_int_equal(json_read_skip(&r) && json_read_end(&r), n == JSON_READ_DEPTH);
	}
}

static void test_json_read_values(void **state)
{
	const char *t = "{\"s\": \"caf\\u00e9 \\\"q\\\" \\n\", \"n\": 18446744073709551615, "
	    "\"big\": 18446744073709551616, \"neg\": -1, \"f\": 1.5}";
	char s[32], small[4];
	struct json_read r;
	uint64_t v;

	(void)state;
	json_read_init(&r, t, strlen(t));
	assert_true(json_read_char(&r, '{'));
	assert_true(json_read_string(&r, s, sizeof(s)) && !strcmp(s, "s"));
	assert_true(json_read_char(&r, ':'));
	assert_true(json_read_string(&r, s, sizeof(s)));
	assert_string_equal(s, "caf\xc3\xa9 \"q\" \n");
	assert_true(json_read_char(&r, ','));
	assert_true(json_read_string(&r, s, sizeof(s)) && json_read_char(&r, ':'));
	assert_true(json_read_uint(&r, &v));
	assert_true(v == UINT64_MAX);
	assert_true(json_read_char(&r, ','));
	assert_true(json_read_string(&r, s, sizeof(s)) && json_read_char(&r, ':'));
	assert_false(json_read_uint(&r, &v));		/* overflows */
	json_read_init(&r, "-1", 2);
	assert_false(json_read_uint(&r, &v));
	json_read_init(&r, "1.5", 3);
	assert_false(json_read_uint(&r, &v));
	/* A string longer than the buffer is refused, not cut. */
	json_read_init(&r, "\"abcd\"", 6);
	assert_false(json_read_string(&r, small, sizeof(small)));
	json_read_init(&r, "\"abc\"", 5);
	assert_true(json_read_string(&r, small, sizeof(small)) && !strcmp(small, "abc"));
}

/* Member names: each once per object, bounded in length and in count. */
static void test_json_read_member(void **state)
{
	struct json_read r;
	struct json_read_members m = { 0 };
	const char *name;
	char text[JSON_READ_MEMBERS * 8 + 16];
	size_t k = 0;
	const char *t;

	(void)state;
	t = "\"a\": \"b\" : \"a\":";
	json_read_init(&r, t, strlen(t));
	assert_true(json_read_member(&r, &m, &name) && !strcmp(name, "a"));
	assert_true(json_read_member(&r, &m, &name) && !strcmp(name, "b"));
	assert_false(json_read_member(&r, &m, &name));		/* "a" again */
	/* The same name spelt with an escape is the same name. */
	m = (struct json_read_members){ 0 };
	t = "\"ab\":\"a\\u0062\":";
	json_read_init(&r, t, strlen(t));
	assert_true(json_read_member(&r, &m, &name));
	assert_false(json_read_member(&r, &m, &name));
	/* A name longer than JSON_READ_NAME_MAX is refused, not cut. */
	m = (struct json_read_members){ 0 };
	t = "\"0123456789012345678901234567890123\":";
	json_read_init(&r, t, strlen(t));
	assert_false(json_read_member(&r, &m, &name));
	/* JSON_READ_MEMBERS distinct names, then no more. */
	m = (struct json_read_members){ 0 };
	for (int i = 0; i <= JSON_READ_MEMBERS; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, "\"m%d\":", i);
	json_read_init(&r, text, k);
	for (int i = 0; i < JSON_READ_MEMBERS; i++)
		assert_true(json_read_member(&r, &m, &name));
	assert_false(json_read_member(&r, &m, &name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_cases),
		cmocka_unit_test(test_json_long_random),
		cmocka_unit_test(test_json_read_skip_cases),
		cmocka_unit_test(test_json_read_depth_bound),
		cmocka_unit_test(test_json_read_values),
		cmocka_unit_test(test_json_read_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
