/* WireGuard/X25519 keys: generation, strict base64 and hex codecs, key files. */
#include "keys/lib/key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* A key file holds one 44-character line; anything much longer is not a key file. */
enum { KEY_FILE_MAX = 256 };

bool key_lib_init(void)
{
	return sodium_init() >= 0;
}

void key_generate_private(uint8_t key[KEY_LEN])
{
	randombytes_buf(key, KEY_LEN);
	/* RFC 7748 clamping, stored clamped as `wg genkey` does. */
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

bool key_public_from_private(uint8_t pub[KEY_LEN], const uint8_t priv[KEY_LEN])
{
	/* libsodium clamps internally and fails only on an all-zero result. */
	if (crypto_scalarmult_curve25519_base(pub, priv) != 0) {
		sodium_memzero(pub, KEY_LEN);
		return false;
	}
	return !key_is_zero(pub);
}

bool key_is_zero(const uint8_t key[KEY_LEN])
{
	return sodium_is_zero(key, KEY_LEN) == 1;
}

/*
 * Base64 and hex without table lookups or data-dependent branches, so that decoding a
 * private key leaks nothing through timing.  Range tests use the sign of (lo - 1 - c) and
 * (c - hi - 1): both are negative exactly when lo <= c <= hi, and >> 8 spreads that sign
 * into an all-ones mask (ints here are small, so bit 31 survives the shift).
 */
static int in_range(int c, int lo, int hi)
{
	return ((lo - 1 - c) & (c - hi - 1)) >> 8;
}

/* Value 0..63, or -1 for a character outside the standard alphabet. */
static int b64_value(int c)
{
	int v = -1;

	v += in_range(c, 'A', 'Z') & (c - 'A' + 1);
	v += in_range(c, 'a', 'z') & (c - 'a' + 26 + 1);
	v += in_range(c, '0', '9') & (c - '0' + 52 + 1);
	v += in_range(c, '+', '+') & (62 + 1);
	v += in_range(c, '/', '/') & (63 + 1);
	return v;
}

static char b64_char(unsigned v)
{
	int x = (int)v;

	return (char)('A' + x
	    + (in_range(x, 26, 63) & ('a' - 'A' - 26))
	    + (in_range(x, 52, 63) & ('0' - 'a' - 26))
	    + (in_range(x, 62, 63) & ('+' - '0' - 10))
	    + (in_range(x, 63, 63) & ('/' - '+' - 1)));
}

bool key_from_base64(uint8_t key[KEY_LEN], const char *b64)
{
	uint8_t out[KEY_LEN];
	int bad = 0;
	int v[4];
	size_t i, j;

	/* 32 bytes = 10 groups of 3 + 2 bytes: 43 symbols and one '='. */
	if (strnlen(b64, KEY_B64_LEN + 1) != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=')
		return false;
	for (i = 0; i < KEY_LEN / 3; i++) {
		for (j = 0; j < 4; j++) {
			v[j] = b64_value((unsigned char)b64[i * 4 + j]);
			bad |= v[j];
		}
		out[i * 3 + 0] = (uint8_t)(((unsigned)v[0] << 2) | ((unsigned)v[1] >> 4));
		out[i * 3 + 1] = (uint8_t)(((unsigned)v[1] << 4) | ((unsigned)v[2] >> 2));
		out[i * 3 + 2] = (uint8_t)(((unsigned)v[2] << 6) | (unsigned)v[3]);
	}
	for (j = 0; j < 3; j++) {
		v[j] = b64_value((unsigned char)b64[i * 4 + j]);
		bad |= v[j];
	}
	out[i * 3 + 0] = (uint8_t)(((unsigned)v[0] << 2) | ((unsigned)v[1] >> 4));
	out[i * 3 + 1] = (uint8_t)(((unsigned)v[1] << 4) | ((unsigned)v[2] >> 2));
	/* Canonical encoding: the two bits below the last byte must be zero. */
	bad |= -(v[2] & 3);

	if (bad < 0) {
		sodium_memzero(out, sizeof(out));
		return false;
	}
	memcpy(key, out, KEY_LEN);
	sodium_memzero(out, sizeof(out));
	sodium_memzero(v, sizeof(v));
	return true;
}

void key_to_base64(char b64[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN])
{
	unsigned w;
	size_t i;

	for (i = 0; i < KEY_LEN / 3; i++) {
		w = (unsigned)key[i * 3] << 16 | (unsigned)key[i * 3 + 1] << 8 | key[i * 3 + 2];
		b64[i * 4 + 0] = b64_char((w >> 18) & 63);
		b64[i * 4 + 1] = b64_char((w >> 12) & 63);
		b64[i * 4 + 2] = b64_char((w >> 6) & 63);
		b64[i * 4 + 3] = b64_char(w & 63);
	}
	w = (unsigned)key[i * 3] << 16 | (unsigned)key[i * 3 + 1] << 8;
	b64[i * 4 + 0] = b64_char((w >> 18) & 63);
	b64[i * 4 + 1] = b64_char((w >> 12) & 63);
	b64[i * 4 + 2] = b64_char((w >> 6) & 63);
	b64[i * 4 + 3] = '=';
	b64[KEY_B64_LEN] = '\0';
}

/* Value 0..15, or -1. */
static int hex_value(int c)
{
	int v = -1;

	v += in_range(c, '0', '9') & (c - '0' + 1);
	v += in_range(c, 'a', 'f') & (c - 'a' + 10 + 1);
	v += in_range(c, 'A', 'F') & (c - 'A' + 10 + 1);
	return v;
}

bool key_from_hex(uint8_t key[KEY_LEN], const char *hex)
{
	uint8_t out[KEY_LEN];
	int bad = 0, hi, lo;
	size_t i;

	if (strnlen(hex, KEY_HEX_LEN + 1) != KEY_HEX_LEN)
		return false;
	for (i = 0; i < KEY_LEN; i++) {
		hi = hex_value((unsigned char)hex[i * 2]);
		lo = hex_value((unsigned char)hex[i * 2 + 1]);
		bad |= hi | lo;
		out[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 15));
	}
	if (bad < 0) {
		sodium_memzero(out, sizeof(out));
		return false;
	}
	memcpy(key, out, KEY_LEN);
	sodium_memzero(out, sizeof(out));
	return true;
}

void key_to_hex(char hex[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN])
{
	int n;
	size_t i;

	/* Lowercase, as the UAPI requires; 87 = 'a' - 10. */
	for (i = 0; i < KEY_LEN; i++) {
		n = key[i] >> 4;
		hex[i * 2] = (char)(n + '0' + (in_range(n, 10, 15) & (87 - '0')));
		n = key[i] & 15;
		hex[i * 2 + 1] = (char)(n + '0' + (in_range(n, 10, 15) & (87 - '0')));
	}
	hex[KEY_HEX_LEN] = '\0';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int key_secret_file_read(const char *path, const char *kind, bool check_mode, char *buf,
    size_t cap, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, ret;

	*len = 0;
	/* Symlinks are followed (as wg does); the checks below apply to the file itself.  Not
	 * blocking: a FIFO is refused below instead of waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%.200s': %s", path, strerror(-ret));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot stat '%.200s': %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "'%.200s' is not a regular file", path);
		goto out;
	}
	if (check_mode && (st.st_mode & 077)) {
		ret = -EACCES;
		snprintf(err, errlen,
		    "permissions 0%03o for '%.200s' are too open; %s files must be 0600",
		    (unsigned)(st.st_mode & 0777), path, kind);
		goto out;
	}
	while (*len < cap) {
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "cannot read '%.200s': %s", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int key_file_read(const char *path, bool private, uint8_t key[KEY_LEN], char *err, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1];
	size_t len, start, end;
	int ret;

	ret = key_secret_file_read(path, "private key", private, buf, sizeof(buf), &len, err,
	    errlen);
	if (ret < 0)
		goto out;
	if (len > KEY_FILE_MAX) {
		ret = -EINVAL;
		snprintf(err, errlen, "'%.200s' does not hold a key (file too long)", path);
		goto out;
	}
	for (start = 0; start < len && is_space(buf[start]); start++)
		;
	for (end = len; end > start && is_space(buf[end - 1]); end--)
		;
	buf[end] = '\0';
	if (end - start != KEY_B64_LEN || !key_from_base64(key, buf + start)) {
		ret = -EINVAL;
		snprintf(err, errlen, "'%.200s' does not hold a base64 key", path);
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	return ret;
}

int key_file_write(const char *path, const uint8_t key[KEY_LEN], bool overwrite)
{
	char line[KEY_B64_LEN + 2];
	size_t off = 0;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	    (overwrite ? O_TRUNC : O_EXCL), 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	/* An existing file keeps its mode on O_TRUNC: tighten it before writing a secret. */
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
		goto out;
	}
	key_to_base64(line, key);
	line[KEY_B64_LEN] = '\n';
	line[KEY_B64_LEN + 1] = '\0';
	while (off < KEY_B64_LEN + 1) {
		n = write(fd, line + off, KEY_B64_LEN + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		ret = -errno;
		goto out;
	}
	ret = close(fd) < 0 ? -errno : 0;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	sodium_memzero(line, sizeof(line));
	return ret;
}
