/* The engine (engine.h): receiving, as the kernel's receive.c: handshake messages (mac1,
 * mac2 and the rate limiter under load, then Noise), cookie replies and transport data. */
#include "engine_internal.h"

#include <endian.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"

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
	if (!engine_session_begin(p, now)) {
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
	if (!engine_session_begin(p, now))
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

/* A data message up to its decryption: the keypair its index names, if that may still
 * receive, and the checks that need no key.  WG_RX_PENDING with job and pending filled. */
static enum wg_rx_kind data_prepare(struct wg_engine *e, uint8_t *buf, size_t len, uint64_t now,
    struct wg_rx *rx, struct wg_data_job *job, struct wg_rx_pending *pending)
{
	const struct index_entry *ent;
	struct noise_keypair *kp;
	uint32_t idx;

	memcpy(&idx, buf + sizeof(struct message_header), sizeof(idx));
	ent = index_table_lookup(&e->indices, le32toh(idx));
	if (!ent || ent->kind != INDEX_KEYPAIR)
		return drop(rx, WG_DROP_NO_SESSION, "data for an unknown index");
	kp = ent->obj;
	if (!kp->receiving.is_valid || expired(kp->receiving.birthdate_ns, REJECT_AFTER_TIME, now) ||
	    kp->receiving_counter.greatest >= REJECT_AFTER_MESSAGES) {
		kp->receiving.is_valid = false;
		return drop(rx, WG_DROP_NO_SESSION, "data under an expired keypair");
	}
	if (!noise_keypair_open_prepare(kp, buf, len, &pending->counter))
		return drop(rx, WG_DROP_BAD_AUTH, "data does not authenticate");
	pending->local_index = kp->local_index;
	pending->birthdate_ns = kp->receiving.birthdate_ns;
	memcpy(job->key, kp->receiving.key, sizeof(job->key));
	job->counter = pending->counter;
	job->data = buf + sizeof(struct msg_data);
	job->len = len - sizeof(struct msg_data);
	job->ok = false;
	return WG_RX_PENDING;
}

/* The rest, once the job was opened: the keypair again (it may have gone meanwhile), the
 * replay window (only an authentic counter may move it), the session and the timers. */
static enum wg_rx_kind data_finish(struct wg_engine *e, uint8_t *buf, size_t len,
    const struct wg_rx_pending *pending, bool authentic, uint64_t now, uint64_t wall,
    struct wg_rx *rx)
{
	const struct index_entry *ent;
	struct noise_keypair *kp, *cur;
	struct wg_peer *p;
	size_t plen;

	ent = index_table_lookup(&e->indices, pending->local_index);
	if (!ent || ent->kind != INDEX_KEYPAIR ||
	    ((struct noise_keypair *)ent->obj)->receiving.birthdate_ns != pending->birthdate_ns)
		return drop(rx, WG_DROP_NO_SESSION, "data for a keypair that went away");
	p = ent->peer;
	kp = ent->obj;
	if (!kp->receiving.is_valid)
		return drop(rx, WG_DROP_NO_SESSION, "data under an expired keypair");
	if (!authentic)
		return drop(rx, WG_DROP_BAD_AUTH, "data does not authenticate");
	if (!replay_counter_validate(&kp->receiving_counter, pending->counter))
		return drop(rx, WG_DROP_REPLAY, "data replayed");
	plen = len - sizeof(struct msg_data) - NOISE_AUTHTAG_LEN;

	rx->peer = p;
	rx->flags = WG_RX_ENDPOINT;
	if (engine_session_confirm(p, kp)) {
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

void wg_data_job_open(struct wg_data_job *j)
{
	j->ok = j->len >= NOISE_AUTHTAG_LEN &&
	    aead_transport_decrypt(j->data, j->data, j->len, j->counter, j->key);
	sodium_memzero(j->key, sizeof(j->key));
}

/* The three steps at once (the inline path). */
static enum wg_rx_kind rx_data(struct wg_engine *e, uint8_t *buf, size_t len, uint64_t now,
    uint64_t wall, struct wg_rx *rx)
{
	struct wg_rx_pending pending;
	struct wg_data_job job;
	enum wg_rx_kind kind;

	kind = data_prepare(e, buf, len, now, rx, &job, &pending);
	if (kind != WG_RX_PENDING)
		return kind;
	wg_data_job_open(&job);
	return data_finish(e, buf, len, &pending, job.ok, now, wall, rx);
}

/* wg_engine_receive, or with job (non-NULL) its prepare step for data messages. */
static enum wg_rx_kind receive(struct wg_engine *e, const union wg_sockaddr *src, uint8_t *buf,
    size_t len, uint64_t now_ns, uint64_t wall_ns, uint8_t *out, size_t out_cap,
    struct wg_rx *rx, struct wg_data_job *job, struct wg_rx_pending *pending)
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
		if (job)
			return data_prepare(e, buf, len, now_ns, rx, job, pending);
		return rx_data(e, buf, len, now_ns, wall_ns, rx);
	default:
		return drop(rx, WG_DROP_MALFORMED, "unknown message type");
	}
}

enum wg_rx_kind wg_engine_receive(struct wg_engine *e, const union wg_sockaddr *src,
    uint8_t *buf, size_t len, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *out, size_t out_cap, struct wg_rx *rx)
{
	return receive(e, src, buf, len, now_ns, wall_ns, out, out_cap, rx, NULL, NULL);
}

enum wg_rx_kind wg_engine_receive_prepare(struct wg_engine *e, const union wg_sockaddr *src,
    uint8_t *buf, size_t len, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *out, size_t out_cap, struct wg_rx *rx, struct wg_data_job *job,
    struct wg_rx_pending *pending)
{
	return receive(e, src, buf, len, now_ns, wall_ns, out, out_cap, rx, job, pending);
}

enum wg_rx_kind wg_engine_receive_finish(struct wg_engine *e, uint8_t *buf, size_t len,
    const struct wg_rx_pending *pending, bool authentic, uint64_t now_ns, uint64_t wall_ns,
    struct wg_rx *rx)
{
	*rx = (struct wg_rx){ 0 };
	touch(e, now_ns);
	return data_finish(e, buf, len, pending, authentic, now_ns, wall_ns, rx);
}
