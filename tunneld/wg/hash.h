/* BLAKE2s constructions WireGuard is built from (whitepaper 5.4): HASH, MAC, HMAC and the
 * HKDF-style KDF1/2/3.  Over libb2: libsodium's generichash is BLAKE2b, the wrong function. */
#ifndef TUNNELD_WG_HASH_H
#define TUNNELD_WG_HASH_H

#include <stddef.h>
#include <stdint.h>

enum {
	HASH_LEN = 32,		/* BLAKE2s-256 */
	HASH_MAC_LEN = 16,	/* keyed BLAKE2s-128 */
	HASH_BLOCK_LEN = 64,	/* BLAKE2s block; the HMAC pad width */
	HASH_MAX_KEY_LEN = 32,	/* BLAKE2s key limit, for MAC */
};

/* HASH(in): unkeyed BLAKE2s-256. */
void hash_blake2s(uint8_t out[HASH_LEN], const uint8_t *in, size_t len);
/* HASH(a || b), the common shape (mix_hash, mac1/cookie key derivation). */
void hash_blake2s_concat(uint8_t out[HASH_LEN], const uint8_t *a, size_t a_len,
    const uint8_t *b, size_t b_len);
/* MAC(key, in): BLAKE2s keyed with key_len (1..32) bytes, 16-byte output. */
void hash_mac(uint8_t out[HASH_MAC_LEN], const uint8_t *key, size_t key_len, const uint8_t *in,
    size_t len);
/* HMAC(key, in): RFC 2104 over BLAKE2s with a 64-byte block; key of any length. */
void hash_hmac(uint8_t out[HASH_LEN], const uint8_t *key, size_t key_len, const uint8_t *in,
    size_t len);
/* KDFn(key, in): prk = HMAC(key, in); t1 = HMAC(prk, 0x1); t(i) = HMAC(prk, t(i-1) || i).
 * Outputs may alias key or in (prk is taken first: C = KDF1(C, x) is the common call), but
 * not each other. */
void hash_kdf1(uint8_t out1[HASH_LEN], const uint8_t *key, size_t key_len, const uint8_t *in,
    size_t len);
void hash_kdf2(uint8_t out1[HASH_LEN], uint8_t out2[HASH_LEN], const uint8_t *key,
    size_t key_len, const uint8_t *in, size_t len);
void hash_kdf3(uint8_t out1[HASH_LEN], uint8_t out2[HASH_LEN], uint8_t out3[HASH_LEN],
    const uint8_t *key, size_t key_len, const uint8_t *in, size_t len);

#endif
