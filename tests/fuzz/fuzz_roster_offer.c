/* libFuzzer target: roster_sync_check, the gate every roster offered to tunneld passes
 * (Roster.new, a gossip POST or pull), with a real pinned admin key A.  Input: one mode byte
 * (tests/support/fuzz_roster.h) and a roster text.  With FUZZ_ROSTER_SIGN_A or _B the
 * harness signs the text itself (A, or B which only an endorse line from A makes trusted), so
 * the fuzzer reaches the full parse behind the signature check; otherwise the text is checked
 * as given (the signature, header scan and size paths).  Checks the contract as well as
 * memory safety: a rejected candidate leaves *out empty and a reason; an accepted one ends
 * in exactly the signature A or B makes over its body (no forgery), is newer than the
 * running roster, serializes back to the input byte for byte, and roster_verify (the check
 * over the parsed roster) agrees with the raw-bytes check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/lib/key.h"
#include "keys/lib/roster.h"
#include "tunneld/roster_sync.h"
#include "tests/support/fuzz_roster.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t sec_a[ROSTER_ADMIN_SECRET_LEN], pub_a[KEY_LEN];
static uint8_t sec_b[ROSTER_ADMIN_SECRET_LEN], pub_b[KEY_LEN];
static struct roster running;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_roster_offer: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	fuzz_roster_keys(sec_a, pub_a, sec_b, pub_b);
	if (!fuzz_roster_build(&running, 5, pub_a))
		abort();
	return 0;
}

/* body || "signature " base64(Ed25519(sec, magic || be32(1) || SHA-512(body))) "\n". */
static char *sign_text(const char *body, size_t len, const uint8_t *sec, size_t *out_len)
{
	static const char magic[] = "warren roster signature\n";
	uint8_t msg[sizeof(magic) - 1 + 4 + crypto_hash_sha512_BYTES], sig[64];
	char b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
	char *t = malloc(len + 10 + sizeof(b64) + 1);

	if (!t)
		return NULL;
	memcpy(msg, magic, sizeof(magic) - 1);
	memcpy(msg + sizeof(magic) - 1, "\0\0\0\1", 4);
	crypto_hash_sha512(msg + sizeof(magic) - 1 + 4, (const uint8_t *)body, len);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sec);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	memcpy(t, body, len);
	memcpy(t + len, "signature ", 10);
	memcpy(t + len + 10, b64, strlen(b64));
	t[len + 10 + strlen(b64)] = '\n';
	*out_len = len + 11 + strlen(b64);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t trusted[KEY_LEN], trusted2[KEY_LEN];
	struct roster out;
	enum roster_offer_result res;
	const struct roster *run;
	char why[512], why2[256], *text, *again;
	size_t len, alen;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0];
	run = mode & FUZZ_ROSTER_RUNNING ? &running : NULL;
	if (mode & (FUZZ_ROSTER_SIGN_A | FUZZ_ROSTER_SIGN_B))
		text = sign_text((const char *)data + 1, size - 1,
		    mode & FUZZ_ROSTER_SIGN_A ? sec_a : sec_b, &len);
	else if ((text = malloc(size)))
		memcpy(text, data + 1, len = size - 1);
	if (!text)
		return 0;
	res = roster_sync_check(run, pub_a, text, len, "fuzz", &out, trusted, why, sizeof(why));
	if (res != ROSTER_OFFER_ACCEPTED) {
		if (out.n_nodes || out.n_engineers || out.n_endorsements)
			fail("rejected, yet *out is not empty");
		if (!why[0])
			fail("rejected without a reason");
		goto done;
	}
	/* Ed25519 is deterministic: an accepted text ends in exactly the signature that the
	 * trusted key's holder makes over the rest; anything else would be a forgery. */
	if (len < 99 || (sodium_memcmp(trusted, pub_a, KEY_LEN) != 0 &&
	    sodium_memcmp(trusted, pub_b, KEY_LEN) != 0))
		fail("accepted a roster signed by neither A nor B");
	again = sign_text(text, len - 99, sodium_memcmp(trusted, pub_a, KEY_LEN) == 0 ? sec_a :
	    sec_b, &alen);
	if (!again)
		fail("out of memory");
	if (alen != len || memcmp(again, text, len) != 0)
		fail("accepted a signature its key's holder did not make: forgery");
	free(again);
	if (run && (out.serial <= run->serial || strcmp(out.network, run->network) != 0))
		fail("accepted a roster that is not newer, or of another network");
	if ((mode & FUZZ_ROSTER_SIGN_A) && sodium_memcmp(trusted, pub_a, KEY_LEN) != 0)
		fail("trusted key is not the signer");
	again = roster_serialize(&out, true, &alen);
	if (!again)
		fail("out of memory");
	if (alen != len || memcmp(again, text, len) != 0)
		fail("accepted text is not canonical: serialize(parse(x)) != x");
	free(again);
	if (!roster_verify(&out, pub_a, trusted2, why2, sizeof(why2)) ||
	    sodium_memcmp(trusted, trusted2, KEY_LEN) != 0)
		fail("roster_verify disagrees with the raw-bytes check");
	roster_free(&out);
done:
	free(text);
	return 0;
}
