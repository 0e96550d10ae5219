/* libFuzzer target: the strict JSON cursor (common/json_read.h), which reads other nodes'
 * answers.  Any input: no out-of-bounds read, no unbounded recursion.  A string it reads is
 * read the same by the skipper, is well-formed UTF-8 without NUL, and survives a round trip
 * through the writer's escaper (common/json.h) unchanged. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/json_read.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_json_read: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so that ASan sees any read past the end. */
	char *in = malloc(size ? size : 1), out[4096], again[4096], piece[JSON_ESCAPE_MAX];
	char *esc = malloc(2 + JSON_ESCAPE_MAX * sizeof(out));
	struct json_read r;
	size_t n, k, i, len;
	uint64_t v;
	uint32_t cp;
	bool ok;

	if (!in || !esc)
		abort();
	memcpy(in, data, size);
	json_read_init(&r, in, size);
	(void)(json_read_skip(&r) && json_read_end(&r));

	json_read_init(&r, in, size);
	(void)json_read_uint(&r, &v);

	json_read_init(&r, in, size);
	ok = json_read_string(&r, out, sizeof(out));
	if (ok) {
		json_read_init(&r, in, size);
		if (!json_read_skip(&r))
			fail("a string read is refused by the skipper");
		n = strlen(out);
		for (i = 0; i < n; i += k)
			if (!(k = utf8_seq_decode((const unsigned char *)out + i, n - i, &cp)))
				fail("a string read is not well-formed UTF-8");
		/* Escape and read back. */
		k = 0;
		esc[k++] = '"';
		for (i = 0; i < n;) {
			i += json_escape_next(out + i, n - i, piece, &len);
			memcpy(esc + k, piece, len);
			k += len;
		}
		esc[k++] = '"';
		json_read_init(&r, esc, k);
		if (!json_read_string(&r, again, sizeof(again)) || strcmp(out, again) != 0 ||
		    !json_read_end(&r))
			fail("the escaper's form of a string does not read back the same");
	}
	free(esc);
	free(in);
	return 0;
}
