/* Internal to noise.c: the Noise symmetric-state steps, exposed so a test can drive them with
 * the protocol's fixed vectors.  Not for the engine: it uses noise.h. */
#ifndef TUNNELD_WG_NOISE_SYMMETRIC_H
#define TUNNELD_WG_NOISE_SYMMETRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

/* ck = HASH(Construction); h = HASH(ck || identifier).  WireGuard passes its Identifier;
 * Noise's MixHash(prologue) is the same step, so a Noise test vector passes its prologue. */
void noise_symmetric_init(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
    const uint8_t *identifier, size_t identifier_len);
/* The same with WireGuard's Identifier: the constant start of every WireGuard handshake. */
void noise_symmetric_init_wireguard(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN]);
/* h = HASH(h || in) */
void noise_symmetric_mix_hash(uint8_t h[NOISE_HASH_LEN], const uint8_t *in, size_t len);
/* (ck, key) = KDF2(ck, in); key may be NULL (KDF1: the psk-mode "e" token and ee/se). */
void noise_symmetric_mix_key(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
    const uint8_t *in, size_t len);
/* mix_key(DH(priv, pub)); false if the shared secret is all zeros (low-order point). */
bool noise_symmetric_mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
    const uint8_t priv[NOISE_PUBLIC_KEY_LEN], const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);
/* (ck, tau, key) = KDF3(ck, psk); h = HASH(h || tau). */
void noise_symmetric_mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
    uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN]);
/* dst = AEAD(key, 0, src, h) (len + 16 bytes); h = HASH(h || dst). */
void noise_symmetric_encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN]);
/* Inverse: src is len bytes of ciphertext + tag, dst gets len - 16; h unchanged on failure. */
bool noise_symmetric_decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN]);
/* Split: (first, second) = KDF2(ck, empty); the initiator sends with first. */
void noise_symmetric_split(uint8_t first[NOISE_SYMMETRIC_KEY_LEN],
    uint8_t second[NOISE_SYMMETRIC_KEY_LEN], const uint8_t ck[NOISE_HASH_LEN]);

#endif
