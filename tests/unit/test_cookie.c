/* mac1/mac2 and cookie replies: known answers for the key derivation and macs (computed with
 * CPython's hashlib BLAKE2s, independent of libb2), then the protocol behaviour with a fake
 * clock: load, replies, binding to mac1, the maker's 115 s cutoff, the checker's 120 s
 * secret rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "tunneld/wg/aead.h"
#include "tunneld/wg/cookie.h"

#define SEC	1000000000ULL
#define MSG_LEN	sizeof(struct msg_initiation)

static const uint8_t src_a[6] = { 192, 0, 2, 1, 0x30, 0x39 };	/* 192.0.2.1:12345 */
static const uint8_t src_b[6] = { 192, 0, 2, 2, 0x30, 0x39 };

static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2, i;
	unsigned int b;

	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t want[64];

	assert_int_equal(unhex(want, sizeof(want), want_hex), len);
	assert_memory_equal(got, want, len);
}

struct fixture {
	uint8_t pub[32];		/* the responder's public key */
	struct cookie_checker checker;	/* the responder's */
	struct cookie_maker maker;	/* the initiator's, for that responder */
	uint8_t msg[MSG_LEN];
	uint8_t random[32];
};

static void
fixture_init(struct fixture *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	memset(f->pub, 0x42, sizeof(f->pub));
	for (i = 0; i < MSG_LEN - 32; i++)
		f->msg[i] = (uint8_t)i;
	memset(f->random, 0x5a, sizeof(f->random));
	cookie_checker_init(&f->checker, f->pub);
	cookie_maker_init(&f->maker, f->pub);
}

static const uint8_t *
mac1_of(const uint8_t *msg)
{
	return msg + MSG_LEN - 32;
}

static const uint8_t *
mac2_of(const uint8_t *msg)
{
	return msg + MSG_LEN - 16;
}

static enum cookie_mac_state
check(struct fixture *f, const uint8_t *src, bool under_load, uint64_t now)
{
	return cookie_validate_packet(&f->checker, f->msg, MSG_LEN, src, 6, under_load, now,
	    f->random);
}

/* Labels, key derivation and macs against independent values. */
static void
test_known_answers(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	assert_hex(f.checker.message_mac1_key, 32,
	    "172c34d6807bd7acef1a2471f20e928626c23ce0b9f90b326cf5f82d12480a4e");
	assert_hex(f.checker.message_cookie_key, 32,
	    "32c9aa406608a87d7ff9c2e50449cf680a330f503c774b8ecfbca0b8becb1de1");
	assert_memory_equal(f.maker.message_mac1_key, f.checker.message_mac1_key, 32);
	assert_memory_equal(f.maker.message_cookie_key, f.checker.message_cookie_key, 32);

	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, 1 * SEC);
	assert_hex(mac1_of(f.msg), 16, "5f482220eac57889e922c176d202190b");
	assert_true(sodium_is_zero(mac2_of(f.msg), 16));	/* no cookie yet */

	/* With secret 5a..5a and src 192.0.2.1:12345, mac2 = MAC(MAC(secret, src), msg). */
	unhex(f.msg + MSG_LEN - 16, 16, "22a05c704c4149e51f3fef9c95e5e304");
	assert_int_equal(check(&f, src_a, true, 1 * SEC), VALID_MAC_WITH_COOKIE);
	assert_memory_equal(f.checker.secret, f.random, 32);
}

static void
test_mac1(void **state)
{
	struct fixture f;
	struct cookie_checker other, none;
	uint8_t other_pub[32];

	(void)state;
	fixture_init(&f);
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, 1 * SEC);
	/* 1: valid, not under load */
	assert_int_equal(check(&f, src_a, false, 1 * SEC), VALID_MAC_BUT_NO_COOKIE);
	/* 2: body byte changed */
	f.msg[20] ^= 1;
	assert_int_equal(check(&f, src_a, false, 1 * SEC), INVALID_MAC);
	f.msg[20] ^= 1;
	/* 3: mac1 byte changed */
	f.msg[MSG_LEN - 32] ^= 0x80;
	assert_int_equal(check(&f, src_a, false, 1 * SEC), INVALID_MAC);
	f.msg[MSG_LEN - 32] ^= 0x80;
	/* 4: mac2 is not covered by mac1 */
	f.msg[MSG_LEN - 1] ^= 1;
	assert_int_equal(check(&f, src_a, false, 1 * SEC), VALID_MAC_BUT_NO_COOKIE);
	f.msg[MSG_LEN - 1] ^= 1;
	/* 5: a checker for another public key */
	memset(other_pub, 0x43, sizeof(other_pub));
	cookie_checker_init(&other, other_pub);
	assert_int_equal(cookie_validate_packet(&other, f.msg, MSG_LEN, src_a, 6, false, SEC,
	    f.random), INVALID_MAC);
	/* 6: a checker without identity */
	cookie_checker_init(&none, NULL);
	assert_int_equal(cookie_validate_packet(&none, f.msg, MSG_LEN, src_a, 6, false, SEC,
	    f.random), INVALID_MAC);
	/* 7: too short to hold the macs */
	assert_int_equal(cookie_validate_packet(&f.checker, f.msg, 31, src_a, 6, false, SEC,
	    f.random), INVALID_MAC);
	/* 8: under load, no mac2 */
	assert_int_equal(check(&f, src_a, true, 1 * SEC), VALID_MAC_BUT_NO_COOKIE);
}

/* The responder, under load, answers with a cookie; the initiator retries with mac2. */
static void
reply_round(struct fixture *f, uint64_t now)
{
	struct msg_cookie reply;
	uint8_t nonce[24];

	randombytes_buf(nonce, sizeof(nonce));
	cookie_add_mac_to_packet(&f->maker, f->msg, MSG_LEN, now);
	assert_int_equal(check(f, src_a, true, now), VALID_MAC_BUT_NO_COOKIE);
	cookie_message_create(&reply, &f->checker, f->msg, MSG_LEN, 0x01020304, src_a, 6, now,
	    f->random, nonce);
	assert_int_equal(((const uint8_t *)&reply)[0], MESSAGE_HANDSHAKE_COOKIE);
	assert_int_equal(((const uint8_t *)&reply)[4], 0x04);	/* receiver index, le32 */
	assert_true(cookie_consume_message(&f->maker, &reply, now));
	assert_true(f->maker.is_cookie_valid);
	/* A second copy of the same reply is refused (one reply per mac1). */
	assert_false(cookie_consume_message(&f->maker, &reply, now));
}

static void
test_cookie_reply(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	reply_round(&f, 10 * SEC);
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, 11 * SEC);
	assert_false(sodium_is_zero(mac2_of(f.msg), 16));
	/* 1: from the address the cookie was made for */
	assert_int_equal(check(&f, src_a, true, 11 * SEC), VALID_MAC_WITH_COOKIE);
	/* 2: the same message from another address */
	assert_int_equal(check(&f, src_b, true, 11 * SEC), VALID_MAC_BUT_NO_COOKIE);
	/* 3: mac2 byte changed */
	f.msg[MSG_LEN - 16] ^= 1;
	assert_int_equal(check(&f, src_a, true, 11 * SEC), VALID_MAC_BUT_NO_COOKIE);
}

/* A reply is bound (AD) to the mac1 of the message it answers. */
static void
test_reply_binding(void **state)
{
	struct fixture f;
	struct msg_cookie reply;
	uint8_t nonce[24] = { 9 }, first[MSG_LEN];

	(void)state;
	fixture_init(&f);
	/* 1: nothing sent yet */
	cookie_message_create(&reply, &f.checker, f.msg, MSG_LEN, 1, src_a, 6, SEC, f.random,
	    nonce);
	assert_false(cookie_consume_message(&f.maker, &reply, SEC));

	/* 2: reply to an earlier message; the maker has since sent another mac1 */
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, SEC);
	memcpy(first, f.msg, MSG_LEN);
	f.msg[0] ^= 0xff;
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, SEC);
	cookie_message_create(&reply, &f.checker, first, MSG_LEN, 1, src_a, 6, SEC, f.random,
	    nonce);
	assert_false(cookie_consume_message(&f.maker, &reply, SEC));
	assert_false(f.maker.is_cookie_valid);

	/* 3: reply to the latest message, but tampered nonce / ciphertext */
	cookie_message_create(&reply, &f.checker, f.msg, MSG_LEN, 1, src_a, 6, SEC, f.random,
	    nonce);
	reply.nonce[5] ^= 1;
	assert_false(cookie_consume_message(&f.maker, &reply, SEC));
	reply.nonce[5] ^= 1;
	reply.encrypted_cookie[0] ^= 1;
	assert_false(cookie_consume_message(&f.maker, &reply, SEC));
	reply.encrypted_cookie[0] ^= 1;
	/* 4: untouched it opens, and holds MAC(secret, src) */
	assert_true(cookie_consume_message(&f.maker, &reply, SEC));
	assert_hex(f.maker.cookie, 16, "5451a40259545c65433a8731be82a703");
}

/* The maker uses a cookie for COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY = 115 s. */
static void
test_maker_expiry(void **state)
{
	struct fixture f;
	const uint64_t t0 = 1000 * SEC;

	(void)state;
	fixture_init(&f);
	reply_round(&f, t0);
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, t0 + 115 * SEC - 1);
	assert_false(sodium_is_zero(mac2_of(f.msg), 16));
	assert_int_equal(check(&f, src_a, true, t0 + 115 * SEC - 1), VALID_MAC_WITH_COOKIE);
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, t0 + 115 * SEC);
	assert_true(sodium_is_zero(mac2_of(f.msg), 16));
	assert_int_equal(check(&f, src_a, true, t0 + 115 * SEC), VALID_MAC_BUT_NO_COOKIE);
}

/* The checker's secret lives COOKIE_SECRET_MAX_AGE = 120 s; then cookies made with it die. */
static void
test_secret_rotation(void **state)
{
	struct fixture f;
	uint8_t saved[MSG_LEN], fresh[32];
	const uint64_t t0 = 5000 * SEC;

	(void)state;
	fixture_init(&f);
	reply_round(&f, t0);	/* secret born at t0 from f.random */
	assert_int_equal(f.checker.secret_birthdate_ns, t0);
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, t0 + 100 * SEC);
	memcpy(saved, f.msg, MSG_LEN);

	/* 1: 119.999 s: still valid; the new randomness is not used */
	memset(fresh, 0x77, sizeof(fresh));
	assert_int_equal(cookie_validate_packet(&f.checker, saved, MSG_LEN, src_a, 6, true,
	    t0 + 120 * SEC - 1, fresh), VALID_MAC_WITH_COOKIE);
	assert_memory_equal(f.checker.secret, f.random, 32);
	/* 2: 120 s: the secret rotates to the fresh randomness, the old cookie fails */
	assert_int_equal(cookie_validate_packet(&f.checker, saved, MSG_LEN, src_a, 6, true,
	    t0 + 120 * SEC, fresh), VALID_MAC_BUT_NO_COOKIE);
	assert_memory_equal(f.checker.secret, fresh, 32);
	assert_int_equal(f.checker.secret_birthdate_ns, t0 + 120 * SEC);
	/* 3: a new reply under the new secret works again */
	memcpy(f.random, fresh, sizeof(fresh));
	reply_round(&f, t0 + 121 * SEC);
	cookie_add_mac_to_packet(&f.maker, f.msg, MSG_LEN, t0 + 122 * SEC);
	assert_int_equal(check(&f, src_a, true, t0 + 122 * SEC), VALID_MAC_WITH_COOKIE);
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
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_mac1),
		cmocka_unit_test(test_cookie_reply),
		cmocka_unit_test(test_reply_binding),
		cmocka_unit_test(test_maker_expiry),
		cmocka_unit_test(test_secret_rotation),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
