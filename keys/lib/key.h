/* WireGuard/X25519 keys: generation, base64 (as `wg genkey`/`wg pubkey`) and hex (as the UAPI),
 * and private key files that must not be readable by group or others. */
#ifndef KEYS_KEY_H
#define KEYS_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { KEY_LEN = 32, KEY_B64_LEN = 44, KEY_HEX_LEN = 64 };

/* Call once before anything else (sodium_init).  Returns false if libsodium cannot start. */
bool key_lib_init(void);
/* A clamped Curve25519 private key, as `wg genkey`. */
void key_generate_private(uint8_t key[KEY_LEN]);
/* false if the result is all zeros (invalid private key). */
bool key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN]);
bool key_is_zero(const uint8_t key[KEY_LEN]);

/* Whether key can be an X25519 public key: a point of the curve's prime-order subgroup, as
 * every clamped_scalar * basepoint is (key_check.c).  Every public key passes; a private key
 * (32 random bytes) fails with probability 15/16.  Public data: not constant time. */
bool key_is_public(const uint8_t key[KEY_LEN]);
/* The Edwards y (32 bytes, little-endian, sign bit 0) of the Montgomery point with u-coordinate
 * u: y = (u - 1) / (u + 1) mod 2^255 - 19.  false if u is not canonical or u = -1. */
bool key_x25519_to_ed25519_y(uint8_t y[KEY_LEN], const uint8_t u[KEY_LEN]);

/* Exactly 44 characters of standard base64 ending in '=' (trailing whitespace not allowed). */
bool key_from_base64(uint8_t key[KEY_LEN], const char *b64);
void key_to_base64(char b64[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN]);
/* Exactly 64 lowercase or uppercase hex digits. */
bool key_from_hex(uint8_t key[KEY_LEN], const char *hex);
void key_to_hex(char hex[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN]);

/* Reads a base64 key (one line, surrounding whitespace allowed) from path.  Private key files
 * (private = true) are refused when group or others may read or write them, as ssh does.
 * Returns 0 or a negative errno; on error err (errlen bytes) says why, naming the file. */
int key_file_read(const char *path, bool private, uint8_t key[KEY_LEN], char *err, size_t errlen);
/* Reads a small secret file whole into buf (at most cap bytes; *len says how many), with the
 * checks every key file gets: a regular file (a FIFO is refused, not waited on) and, if
 * check_mode, no access for group or others ("permissions 0644 for 'F' are too open; KIND files
 * must be 0600").  0 or a negative errno, err says why.  The caller wipes buf. */
int key_secret_file_read(const char *path, const char *kind, bool check_mode, char *buf,
    size_t cap, size_t *len, char *err, size_t errlen);
/* Writes key as base64 + newline, created 0600 (O_EXCL unless overwrite). */
int key_file_write(const char *path, const uint8_t key[KEY_LEN], bool overwrite);

#endif
