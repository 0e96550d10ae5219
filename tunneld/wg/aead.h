/* ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce, and XChaCha20-Poly1305 for cookie
 * replies.  Two interchangeable backends for ChaCha20-Poly1305: libsodium, and OpenSSL 3 EVP
 * (about twice as fast here for bulk data, /work/shared/reference/crypto-speed.md).  The
 * transport path uses OpenSSL by default; handshakes and cookies always use libsodium.
 *
 * dst may equal src (in place); it must not otherwise overlap.  Encryption writes len bytes
 * of ciphertext then the 16-byte tag; decryption reads len bytes of ciphertext+tag and writes
 * len - 16 bytes, wiped if authentication fails. */
#ifndef TUNNELD_WG_AEAD_H
#define TUNNELD_WG_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	AEAD_KEY_LEN = 32,
	AEAD_TAG_LEN = 16,
	AEAD_NONCE_LEN = 12,	/* IETF: WireGuard fills it as 4 zero bytes || le64 counter */
	XAEAD_NONCE_LEN = 24,
};

enum aead_backend {
	AEAD_BACKEND_SODIUM,
	AEAD_BACKEND_OPENSSL,
};

/* Preallocates the calling thread's OpenSSL contexts (one per direction; each thread has its
 * own).  Optional: the thread's first transport call does it otherwise.  false if OpenSSL
 * cannot provide ChaCha20-Poly1305; the transport path then uses libsodium.  The first call
 * in the process initialises OpenSSL without its configuration file (OPENSSL_CONF, openssl.cnf
 * are not read) unless something else in the process used libcrypto first.  aead_cleanup
 * frees the calling thread's pair (a thread that used the transport calls it before it ends). */
bool aead_init(void);
void aead_cleanup(void);
/* Overwrites the last transport key the calling thread's OpenSSL contexts hold; called when a
 * keypair is wiped (the loop thread) and by a crypto worker when it runs out of work. */
void aead_transport_forget(void);
/* Selects the transport backend (default AEAD_BACKEND_OPENSSL); before any thread uses it. */
void aead_transport_backend_set(enum aead_backend b);
enum aead_backend aead_transport_backend_get(void);

/* 4 zero bytes || le64 counter. */
void aead_nonce_from_counter(uint8_t nonce[AEAD_NONCE_LEN], uint64_t counter);

/* Raw IETF ChaCha20-Poly1305 with an explicit backend and a full 12-byte nonce (tests, the
 * RFC 8439 vector).  false on failure (encrypt: backend error). */
bool aead_chacha20poly1305_encrypt_with(enum aead_backend b, uint8_t *dst, const uint8_t *src,
    size_t len, const uint8_t *ad, size_t ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
    const uint8_t key[AEAD_KEY_LEN]);
bool aead_chacha20poly1305_decrypt_with(enum aead_backend b, uint8_t *dst, const uint8_t *src,
    size_t len, const uint8_t *ad, size_t ad_len, const uint8_t nonce[AEAD_NONCE_LEN],
    const uint8_t key[AEAD_KEY_LEN]);

/* Handshake AEAD: libsodium, WireGuard nonce from counter. */
void aead_chacha20poly1305_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t ad_len, uint64_t counter, const uint8_t key[AEAD_KEY_LEN]);
bool aead_chacha20poly1305_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t ad_len, uint64_t counter, const uint8_t key[AEAD_KEY_LEN]);

/* Transport data: the selected backend, no additional data, no allocation (falls back to
 * libsodium if OpenSSL is unavailable). */
bool aead_transport_encrypt(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
    const uint8_t key[AEAD_KEY_LEN]);
bool aead_transport_decrypt(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
    const uint8_t key[AEAD_KEY_LEN]);

/* XChaCha20-Poly1305 (cookie replies): libsodium. */
void aead_xchacha20poly1305_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t ad_len, const uint8_t nonce[XAEAD_NONCE_LEN],
    const uint8_t key[AEAD_KEY_LEN]);
bool aead_xchacha20poly1305_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t *ad, size_t ad_len, const uint8_t nonce[XAEAD_NONCE_LEN],
    const uint8_t key[AEAD_KEY_LEN]);

#endif
