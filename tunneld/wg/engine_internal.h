/* Inside the WireGuard engine (engine.h is its API): the engine and peer structures and the
 * helpers its parts share.  Only tunneld/wg/engine*.c include this.  The engine is split along
 * its concerns: engine.c (the engine and its identity), engine_keypair.c (keypairs and
 * handshake state of one peer), engine_peer.c (peers), engine_send.c (sending),
 * engine_timers.c (timers), engine_receive.c (receiving) and engine_rotate.c (planned key
 * changes). */
#ifndef TUNNELD_WG_ENGINE_INTERNAL_H
#define TUNNELD_WG_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "engine.h"
#include "cookie.h"
#include "index_table.h"
#include "messages.h"
#include "noise.h"
#include "ratelimiter.h"
#include "timers.h"

enum {
	/* Peers per engine, as the kernel's MAX_PEERS_PER_DEVICE. */
	WG_MAX_PEERS = 1 << 20,
	/* Receiver indices a peer can hold at once: a handshake plus three keypairs. */
	INDICES_PER_PEER = 4,
	/* Keypair storage: current, previous, next and one free slot to derive into. */
	KEYPAIR_STORAGE = 4,
	/* Source address as mixed into cookies: IPv6 address then port. */
	SRC_MAX = 16 + 2,
};

struct wg_peer {
	struct wg_engine *engine;
	void *ctx;
	struct noise_handshake handshake;	/* remote_static is the peer's public key */
	uint32_t hs_index;		/* receiver index of the handshake, 0 = none */
	struct cookie_maker cookie;
	/* KEYPAIR_STORAGE slots, allocated at the first session and freed when the sessions
	 * are cleared: a replay window is 1 KiB, and most of a large roster's peers are idle. */
	struct noise_keypair *storage;
	struct noise_keypair *current, *previous, *next;
	struct timers timers;
	uint64_t last_handshake_wall_ns;
	bool is_self;			/* our own public key: never handshakes (kernel refuses it) */
	/* During a rotation of our own key: the peer has not yet shown that it knows the new
	 * one (no handshake under it yet), so it may still reach us under the previous key,
	 * and our initiations alternate between the two (rotation_attempts counts them). */
	bool rotating;
	unsigned rotation_attempts;
};

struct wg_engine {
	struct noise_static_identity id;
	struct cookie_checker checker;
	/* The identity a rotation replaced, kept answering peers that do not know the new key
	 * yet (rotating) until wg_engine_rotation_finish; has_identity false otherwise. */
	struct noise_static_identity id_prev;
	struct cookie_checker checker_prev;
	wg_rng_fn *rng;
	void *rng_ctx;
	struct wg_peer **peers;		/* open addressing by SipHash of the public key */
	size_t peers_mask, npeers;
	uint8_t peer_hash_key[crypto_shorthash_KEYBYTES];
	struct index_table indices;
	unsigned load_threshold;
	unsigned mtu;			/* padding cap, 0 = none */
	unsigned load_count;		/* handshake messages in the current one-second window */
	uint64_t load_window_start;
	uint64_t last_under_load;
	bool been_under_load;
	uint64_t now_ns;		/* latest time we were given, for wg_peer_has_session */
	struct ratelimiter limiter;
};

static inline bool expired(uint64_t birth, uint64_t seconds, uint64_t now)
{
	return birth + seconds * NSEC_PER_SEC <= now;
}

static inline void touch(struct wg_engine *e, uint64_t now)
{
	if (now > e->now_ns)
		e->now_ns = now;
}

static inline uint64_t jitter(struct wg_engine *e)
{
	uint32_t r;

	e->rng(e->rng_ctx, &r, sizeof(r));
	return (uint64_t)(r % REKEY_TIMEOUT_JITTER_MAX_MS) * 1000000ULL;
}

static inline void hs_index_release(struct wg_peer *p)
{
	if (p->hs_index) {
		index_table_remove(&p->engine->indices, p->hs_index);
		p->hs_index = 0;
	}
}

static inline bool hs_index_new(struct wg_peer *p)
{
	struct wg_engine *e = p->engine;

	hs_index_release(p);
	return index_table_insert(&e->indices, INDEX_HANDSHAKE, p, &p->handshake, e->rng,
	    e->rng_ctx, &p->hs_index);
}

static inline bool is_our_key(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	return e->id.has_identity && sodium_memcmp(e->id.static_public, key, WG_KEY_LEN) == 0;
}

/* engine_keypair.c */
/* The kernel's wg_noise_handshake_begin_session + add_new_keypair (false: no keypair could be
 * derived; the peer's keypairs are unchanged). */
bool engine_session_begin(struct wg_peer *p, uint64_t now);
/* The responder's key confirmation: true when kp was next and is now current. */
bool engine_session_confirm(struct wg_peer *p, struct noise_keypair *kp);

/* engine_peer.c */
/* Slot of e->peers holding key, or the free slot where it would go (e->peers allocated). */
size_t engine_peer_slot(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN]);
/* Takes p out of the table (not freed; its key may then change and it be put back). */
void engine_peer_unlink(struct wg_engine *e, struct wg_peer *p);

#endif
