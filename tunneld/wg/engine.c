/* The pure WireGuard protocol engine: peers, handshakes, keypairs, transport and timers, with
 * the semantics of the kernel's noise.c (keypair rotation), send.c, receive.c and timers.c.
 * This file: the engine and its identity; the other parts are listed in engine_internal.h. */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void default_rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	randombytes_buf(buf, len);
}

struct wg_engine *wg_engine_new(void)
{
	struct wg_engine *e;
	uint8_t seed[crypto_shorthash_KEYBYTES];

	if (sodium_init() < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->rng = default_rng;
	e->load_threshold = WG_DEFAULT_LOAD_THRESHOLD;
	index_table_init(&e->indices);
	randombytes_buf(e->peer_hash_key, sizeof(e->peer_hash_key));
	randombytes_buf(seed, sizeof(seed));
	ratelimiter_init(&e->limiter, seed);
	sodium_memzero(seed, sizeof(seed));
	cookie_checker_init(&e->checker, NULL);
	cookie_checker_init(&e->checker_prev, NULL);
	return e;
}

void wg_engine_set_rng(struct wg_engine *e, wg_rng_fn *fn, void *ctx)
{
	e->rng = fn ? fn : default_rng;
	e->rng_ctx = fn ? ctx : NULL;
}

void wg_engine_set_load_threshold(struct wg_engine *e, unsigned handshakes_per_second)
{
	e->load_threshold = handshakes_per_second;
}

void wg_engine_set_mtu(struct wg_engine *e, unsigned mtu)
{
	e->mtu = mtu;
}

bool wg_engine_private_key(const struct wg_engine *e, uint8_t key[WG_KEY_LEN])
{
	if (!e->id.has_identity)
		return false;
	memcpy(key, e->id.static_private, WG_KEY_LEN);
	return true;
}

bool wg_engine_public_key(const struct wg_engine *e, uint8_t key[WG_KEY_LEN])
{
	if (!e->id.has_identity)
		return false;
	memcpy(key, e->id.static_public, WG_KEY_LEN);
	return true;
}
