/* The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake as WireGuard uses it, and the derivation
 * of transport keypairs.  Pure: time and randomness come from the caller. */
#ifndef TUNNELD_WG_NOISE_H
#define TUNNELD_WG_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "replay.h"

struct noise_static_identity {
	bool has_identity;
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
};

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

/* Per-peer handshake state.  remote_static, precomputed_static_static and preshared_key are
 * the peer's configuration; the rest is the handshake in progress. */
struct noise_handshake {
	enum noise_handshake_state state;
	uint32_t local_index;
	uint32_t remote_index;
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t precomputed_static_static[NOISE_PUBLIC_KEY_LEN];	/* DH(s_priv, S_pub) */
	/* The identity it is computed from, and whether it has been: computed on the first
	 * handshake, not when the peer is added, so that a roster of 10,000 peers costs no
	 * 10,000 Diffie-Hellman operations up front.  The identity must outlive the handshake. */
	const struct noise_static_identity *identity;
	bool precomputed;
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];	/* greatest TAI64N seen from this peer */
	uint64_t last_initiation_consumption_ns;	/* flood protection; 0 = never */
};

struct noise_symmetric_key {
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t birthdate_ns;
	bool is_valid;
};

struct noise_keypair {
	struct noise_symmetric_key sending;
	struct noise_symmetric_key receiving;
	uint64_t sending_counter;		/* next counter to send */
	struct replay_counter receiving_counter;
	uint32_t local_index;
	uint32_t remote_index;
	bool i_am_the_initiator;
};

/* Sets up the identity from a private key (NULL clears it).  false if the public key would be
 * all zeros. */
bool noise_static_identity_set(struct noise_static_identity *id,
    const uint8_t private_key[NOISE_PUBLIC_KEY_LEN]);
/* Initializes a peer's handshake from its public key and our identity; precomputed_static_static
 * is computed when first needed (all zeros if no identity or if the DH result is all zeros). */
void noise_handshake_init(struct noise_handshake *hs, const struct noise_static_identity *id,
    const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN], const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
/* Our identity changed: precomputed_static_static is recomputed when next needed, and the
 * handshake is zeroed. */
void noise_handshake_rebind(struct noise_handshake *hs, const struct noise_static_identity *id);
/* Wipes the handshake in progress (state, ephemeral, hash, chaining key, indices); keeps the
 * peer's configuration and replay/flood state. */
void noise_handshake_clear(struct noise_handshake *hs);

/* Builds a type-1 message (mac1/mac2 are left zero for the cookie layer).  ephemeral_private is
 * fresh randomness (32 bytes, clamped here); timestamp is TAI64N of the wall clock. */
bool noise_handshake_create_initiation(struct msg_initiation *dst, struct noise_handshake *hs,
    const struct noise_static_identity *id, uint32_t local_index,
    const uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN],
    const uint8_t timestamp[NOISE_TIMESTAMP_LEN]);

/* First half of consuming an initiation: decrypts the initiator's static key.  On success
 * the caller finds the peer with that key and calls noise_handshake_finish_initiation with the
 * same src and the state carried in *ctx.  Exists so the engine can look the peer up in between
 * without this module knowing about peers. */
struct noise_initiation_ctx {
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
};
bool noise_handshake_begin_consume_initiation(const struct msg_initiation *src,
    const struct noise_static_identity *id, struct noise_initiation_ctx *ctx);
/* Second half: ss with the precomputed key, decrypts and checks the timestamp (must be greater
 * than the latest seen) and the flood limit (not within 1/INITIATIONS_PER_SECOND of the last
 * consumed one).  On success hs is in HANDSHAKE_CONSUMED_INITIATION.  ctx is wiped either way. */
bool noise_handshake_finish_consume_initiation(const struct msg_initiation *src,
    struct noise_handshake *hs, struct noise_initiation_ctx *ctx, uint64_t now_ns);

bool noise_handshake_create_response(struct msg_response *dst, struct noise_handshake *hs,
    uint32_t local_index, const uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN]);
/* hs is the handshake whose local_index equals src->receiver_index (found by the caller) and
 * must be in HANDSHAKE_CREATED_INITIATION; id is ours. */
bool noise_handshake_consume_response(const struct msg_response *src, struct noise_handshake *hs,
    const struct noise_static_identity *id);

/* Derives the transport keypair from a completed handshake (CREATED_RESPONSE or
 * CONSUMED_RESPONSE), then wipes the handshake.  false in any other state. */
bool noise_handshake_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp,
    uint64_t now_ns);

/* Transport data (message type 4).  msg points at the 16-byte header; the plaintext follows it
 * and is padded with zeros to a multiple of 16 (the caller provides the room).  Returns the
 * message length, or 0 if the keypair may no longer send (counter >= REJECT_AFTER_MESSAGES or
 * sending key invalid).  Expiry by time is the caller's business. */
size_t noise_keypair_encrypt(struct noise_keypair *kp, uint8_t *msg, size_t plaintext_len);
/* The same, but the padding never takes the plaintext past mtu (the interface MTU), as the
 * kernel and wireguard-go pad: a full-size packet must not grow into a fragmented datagram.
 * mtu 0: no cap. */
size_t noise_keypair_encrypt_mtu(struct noise_keypair *kp, uint8_t *msg, size_t plaintext_len,
    size_t mtu);
/* Decrypts in place; on success *plaintext_len is the padded plaintext length and the counter
 * has passed the replay window.  false if authentication fails or the counter is replayed. */
bool noise_keypair_decrypt(struct noise_keypair *kp, uint8_t *msg, size_t msg_len,
    size_t *plaintext_len);
/* The same, telling a replayed counter (authentic, but seen before or left behind by the
 * window) from a message that does not authenticate. */
enum noise_open_result {
	NOISE_OPEN_OK,
	NOISE_OPEN_INVALID,
	NOISE_OPEN_REPLAY,
};
enum noise_open_result noise_keypair_open(struct noise_keypair *kp, uint8_t *msg,
    size_t msg_len, size_t *plaintext_len);
/* The two functions above without their AEAD, for a caller that runs it elsewhere (another
 * thread): the seal takes the counter (*counter) and writes the header and the padding, the
 * AEAD then seals *padded_len bytes after the header in place; same return as
 * noise_keypair_encrypt_mtu.  The open checks what can be checked before decryption (receiving
 * key valid, type, index, counter below REJECT_AFTER_MESSAGES) and reads the counter; false is
 * NOISE_OPEN_INVALID.  After the AEAD the caller passes the counter through the keypair's
 * replay window itself. */
size_t noise_keypair_seal_prepare(struct noise_keypair *kp, uint8_t *msg, size_t plaintext_len,
    size_t mtu, uint64_t *counter, size_t *padded_len);
bool noise_keypair_open_prepare(const struct noise_keypair *kp, const uint8_t *msg,
    size_t msg_len, uint64_t *counter);
void noise_keypair_wipe(struct noise_keypair *kp);

#endif
