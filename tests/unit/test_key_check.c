/* key_is_public: every X25519 public key passes, private keys (random 32 bytes) are refused
 * 15 times in 16, points of small order and non-canonical encodings always.  The
 * Montgomery-to-Edwards map is checked against libsodium's own map in the other direction
 * (crypto_sign_ed25519_pk_to_curve25519). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/key.h"

enum { ROUNDS = 1000 };

/* 1. y(u(pk)) == pk for Ed25519 public keys (sign bit cleared): the map and its field
 *    arithmetic (inversion included) agree with libsodium's. */
static void test_map_matches_libsodium(void **state)
{
	uint8_t pk[32], sk[64], u[32], y[32];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		crypto_sign_keypair(pk, sk);
		assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(u, pk), 0);
		assert_true(key_x25519_to_ed25519_y(y, u));
		pk[31] &= 0x7f;
		assert_memory_equal(y, pk, 32);
	}
	sodium_memzero(sk, sizeof(sk));
}

/* 2. Every public key passes: the base point, RFC 7748's, and random ones (keys pubkey). */
static void test_public_keys_pass(void **state)
{
	static const char *const b64[] = {
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",	/* RFC 7748 6.1 Alice */
		"3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=",	/* RFC 7748 6.1 Bob */
	};
	uint8_t priv[32], pub[32] = { 9 };
	size_t i;

	(void)state;
	assert_true(key_is_public(pub));
	for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		assert_true(key_from_base64(pub, b64[i]));
		assert_true(key_is_public(pub));
	}
	for (i = 0; i < ROUNDS; i++) {
		key_generate_private(priv);
		assert_true(key_public_from_private(pub, priv));
		assert_true(key_is_public(pub));
	}
	sodium_memzero(priv, sizeof(priv));
}

/* 3. Private keys are refused 15 times in 16 (expected 937.5 of 1000; 900 is 5 standard
 *    deviations below), and RFC 7748's Alice private key (what an admin pasting the wrong
 *    line gives) is refused. */
static void test_private_keys_refused(void **state)
{
	uint8_t priv[32];
	int i, refused = 0;

	(void)state;
	for (i = 0; i < ROUNDS; i++) {
		key_generate_private(priv);
		refused += !key_is_public(priv);
	}
	assert_in_range(refused, 900, ROUNDS);
	assert_true(key_from_base64(priv, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="));
	assert_false(key_is_public(priv));
	sodium_memzero(priv, sizeof(priv));
}

/* 4. Small order (u = 0, 1, -1), u >= p, the top bit set: never a public key. */
static void test_degenerate_refused(void **state)
{
	uint8_t k[32], y[32];

	(void)state;
	memset(k, 0, 32);
	assert_false(key_is_public(k));			/* u = 0 */
	k[0] = 1;
	assert_false(key_is_public(k));			/* u = 1 */
	memset(k, 0xff, 32);
	k[0] = 0xec;
	k[31] = 0x7f;
	assert_false(key_x25519_to_ed25519_y(y, k));	/* u = p - 1 = -1 */
	assert_false(key_is_public(k));
	k[0] = 0xed;
	assert_false(key_x25519_to_ed25519_y(y, k));	/* u = p */
	assert_false(key_is_public(k));
	memset(k, 0, 32);
	k[0] = 9;
	k[31] = 0x80;
	assert_false(key_is_public(k));			/* the base point with the top bit set */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_matches_libsodium),
		cmocka_unit_test(test_public_keys_pass),
		cmocka_unit_test(test_private_keys_refused),
		cmocka_unit_test(test_degenerate_refused),
	};

	if (!key_lib_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
