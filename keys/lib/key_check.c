/* Whether 32 bytes can be an X25519 public key.  WireGuard private and public keys are both
 * 44 characters of base64, so a private key pasted where the public one belongs (`keys
 * enroll --pubkey`) would be published 0644 in the roster and gossiped to every node.  What
 * tells them apart: a public key is clamped_scalar * basepoint, a point of the curve's
 * prime-order subgroup; 32 random bytes (a private key) are such a point's u-coordinate with
 * probability about 1/16 (half of all u are on the twist, and of the curve's points 1/8 are
 * in the subgroup).  The check maps u to the birationally equivalent Edwards y = (u-1)/(u+1)
 * and lets libsodium decide (crypto_core_ed25519_is_valid_point: on the curve, canonical, in
 * the main subgroup, not of small order).
 *
 * The field arithmetic mod p = 2^255 - 19 is the plainest there is (four 64-bit limbs, values
 * kept fully reduced): not constant time, which is fine for public data and a CLI tool. */
#include "keys/lib/key.h"

#include <string.h>

#include <sodium.h>

typedef unsigned __int128 u128;

struct fe {
	uint64_t v[4];	/* little-endian limbs, always < p */
};

static const struct fe P = { { 0xffffffffffffffedULL, 0xffffffffffffffffULL,
	0xffffffffffffffffULL, 0x7fffffffffffffffULL } };

static bool fe_ge(const struct fe *a, const struct fe *b)
{
	int i;

	for (i = 3; i >= 0; i--)
		if (a->v[i] != b->v[i])
			return a->v[i] > b->v[i];
	return true;
}

/* a -= b, no borrow expected (a >= b). */
static void fe_sub_raw(struct fe *a, const struct fe *b)
{
	u128 borrow = 0;
	int i;

	for (i = 0; i < 4; i++) {
		u128 d = (u128)a->v[i] - b->v[i] - borrow;

		a->v[i] = (uint64_t)d;
		borrow = (d >> 64) & 1;
	}
}

static void fe_reduce(struct fe *a)
{
	while (fe_ge(a, &P))
		fe_sub_raw(a, &P);
}

/* r = a + c * 2^256 (c small), folded with 2^256 = 38 (mod p), then reduced. */
static void fe_fold(struct fe *r, uint64_t c)
{
	int i;

	while (c) {
		u128 t = (u128)c * 38;

		for (i = 0; i < 4; i++) {
			t += r->v[i];
			r->v[i] = (uint64_t)t;
			t >>= 64;
		}
		c = (uint64_t)t;
	}
	fe_reduce(r);
}

static void fe_add(struct fe *r, const struct fe *a, const struct fe *b)
{
	u128 c = 0;
	int i;

	for (i = 0; i < 4; i++) {
		c += (u128)a->v[i] + b->v[i];
		r->v[i] = (uint64_t)c;
		c >>= 64;
	}
	fe_fold(r, (uint64_t)c);
}

static void fe_sub(struct fe *r, const struct fe *a, const struct fe *b)
{
	struct fe t = *a, pb = P;

	if (fe_ge(&t, b)) {
		fe_sub_raw(&t, b);
	} else {
		fe_sub_raw(&pb, b);		/* p - b, b < p */
		fe_add(&t, &t, &pb);		/* a + (p - b) < p */
	}
	*r = t;
}

static void fe_mul(struct fe *r, const struct fe *a, const struct fe *b)
{
	uint64_t t[8] = { 0 };
	u128 c;
	int i, j;

	for (i = 0; i < 4; i++) {
		c = 0;
		for (j = 0; j < 4; j++) {
			c += (u128)a->v[i] * b->v[j] + t[i + j];
			t[i + j] = (uint64_t)c;
			c >>= 64;
		}
		t[i + 4] = (uint64_t)c;
	}
	c = 0;
	for (i = 0; i < 4; i++) {
		c += (u128)t[i] + (u128)t[i + 4] * 38;
		r->v[i] = (uint64_t)c;
		c >>= 64;
	}
	fe_fold(r, (uint64_t)c);
}

/* a^(p-2) = 1/a; p - 2 = 2^255 - 21: every bit of 254..0 set but bits 4 and 2. */
static void fe_invert(struct fe *r, const struct fe *a)
{
	struct fe x = { { 1, 0, 0, 0 } };
	int i;

	for (i = 254; i >= 0; i--) {
		fe_mul(&x, &x, &x);
		if (i != 4 && i != 2)
			fe_mul(&x, &x, a);
	}
	*r = x;
}

static void fe_from_bytes(struct fe *r, const uint8_t b[32])
{
	int i, k;

	for (i = 0; i < 4; i++) {
		r->v[i] = 0;
		for (k = 7; k >= 0; k--)
			r->v[i] = r->v[i] << 8 | b[i * 8 + k];
	}
}

static void fe_to_bytes(uint8_t b[32], const struct fe *a)
{
	int i, k;

	for (i = 0; i < 4; i++)
		for (k = 0; k < 8; k++)
			b[i * 8 + k] = (uint8_t)(a->v[i] >> (8 * k));
}

bool key_x25519_to_ed25519_y(uint8_t y[KEY_LEN], const uint8_t u_bytes[KEY_LEN])
{
	static const struct fe one = { { 1, 0, 0, 0 } };
	struct fe u, num, den, inv, out;
	uint8_t b[KEY_LEN];

	memcpy(b, u_bytes, KEY_LEN);
	b[31] &= 0x7f;	/* RFC 7748 5: the top bit of u is ignored */
	fe_from_bytes(&u, b);
	if (fe_ge(&u, &P))
		return false;	/* non-canonical: never the output of a scalar multiplication */
	fe_add(&den, &u, &one);
	if (!(den.v[0] | den.v[1] | den.v[2] | den.v[3]))
		return false;	/* u = -1 has no Edwards image */
	fe_sub(&num, &u, &one);
	fe_invert(&inv, &den);
	fe_mul(&out, &num, &inv);
	fe_to_bytes(y, &out);	/* top bit (the sign of x) 0: either sign is in the subgroup */
	return true;
}

bool key_is_public(const uint8_t key[KEY_LEN])
{
	uint8_t y[KEY_LEN];

	if (key[31] & 0x80)
		return false;	/* a scalar multiple's u < p < 2^255: the top bit is always 0 */
	return key_x25519_to_ed25519_y(y, key) && crypto_core_ed25519_is_valid_point(y) == 1;
}
