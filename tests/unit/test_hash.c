/* Primitives under the handshake: BLAKE2s HASH/MAC/HMAC/KDF, ChaCha20-Poly1305 (both
 * backends, differential), XChaCha20-Poly1305, TAI64N.  Known-answer vectors name their
 * source; "python hashlib" vectors come from CPython's own BLAKE2 (an implementation
 * independent of libb2) and were cross-checked against the wireguard-go KDF vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <blake2.h>
#include <sodium.h>

#include "tunneld/wg/aead.h"
#include "tunneld/wg/hash.h"
#include "tunneld/wg/tai64n.h"

static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2, i;
	unsigned int b;

	assert_true(n <= cap);
	assert_int_equal(strlen(hex) % 2, 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t want[512];
	size_t n = unhex(want, sizeof(want), want_hex);

	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
}

/* ---- BLAKE2s ---- */

static void
test_blake2s_unkeyed(void **state)
{
	static const struct { const char *in; const char *out; } cases[] = {
		/* 1: RFC 7693 appendix B */
		{ "abc", "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982" },
		/* 2: blake2s-kat.txt unkeyed, empty input */
		{ "", "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9" },
	};
	uint8_t out[HASH_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hash_blake2s(out, (const uint8_t *)cases[i].in, strlen(cases[i].in));
		assert_hex(out, sizeof(out), cases[i].out);
	}
	/* HASH(a || b) equals HASH of the concatenation, wherever the split falls. */
	hash_blake2s_concat(out, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2);
	assert_hex(out, sizeof(out), cases[0].out);
	hash_blake2s_concat(out, (const uint8_t *)"abc", 3, NULL, 0);
	assert_hex(out, sizeof(out), cases[0].out);
}

/* libb2 itself against the official keyed KAT (key 00..1f, input 00..len-1): makes sure the
 * library we link is BLAKE2s and keyed the way hash_mac relies on. */
static void
test_blake2s_keyed_kat(void **state)
{
	static const struct { size_t len; const char *out; } cases[] = {
		{ 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
		{ 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
		{ 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
	};
	uint8_t key[32], in[255], out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(blake2s(out, in, key, sizeof(out), cases[i].len, sizeof(key)), 0);
		assert_hex(out, sizeof(out), cases[i].out);
	}
}

static void
test_mac(void **state)
{
	/* python hashlib.blake2s(data, key=k, digest_size=16) */
	static const struct { size_t key_len; size_t in_len; const char *in; const char *out; }
	    cases[] = {
		/* 1: 16-byte key (a cookie keying mac2) */
		{ 16, 15, "warren mac test", "a498415da5b73bd4d84705cfdd2f57ed" },
		/* 2: 32-byte key, empty input */
		{ 32, 0, NULL, "9536f9b267655743dee97b8a670f9f53" },
		/* 3: 32-byte key, 200 bytes 00..c7 (more than three blocks) */
		{ 32, 200, NULL, "42a6f8ff590af21b512e9e088257aa34" },
	};
	uint8_t key[32], in[200], out[HASH_MAC_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hash_mac(out, key, cases[i].key_len,
		    cases[i].in ? (const uint8_t *)cases[i].in : in, cases[i].in_len);
		assert_hex(out, sizeof(out), cases[i].out);
	}
	/* A different key must give a different MAC. */
	key[0] ^= 1;
	hash_mac(out, key, 32, in, 0);
	assert_memory_not_equal(out, "\x95\x36\xf9\xb2\x67\x65\x57\x43", 8);
}

static void
test_hmac(void **state)
{
	/* python hmac.new(key, msg, hashlib.blake2s): block size 64 */
	uint8_t key[100], msg[65], out[HASH_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	memset(msg, 'x', sizeof(msg));
	/* 1: key longer than a block is hashed first */
	hash_hmac(out, key, 100, (const uint8_t *)"what do ya want for nothing?", 28);
	assert_hex(out, sizeof(out),
	    "b9486b93aa95b3de8200626125aa8c75c06f047df03ad64a4f9d0b9d7531bd6d");
	/* 2: key exactly one block is used as is */
	hash_hmac(out, key, 64, msg, 65);
	assert_hex(out, sizeof(out),
	    "76a1962445648ceb9113094d0b50eca0eba97f9e3e554ec0f148a19d0f10e346");
}

/* wireguard-go device/kdf_test.go */
static const struct {
	const char *key, *input, *t0, *t1, *t2;
} kdf_cases[] = {
	{ "746573742d6b6579", "746573742d696e707574",
	  "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
	  "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
	  "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24" },
	{ "776972656775617264", "776972656775617264",
	  "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
	  "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
	  "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160" },
	{ "", "",
	  "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
	  "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
	  "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e" },
};

static void
test_kdf(void **state)
{
	uint8_t key[64], in[64], t0[HASH_LEN], t1[HASH_LEN], t2[HASH_LEN];
	size_t i, kl, il;

	(void)state;
	for (i = 0; i < sizeof(kdf_cases) / sizeof(kdf_cases[0]); i++) {
		kl = unhex(key, sizeof(key), kdf_cases[i].key);
		il = unhex(in, sizeof(in), kdf_cases[i].input);
		hash_kdf3(t0, t1, t2, key, kl, in, il);
		assert_hex(t0, HASH_LEN, kdf_cases[i].t0);
		assert_hex(t1, HASH_LEN, kdf_cases[i].t1);
		assert_hex(t2, HASH_LEN, kdf_cases[i].t2);
		memset(t0, 0, sizeof(t0));
		memset(t1, 0, sizeof(t1));
		hash_kdf2(t0, t1, key, kl, in, il);
		assert_hex(t0, HASH_LEN, kdf_cases[i].t0);
		assert_hex(t1, HASH_LEN, kdf_cases[i].t1);
		memset(t0, 0, sizeof(t0));
		hash_kdf1(t0, key, kl, in, il);
		assert_hex(t0, HASH_LEN, kdf_cases[i].t0);
	}
}

/* C = KDF1(C, x) and (C, k) = KDF2(C, C): outputs aliasing inputs. */
static void
test_kdf_alias(void **state)
{
	uint8_t ck[HASH_LEN], ref[HASH_LEN], ref2[HASH_LEN], k[HASH_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ck); i++)
		ck[i] = (uint8_t)(i * 7);
	hash_kdf2(ref, ref2, ck, sizeof(ck), ck, sizeof(ck));
	hash_kdf2(ck, k, ck, sizeof(ck), ck, sizeof(ck));
	assert_memory_equal(ck, ref, HASH_LEN);
	assert_memory_equal(k, ref2, HASH_LEN);
}

/* ---- ChaCha20-Poly1305 ---- */

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
    "only one tip for the future, sunscreen would be it.";
static const char rfc8439_ct[] =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691";

static void
rfc_key(uint8_t key[32])
{
	size_t i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
}

/* RFC 8439 2.8.2 (= RFC 7539 2.8.2), through both backends. */
static void
test_aead_rfc8439(void **state)
{
	static const enum aead_backend backends[] = { AEAD_BACKEND_SODIUM, AEAD_BACKEND_OPENSSL };
	uint8_t key[32], nonce[12], ad[12], buf[200], pt[200];
	size_t len = sizeof(sunscreen) - 1, i;

	(void)state;
	rfc_key(key);
	unhex(nonce, sizeof(nonce), "070000004041424344454647");
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	for (i = 0; i < 2; i++) {
		memset(buf, 0, sizeof(buf));
		assert_true(aead_chacha20poly1305_encrypt_with(backends[i], buf,
		    (const uint8_t *)sunscreen, len, ad, sizeof(ad), nonce, key));
		assert_hex(buf, len + AEAD_TAG_LEN, rfc8439_ct);
		assert_true(aead_chacha20poly1305_decrypt_with(backends[i], pt, buf,
		    len + AEAD_TAG_LEN, ad, sizeof(ad), nonce, key));
		assert_memory_equal(pt, sunscreen, len);
		/* Wrong additional data must fail. */
		ad[0] ^= 1;
		assert_false(aead_chacha20poly1305_decrypt_with(backends[i], pt, buf,
		    len + AEAD_TAG_LEN, ad, sizeof(ad), nonce, key));
		ad[0] ^= 1;
	}
}

static void
test_aead_nonce(void **state)
{
	uint8_t nonce[AEAD_NONCE_LEN];

	(void)state;
	aead_nonce_from_counter(nonce, 0x0102030405060708ULL);
	assert_hex(nonce, sizeof(nonce), "000000000807060504030201");
	aead_nonce_from_counter(nonce, 0);
	assert_hex(nonce, sizeof(nonce), "000000000000000000000000");
}

enum { DIFF_MAX = 65535 + AEAD_TAG_LEN };

/* One length through both backends: identical ciphertext, cross-decryption, in place, and a
 * flipped bit rejected (with the output wiped) by both. */
static void
diff_one(size_t len, uint8_t *pt, uint8_t *a, uint8_t *b, uint8_t *c)
{
	uint8_t key[32], nonce[12], ad[32];
	size_t ad_len = len % 33, flip;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(ad, sizeof(ad));
	randombytes_buf(pt, len);

	assert_true(aead_chacha20poly1305_encrypt_with(AEAD_BACKEND_SODIUM, a, pt, len, ad, ad_len,
	    nonce, key));
	assert_true(aead_chacha20poly1305_encrypt_with(AEAD_BACKEND_OPENSSL, b, pt, len, ad,
	    ad_len, nonce, key));
	assert_memory_equal(a, b, len + AEAD_TAG_LEN);

	/* In place, OpenSSL: encrypt c = pt over itself. */
	memcpy(c, pt, len);
	assert_true(aead_chacha20poly1305_encrypt_with(AEAD_BACKEND_OPENSSL, c, c, len, ad, ad_len,
	    nonce, key));
	assert_memory_equal(c, a, len + AEAD_TAG_LEN);

	/* Cross-decrypt in place: OpenSSL opens libsodium's output and vice versa. */
	assert_true(aead_chacha20poly1305_decrypt_with(AEAD_BACKEND_OPENSSL, a, a,
	    len + AEAD_TAG_LEN, ad, ad_len, nonce, key));
	if (len)
		assert_memory_equal(a, pt, len);
	assert_true(aead_chacha20poly1305_decrypt_with(AEAD_BACKEND_SODIUM, b, b,
	    len + AEAD_TAG_LEN, ad, ad_len, nonce, key));
	if (len)
		assert_memory_equal(b, pt, len);

	/* Flip one bit anywhere in ciphertext or tag. */
	flip = randombytes_uniform((uint32_t)(len + AEAD_TAG_LEN));
	c[flip] ^= (uint8_t)(1u << randombytes_uniform(8));
	memcpy(b, c, len + AEAD_TAG_LEN);
	assert_false(aead_chacha20poly1305_decrypt_with(AEAD_BACKEND_SODIUM, a, c,
	    len + AEAD_TAG_LEN, ad, ad_len, nonce, key));
	assert_false(aead_chacha20poly1305_decrypt_with(AEAD_BACKEND_OPENSSL, b, b,
	    len + AEAD_TAG_LEN, ad, ad_len, nonce, key));
	/* A failed open leaves no unauthenticated plaintext behind (both backends wipe). */
	for (flip = 0; flip < len; flip++) {
		assert_int_equal(a[flip], 0);
		assert_int_equal(b[flip], 0);
	}
}

static void
test_aead_differential(void **state)
{
	static const size_t odd[] = { 1501, 2047, 4093, 9000, 16385, 65535 };
	uint8_t *pt = malloc(DIFF_MAX), *a = malloc(DIFF_MAX), *b = malloc(DIFF_MAX),
	    *c = malloc(DIFF_MAX);
	size_t len, i;

	(void)state;
	assert_non_null(pt);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	for (len = 0; len <= 1500; len++)
		diff_one(len, pt, a, b, c);
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		diff_one(odd[i], pt, a, b, c);
	free(pt);
	free(a);
	free(b);
	free(c);
}

/* The transport entry points give the same bytes whichever backend is selected. */
static void
test_aead_transport_backends(void **state)
{
	uint8_t key[32], pt[1420], a[1420 + 16], b[1420 + 16];

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(pt, sizeof(pt));
	assert_int_equal(aead_transport_backend_get(), AEAD_BACKEND_OPENSSL);
	assert_true(aead_transport_encrypt(a, pt, sizeof(pt), 77, key));
	aead_transport_backend_set(AEAD_BACKEND_SODIUM);
	assert_true(aead_transport_encrypt(b, pt, sizeof(pt), 77, key));
	assert_memory_equal(a, b, sizeof(a));
	assert_true(aead_transport_decrypt(b, b, sizeof(b), 77, key));
	assert_memory_equal(b, pt, sizeof(pt));
	aead_transport_backend_set(AEAD_BACKEND_OPENSSL);
	/* Wrong counter: nonce differs, authentication fails. */
	assert_false(aead_transport_decrypt(a, a, sizeof(a), 78, key));
}

/* draft-irtf-cfrg-xchacha-03 A.3.1 */
static void
test_xaead_vector(void **state)
{
	uint8_t key[32], nonce[24], ad[12], buf[200], pt[200];
	size_t len = sizeof(sunscreen) - 1, i;

	(void)state;
	rfc_key(key);
	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0x40 + i);
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	aead_xchacha20poly1305_encrypt(buf, (const uint8_t *)sunscreen, len, ad, sizeof(ad), nonce,
	    key);
	assert_hex(buf, len + AEAD_TAG_LEN,
	    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
	    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
	    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
	    "21f9664c97637da9768812f615c68b13b52e"
	    "c0875924c1c7987947deafd8780acf49");
	assert_true(aead_xchacha20poly1305_decrypt(pt, buf, len + AEAD_TAG_LEN, ad, sizeof(ad),
	    nonce, key));
	assert_memory_equal(pt, sunscreen, len);
	buf[len] ^= 0x80;
	assert_false(aead_xchacha20poly1305_decrypt(pt, buf, len + AEAD_TAG_LEN, ad, sizeof(ad),
	    nonce, key));
}

/* ---- TAI64N ---- */

static void
test_tai64n(void **state)
{
	/* label = 2^62 + 10 + seconds; nanoseconds with the low 24 bits cleared */
	static const struct { uint64_t wall_ns; const char *out; } cases[] = {
		{ 0, "400000000000000a00000000" },
		{ 999999999, "400000000000000a3b000000" },
		{ 1700000000123456789ULL, "400000006553f10a07000000" },
		{ 1700000000016777215ULL, "400000006553f10a00000000" },
		{ 1700000000016777216ULL, "400000006553f10a01000000" },
	};
	uint8_t a[TAI64N_LEN], b[TAI64N_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tai64n_from_wall_ns(a, cases[i].wall_ns);
		assert_hex(a, sizeof(a), cases[i].out);
	}
	/* Whitening: two instants in the same 2^24 ns slot are equal, the next slot is later. */
	tai64n_from_wall_ns(a, 1700000000000000000ULL + 1);
	tai64n_from_wall_ns(b, 1700000000000000000ULL + 16777215);
	assert_int_equal(tai64n_compare(a, b), 0);
	assert_false(tai64n_is_after(b, a));
	tai64n_from_wall_ns(b, 1700000000000000000ULL + 16777216);
	assert_true(tai64n_is_after(b, a));
	assert_true(tai64n_compare(a, b) < 0);
	/* A later second beats larger nanoseconds of an earlier one. */
	tai64n_from_wall_ns(a, 1700000000999999999ULL);
	tai64n_from_wall_ns(b, 1700000001000000000ULL);
	assert_true(tai64n_is_after(b, a));
}

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s_unkeyed),
		cmocka_unit_test(test_blake2s_keyed_kat),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_kdf),
		cmocka_unit_test(test_kdf_alias),
		cmocka_unit_test(test_aead_rfc8439),
		cmocka_unit_test(test_aead_nonce),
		cmocka_unit_test(test_aead_differential),
		cmocka_unit_test(test_aead_transport_backends),
		cmocka_unit_test(test_xaead_vector),
		cmocka_unit_test(test_tai64n),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
