/* The engine (engine.h): its peers, in a table by public key, the private key every peer's
 * handshake binds to, and each peer's settings. */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static size_t peer_home(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, WG_KEY_LEN, e->peer_hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & e->peers_mask;
}

/* Slot holding key, or the free slot where it would go. */
size_t engine_peer_slot(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	size_t i = peer_home(e, key);

	while (e->peers[i] &&
	    sodium_memcmp(e->peers[i]->handshake.remote_static, key, WG_KEY_LEN) != 0)
		i = (i + 1) & e->peers_mask;
	return i;
}

static bool peers_grow(struct wg_engine *e)
{
	struct wg_peer **old = e->peers;
	size_t old_n = old ? e->peers_mask + 1 : 0, n = old_n ? old_n * 2 : 16;

	if ((e->npeers + 1) * 2 <= old_n)
		return true;
	e->peers = calloc(n, sizeof(*e->peers));
	if (!e->peers) {
		e->peers = old;
		return false;
	}
	e->peers_mask = n - 1;
	for (size_t i = 0; i < old_n; i++)
		if (old[i])
			e->peers[engine_peer_slot(e, old[i]->handshake.remote_static)] = old[i];
	free(old);
	return true;
}

struct wg_peer *wg_engine_peer_lookup(const struct wg_engine *e,
    const uint8_t public_key[WG_KEY_LEN])
{
	if (!e->peers)
		return NULL;
	return e->peers[engine_peer_slot(e, public_key)];
}

struct wg_peer *wg_engine_peer_add(struct wg_engine *e, const uint8_t public_key[WG_KEY_LEN],
    void *ctx)
{
	struct wg_peer *p;

	if (e->npeers >= WG_MAX_PEERS || is_our_key(e, public_key) ||
	    wg_engine_peer_lookup(e, public_key))
		return NULL;
	if (!peers_grow(e) ||
	    index_table_reserve(&e->indices, (e->npeers + 1) * INDICES_PER_PEER) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->engine = e;
	p->ctx = ctx;
	/* During a rotation a new peer may run a roster older than ours, like any other. */
	p->rotating = e->id_prev.has_identity;
	noise_handshake_init(&p->handshake, p->rotating ? &e->id_prev : &e->id, public_key, NULL);
	cookie_maker_init(&p->cookie, public_key);
	timers_init(&p->timers);
	p->timers.jitter_ns = jitter(e);
	e->peers[engine_peer_slot(e, public_key)] = p;
	e->npeers++;
	return p;
}

void engine_peer_unlink(struct wg_engine *e, struct wg_peer *p)
{
	size_t hole = engine_peer_slot(e, p->handshake.remote_static), i;

	e->peers[hole] = NULL;
	e->npeers--;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (i = (hole + 1) & e->peers_mask; e->peers[i]; i = (i + 1) & e->peers_mask) {
		size_t h = peer_home(e, e->peers[i]->handshake.remote_static);
		bool stays = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);

		if (stays)
			continue;
		e->peers[hole] = e->peers[i];
		e->peers[i] = NULL;
		hole = i;
	}
}

void wg_engine_peer_remove(struct wg_engine *e, struct wg_peer *p)
{
	if (!p)
		return;
	wg_peer_clear_sessions(p);
	engine_peer_unlink(e, p);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

void wg_engine_free(struct wg_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->peers && i <= e->peers_mask; i++) {
		struct wg_peer *p = e->peers[i];

		if (p) {
			wg_peer_clear_sessions(p);
			sodium_memzero(p, sizeof(*p));
			free(p);
		}
	}
	free(e->peers);
	index_table_free(&e->indices);
	sodium_memzero(e, sizeof(*e));
	free(e);
}

void wg_engine_set_private_key(struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	uint8_t clamped[WG_KEY_LEN];

	/* The identity stores the clamped scalar: compare like with like. */
	if (key) {
		memcpy(clamped, key, WG_KEY_LEN);
		clamped[0] &= 248;
		clamped[WG_KEY_LEN - 1] = (clamped[WG_KEY_LEN - 1] & 127) | 64;
	}
	if (key ? e->id.has_identity &&
	    sodium_memcmp(e->id.static_private, clamped, WG_KEY_LEN) == 0 : !e->id.has_identity)
		goto out;
	if (!key || !noise_static_identity_set(&e->id, key))
		noise_static_identity_set(&e->id, NULL);
	cookie_checker_init(&e->checker, e->id.has_identity ? e->id.static_public : NULL);
	/* Not a rotation: a key still answering from before would be a second identity. */
	noise_static_identity_set(&e->id_prev, NULL);
	cookie_checker_init(&e->checker_prev, NULL);
	for (size_t i = 0; e->peers && i <= e->peers_mask; i++) {
		struct wg_peer *p = e->peers[i];

		if (!p)
			continue;
		wg_peer_clear_sessions(p);
		p->rotating = false;
		noise_handshake_rebind(&p->handshake, &e->id);
		/* A peer that now holds our own key stays configured but inert. */
		p->is_self = is_our_key(e, p->handshake.remote_static);
		p->timers.has_sent_handshake = false;
	}
out:
	sodium_memzero(clamped, sizeof(clamped));
}

void *wg_peer_ctx(const struct wg_peer *p)
{
	return p->ctx;
}

const uint8_t *wg_peer_public_key(const struct wg_peer *p)
{
	return p->handshake.remote_static;
}

void wg_peer_set_preshared_key(struct wg_peer *p, const uint8_t psk[WG_KEY_LEN])
{
	if (psk)
		memcpy(p->handshake.preshared_key, psk, WG_KEY_LEN);
	else
		sodium_memzero(p->handshake.preshared_key, WG_KEY_LEN);
}

bool wg_peer_preshared_key(const struct wg_peer *p, uint8_t psk[WG_KEY_LEN])
{
	if (sodium_is_zero(p->handshake.preshared_key, WG_KEY_LEN))
		return false;
	memcpy(psk, p->handshake.preshared_key, WG_KEY_LEN);
	return true;
}

void wg_peer_set_persistent_keepalive(struct wg_peer *p, uint16_t seconds, uint64_t now_ns)
{
	touch(p->engine, now_ns);
	timers_set_persistent_keepalive(&p->timers, seconds, now_ns);
}

uint16_t wg_peer_persistent_keepalive(const struct wg_peer *p)
{
	return p->timers.persistent_keepalive_interval;
}

uint64_t wg_peer_last_handshake_wall_ns(const struct wg_peer *p)
{
	return p->last_handshake_wall_ns;
}

static bool can_send(const struct noise_keypair *kp, uint64_t now)
{
	return kp && kp->sending.is_valid && kp->sending_counter < REJECT_AFTER_MESSAGES &&
	    !expired(kp->sending.birthdate_ns, REJECT_AFTER_TIME, now);
}

bool wg_peer_has_session(const struct wg_peer *p)
{
	return can_send(p->current, p->engine->now_ns);
}
