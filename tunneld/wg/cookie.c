/* mac1/mac2 and cookie replies (whitepaper 5.4.4 and 5.4.7).  mac1 proves the sender knows
 * our public key; under load, mac2 proves it can receive at its source address, via a cookie
 * that is MAC(secret, address) under a secret rotated every COOKIE_SECRET_MAX_AGE. */
#include "cookie.h"

#include <endian.h>
#include <sodium.h>
#include <string.h>

#include "aead.h"
#include "hash.h"

static const char mac1_label[] = "mac1----";
static const char cookie_label[] = "cookie--";

#define NS_PER_SEC	1000000000ULL

/* HASH(label || pub) */
static void
derive_key(uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const char *label,
    const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	hash_blake2s_concat(key, (const uint8_t *)label, 8, pub, NOISE_PUBLIC_KEY_LEN);
}

/* A birthdate is expired once age seconds have passed (or the clock went backwards). */
static bool
expired(uint64_t birthdate_ns, uint64_t age_s, uint64_t now_ns)
{
	return now_ns < birthdate_ns || now_ns - birthdate_ns >= age_s * NS_PER_SEC;
}

/* mac1 covers the message up to mac1, mac2 up to mac2. */
static void
mac1_compute(uint8_t out[COOKIE_LEN], const uint8_t *msg, size_t len,
    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	hash_mac(out, key, NOISE_SYMMETRIC_KEY_LEN, msg, len - sizeof(struct message_macs));
}

static void
mac2_compute(uint8_t out[COOKIE_LEN], const uint8_t *msg, size_t len,
    const uint8_t cookie[COOKIE_LEN])
{
	hash_mac(out, cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
}

/* cookie = MAC(secret, src), rotating the secret first if it is too old. */
static void
cookie_make(uint8_t cookie[COOKIE_LEN], struct cookie_checker *c, const uint8_t *src,
    size_t src_len, uint64_t now_ns, const uint8_t random[NOISE_HASH_LEN])
{
	if (!c->has_secret || expired(c->secret_birthdate_ns, COOKIE_SECRET_MAX_AGE, now_ns)) {
		if (random)
			memcpy(c->secret, random, NOISE_HASH_LEN);
		else
			randombytes_buf(c->secret, NOISE_HASH_LEN);
		c->secret_birthdate_ns = now_ns;
		c->has_secret = true;
	}
	hash_mac(cookie, c->secret, NOISE_HASH_LEN, src, src_len);
}

void
cookie_checker_init(struct cookie_checker *c, const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	sodium_memzero(c, sizeof(*c));
	/* Without an identity the keys stay zero, which cookie_validate_packet reads as "no
	 * identity": a real HASH output is never all zeros. */
	if (!pub)
		return;
	derive_key(c->message_mac1_key, mac1_label, pub);
	derive_key(c->message_cookie_key, cookie_label, pub);
}

enum cookie_mac_state
cookie_validate_packet(struct cookie_checker *c, const uint8_t *msg, size_t len,
    const uint8_t *src, size_t src_len, bool check_cookie, uint64_t now_ns,
    const uint8_t random[NOISE_HASH_LEN])
{
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_state ret = INVALID_MAC;

	/* Cheap checks first: length, identity, then one keyed hash for mac1. */
	if (len < sizeof(struct message_header) + sizeof(struct message_macs) ||
	    sodium_is_zero(c->message_mac1_key, NOISE_SYMMETRIC_KEY_LEN))
		goto out;
	mac1_compute(computed, msg, len, c->message_mac1_key);
	if (crypto_verify_16(computed, msg + len - sizeof(struct message_macs)) != 0)
		goto out;

	ret = VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie)
		goto out;
	cookie_make(cookie, c, src, src_len, now_ns, random);
	mac2_compute(computed, msg, len, cookie);
	if (crypto_verify_16(computed, msg + len - COOKIE_LEN) != 0)
		goto out;
	/* Rate limiting per source is the caller's (VALID_MAC_WITH_COOKIE_BUT_RATELIMITED). */
	ret = VALID_MAC_WITH_COOKIE;
out:
	sodium_memzero(computed, sizeof(computed));
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void
cookie_message_create(struct msg_cookie *dst, struct cookie_checker *c, const uint8_t *msg,
    size_t len, uint32_t index, const uint8_t *src, size_t src_len, uint64_t now_ns,
    const uint8_t random[NOISE_HASH_LEN], const uint8_t nonce[COOKIE_NONCE_LEN])
{
	/* The reply is bound to the mac1 of the message it answers (AD). */
	const uint8_t *mac1 = msg + len - sizeof(struct message_macs);
	uint8_t cookie[COOKIE_LEN];

	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_COOKIE);
	dst->receiver_index = htole32(index);
	memcpy(dst->nonce, nonce, COOKIE_NONCE_LEN);
	cookie_make(cookie, c, src, src_len, now_ns, random);
	aead_xchacha20poly1305_encrypt(dst->encrypted_cookie, cookie, COOKIE_LEN, mac1, COOKIE_LEN,
	    dst->nonce, c->message_cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
}

void
cookie_maker_init(struct cookie_maker *m, const uint8_t peer_pub[NOISE_PUBLIC_KEY_LEN])
{
	sodium_memzero(m, sizeof(*m));
	derive_key(m->message_mac1_key, mac1_label, peer_pub);
	derive_key(m->message_cookie_key, cookie_label, peer_pub);
}

void
cookie_add_mac_to_packet(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns)
{
	uint8_t *mac1 = msg + len - sizeof(struct message_macs);
	uint8_t *mac2 = msg + len - COOKIE_LEN;

	mac1_compute(mac1, msg, len, m->message_mac1_key);
	memcpy(m->last_mac1_sent, mac1, COOKIE_LEN);
	m->have_sent_mac1 = true;

	/* Stop using a cookie COOKIE_SECRET_LATENCY before the checker's secret may rotate. */
	if (m->is_cookie_valid &&
	    !expired(m->cookie_birthdate_ns, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now_ns))
		mac2_compute(mac2, msg, len, m->cookie);
	else
		memset(mac2, 0, COOKIE_LEN);
}

bool
cookie_consume_message(struct cookie_maker *m, const struct msg_cookie *src, uint64_t now_ns)
{
	uint8_t cookie[COOKIE_LEN];
	bool ok = false;

	if (!m->have_sent_mac1 || le32toh(src->header.type) != MESSAGE_HANDSHAKE_COOKIE)
		goto out;
	if (!aead_xchacha20poly1305_decrypt(cookie, src->encrypted_cookie,
	    sizeof(src->encrypted_cookie), m->last_mac1_sent, COOKIE_LEN, src->nonce,
	    m->message_cookie_key))
		goto out;
	memcpy(m->cookie, cookie, COOKIE_LEN);
	m->cookie_birthdate_ns = now_ns;
	m->is_cookie_valid = true;
	/* One reply per mac1 sent: a second copy of the reply is not accepted. */
	m->have_sent_mac1 = false;
	ok = true;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}
