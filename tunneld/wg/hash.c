/* BLAKE2s HASH/MAC/HMAC/KDF for the Noise handshake and cookies.  Every intermediate (HMAC
 * pads, inner hash, PRK, previous block) is wiped before returning. */
#include "hash.h"

#include <blake2.h>
#include <sodium.h>
#include <string.h>

void
hash_blake2s(uint8_t out[HASH_LEN], const uint8_t *in, size_t len)
{
	hash_blake2s_concat(out, in, len, NULL, 0);
}

void
hash_blake2s_concat(uint8_t out[HASH_LEN], const uint8_t *a, size_t a_len, const uint8_t *b,
    size_t b_len)
{
	blake2s_state s;

	blake2s_init(&s, HASH_LEN);
	if (a_len)
		blake2s_update(&s, a, a_len);
	if (b_len)
		blake2s_update(&s, b, b_len);
	blake2s_final(&s, out, HASH_LEN);
	sodium_memzero(&s, sizeof(s));
}

void
hash_mac(uint8_t out[HASH_MAC_LEN], const uint8_t *key, size_t key_len, const uint8_t *in,
    size_t len)
{
	blake2s_state s;

	/* libb2 refuses a key longer than 32 bytes or empty; callers pass 16 or 32. */
	blake2s_init_key(&s, HASH_MAC_LEN, key, key_len);
	if (len)
		blake2s_update(&s, in, len);
	blake2s_final(&s, out, HASH_MAC_LEN);
	sodium_memzero(&s, sizeof(s));
}

void
hash_hmac(uint8_t out[HASH_LEN], const uint8_t *key, size_t key_len, const uint8_t *in,
    size_t len)
{
	uint8_t pad[HASH_BLOCK_LEN] = { 0 };
	uint8_t inner[HASH_LEN];
	blake2s_state s;
	size_t i;

	/* RFC 2104: a key longer than the block is replaced by its hash. */
	if (key_len > HASH_BLOCK_LEN)
		hash_blake2s(pad, key, key_len);
	else if (key_len)
		memcpy(pad, key, key_len);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	blake2s_init(&s, HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	if (len)
		blake2s_update(&s, in, len);
	blake2s_final(&s, inner, sizeof(inner));

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&s, HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, inner, sizeof(inner));
	blake2s_final(&s, out, HASH_LEN);

	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&s, sizeof(s));
}

/* Shared body of KDF1/2/3; outputs beyond n are NULL. */
static void
kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t *key, size_t key_len,
    const uint8_t *in, size_t len)
{
	uint8_t prk[HASH_LEN];
	uint8_t block[HASH_LEN + 1];	/* t(i-1) || i */

	hash_hmac(prk, key, key_len, in, len);

	/* t1 = HMAC(prk, 0x1) */
	block[0] = 1;
	hash_hmac(block, prk, sizeof(prk), block, 1);
	memcpy(out1, block, HASH_LEN);
	if (!out2)
		goto out;

	/* t2 = HMAC(prk, t1 || 0x2) */
	block[HASH_LEN] = 2;
	hash_hmac(block, prk, sizeof(prk), block, sizeof(block));
	memcpy(out2, block, HASH_LEN);
	if (!out3)
		goto out;

	/* t3 = HMAC(prk, t2 || 0x3) */
	block[HASH_LEN] = 3;
	hash_hmac(block, prk, sizeof(prk), block, sizeof(block));
	memcpy(out3, block, HASH_LEN);
out:
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(block, sizeof(block));
}

void
hash_kdf1(uint8_t out1[HASH_LEN], const uint8_t *key, size_t key_len, const uint8_t *in,
    size_t len)
{
	kdf(out1, NULL, NULL, key, key_len, in, len);
}

void
hash_kdf2(uint8_t out1[HASH_LEN], uint8_t out2[HASH_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *in, size_t len)
{
	kdf(out1, out2, NULL, key, key_len, in, len);
}

void
hash_kdf3(uint8_t out1[HASH_LEN], uint8_t out2[HASH_LEN], uint8_t out3[HASH_LEN],
    const uint8_t *key, size_t key_len, const uint8_t *in, size_t len)
{
	kdf(out1, out2, out3, key, key_len, in, len);
}
