/* libFuzzer target: key_from_base64 and key_from_hex, differentially against a naive
 * table-driven reference, and the encode/decode round trip on arbitrary 32-byte keys.
 * What a decoder accepts must re-encode to exactly the input (base64: canonical; hex: up to
 * case), and what it rejects the reference must reject too. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/lib/key.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *input)
{
	fprintf(stderr, "fuzz_key_decode: %s (input '%.100s')\n", what, input);
	abort();
}

static int ref_b64(int c)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* The obvious decoder: 43 symbols, '=', and zero bits below the last byte. */
static bool ref_from_base64(uint8_t key[KEY_LEN], const char *s)
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t i, n = 0;

	if (strlen(s) != KEY_B64_LEN || s[KEY_B64_LEN - 1] != '=')
		return false;
	for (i = 0; i < KEY_B64_LEN - 1; i++) {
		v = ref_b64((unsigned char)s[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			key[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n == KEY_LEN && (acc & ((1u << bits) - 1)) == 0;
}

static int ref_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool ref_from_hex(uint8_t key[KEY_LEN], const char *s)
{
	size_t i;

	if (strlen(s) != KEY_HEX_LEN)
		return false;
	for (i = 0; i < KEY_LEN; i++) {
		if (ref_hex((unsigned char)s[2 * i]) < 0 || ref_hex((unsigned char)s[2 * i + 1]) < 0)
			return false;
		key[i] = (uint8_t)(ref_hex((unsigned char)s[2 * i]) << 4 |
		    ref_hex((unsigned char)s[2 * i + 1]));
	}
	return true;
}

static void check_base64(const char *s)
{
	uint8_t key[KEY_LEN], ref[KEY_LEN];
	char again[KEY_B64_LEN + 1];
	bool ok = key_from_base64(key, s);

	if (ok != ref_from_base64(ref, s))
		fail(ok ? "base64 accepted what the reference rejects" :
		    "base64 rejected what the reference accepts", s);
	if (!ok)
		return;
	if (memcmp(key, ref, KEY_LEN))
		fail("base64 decodes differently from the reference", s);
	key_to_base64(again, key);
	if (strcmp(again, s))
		fail("base64 does not round-trip", s);
}

static void check_hex(const char *s)
{
	uint8_t key[KEY_LEN], ref[KEY_LEN];
	char again[KEY_HEX_LEN + 1];
	size_t i;
	bool ok = key_from_hex(key, s);

	if (ok != ref_from_hex(ref, s))
		fail(ok ? "hex accepted what the reference rejects" :
		    "hex rejected what the reference accepts", s);
	if (!ok)
		return;
	if (memcmp(key, ref, KEY_LEN))
		fail("hex decodes differently from the reference", s);
	key_to_hex(again, key);
	for (i = 0; i < KEY_HEX_LEN; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (again[i] != c)
			fail("hex does not round-trip", s);
	}
}

/* Any 32 bytes encode to strings both decoders take back unchanged. */
static void check_encode(const uint8_t raw[KEY_LEN])
{
	char b64[KEY_B64_LEN + 1], hex[KEY_HEX_LEN + 1];
	uint8_t key[KEY_LEN];

	key_to_base64(b64, raw);
	if (!key_from_base64(key, b64) || memcmp(key, raw, KEY_LEN))
		fail("encoded base64 does not decode back", b64);
	key_to_hex(hex, raw);
	if (!key_from_hex(key, hex) || memcmp(key, raw, KEY_LEN))
		fail("encoded hex does not decode back", hex);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 256)
		return 0;	/* both formats are fixed-length; long inputs teach nothing */
	/* An exact-size heap copy, so that ASan sees any read past the terminator. */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_base64(s);
	check_hex(s);
	if (size >= KEY_LEN)
		check_encode(data);
	free(s);
	return 0;
}
