/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (whitepaper 5.4.2-5.4.6), and
 * transport data (5.4.6).  Each handshake step is marked with its Noise token.  Functions
 * work on local copies of hash and chaining key and commit them to the handshake only on
 * success, so a forged message cannot disturb a handshake in progress. */
#include "noise.h"
#include "noise_symmetric.h"

#include <endian.h>
#include <sodium.h>
#include <string.h>

#include "aead.h"
#include "hash.h"

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* ---- symmetric state (noise_symmetric.h) ---- */

void
noise_symmetric_init(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
    const uint8_t *ident, size_t ident_len)
{
	hash_blake2s(ck, (const uint8_t *)construction, sizeof(construction) - 1);
	hash_blake2s_concat(h, ck, NOISE_HASH_LEN, ident, ident_len);
}

void
noise_symmetric_init_wireguard(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN])
{
	noise_symmetric_init(ck, h, (const uint8_t *)identifier, sizeof(identifier) - 1);
}

void
noise_symmetric_mix_hash(uint8_t h[NOISE_HASH_LEN], const uint8_t *in, size_t len)
{
	hash_blake2s_concat(h, h, NOISE_HASH_LEN, in, len);
}

void
noise_symmetric_mix_key(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
    const uint8_t *in, size_t len)
{
	if (key)
		hash_kdf2(ck, key, ck, NOISE_HASH_LEN, in, len);
	else
		hash_kdf1(ck, ck, NOISE_HASH_LEN, in, len);
}

bool
noise_symmetric_mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
    const uint8_t priv[NOISE_PUBLIC_KEY_LEN], const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	bool ok = false;

	/* libsodium already fails on an all-zero result; check anyway, as wireguard-go does. */
	if (crypto_scalarmult(dh, priv, pub) != 0 || sodium_is_zero(dh, sizeof(dh)))
		goto out;
	noise_symmetric_mix_key(ck, key, dh, sizeof(dh));
	ok = true;
out:
	sodium_memzero(dh, sizeof(dh));
	return ok;
}

void
noise_symmetric_mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
    uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];

	hash_kdf3(ck, tau, key, ck, NOISE_HASH_LEN, psk, NOISE_SYMMETRIC_KEY_LEN);
	noise_symmetric_mix_hash(h, tau, sizeof(tau));
	sodium_memzero(tau, sizeof(tau));
}

void
noise_symmetric_encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	/* Each handshake key encrypts exactly one message, so the counter is always 0. */
	aead_chacha20poly1305_encrypt(dst, src, len, h, NOISE_HASH_LEN, 0, key);
	noise_symmetric_mix_hash(h, dst, len + NOISE_AUTHTAG_LEN);
}

bool
noise_symmetric_decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	if (!aead_chacha20poly1305_decrypt(dst, src, len, h, NOISE_HASH_LEN, 0, key))
		return false;
	noise_symmetric_mix_hash(h, src, len);
	return true;
}

void
noise_symmetric_split(uint8_t first[NOISE_SYMMETRIC_KEY_LEN],
    uint8_t second[NOISE_SYMMETRIC_KEY_LEN], const uint8_t ck[NOISE_HASH_LEN])
{
	hash_kdf2(first, second, ck, NOISE_HASH_LEN, NULL, 0);
}

/* ---- helpers ---- */

/* ck, h after the responder's static key is mixed in (both sides start here). */
static void
handshake_start(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
    const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	noise_symmetric_init_wireguard(ck, h);
	noise_symmetric_mix_hash(h, responder_static, NOISE_PUBLIC_KEY_LEN);
}

/* Clamps a fresh ephemeral private key into priv and writes its public half. */
static bool
ephemeral_make(uint8_t priv[NOISE_PUBLIC_KEY_LEN], uint8_t pub[NOISE_PUBLIC_KEY_LEN],
    const uint8_t random[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(priv, random, NOISE_PUBLIC_KEY_LEN);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	return crypto_scalarmult_base(pub, priv) == 0 && !sodium_is_zero(pub, NOISE_PUBLIC_KEY_LEN);
}

static void
precompute(struct noise_handshake *hs)
{
	const struct noise_static_identity *id = hs->identity;

	if (hs->precomputed)
		return;
	if (!id || !id->has_identity ||
	    crypto_scalarmult(hs->precomputed_static_static, id->static_private,
	    hs->remote_static) != 0)
		sodium_memzero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	hs->precomputed = true;
}

/* ---- identities and handshake lifecycle ---- */

bool
noise_static_identity_set(struct noise_static_identity *id,
    const uint8_t private_key[NOISE_PUBLIC_KEY_LEN])
{
	sodium_memzero(id, sizeof(*id));
	if (!private_key)
		return true;
	memcpy(id->static_private, private_key, NOISE_PUBLIC_KEY_LEN);
	id->static_private[0] &= 248;
	id->static_private[31] = (id->static_private[31] & 127) | 64;
	if (crypto_scalarmult_base(id->static_public, id->static_private) != 0 ||
	    sodium_is_zero(id->static_public, NOISE_PUBLIC_KEY_LEN)) {
		sodium_memzero(id, sizeof(*id));
		return false;
	}
	id->has_identity = true;
	return true;
}

void
noise_handshake_init(struct noise_handshake *hs, const struct noise_static_identity *id,
    const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN], const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	sodium_memzero(hs, sizeof(*hs));
	memcpy(hs->remote_static, peer_public, NOISE_PUBLIC_KEY_LEN);
	if (psk)
		memcpy(hs->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	hs->identity = id;
	hs->precomputed = false;
	hs->state = HANDSHAKE_ZEROED;
}

void
noise_handshake_rebind(struct noise_handshake *hs, const struct noise_static_identity *id)
{
	sodium_memzero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	hs->identity = id;
	hs->precomputed = false;
	noise_handshake_clear(hs);
}

void
noise_handshake_clear(struct noise_handshake *hs)
{
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	sodium_memzero(hs->hash, sizeof(hs->hash));
	sodium_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	hs->local_index = 0;
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

/* ---- initiation ---- */

bool
noise_handshake_create_initiation(struct msg_initiation *dst, struct noise_handshake *hs,
    const struct noise_static_identity *id, uint32_t local_index,
    const uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN],
    const uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN];
	bool ok = false;

	precompute(hs);
	if (!id->has_identity || sodium_is_zero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN))
		goto out;
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
	dst->sender_index = htole32(local_index);
	handshake_start(ck, h, hs->remote_static);

	/* e */
	if (!ephemeral_make(eph, dst->unencrypted_ephemeral, ephemeral_private))
		goto out;
	noise_symmetric_mix_hash(h, dst->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	noise_symmetric_mix_key(ck, NULL, dst->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	/* es */
	if (!noise_symmetric_mix_dh(ck, key, eph, hs->remote_static))
		goto out;
	/* s */
	noise_symmetric_encrypt_and_hash(dst->encrypted_static, id->static_public,
	    NOISE_PUBLIC_KEY_LEN, key, h);
	/* ss */
	noise_symmetric_mix_key(ck, key, hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	/* {t} */
	noise_symmetric_encrypt_and_hash(dst->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN,
	    key, h);

	memcpy(hs->ephemeral_private, eph, sizeof(eph));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->local_index = local_index;
	hs->remote_index = 0;
	hs->state = HANDSHAKE_CREATED_INITIATION;
	ok = true;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(eph, sizeof(eph));
	return ok;
}

bool
noise_handshake_begin_consume_initiation(const struct msg_initiation *src,
    const struct noise_static_identity *id, struct noise_initiation_ctx *ctx)
{
	bool ok = false;

	if (!id->has_identity || le32toh(src->header.type) != MESSAGE_HANDSHAKE_INITIATION)
		goto out;
	handshake_start(ctx->chaining_key, ctx->hash, id->static_public);

	/* e */
	memcpy(ctx->remote_ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	noise_symmetric_mix_hash(ctx->hash, ctx->remote_ephemeral, NOISE_PUBLIC_KEY_LEN);
	noise_symmetric_mix_key(ctx->chaining_key, NULL, ctx->remote_ephemeral,
	    NOISE_PUBLIC_KEY_LEN);
	/* es */
	if (!noise_symmetric_mix_dh(ctx->chaining_key, ctx->key, id->static_private,
	    ctx->remote_ephemeral))
		goto out;
	/* s */
	if (!noise_symmetric_decrypt_and_hash(ctx->remote_static, src->encrypted_static,
	    sizeof(src->encrypted_static), ctx->key, ctx->hash))
		goto out;
	ok = true;
out:
	if (!ok)
		sodium_memzero(ctx, sizeof(*ctx));
	return ok;
}

bool
noise_handshake_finish_consume_initiation(const struct msg_initiation *src,
    struct noise_handshake *hs, struct noise_initiation_ctx *ctx, uint64_t now_ns)
{
	uint8_t t[NOISE_TIMESTAMP_LEN];
	bool ok = false, replay, flood;

	precompute(hs);
	/* The engine looked the peer up by this key; make sure it is that peer. */
	if (sodium_memcmp(hs->remote_static, ctx->remote_static, NOISE_PUBLIC_KEY_LEN) != 0 ||
	    sodium_is_zero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN))
		goto out;
	/* ss */
	noise_symmetric_mix_key(ctx->chaining_key, ctx->key, hs->precomputed_static_static,
	    NOISE_PUBLIC_KEY_LEN);
	/* {t} */
	if (!noise_symmetric_decrypt_and_hash(t, src->encrypted_timestamp,
	    sizeof(src->encrypted_timestamp), ctx->key, ctx->hash))
		goto out;

	/* Replay: the timestamp must grow.  Flood: at most INITIATIONS_PER_SECOND. */
	replay = memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
	flood = hs->last_initiation_consumption_ns != 0 &&
	    now_ns - hs->last_initiation_consumption_ns < 1000000000ULL / INITIATIONS_PER_SECOND;
	if (replay || flood)
		goto out;

	memcpy(hs->latest_timestamp, t, sizeof(t));
	hs->last_initiation_consumption_ns = now_ns;
	memcpy(hs->remote_ephemeral, ctx->remote_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->hash, ctx->hash, NOISE_HASH_LEN);
	memcpy(hs->chaining_key, ctx->chaining_key, NOISE_HASH_LEN);
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	hs->remote_index = le32toh(src->sender_index);
	hs->local_index = 0;
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
	ok = true;
out:
	sodium_memzero(t, sizeof(t));
	sodium_memzero(ctx, sizeof(*ctx));
	return ok;
}

/* ---- response ---- */

bool
noise_handshake_create_response(struct msg_response *dst, struct noise_handshake *hs,
    uint32_t local_index, const uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN];
	bool ok = false;

	if (hs->state != HANDSHAKE_CONSUMED_INITIATION)
		goto out;
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->sender_index = htole32(local_index);
	dst->receiver_index = htole32(hs->remote_index);

	/* e */
	if (!ephemeral_make(eph, dst->unencrypted_ephemeral, ephemeral_private))
		goto out;
	noise_symmetric_mix_hash(h, dst->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	noise_symmetric_mix_key(ck, NULL, dst->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	/* ee */
	if (!noise_symmetric_mix_dh(ck, NULL, eph, hs->remote_ephemeral))
		goto out;
	/* se */
	if (!noise_symmetric_mix_dh(ck, NULL, eph, hs->remote_static))
		goto out;
	/* psk */
	noise_symmetric_mix_psk(ck, h, key, hs->preshared_key);
	/* {} */
	noise_symmetric_encrypt_and_hash(dst->encrypted_nothing, NULL, 0, key, h);

	memcpy(hs->ephemeral_private, eph, sizeof(eph));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->local_index = local_index;
	hs->state = HANDSHAKE_CREATED_RESPONSE;
	ok = true;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(eph, sizeof(eph));
	return ok;
}

bool
noise_handshake_consume_response(const struct msg_response *src, struct noise_handshake *hs,
    const struct noise_static_identity *id)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	bool ok = false;

	if (!id->has_identity || hs->state != HANDSHAKE_CREATED_INITIATION ||
	    le32toh(src->header.type) != MESSAGE_HANDSHAKE_RESPONSE ||
	    le32toh(src->receiver_index) != hs->local_index)
		goto out;
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));

	/* e */
	noise_symmetric_mix_hash(h, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	noise_symmetric_mix_key(ck, NULL, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	/* ee */
	if (!noise_symmetric_mix_dh(ck, NULL, hs->ephemeral_private, src->unencrypted_ephemeral))
		goto out;
	/* se */
	if (!noise_symmetric_mix_dh(ck, NULL, id->static_private, src->unencrypted_ephemeral))
		goto out;
	/* psk */
	noise_symmetric_mix_psk(ck, h, key, hs->preshared_key);
	/* {} */
	if (!noise_symmetric_decrypt_and_hash(NULL, src->encrypted_nothing,
	    sizeof(src->encrypted_nothing), key, h))
		goto out;

	memcpy(hs->remote_ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->remote_index = le32toh(src->sender_index);
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	ok = true;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	return ok;
}

bool
noise_handshake_derive_keypair(struct noise_handshake *hs, struct noise_keypair *kp,
    uint64_t now_ns)
{
	uint8_t first[NOISE_SYMMETRIC_KEY_LEN], second[NOISE_SYMMETRIC_KEY_LEN];
	bool initiator;

	if (hs->state == HANDSHAKE_CONSUMED_RESPONSE)
		initiator = true;
	else if (hs->state == HANDSHAKE_CREATED_RESPONSE)
		initiator = false;
	else
		return false;

	/* The initiator sends with the first key, the responder with the second. */
	noise_symmetric_split(first, second, hs->chaining_key);
	sodium_memzero(kp, sizeof(*kp));
	memcpy(kp->sending.key, initiator ? first : second, NOISE_SYMMETRIC_KEY_LEN);
	memcpy(kp->receiving.key, initiator ? second : first, NOISE_SYMMETRIC_KEY_LEN);
	kp->sending.birthdate_ns = kp->receiving.birthdate_ns = now_ns;
	kp->sending.is_valid = kp->receiving.is_valid = true;
	kp->sending_counter = 0;
	replay_counter_init(&kp->receiving_counter);
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->i_am_the_initiator = initiator;

	noise_handshake_clear(hs);
	sodium_memzero(first, sizeof(first));
	sodium_memzero(second, sizeof(second));
	return true;
}

/* ---- transport data ---- */

size_t
noise_keypair_encrypt(struct noise_keypair *kp, uint8_t *msg, size_t plaintext_len)
{
	return noise_keypair_encrypt_mtu(kp, msg, plaintext_len, 0);
}

size_t
noise_keypair_seal_prepare(struct noise_keypair *kp, uint8_t *msg, size_t plaintext_len,
    size_t mtu, uint64_t *counter, size_t *padded_len)
{
	struct msg_data hdr;
	size_t padded;

	if (!kp->sending.is_valid || kp->sending_counter >= REJECT_AFTER_MESSAGES ||
	    plaintext_len > SIZE_MAX - sizeof(hdr) - 2 * MESSAGE_PADDING_MULTIPLE)
		return 0;
	*counter = kp->sending_counter++;

	/* Pad to 16 so the length leaks less about the inner packet. */
	padded = (plaintext_len + MESSAGE_PADDING_MULTIPLE - 1) &
	    ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);
	if (mtu && padded > mtu)
		padded = plaintext_len > mtu ? plaintext_len : mtu;
	memset(msg + sizeof(hdr) + plaintext_len, 0, padded - plaintext_len);
	/* Header through memcpy: the caller's buffer need not be 8-byte aligned. */
	hdr.header.type = htole32(MESSAGE_DATA);
	hdr.key_idx = htole32(kp->remote_index);
	hdr.counter = htole64(*counter);
	memcpy(msg, &hdr, sizeof(hdr));
	*padded_len = padded;
	return sizeof(hdr) + padded + NOISE_AUTHTAG_LEN;
}

size_t
noise_keypair_encrypt_mtu(struct noise_keypair *kp, uint8_t *msg, size_t plaintext_len,
    size_t mtu)
{
	uint64_t counter;
	size_t padded, n;

	n = noise_keypair_seal_prepare(kp, msg, plaintext_len, mtu, &counter, &padded);
	if (!n || !aead_transport_encrypt(msg + sizeof(struct msg_data),
	    msg + sizeof(struct msg_data), padded, counter, kp->sending.key))
		return 0;
	return n;
}

bool
noise_keypair_open_prepare(const struct noise_keypair *kp, const uint8_t *msg, size_t msg_len,
    uint64_t *counter)
{
	struct msg_data hdr;

	if (msg_len < MESSAGE_MINIMUM_LENGTH || !kp->receiving.is_valid)
		return false;
	memcpy(&hdr, msg, sizeof(hdr));
	if (le32toh(hdr.header.type) != MESSAGE_DATA || le32toh(hdr.key_idx) != kp->local_index)
		return false;
	*counter = le64toh(hdr.counter);
	return *counter < REJECT_AFTER_MESSAGES;
}

enum noise_open_result
noise_keypair_open(struct noise_keypair *kp, uint8_t *msg, size_t msg_len,
    size_t *plaintext_len)
{
	uint64_t counter;

	if (!noise_keypair_open_prepare(kp, msg, msg_len, &counter))
		return NOISE_OPEN_INVALID;
	/* Authenticate first; only an authentic counter may move the replay window. */
	if (!aead_transport_decrypt(msg + sizeof(struct msg_data), msg + sizeof(struct msg_data),
	    msg_len - sizeof(struct msg_data), counter, kp->receiving.key))
		return NOISE_OPEN_INVALID;
	if (!replay_counter_validate(&kp->receiving_counter, counter))
		return NOISE_OPEN_REPLAY;
	*plaintext_len = msg_len - sizeof(struct msg_data) - NOISE_AUTHTAG_LEN;
	return NOISE_OPEN_OK;
}

bool
noise_keypair_decrypt(struct noise_keypair *kp, uint8_t *msg, size_t msg_len,
    size_t *plaintext_len)
{
	return noise_keypair_open(kp, msg, msg_len, plaintext_len) == NOISE_OPEN_OK;
}

void
noise_keypair_wipe(struct noise_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
	aead_transport_forget();
}
