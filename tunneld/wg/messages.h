/* WireGuard wire formats and protocol constants, named as in the whitepaper (sections 5.4 and
 * 6).  Every multi-byte field on the wire is little-endian. */
#ifndef TUNNELD_WG_MESSAGES_H
#define TUNNELD_WG_MESSAGES_H

#include <stdint.h>

enum {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,	/* TAI64N */
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32,
	COOKIE_LEN = 16,
	COOKIE_NONCE_LEN = 24,
	MESSAGE_PADDING_MULTIPLE = 16,
};

/* Timers, in seconds. */
enum {
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	REKEY_TIMEOUT = 5,
	REKEY_TIMEOUT_JITTER_MAX_MS = 334,
	KEEPALIVE_TIMEOUT = 10,
	COOKIE_SECRET_MAX_AGE = 120,
	COOKIE_SECRET_LATENCY = 5,
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,	/* 18 */
	INITIATIONS_PER_SECOND = 50,
};

#define REKEY_AFTER_MESSAGES	(1ULL << 60)
#define REJECT_AFTER_MESSAGES	(UINT64_MAX - (1ULL << 13))	/* 2^64 - 2^13 - 1 */

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

struct message_header {
	uint32_t type;		/* le32: type in the low byte, three reserved zero bytes */
};

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
};

struct msg_initiation {
	struct message_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[NOISE_PUBLIC_KEY_LEN + NOISE_AUTHTAG_LEN];
	uint8_t encrypted_timestamp[NOISE_TIMESTAMP_LEN + NOISE_AUTHTAG_LEN];
	struct message_macs macs;
};

struct msg_response {
	struct message_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[NOISE_AUTHTAG_LEN];
	struct message_macs macs;
};

struct msg_cookie {
	struct message_header header;
	uint32_t receiver_index;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[COOKIE_LEN + NOISE_AUTHTAG_LEN];
};

struct msg_data {
	struct message_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
};

_Static_assert(sizeof(struct msg_initiation) == 148, "initiation wire size");
_Static_assert(sizeof(struct msg_response) == 92, "response wire size");
_Static_assert(sizeof(struct msg_cookie) == 64, "cookie reply wire size");
_Static_assert(sizeof(struct msg_data) == 16, "data header wire size");

enum {
	MESSAGE_MINIMUM_LENGTH = sizeof(struct msg_data) + NOISE_AUTHTAG_LEN,	/* keepalive: 32 */
};

#endif
