/* The engine (engine.h): planned key changes (roster rotation), ours and a peer's;
 * established keypairs survive them. */
#include "engine_internal.h"

#include <string.h>

#include <sodium.h>

bool wg_peer_set_public_key(struct wg_peer *p, const uint8_t key[WG_KEY_LEN])
{
	struct wg_engine *e = p->engine;

	if (sodium_memcmp(p->handshake.remote_static, key, WG_KEY_LEN) == 0)
		return true;
	if (is_our_key(e, key) || wg_engine_peer_lookup(e, key))
		return false;
	engine_peer_unlink(e, p);
	hs_index_release(p);
	memcpy(p->handshake.remote_static, key, WG_KEY_LEN);
	/* Replay and flood state belonged to the old key's owner. */
	sodium_memzero(p->handshake.latest_timestamp, sizeof(p->handshake.latest_timestamp));
	p->handshake.last_initiation_consumption_ns = 0;
	noise_handshake_rebind(&p->handshake, p->rotating ? &e->id_prev : &e->id);
	cookie_maker_init(&p->cookie, key);
	/* The next initiation may go at once, under the new key, which is not ours. */
	p->timers.has_sent_handshake = false;
	p->is_self = false;
	e->peers[engine_peer_slot(e, key)] = p;
	e->npeers++;
	return true;
}

void wg_peer_request_handshake(struct wg_peer *p, uint64_t now_ns)
{
	touch(p->engine, now_ns);
	timers_handshake_request(&p->timers, false, now_ns);
}

void wg_engine_rotate_private_key(struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	struct noise_static_identity id;

	/* NULL would "set" an empty identity: not a rotation. */
	if (!key || !noise_static_identity_set(&id, key))
		goto out;
	if (e->id.has_identity &&
	    sodium_memcmp(e->id.static_private, id.static_private, WG_KEY_LEN) == 0)
		goto out;
	/* One rotation at a time: a key two rotations old answers no one. */
	wg_engine_rotation_finish(e);
	if (e->id.has_identity) {
		e->id_prev = e->id;
		e->checker_prev = e->checker;
	}
	e->id = id;
	/* mac1 now binds to the new public key; the previous one is checked second. */
	cookie_checker_init(&e->checker, e->id.static_public);
	for (size_t i = 0; e->peers && i <= e->peers_mask; i++) {
		struct wg_peer *p = e->peers[i];

		if (!p)
			continue;
		p->is_self = is_our_key(e, p->handshake.remote_static);
		if (p->is_self) {
			wg_peer_clear_sessions(p);
			noise_handshake_rebind(&p->handshake, &e->id);
			continue;
		}
		if (!e->id_prev.has_identity) {
			noise_handshake_rebind(&p->handshake, &e->id);
			continue;
		}
		/* Same key bytes, now in id_prev: the precomputed DH and a handshake in
		 * progress stay valid, and every peer knows us by the old key until it shows
		 * otherwise. */
		p->handshake.identity = &e->id_prev;
		p->rotating = true;
		p->rotation_attempts = 0;
		p->timers.has_sent_handshake = false;
	}
out:
	sodium_memzero(&id, sizeof(id));
}

size_t wg_engine_rotation_unconfirmed(const struct wg_engine *e)
{
	size_t n = 0;

	if (!e->id_prev.has_identity)
		return 0;
	for (size_t i = 0; e->peers && i <= e->peers_mask; i++) {
		if (e->peers[i] && e->peers[i]->rotating && !e->peers[i]->is_self)
			n++;
	}
	return n;
}

bool wg_engine_rotation_in_progress(const struct wg_engine *e)
{
	return e->id_prev.has_identity;
}

void wg_engine_rotation_finish(struct wg_engine *e)
{
	if (!e->id_prev.has_identity)
		return;
	for (size_t i = 0; e->peers && i <= e->peers_mask; i++) {
		struct wg_peer *p = e->peers[i];

		if (!p)
			continue;
		p->rotating = false;
		/* Established keypairs survive; a handshake under the old key does not. */
		if (p->handshake.identity != &e->id) {
			hs_index_release(p);
			noise_handshake_rebind(&p->handshake, &e->id);
		}
	}
	noise_static_identity_set(&e->id_prev, NULL);
	sodium_memzero(&e->checker_prev, sizeof(e->checker_prev));
	cookie_checker_init(&e->checker_prev, NULL);
}
