/* mac1/mac2 and cookie replies (WireGuard whitepaper 5.4.4, 5.4.7). */
#ifndef TUNNELD_WG_COOKIE_H
#define TUNNELD_WG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

/* Receiver side: checks macs of incoming handshake messages and issues cookies. */
struct cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birthdate_ns;	/* rotated every COOKIE_SECRET_MAX_AGE */
	bool has_secret;
	uint8_t message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("mac1----" || our pub) */
	uint8_t message_cookie_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("cookie--" || our pub) */
};

/* Sender side, one per peer: keys derived from the peer's public key, the last cookie. */
struct cookie_maker {
	uint8_t message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t message_cookie_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birthdate_ns;
	bool is_cookie_valid;
	bool have_sent_mac1;
	uint8_t last_mac1_sent[COOKIE_LEN];
};

enum cookie_mac_state {
	INVALID_MAC,
	VALID_MAC_BUT_NO_COOKIE,
	VALID_MAC_WITH_COOKIE_BUT_RATELIMITED,	/* not produced here; for the caller's ratelimiter */
	VALID_MAC_WITH_COOKIE,
};

/* pub is the public key of the checker's owner (NULL: no identity, every mac1 invalid). */
void cookie_checker_init(struct cookie_checker *c, const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);
/* msg is a whole handshake message of len bytes ending in struct message_macs.  src is the
 * source address bytes mixed into the cookie (IP then port, network order) of src_len bytes.
 * check_cookie: verify mac2 too (under load). random is 32 fresh bytes used if the secret
 * must rotate. */
enum cookie_mac_state cookie_validate_packet(struct cookie_checker *c, const uint8_t *msg,
    size_t len, const uint8_t *src, size_t src_len, bool check_cookie, uint64_t now_ns,
    const uint8_t random[NOISE_HASH_LEN]);
/* Builds a type-3 reply to the handshake message msg (len bytes) from src, for sender index
 * `index`; nonce is 24 fresh random bytes. */
void cookie_message_create(struct msg_cookie *dst, struct cookie_checker *c, const uint8_t *msg,
    size_t len, uint32_t index, const uint8_t *src, size_t src_len, uint64_t now_ns,
    const uint8_t random[NOISE_HASH_LEN], const uint8_t nonce[COOKIE_NONCE_LEN]);

void cookie_maker_init(struct cookie_maker *m, const uint8_t peer_pub[NOISE_PUBLIC_KEY_LEN]);
/* Fills mac1 (and mac2 if we hold a cookie younger than COOKIE_SECRET_MAX_AGE -
 * COOKIE_SECRET_LATENCY) of an outgoing handshake message. */
void cookie_add_mac_to_packet(struct cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns);
/* Decrypts a cookie reply for a message we sent; false if it does not authenticate. */
bool cookie_consume_message(struct cookie_maker *m, const struct msg_cookie *src,
    uint64_t now_ns);

#endif
