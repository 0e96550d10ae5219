/* The pure WireGuard protocol engine: peers, handshakes, keypairs, transport and timers, with
 * the semantics of the kernel's noise.c (keypair rotation), send.c, receive.c and timers.c. */
#include "engine.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cookie.h"
#include "index_table.h"
#include "messages.h"
#include "noise.h"
#include "ratelimiter.h"
#include "tai64n.h"
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

static void default_rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	randombytes_buf(buf, len);
}

static bool expired(uint64_t birth, uint64_t seconds, uint64_t now)
{
	return birth + seconds * NSEC_PER_SEC <= now;
}

static void touch(struct wg_engine *e, uint64_t now)
{
	if (now > e->now_ns)
		e->now_ns = now;
}

static uint64_t jitter(struct wg_engine *e)
{
	uint32_t r;

	e->rng(e->rng_ctx, &r, sizeof(r));
	return (uint64_t)(r % REKEY_TIMEOUT_JITTER_MAX_MS) * 1000000ULL;
}

/* ---- engine and identity ---- */

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

/* ---- keypairs and handshake state of one peer ---- */

static void keypair_drop(struct wg_peer *p, struct noise_keypair **slot)
{
	struct noise_keypair *kp = *slot;

	if (!kp)
		return;
	index_table_remove(&p->engine->indices, kp->local_index);
	noise_keypair_wipe(kp);
	*slot = NULL;
}

static struct noise_keypair *keypair_spare(struct wg_peer *p)
{
	if (!p->storage)
		p->storage = calloc(KEYPAIR_STORAGE, sizeof(*p->storage));
	if (!p->storage)
		return NULL;
	for (int i = 0; i < KEYPAIR_STORAGE; i++) {
		struct noise_keypair *kp = &p->storage[i];

		if (kp != p->current && kp != p->previous && kp != p->next)
			return kp;
	}
	return NULL;	/* unreachable: three pointers, four slots */
}

static void hs_index_release(struct wg_peer *p)
{
	if (p->hs_index) {
		index_table_remove(&p->engine->indices, p->hs_index);
		p->hs_index = 0;
	}
}

static bool hs_index_new(struct wg_peer *p)
{
	struct wg_engine *e = p->engine;

	hs_index_release(p);
	return index_table_insert(&e->indices, INDEX_HANDSHAKE, p, &p->handshake, e->rng,
	    e->rng_ctx, &p->hs_index);
}

void wg_peer_clear_sessions(struct wg_peer *p)
{
	hs_index_release(p);
	noise_handshake_clear(&p->handshake);
	keypair_drop(p, &p->next);
	keypair_drop(p, &p->current);
	keypair_drop(p, &p->previous);
	if (p->storage) {
		sodium_memzero(p->storage, KEYPAIR_STORAGE * sizeof(*p->storage));
		free(p->storage);
		p->storage = NULL;
	}
}

/* The kernel's wg_noise_handshake_begin_session + add_new_keypair: derive into the spare slot,
 * hand the handshake's receiver index to the keypair, then rotate.  The initiator may use the
 * new keypair at once; the responder keeps it as next until the first packet under it. */
static bool session_begin(struct wg_peer *p, uint64_t now)
{
	struct noise_keypair *kp = keypair_spare(p);

	if (!kp || !p->hs_index || !noise_handshake_derive_keypair(&p->handshake, kp, now))
		return false;
	index_table_replace(&p->engine->indices, p->hs_index, INDEX_KEYPAIR, kp);
	p->hs_index = 0;
	if (kp->i_am_the_initiator) {
		keypair_drop(p, &p->previous);
		if (p->next) {
			/* The peer initiated the pending next and may be sending under it already:
			 * keep it decryptable as previous, as the kernel and wireguard-go do. */
			p->previous = p->next;
			p->next = NULL;
			keypair_drop(p, &p->current);
		} else {
			p->previous = p->current;
		}
		p->current = kp;
	} else {
		keypair_drop(p, &p->next);
		keypair_drop(p, &p->previous);
		p->next = kp;
	}
	return true;
}

/* The responder's key confirmation: the first packet under next makes it current. */
static bool session_confirm(struct wg_peer *p, struct noise_keypair *kp)
{
	if (kp != p->next)
		return false;
	keypair_drop(p, &p->previous);
	p->previous = p->current;
	p->current = kp;
	p->next = NULL;
	return true;
}

/* ---- peers ---- */

static size_t peer_home(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, WG_KEY_LEN, e->peer_hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & e->peers_mask;
}

/* Slot holding key, or the free slot where it would go. */
static size_t peer_slot(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
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
			e->peers[peer_slot(e, old[i]->handshake.remote_static)] = old[i];
	free(old);
	return true;
}

struct wg_peer *wg_engine_peer_lookup(const struct wg_engine *e,
    const uint8_t public_key[WG_KEY_LEN])
{
	if (!e->peers)
		return NULL;
	return e->peers[peer_slot(e, public_key)];
}

static bool is_our_key(const struct wg_engine *e, const uint8_t key[WG_KEY_LEN])
{
	return e->id.has_identity && sodium_memcmp(e->id.static_public, key, WG_KEY_LEN) == 0;
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
	e->peers[peer_slot(e, public_key)] = p;
	e->npeers++;
	return p;
}

static void peer_unlink(struct wg_engine *e, struct wg_peer *p)
{
	size_t hole = peer_slot(e, p->handshake.remote_static), i;

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
	peer_unlink(e, p);
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

/* ---- sending ---- */

enum wg_send_result wg_peer_encrypt(struct wg_peer *p, uint8_t *pkt, size_t len,
    uint64_t now_ns, size_t *msg_len)
{
	struct noise_keypair *kp = p->current;
	size_t n;

	touch(p->engine, now_ns);
	if (!kp || !kp->sending.is_valid)
		goto no_key;
	if (expired(kp->sending.birthdate_ns, REJECT_AFTER_TIME, now_ns))
		goto invalid;
	n = noise_keypair_encrypt_mtu(kp, pkt - WG_DATA_HEADROOM, len, p->engine->mtu);
	if (!n)
		goto invalid;	/* counter exhausted */
	*msg_len = n;
	timers_any_authenticated_packet_traversal(&p->timers, now_ns);
	timers_any_authenticated_packet_sent(&p->timers);
	if (len)
		timers_data_sent(&p->timers, now_ns);
	/* Keep the key fresh: rekey before the limits, still sending under this one. */
	if (kp->sending_counter > REKEY_AFTER_MESSAGES ||
	    (kp->i_am_the_initiator && expired(kp->sending.birthdate_ns, REKEY_AFTER_TIME, now_ns)))
		timers_handshake_request(&p->timers, false, now_ns);
	return WG_SEND_OK;

invalid:
	kp->sending.is_valid = false;
no_key:
	timers_handshake_request(&p->timers, false, now_ns);
	return WG_SEND_NO_SESSION;
}

/* ---- timers ---- */

static bool initiation_build(struct wg_peer *p, uint64_t now, uint64_t wall, uint8_t *buf,
    size_t cap, size_t *len)
{
	struct wg_engine *e = p->engine;
	struct msg_initiation msg;
	uint8_t eph[NOISE_PUBLIC_KEY_LEN], ts[TAI64N_LEN];
	bool ok = false;

	if (cap < sizeof(msg) || p->is_self || !e->id.has_identity ||
	    !timers_handshake_may_send(&p->timers, now))
		goto out;
	noise_handshake_clear(&p->handshake);
	if (p->rotating) {
		/* Which key the peer knows us by is unknown: the previous one first (its roster
		 * is probably older than ours), then each in turn on the retransmissions. */
		const struct noise_static_identity *want =
		    p->rotation_attempts++ % 2 == 0 ? &e->id_prev : &e->id;

		if (p->handshake.identity != want)
			noise_handshake_rebind(&p->handshake, want);
	}
	if (!hs_index_new(p))
		goto out;
	e->rng(e->rng_ctx, eph, sizeof(eph));
	tai64n_from_wall_ns(ts, wall);
	if (!noise_handshake_create_initiation(&msg, &p->handshake, p->handshake.identity,
	    p->hs_index, eph, ts)) {
		hs_index_release(p);
		goto out;
	}
	cookie_add_mac_to_packet(&p->cookie, (uint8_t *)&msg, sizeof(msg), now);
	memcpy(buf, &msg, sizeof(msg));
	*len = sizeof(msg);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers);
	timers_handshake_initiated(&p->timers, now, jitter(e));
	ok = true;
out:
	sodium_memzero(eph, sizeof(eph));
	return ok;
}

/* Keepalive built at buf with its (empty) plaintext at buf + WG_DATA_HEADROOM.  Without a
 * session, wg_peer_encrypt has asked for a handshake instead. */
static bool keepalive_build(struct wg_peer *p, uint64_t now, uint8_t *buf, size_t cap,
    size_t *len)
{
	if (cap < MESSAGE_MINIMUM_LENGTH)
		return false;
	return wg_peer_encrypt(p, buf + WG_DATA_HEADROOM, 0, now, len) == WG_SEND_OK;
}

enum wg_tick_action wg_peer_tick(struct wg_peer *p, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *buf, size_t cap, size_t *len)
{
	struct timers *t = &p->timers;
	bool sent;

	touch(p->engine, now_ns);
	*len = 0;
	for (;;) {
		switch (timers_pop(t, now_ns)) {
		case TIMER_NONE:
			return WG_TICK_NONE;
		case TIMER_SEND_INITIATION:
			if (initiation_build(p, now_ns, wall_ns, buf, cap, len))
				return WG_TICK_SEND;
			break;
		case TIMER_RETRANSMIT_HANDSHAKE:
			if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
				timers_gave_up(t, now_ns);
				return WG_TICK_GAVE_UP;
			}
			t->handshake_attempts++;
			if (initiation_build(p, now_ns, wall_ns, buf, cap, len))
				return WG_TICK_SEND;
			break;
		case TIMER_SEND_KEEPALIVE:
			sent = keepalive_build(p, now_ns, buf, cap, len);
			timers_keepalive_sent_by_timer(t, now_ns);
			if (sent)
				return WG_TICK_SEND;
			break;
		case TIMER_NEW_HANDSHAKE:
			/* We sent data and heard nothing back: the session may be dead. */
			t->jitter_ns = jitter(p->engine);
			timers_handshake_request(t, false, now_ns);
			break;
		case TIMER_ZERO_KEY_MATERIAL:
			wg_peer_clear_sessions(p);
			break;
		case TIMER_PERSISTENT_KEEPALIVE:
			if (t->persistent_keepalive_interval &&
			    keepalive_build(p, now_ns, buf, cap, len))
				return WG_TICK_SEND;
			break;
		case TIMER_EVENTS:
			return WG_TICK_NONE;
		}
	}
}

uint64_t wg_peer_next_deadline(const struct wg_peer *p)
{
	return timers_next_deadline(&p->timers);
}

/* ---- receiving ---- */

static enum wg_rx_kind drop(struct wg_rx *rx, enum wg_drop_reason reason, const char *why)
{
	rx->reason = reason;
	rx->why = why;
	return WG_RX_DROP;
}

/* Source address bytes for cookies (IP then port, network order) and the IP alone for the
 * rate limiter. */
static bool source_bytes(const union wg_sockaddr *src, uint8_t out[SRC_MAX], size_t *out_len,
    size_t *ip_len)
{
	if (!src)
		return false;
	if (src->sa.sa_family == AF_INET) {
		memcpy(out, &src->in4.sin_addr, 4);
		memcpy(out + 4, &src->in4.sin_port, 2);
		*ip_len = 4;
	} else if (src->sa.sa_family == AF_INET6) {
		memcpy(out, &src->in6.sin6_addr, 16);
		memcpy(out + 16, &src->in6.sin6_port, 2);
		*ip_len = 16;
	} else {
		return false;
	}
	*out_len = *ip_len + 2;
	return true;
}

/* Counts one handshake message; under load when the count in the current one-second window
 * passes the threshold, and for a second after (the kernel's hysteresis). */
static bool load_update(struct wg_engine *e, uint64_t now)
{
	if (now < e->load_window_start || now - e->load_window_start >= NSEC_PER_SEC) {
		e->load_window_start = now;
		e->load_count = 0;
	}
	if (e->load_count < UINT32_MAX)
		e->load_count++;
	if (e->load_count > e->load_threshold) {
		e->last_under_load = now;
		e->been_under_load = true;
		return true;
	}
	return e->been_under_load && !expired(e->last_under_load, 1, now);
}

bool wg_engine_under_load(const struct wg_engine *e, uint64_t now_ns)
{
	return e->been_under_load && !expired(e->last_under_load, 1, now_ns);
}

/* Fresh randomness for the cookie secret when the checker may rotate it: only under load (the
 * secret is not touched otherwise), a second early, and also when its birthdate lies ahead of
 * now, which the checker treats as expired: it must never rotate to bytes we did not draw. */
static void secret_random(struct wg_engine *e, const struct cookie_checker *c, bool under_load,
    uint64_t now, uint8_t r[NOISE_HASH_LEN])
{
	if (under_load && (!c->has_secret || now < c->secret_birthdate_ns ||
	    expired(c->secret_birthdate_ns, COOKIE_SECRET_MAX_AGE - 1, now)))
		e->rng(e->rng_ctx, r, NOISE_HASH_LEN);
	else
		memset(r, 0, NOISE_HASH_LEN);
}

/* id is the identity whose mac1 the initiation carries: ours, or during a rotation the
 * previous one. */
static enum wg_rx_kind rx_initiation(struct wg_engine *e, const struct noise_static_identity *id,
    const uint8_t *buf, uint64_t now, uint8_t *out, size_t out_cap, struct wg_rx *rx)
{
	struct msg_initiation msg;
	struct msg_response resp;
	struct noise_initiation_ctx ctx;
	uint8_t eph[NOISE_PUBLIC_KEY_LEN];
	struct noise_handshake hs;
	struct wg_peer *p;
	enum wg_rx_kind kind = WG_RX_DROP;

	memcpy(&msg, buf, sizeof(msg));
	if (out_cap < sizeof(resp)) {
		drop(rx, WG_DROP_INTERNAL, "no room for a response");
		goto out;
	}
	if (!noise_handshake_begin_consume_initiation(&msg, id, &ctx)) {
		drop(rx, WG_DROP_HANDSHAKE_REJECTED, "initiation does not decrypt");
		goto out;
	}
	p = wg_engine_peer_lookup(e, ctx.remote_static);
	if (!p || p->is_self) {
		drop(rx, WG_DROP_HANDSHAKE_REJECTED, "unknown peer");
		goto out;
	}
	if (id == &e->id_prev && !p->rotating) {
		/* It has used our new key already: the old one no longer speaks for us to it
		 * (whoever may still hold the old key cannot pose as this peer to us). */
		drop(rx, WG_DROP_HANDSHAKE_REJECTED, "initiation to our previous key from a peer that knows the new one");
		goto out;
	}
	/* On a copy: until the initiation authenticates, a forged one (anyone can make the
	 * first half decrypt) must not disturb the peer's handshake in progress. */
	hs = p->handshake;
	if (hs.identity != id)
		noise_handshake_rebind(&hs, id);
	if (!noise_handshake_finish_consume_initiation(&msg, &hs, &ctx, now)) {
		drop(rx, WG_DROP_HANDSHAKE_REJECTED, "initiation rejected (replay, flood or bad key)");
		goto out;
	}
	p->handshake = hs;
	/* It knows our new key: from now on only that one speaks for us to it. */
	if (id == &e->id)
		p->rotating = false;
	if (!hs_index_new(p)) {
		drop(rx, WG_DROP_INTERNAL, "no receiver index");
		goto out;
	}
	e->rng(e->rng_ctx, eph, sizeof(eph));
	if (!noise_handshake_create_response(&resp, &p->handshake, p->hs_index, eph)) {
		hs_index_release(p);
		noise_handshake_clear(&p->handshake);
		drop(rx, WG_DROP_INTERNAL, "cannot create response");
		goto out;
	}
	cookie_add_mac_to_packet(&p->cookie, (uint8_t *)&resp, sizeof(resp), now);
	if (!session_begin(p, now)) {
		drop(rx, WG_DROP_INTERNAL, "cannot derive keypair");
		goto out;
	}
	timers_session_derived(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers);
	timers_handshake_response_sent(&p->timers, now);
	timers_any_authenticated_packet_received(&p->timers);
	memcpy(out, &resp, sizeof(resp));
	rx->out_len = sizeof(resp);
	rx->peer = p;
	rx->flags = WG_RX_ENDPOINT;
	kind = WG_RX_HANDSHAKE;
out:
	sodium_memzero(&ctx, sizeof(ctx));
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(eph, sizeof(eph));
	return kind;
}

static enum wg_rx_kind rx_response(struct wg_engine *e, const uint8_t *buf, uint64_t now,
    uint64_t wall, struct wg_rx *rx)
{
	struct msg_response msg;
	const struct index_entry *ent;
	struct wg_peer *p;

	memcpy(&msg, buf, sizeof(msg));
	ent = index_table_lookup(&e->indices, le32toh(msg.receiver_index));
	if (!ent || ent->kind != INDEX_HANDSHAKE)
		return drop(rx, WG_DROP_NO_SESSION, "response for an unknown index");
	p = ent->peer;
	if (!noise_handshake_consume_response(&msg, &p->handshake, p->handshake.identity))
		return drop(rx, WG_DROP_HANDSHAKE_REJECTED, "response rejected");
	if (p->handshake.identity == &e->id)
		p->rotating = false;
	if (!session_begin(p, now))
		return drop(rx, WG_DROP_INTERNAL, "cannot derive keypair");
	timers_session_derived(&p->timers, now);
	timers_handshake_complete(&p->timers);
	p->last_handshake_wall_ns = wall;
	timers_any_authenticated_packet_received(&p->timers);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	rx->peer = p;
	rx->flags = WG_RX_SESSION_READY | WG_RX_ENDPOINT;
	return WG_RX_HANDSHAKE;
}

/* Initiations and responses: length was checked; now mac1, under load mac2 and the rate
 * limiter, and only then Diffie-Hellman. */
static enum wg_rx_kind rx_handshake(struct wg_engine *e, const union wg_sockaddr *src,
    uint32_t type, const uint8_t *buf, size_t len, uint64_t now, uint64_t wall, uint8_t *out, size_t out_cap,
    struct wg_rx *rx)
{
	uint8_t sb[SRC_MAX], rnd[NOISE_HASH_LEN], nonce[COOKIE_NONCE_LEN];
	size_t sb_len, ip_len;
	bool under_load;
	enum cookie_mac_state mac;
	enum wg_rx_kind kind;
	struct msg_cookie reply;
	uint32_t sender;
	struct cookie_checker *checker = &e->checker;
	const struct noise_static_identity *id = &e->id;

	if (!source_bytes(src, sb, &sb_len, &ip_len))
		return drop(rx, WG_DROP_MALFORMED, "bad source address");
	under_load = load_update(e, now);
	secret_random(e, checker, under_load, now, rnd);
	mac = cookie_validate_packet(checker, buf, len, sb, sb_len, under_load, now, rnd);
	if (mac == INVALID_MAC && e->id_prev.has_identity) {
		/* Addressed to the key a rotation replaced (one more keyed hash, only then). */
		sodium_memzero(rnd, sizeof(rnd));
		checker = &e->checker_prev;
		id = &e->id_prev;
		secret_random(e, checker, under_load, now, rnd);
		mac = cookie_validate_packet(checker, buf, len, sb, sb_len, under_load, now, rnd);
	}
	if (under_load && mac == VALID_MAC_WITH_COOKIE) {
		if (!ratelimiter_allow(&e->limiter, sb, ip_len, now)) {
			kind = drop(rx, WG_DROP_RATE_LIMITED, "handshake rate limited");
			goto out;
		}
	} else if (under_load && mac == VALID_MAC_BUT_NO_COOKIE) {
		if (out_cap < sizeof(reply)) {
			kind = drop(rx, WG_DROP_INTERNAL, "no room for a cookie reply");
			goto out;
		}
		memcpy(&sender, buf + sizeof(struct message_header), sizeof(sender));
		e->rng(e->rng_ctx, nonce, sizeof(nonce));
		cookie_message_create(&reply, checker, buf, len, le32toh(sender), sb, sb_len,
		    now, rnd, nonce);
		memcpy(out, &reply, sizeof(reply));
		rx->out_len = sizeof(reply);
		kind = WG_RX_UNDER_LOAD;
		goto out;
	} else if (under_load || mac != VALID_MAC_BUT_NO_COOKIE) {
		kind = drop(rx, WG_DROP_BAD_MAC, "bad mac");
		goto out;
	}
	if (type == MESSAGE_HANDSHAKE_INITIATION)
		kind = rx_initiation(e, id, buf, now, out, out_cap, rx);
	else
		kind = rx_response(e, buf, now, wall, rx);
out:
	/* rnd may now be the cookie secret. */
	sodium_memzero(rnd, sizeof(rnd));
	return kind;
}

static enum wg_rx_kind rx_cookie(struct wg_engine *e, const uint8_t *buf, uint64_t now,
    struct wg_rx *rx)
{
	struct msg_cookie msg;
	const struct index_entry *ent;
	struct wg_peer *p;

	memcpy(&msg, buf, sizeof(msg));
	ent = index_table_lookup(&e->indices, le32toh(msg.receiver_index));
	if (!ent)
		return drop(rx, WG_DROP_NO_SESSION, "cookie reply for an unknown index");
	p = ent->peer;
	if (!cookie_consume_message(&p->cookie, &msg, now))
		return drop(rx, WG_DROP_HANDSHAKE_REJECTED, "cookie reply rejected");
	rx->peer = p;
	return WG_RX_COOKIE;
}

/* Length of the IP packet inside a padded plaintext, from its own header; 0 if malformed. */
static size_t inner_length(const uint8_t *pkt, size_t plen)
{
	size_t len;

	if (plen >= 20 && pkt[0] >> 4 == 4) {
		len = (size_t)pkt[2] << 8 | pkt[3];
		if (len < 20)
			return 0;
	} else if (plen >= 40 && pkt[0] >> 4 == 6) {
		len = ((size_t)pkt[4] << 8 | pkt[5]) + 40;
	} else {
		return 0;
	}
	return len <= plen ? len : 0;
}

static enum wg_rx_kind rx_data(struct wg_engine *e, uint8_t *buf, size_t len, uint64_t now,
    uint64_t wall, struct wg_rx *rx)
{
	const struct index_entry *ent;
	struct noise_keypair *kp;
	struct wg_peer *p;
	struct noise_keypair *cur;
	uint32_t idx;
	size_t plen;

	memcpy(&idx, buf + sizeof(struct message_header), sizeof(idx));
	ent = index_table_lookup(&e->indices, le32toh(idx));
	if (!ent || ent->kind != INDEX_KEYPAIR)
		return drop(rx, WG_DROP_NO_SESSION, "data for an unknown index");
	p = ent->peer;
	kp = ent->obj;
	if (!kp->receiving.is_valid || expired(kp->receiving.birthdate_ns, REJECT_AFTER_TIME, now) ||
	    kp->receiving_counter.greatest >= REJECT_AFTER_MESSAGES) {
		kp->receiving.is_valid = false;
		return drop(rx, WG_DROP_NO_SESSION, "data under an expired keypair");
	}
	switch (noise_keypair_open(kp, buf, len, &plen)) {
	case NOISE_OPEN_OK:
		break;
	case NOISE_OPEN_REPLAY:
		return drop(rx, WG_DROP_REPLAY, "data replayed");
	case NOISE_OPEN_INVALID:
		return drop(rx, WG_DROP_BAD_AUTH, "data does not authenticate");
	}

	rx->peer = p;
	rx->flags = WG_RX_ENDPOINT;
	if (session_confirm(p, kp)) {
		timers_handshake_complete(&p->timers);
		p->last_handshake_wall_ns = wall;
		rx->flags |= WG_RX_SESSION_READY;
	}
	/* Initiator: rekey once when the session nears REJECT_AFTER_TIME, so that a peer that
	 * only receives still gets a new session in time. */
	cur = p->current;
	if (!p->timers.sent_lastminute_handshake && cur && cur->sending.is_valid &&
	    cur->i_am_the_initiator && expired(cur->sending.birthdate_ns,
	    REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT, now)) {
		p->timers.sent_lastminute_handshake = true;
		timers_handshake_request(&p->timers, false, now);
	}
	timers_any_authenticated_packet_received(&p->timers);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	if (plen == 0)
		return WG_RX_KEEPALIVE;
	timers_data_received(&p->timers, now);
	rx->inner_off = sizeof(struct msg_data);
	rx->inner_len = inner_length(buf + rx->inner_off, plen);
	if (!rx->inner_len) {
		rx->inner_off = 0;
		/* Authenticated, so rx->peer and rx->flags still apply. */
		return drop(rx, WG_DROP_MALFORMED, "malformed inner packet");
	}
	return WG_RX_DATA;
}

enum wg_rx_kind wg_engine_receive(struct wg_engine *e, const union wg_sockaddr *src,
    uint8_t *buf, size_t len, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *out, size_t out_cap, struct wg_rx *rx)
{
	uint32_t type;

	*rx = (struct wg_rx){ 0 };
	touch(e, now_ns);
	if (len < sizeof(type))
		return drop(rx, WG_DROP_MALFORMED, "short datagram");
	memcpy(&type, buf, sizeof(type));
	type = le32toh(type);
	switch (type) {	/* the reserved bytes must be zero too */
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len != sizeof(struct msg_initiation))
			return drop(rx, WG_DROP_MALFORMED, "bad initiation length");
		return rx_handshake(e, src, type, buf, len, now_ns, wall_ns, out, out_cap, rx);
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len != sizeof(struct msg_response))
			return drop(rx, WG_DROP_MALFORMED, "bad response length");
		return rx_handshake(e, src, type, buf, len, now_ns, wall_ns, out, out_cap, rx);
	case MESSAGE_HANDSHAKE_COOKIE:
		if (len != sizeof(struct msg_cookie))
			return drop(rx, WG_DROP_MALFORMED, "bad cookie reply length");
		return rx_cookie(e, buf, now_ns, rx);
	case MESSAGE_DATA:
		if (len < MESSAGE_MINIMUM_LENGTH)
			return drop(rx, WG_DROP_MALFORMED, "short data message");
		return rx_data(e, buf, len, now_ns, wall_ns, rx);
	default:
		return drop(rx, WG_DROP_MALFORMED, "unknown message type");
	}
}

/* ---- planned key changes (roster rotation): established keypairs survive ---- */

bool wg_peer_set_public_key(struct wg_peer *p, const uint8_t key[WG_KEY_LEN])
{
	struct wg_engine *e = p->engine;

	if (sodium_memcmp(p->handshake.remote_static, key, WG_KEY_LEN) == 0)
		return true;
	if (is_our_key(e, key) || wg_engine_peer_lookup(e, key))
		return false;
	peer_unlink(e, p);
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
	e->peers[peer_slot(e, key)] = p;
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
