/* The log escaper (common/vis.c): a numbered case table (controls, ESC sequences, newline
 * injection, backslash, UTF-8 kept, C1 and bidi characters and invalid UTF-8 escaped), every
 * truncation point of a hostile string (a cut never splits an escape or a UTF-8 sequence, and
 * takes as much as fits), and long random input decoded back by a naive unvis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/vis.h"

static const struct {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *out;
} cases[] = {
	/* 1 */ { "plain text, 100% ASCII ~!", 0, "plain text, 100% ASCII ~!" },
	/* 2 */ { "a\nb\rc\td", 0, "a\\nb\\rc\\td" },
	/* 3 */ { "x\nbastion: info: accepted publickey for root", 0,
		  "x\\nbastion: info: accepted publickey for root" },
	/* 4 */ { "\x1b[2J\x1b]0;title\x07", 0, "\\033[2J\\033]0;title\\007" },
	/* 5 */ { "del\x7f nul", 0, "del\\177 nul" },
	/* 6 */ { "a\\b", 0, "a\\\\b" },
	/* 7 */ { "jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0,
		  "jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	/* 8: C1 controls: NEL, CSI */
	/* 8 */ { "\xc2\x85\xc2\x9b" "31m", 0, "\\302\\205\\302\\23331m" },
	/* 9: U+00A0, the first printable after C1, stays */
	/* 9 */ { "\xc2\xa0", 0, "\xc2\xa0" },
	/* 10: RLO, LRI, U+2028 */
	/* 10 */ { "\xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8", 0,
		   "\\342\\200\\256\\342\\201\\246\\342\\200\\250" },
	/* 11: a stray continuation byte, a lone lead byte, an overlong '/', F5 */
	/* 11 */ { "\x80 \xc3 \xc0\xaf \xf5", 0, "\\200 \\303 \\300\\257 \\365" },
	/* 12: a surrogate (U+D800), above U+10FFFF */
	/* 12 */ { "\xed\xa0\x80\xf4\x90\x80\x80", 0,
		   "\\355\\240\\200\\364\\220\\200\\200" },
	/* 13: a sequence cut short at the end of the input */
	/* 13 */ { "ab\xe2\x82", 0, "ab\\342\\202" },
	/* 14: NUL bytes inside the given length */
	/* 14 */ { "a\0b", 3, "a\\000b" },
	/* 15 */ { "", 0, "" },
};

static void test_vis_cases(void **state)
{
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		size_t took = vis_escape(out, sizeof(out), cases[i].in, len);

		if (took != len || strcmp(out, cases[i].out))
			fail_msg("case %zu: \"%s\" (took %zu of %zu), want \"%s\"", i + 1, out,
			    took, len, cases[i].out);
	}
}

/* Every destination size: the output is the escape of exactly the input it took, a prefix of
 * the whole escape, and the next character would not have fit. */
static void test_vis_truncation(void **state)
{
	static const char in[] = "a\n\x1b[1m\xc3\xa9\\\xc2\x9b\xf0\x9f\x98\x80\xe2\x80\xae\xff z";
	size_t n = sizeof(in) - 1;
	char full[256], dst[256], again[256];
	size_t flen;

	(void)state;
	assert_int_equal(vis_escape(full, sizeof(full), in, n), n);
	flen = strlen(full);
	for (size_t size = 1; size <= flen + 1; size++) {
		size_t took = vis_escape(dst, size, in, n), got = strlen(dst), more;

		assert_true(got < size);
		assert_memory_equal(dst, full, got);
		vis_escape(again, sizeof(again), in, took);
		assert_string_equal(again, dst);
		if (took == n) {
			assert_int_equal(size, flen + 1);
			continue;
		}
		/* The next piece: the smallest room that takes more input. */
		for (more = 1; vis_escape(again, got + 1 + more, in, n) == took; more++)
			;
		if (got + more < size)
			fail_msg("size %zu: stopped at %zu bytes though %zu more fit", size, got,
			    more);
	}
}

/* A naive decoder of the format vis.h describes. */
static size_t unvis(unsigned char *out, const char *s)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\') {
			out[n++] = (unsigned char)*s++;
			continue;
		}
		s++;
		switch (*s) {
		case '\\': out[n++] = '\\'; s++; break;
		case 'n': out[n++] = '\n'; s++; break;
		case 'r': out[n++] = '\r'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		default:
			assert_true(s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' &&
			    s[2] >= '0' && s[2] <= '7');
			out[n++] = (unsigned char)((s[0] - '0') << 6 | (s[1] - '0') << 3 |
			    (s[2] - '0'));
			s += 3;
		}
	}
	return n;
}

static void test_vis_long_random(void **state)
{
	enum { N = 65536 };
	unsigned char *in = malloc(N), *back = malloc(N);
	char *out = malloc(VIS_ESCAPE_MAX * N + 1);
	uint32_t x = 12345;

	(void)state;
	assert_non_null(in);
	assert_non_null(back);
	assert_non_null(out);
	for (size_t i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		in[i] = (unsigned char)(x >> 16);
	}
	assert_int_equal(vis_escape(out, VIS_ESCAPE_MAX * N + 1, (const char *)in, N), N);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			fail_msg("raw control byte 0x%02x in the output", *p);
	assert_int_equal(unvis(back, out), N);
	assert_memory_equal(back, in, N);
	free(in);
	free(back);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vis_cases),
		cmocka_unit_test(test_vis_truncation),
		cmocka_unit_test(test_vis_long_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
