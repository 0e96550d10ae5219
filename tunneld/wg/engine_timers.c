/* The engine (engine.h): timers, as the kernel's timers.c: what each expired timer sends
 * (initiations, retransmissions, keepalives) or clears. */
#include "engine_internal.h"

#include <string.h>

#include <sodium.h>

#include "tai64n.h"

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
