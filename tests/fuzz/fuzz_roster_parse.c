/* libFuzzer target: roster_parse, the parser of every roster a node is handed (Roster.new, a
 * gossip POST from a peer).  Checks the contract as well as memory safety: true exactly when
 * no error was collected, an empty roster after a failure, and for an accepted roster the
 * canonical property itself: serializing it gives back the input byte for byte.  Signature
 * verification against a fixed key must not crash either. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/lib/key.h"
#include "keys/lib/roster.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_roster_parse: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pinned[KEY_LEN] = { 1 };
	struct roster_errors errs = { 0 };
	uint8_t trusted[KEY_LEN];
	struct roster r;
	char why[256], *text, *again;
	size_t len;
	bool ok;

	/* Exact-size heap copy, not NUL-terminated: the parser must honour len. */
	text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	ok = roster_parse(text, size, "fuzz", &r, &errs);
	if (ok != (errs.count == 0))
		fail("return value disagrees with the errors collected");
	if (!ok) {
		if (r.n_nodes || r.n_engineers || r.n_endorsements || r.nodes || r.engineers)
			fail("a failed parse left data behind");
		for (size_t i = 0; i < errs.count; i++) {
			if (!errs.msgs[i] || strncmp(errs.msgs[i], "fuzz:", 5) != 0)
				fail("an error that does not name the file");
		}
	} else {
		again = roster_serialize(&r, r.has_signature, &len);
		if (!again)
			fail("serialize failed");
		if (len != size || memcmp(again, data, size) != 0)
			fail("an accepted roster is not canonical: serialize(parse(x)) != x");
		free(again);
		(void)roster_verify(&r, pinned, trusted, why, sizeof(why));
	}
	roster_errors_free(&errs);
	roster_free(&r);
	free(text);
	return 0;
}
