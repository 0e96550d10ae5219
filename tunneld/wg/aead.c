/* ChaCha20-Poly1305 behind one interface, libsodium or OpenSSL 3 EVP.
 *
 * The OpenSSL contexts are one pair (one per direction) per thread, thread-local, allocated
 * once (aead_init or the thread's first transport call) and re-keyed per packet: no allocation
 * on the packet path, and the crypto workers (tunneld/crypt_worker.c) never share a context
 * with the event loop or with each other. */
#include "aead.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

static _Thread_local EVP_CIPHER_CTX *enc_ctx;
static _Thread_local EVP_CIPHER_CTX *dec_ctx;
static _Thread_local bool ossl_ready;
static _Thread_local bool ossl_failed;
static enum aead_backend transport_backend = AEAD_BACKEND_OPENSSL;

bool
aead_init(void)
{
	if (ossl_ready)
		return true;
	if (ossl_failed)
		return false;
	/* One fixed algorithm from OpenSSL's default provider is all tunneld takes from it, so the
	 * system's openssl.cnf is not read: a configuration that loads other providers cannot
	 * take the cipher away or swap its implementation, and the configuration machinery's
	 * code (about 0.6 MiB of libcrypto) is never paged in.  Only the process's first call to
	 * OPENSSL_init_crypto counts; later ones (other threads) do nothing. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) {
		ossl_failed = true;
		return false;
	}
	enc_ctx = EVP_CIPHER_CTX_new();
	dec_ctx = EVP_CIPHER_CTX_new();
	if (!enc_ctx || !dec_ctx ||
	    EVP_EncryptInit_ex(enc_ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex(dec_ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1) {
		aead_cleanup();
		ossl_failed = true;
		return false;
	}
	ossl_ready = true;
	return true;
}

void
aead_cleanup(void)
{
	EVP_CIPHER_CTX_free(enc_ctx);
	EVP_CIPHER_CTX_free(dec_ctx);
	enc_ctx = dec_ctx = NULL;
	ossl_ready = false;
}

void
aead_transport_forget(void)
{
	static const uint8_t zero_key[32], zero_nonce[AEAD_NONCE_LEN];

	/* Re-keying with zeros overwrites the key material the contexts keep between packets. */
	if (!ossl_ready)
		return;
	EVP_EncryptInit_ex(enc_ctx, NULL, NULL, zero_key, zero_nonce);
	EVP_DecryptInit_ex(dec_ctx, NULL, NULL, zero_key, zero_nonce);
}

void
aead_transport_backend_set(enum aead_backend b)
{
	transport_backend = b;
}

enum aead_backend
aead_transport_backend_get(void)
{
	return transport_backend;
}

void
aead_nonce_from_counter(uint8_t nonce[AEAD_NONCE_LEN], uint64_t counter)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static bool
sodium_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t key[AEAD_KEY_LEN])
{
	/* Detached form: the tag lands after the ciphertext even when dst == src. */
	return crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len,
	    ad, ad_len, NULL, nonce, key) == 0;
}

static bool
sodium_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t key[AEAD_KEY_LEN])
{
	size_t mlen = len - AEAD_TAG_LEN;

	/* libsodium checks the tag before decrypting, so in place is safe. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, mlen, src + mlen,
	    ad, ad_len, nonce, key) == 0)
		return true;
	if (mlen)
		sodium_memzero(dst, mlen);
	return false;
}

static bool
ossl_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t key[AEAD_KEY_LEN])
{
	int outl;

	if (!aead_init() || len > INT_MAX || ad_len > INT_MAX)
		return false;
	if (EVP_EncryptInit_ex(enc_ctx, NULL, NULL, key, nonce) != 1)
		return false;
	if (ad_len && EVP_EncryptUpdate(enc_ctx, NULL, &outl, ad, (int)ad_len) != 1)
		return false;
	if (len && EVP_EncryptUpdate(enc_ctx, dst, &outl, src, (int)len) != 1)
		return false;
	if (EVP_EncryptFinal_ex(enc_ctx, dst + len, &outl) != 1)
		return false;
	return EVP_CIPHER_CTX_ctrl(enc_ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, dst + len) == 1;
}

static bool
ossl_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t key[AEAD_KEY_LEN])
{
	uint8_t tag[AEAD_TAG_LEN];
	size_t mlen = len - AEAD_TAG_LEN;
	bool ok = false;
	int outl;

	if (!aead_init() || mlen > INT_MAX || ad_len > INT_MAX)
		goto out;
	/* Copy the tag first: in place, decryption would not touch it, but be explicit. */
	memcpy(tag, src + mlen, sizeof(tag));
	if (EVP_DecryptInit_ex(dec_ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (ad_len && EVP_DecryptUpdate(dec_ctx, NULL, &outl, ad, (int)ad_len) != 1)
		goto out;
	/* OpenSSL decrypts before it verifies: the output is wiped below on failure. */
	if (mlen && EVP_DecryptUpdate(dec_ctx, dst, &outl, src, (int)mlen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(dec_ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
		goto out;
	ok = EVP_DecryptFinal_ex(dec_ctx, dst + mlen, &outl) == 1;
out:
	if (!ok && mlen)
		sodium_memzero(dst, mlen);
	sodium_memzero(tag, sizeof(tag));
	return ok;
}

bool
aead_chacha20poly1305_encrypt_with(enum aead_backend b, uint8_t *dst, const uint8_t *src,
    size_t len, const uint8_t *ad, size_t ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
    const uint8_t key[AEAD_KEY_LEN])
{
	if (b == AEAD_BACKEND_OPENSSL)
		return ossl_seal(dst, src, len, ad, ad_len, nonce, key);
	return sodium_seal(dst, src, len, ad, ad_len, nonce, key);
}

bool
aead_chacha20poly1305_decrypt_with(enum aead_backend b, uint8_t *dst, const uint8_t *src,
    size_t len, const uint8_t *ad, size_t ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
    const uint8_t key[AEAD_KEY_LEN])
{
	if (len < AEAD_TAG_LEN)
		return false;
	if (b == AEAD_BACKEND_OPENSSL)
		return ossl_open(dst, src, len, ad, ad_len, nonce, key);
	return sodium_open(dst, src, len, ad, ad_len, nonce, key);
}

void
aead_chacha20poly1305_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
    size_t ad_len, uint64_t counter, const uint8_t key[AEAD_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_nonce_from_counter(nonce, counter);
	sodium_seal(dst, src, len, ad, ad_len, nonce, key);
}

bool
aead_chacha20poly1305_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
    size_t ad_len, uint64_t counter, const uint8_t key[AEAD_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_nonce_from_counter(nonce, counter);
	return aead_chacha20poly1305_decrypt_with(AEAD_BACKEND_SODIUM, dst, src, len, ad, ad_len,
	    nonce, key);
}

/* The OpenSSL backend unless deselected or unavailable. */
static enum aead_backend
transport(void)
{
	if (transport_backend == AEAD_BACKEND_OPENSSL && aead_init())
		return AEAD_BACKEND_OPENSSL;
	return AEAD_BACKEND_SODIUM;
}

bool
aead_transport_encrypt(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
    const uint8_t key[AEAD_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_nonce_from_counter(nonce, counter);
	return aead_chacha20poly1305_encrypt_with(transport(), dst, src, len, NULL, 0, nonce, key);
}

bool
aead_transport_decrypt(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
    const uint8_t key[AEAD_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_nonce_from_counter(nonce, counter);
	return aead_chacha20poly1305_decrypt_with(transport(), dst, src, len, NULL, 0, nonce, key);
}

void
aead_xchacha20poly1305_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
    size_t ad_len, const uint8_t nonce[XAEAD_NONCE_LEN], const uint8_t key[AEAD_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
	    ad_len, NULL, nonce, key);
}

bool
aead_xchacha20poly1305_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
    size_t ad_len, const uint8_t nonce[XAEAD_NONCE_LEN], const uint8_t key[AEAD_KEY_LEN])
{
	size_t mlen;

	if (len < AEAD_TAG_LEN)
		return false;
	mlen = len - AEAD_TAG_LEN;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(dst, NULL, src, mlen, src + mlen,
	    ad, ad_len, nonce, key) == 0)
		return true;
	if (mlen)
		sodium_memzero(dst, mlen);
	return false;
}
