/* The protocol engine end to end: two engines A and B, peered with each other, exchange real
 * messages in memory under a deterministic rng and a fake clock.  Also the receiver index
 * table (against a naive reference) and the per-IP rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "tunneld/wg/engine.h"
#include "tunneld/wg/hash.h"
#include "tunneld/wg/index_table.h"
#include "tunneld/wg/messages.h"
#include "tunneld/wg/ratelimiter.h"
#include "tests/support/engine_pair.h"

#define MS	1000000ULL

/* Builds an IPv4 or IPv6 packet of total length len at p, payload filled from seed. */
static void ip_packet(uint8_t *p, int version, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	if (version == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
	}
}

/* A has no session and something to send: a handshake is due now. */
static void want_handshake(struct net *n)
{
	uint8_t buf[WG_DATA_HEADROOM + WG_DATA_TAILROOM];
	size_t len;

	assert_int_equal(wg_peer_encrypt(n->pa, buf + WG_DATA_HEADROOM, 0, n->now, &len),
	    WG_SEND_NO_SESSION);
	assert_true(wg_peer_next_deadline(n->pa) <= n->now);
}

/* A sends an initiation (asking for one unless a retransmission is due); B answers; A consumes the answer.  Afterwards A can send, B not yet. */
static void handshake(struct net *n)
{
	uint8_t buf[WG_CONTROL_MAX_LEN + 64], out[WG_CONTROL_MAX_LEN], resp[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len, resp_len;

	if (wg_peer_next_deadline(n->pa) > n->now)
		want_handshake(n);
	assert_int_equal(wg_peer_tick(n->pa, n->now, n->wall, buf, sizeof(buf), &len),
	    WG_TICK_SEND);
	assert_int_equal(len, 148);
	assert_int_equal(deliver(n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
	assert_ptr_equal(rx.peer, n->pb);
	assert_int_equal(rx.flags, WG_RX_ENDPOINT);
	assert_int_equal(rx.out_len, 92);
	memcpy(resp, out, rx.out_len);
	resp_len = rx.out_len;
	assert_int_equal(deliver(n, false, resp, resp_len, out, &rx), WG_RX_HANDSHAKE);
	assert_ptr_equal(rx.peer, n->pa);
	assert_int_equal(rx.flags, WG_RX_SESSION_READY | WG_RX_ENDPOINT);
	assert_int_equal(rx.out_len, 0);
	assert_true(wg_peer_has_session(n->pa));
	assert_false(wg_peer_has_session(n->pb));
	assert_int_equal(wg_peer_last_handshake_wall_ns(n->pa), n->wall);
}

/* Sends one inner packet (IPv4 or IPv6, len bytes) from A (a_to_b) or B and delivers it;
 * on WG_RX_DATA checks that the bytes arrived unchanged. */
static enum wg_rx_kind transfer(struct net *n, bool a_to_b, int version, size_t len,
    struct wg_rx *rx)
{
	uint8_t buf[2048], want[1500], out[WG_CONTROL_MAX_LEN];
	uint8_t *pkt = buf + WG_DATA_HEADROOM;
	size_t msg_len = 0;
	enum wg_rx_kind kind;

	if (len)
		ip_packet(pkt, version, len, (uint8_t)n->now);
	memcpy(want, pkt, len);
	if (wg_peer_encrypt(a_to_b ? n->pa : n->pb, pkt, len, n->now, &msg_len) != WG_SEND_OK) {
		rx->why = "test: sender has no session";
		return WG_RX_DROP;
	}
	assert_int_equal(msg_len, 16 + ((len + 15) & ~(size_t)15) + 16);
	kind = deliver(n, a_to_b, buf, msg_len, out, rx);
	if (kind == WG_RX_DATA) {
		assert_int_equal(rx->inner_len, len);
		assert_memory_equal(buf + rx->inner_off, want, len);
		assert_ptr_equal(rx->peer, a_to_b ? n->pb : n->pa);
	}
	return kind;
}

static void test_handshake_and_data(void **state)
{
	struct net n;
	struct wg_rx rx;
	uint8_t buf[256];
	size_t len;

	(void)state;
	net_setup(&n);
	/* No session yet: the packet is staged and a handshake is due now. */
	assert_int_equal(wg_peer_encrypt(n.pa, buf + WG_DATA_HEADROOM, 0, n.now, &len),
	    WG_SEND_NO_SESSION);
	assert_int_equal(wg_peer_next_deadline(n.pa), n.now);
	handshake(&n);
	/* B holds the new keypair as next: it cannot send until A confirms. */
	assert_int_equal(wg_peer_encrypt(n.pb, buf + WG_DATA_HEADROOM, 0, n.now, &len),
	    WG_SEND_NO_SESSION);
	advance(&n, 10 * MS);
	assert_int_equal(transfer(&n, true, 4, 84, &rx), WG_RX_DATA);
	assert_int_equal(rx.flags, WG_RX_SESSION_READY | WG_RX_ENDPOINT);
	assert_true(wg_peer_has_session(n.pb));
	assert_int_equal(wg_peer_last_handshake_wall_ns(n.pb), n.wall);
	assert_int_equal(transfer(&n, true, 6, 1280, &rx), WG_RX_DATA);
	assert_int_equal(rx.flags, WG_RX_ENDPOINT);
	/* B's first reply after the promotion. */
	assert_int_equal(transfer(&n, false, 4, 20, &rx), WG_RX_DATA);
	assert_int_equal(rx.flags, WG_RX_ENDPOINT);
	assert_int_equal(transfer(&n, false, 6, 40, &rx), WG_RX_DATA);
	assert_int_equal(transfer(&n, false, 4, 0, &rx), WG_RX_KEEPALIVE);
	assert_int_equal(transfer(&n, true, 4, 1420, &rx), WG_RX_DATA);
	net_free(&n);
}

static void test_keepalive_confirms_responder(void **state)
{
	struct net n;
	struct wg_rx rx;

	(void)state;
	net_setup(&n);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 0, &rx), WG_RX_KEEPALIVE);
	assert_int_equal(rx.flags, WG_RX_SESSION_READY | WG_RX_ENDPOINT);
	assert_int_equal(transfer(&n, false, 4, 100, &rx), WG_RX_DATA);
	net_free(&n);
}

static void test_unknown_peer(void **state)
{
	struct net n;
	struct wg_engine *c;
	struct wg_peer *pc;
	struct rng rc = { .seed = 3 };
	uint8_t kc[WG_KEY_LEN], buf[WG_CONTROL_MAX_LEN], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;

	(void)state;
	net_setup(&n);
	memset(kc, 0x33, sizeof(kc));
	c = wg_engine_new();
	assert_non_null(c);
	wg_engine_set_rng(c, rng_fn, &rc);
	wg_engine_set_private_key(c, kc);
	pc = wg_engine_peer_add(c, n.pub_b, NULL);
	assert_non_null(pc);
	assert_int_equal(wg_peer_encrypt(pc, buf + 16, 0, n.now, &len), WG_SEND_NO_SESSION);
	assert_int_equal(wg_peer_tick(pc, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "unknown peer");
	assert_null(rx.peer);
	assert_int_equal(rx.out_len, 0);
	wg_engine_free(c);
	net_free(&n);
}

enum stage { INIT, RESP, DATA, COOKIE };

struct tamper_case {
	enum stage stage;
	size_t offset;		/* byte flipped; SIZE_MAX: truncate by one; SIZE_MAX-1: grow by one */
	enum wg_rx_kind want;
};

#define TRUNC	SIZE_MAX
#define GROW	(SIZE_MAX - 1)

static const struct tamper_case tamper_cases[] = {
	/*  1 */ { INIT, 0, WG_RX_DROP },		/* type */
	/*  2 */ { INIT, 1, WG_RX_DROP },		/* reserved byte */
	/*  3 */ { INIT, 4, WG_RX_DROP },		/* sender index: under mac1 */
	/*  4 */ { INIT, 8, WG_RX_DROP },		/* ephemeral */
	/*  5 */ { INIT, 40, WG_RX_DROP },		/* encrypted static */
	/*  6 */ { INIT, 100, WG_RX_DROP },		/* encrypted timestamp */
	/*  7 */ { INIT, 116, WG_RX_DROP },		/* mac1 */
	/*  8 */ { INIT, 132, WG_RX_HANDSHAKE },	/* mac2 is not checked when not under load */
	/*  9 */ { INIT, TRUNC, WG_RX_DROP },
	/* 10 */ { INIT, GROW, WG_RX_DROP },
	/* 11 */ { RESP, 4, WG_RX_DROP },		/* sender index */
	/* 12 */ { RESP, 8, WG_RX_DROP },		/* receiver index */
	/* 13 */ { RESP, 12, WG_RX_DROP },		/* ephemeral */
	/* 14 */ { RESP, 44, WG_RX_DROP },		/* encrypted nothing */
	/* 15 */ { RESP, 60, WG_RX_DROP },		/* mac1 */
	/* 16 */ { RESP, 76, WG_RX_HANDSHAKE },	/* mac2 */
	/* 17 */ { RESP, TRUNC, WG_RX_DROP },
	/* 18 */ { RESP, GROW, WG_RX_DROP },
	/* 19 */ { DATA, 0, WG_RX_DROP },		/* type */
	/* 20 */ { DATA, 3, WG_RX_DROP },		/* reserved */
	/* 21 */ { DATA, 4, WG_RX_DROP },		/* receiver index */
	/* 22 */ { DATA, 8, WG_RX_DROP },		/* counter (nonce) */
	/* 23 */ { DATA, 16, WG_RX_DROP },		/* ciphertext */
	/* 24 */ { DATA, 140, WG_RX_DROP },		/* tag */
	/* 25 */ { DATA, TRUNC, WG_RX_DROP },
	/* 26 */ { DATA, GROW, WG_RX_DROP },
	/* 27 */ { DATA, SIZE_MAX - 2, WG_RX_DATA },	/* control: untouched */
};

static enum wg_rx_kind tamper_deliver(struct net *n, bool to_b, uint8_t *msg, size_t len,
    size_t offset, uint8_t *out, struct wg_rx *rx)
{
	if (offset == TRUNC)
		len--;
	else if (offset == GROW)
		msg[len++] = 0;
	else if (offset < len)
		msg[offset] ^= 0x04;
	return deliver(n, to_b, msg, len, out, rx);
}

static void test_tamper(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tamper_cases) / sizeof(tamper_cases[0]); i++) {
		const struct tamper_case *c = &tamper_cases[i];
		uint8_t buf[512], out[WG_CONTROL_MAX_LEN], msg[512];
		struct wg_rx rx;
		struct net n;
		size_t len;
		enum wg_rx_kind got;

		net_setup(&n);
		want_handshake(&n);
		assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len),
		    WG_TICK_SEND);
		if (c->stage == INIT) {
			got = tamper_deliver(&n, true, buf, len, c->offset, out, &rx);
		} else {
			assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
			memcpy(msg, out, rx.out_len);
			len = rx.out_len;
			if (c->stage == RESP) {
				got = tamper_deliver(&n, false, msg, len, c->offset, out, &rx);
			} else {
				assert_int_equal(deliver(&n, false, msg, len, out, &rx),
				    WG_RX_HANDSHAKE);
				ip_packet(buf + 16, 4, 100, 9);
				assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 100, n.now, &len),
				    WG_SEND_OK);
				got = tamper_deliver(&n, true, buf, len, c->offset, out, &rx);
			}
		}
		if (got != c->want)
			fail_msg("case %zu: got %d want %d (%s)", i + 1, got, c->want,
			    rx.why ? rx.why : "-");
		if (got == WG_RX_DROP)
			assert_non_null(rx.why);
		net_free(&n);
	}
}

static void test_replay(void **state)
{
	struct net n;
	uint8_t buf[512], copy[512], init[WG_CONTROL_MAX_LEN], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len, init_len;

	(void)state;
	net_setup(&n);
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, init, sizeof(init), &init_len),
	    WG_TICK_SEND);
	memcpy(buf, init, init_len);
	assert_int_equal(deliver(&n, true, buf, init_len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(copy, out, rx.out_len);
	len = rx.out_len;
	/* The same initiation again, a second later: its timestamp is not newer. */
	advance(&n, SEC);
	memcpy(buf, init, init_len);
	assert_int_equal(deliver(&n, true, buf, init_len, out, &rx), WG_RX_DROP);
	/* B's keypair from the first one still completes. */
	assert_int_equal(deliver(&n, false, copy, len, out, &rx), WG_RX_HANDSHAKE);
	/* A response cannot be consumed twice. */
	assert_int_equal(deliver(&n, false, copy, len, out, &rx), WG_RX_DROP);

	ip_packet(buf + 16, 4, 60, 1);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 60, n.now, &len), WG_SEND_OK);
	memcpy(copy, buf, len);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DATA);
	assert_int_equal(deliver(&n, true, copy, len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data replayed");
	assert_int_equal(rx.reason, WG_DROP_REPLAY);
	/* One flipped bit: not authentic, which the counters tell from a replay. */
	ip_packet(buf + 16, 4, 60, 2);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 60, n.now, &len), WG_SEND_OK);
	buf[len - 1] ^= 1;
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data does not authenticate");
	assert_int_equal(rx.reason, WG_DROP_BAD_AUTH);
	/* The same before the handshake checks: a short datagram, an unknown index. */
	memset(buf, 0, 64);
	assert_int_equal(deliver(&n, true, buf, 3, out, &rx), WG_RX_DROP);
	assert_int_equal(rx.reason, WG_DROP_MALFORMED);
	buf[0] = 4;
	assert_int_equal(deliver(&n, true, buf, 64, out, &rx), WG_RX_DROP);
	assert_int_equal(rx.reason, WG_DROP_NO_SESSION);
	net_free(&n);
}

static void test_psk(void **state)
{
	struct net n;
	uint8_t psk[WG_KEY_LEN], got[WG_KEY_LEN], buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;

	(void)state;
	net_setup(&n);
	memset(psk, 0x5a, sizeof(psk));
	assert_false(wg_peer_preshared_key(n.pa, got));
	wg_peer_set_preshared_key(n.pa, psk);
	assert_true(wg_peer_preshared_key(n.pa, got));
	assert_memory_equal(got, psk, sizeof(psk));
	/* Only A has it: B answers, but A cannot consume the answer. */
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(buf, out, rx.out_len);
	assert_int_equal(deliver(&n, false, buf, rx.out_len, out, &rx), WG_RX_DROP);
	assert_false(wg_peer_has_session(n.pa));
	/* Both have it: the retransmission succeeds. */
	wg_peer_set_preshared_key(n.pb, psk);
	advance(&n, wg_peer_next_deadline(n.pa) - n.now);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 64, &rx), WG_RX_DATA);
	assert_int_equal(transfer(&n, false, 6, 64, &rx), WG_RX_DATA);
	wg_peer_set_preshared_key(n.pa, NULL);
	assert_false(wg_peer_preshared_key(n.pa, got));
	net_free(&n);
}

/* A datagram in flight: delivered one step after it was sent. */
struct flight {
	bool to_b;
	size_t len;
	uint8_t bytes[256];
};

/* Traffic both ways every 500 ms for 400 s through three rekeys; handshake messages and data
 * spend one step in flight, so packets under the old keypair arrive after the new one is in
 * use.  Nothing may be lost. */
static void test_rekey_no_loss(void **state)
{
	struct flight now_q[16], next_q[16];
	size_t n_now = 0, n_next, handshakes = 0, received = 0, sent = 0;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	struct net n;
	size_t len;

	(void)state;
	net_setup(&n);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 0, &rx), WG_RX_KEEPALIVE);
	for (int step = 0; step < 800; step++) {
		advance(&n, 500 * MS);
		n_next = 0;
		/* Each side sends one data packet; every one must be accepted for sending. */
		for (int side = 0; side < 2; side++) {
			struct flight *f = &next_q[n_next++];

			ip_packet(buf + 16, side ? 6 : 4, 64, (uint8_t)step);
			assert_int_equal(wg_peer_encrypt(side ? n.pb : n.pa, buf + 16, 64, n.now,
			    &len), WG_SEND_OK);
			f->to_b = !side;
			f->len = len;
			memcpy(f->bytes, buf, len);
			sent++;
		}
		/* Timers of both sides. */
		for (int side = 0; side < 2; side++) {
			enum wg_tick_action act;

			while ((act = wg_peer_tick(side ? n.pb : n.pa, n.now, n.wall, buf,
			    sizeof(buf), &len)) == WG_TICK_SEND) {
				struct flight *f = &next_q[n_next++];

				f->to_b = !side;
				f->len = len;
				memcpy(f->bytes, buf, len);
			}
			assert_int_equal(act, WG_TICK_NONE);
		}
		/* Deliver what was sent last step. */
		for (size_t i = 0; i < n_now; i++) {
			struct flight *f = &now_q[i];
			enum wg_rx_kind kind = deliver(&n, f->to_b, f->bytes, f->len, out, &rx);

			if (kind == WG_RX_DROP)
				fail_msg("step %d: dropped: %s", step, rx.why);
			if (kind == WG_RX_DATA)
				received++;
			if (kind == WG_RX_HANDSHAKE)
				handshakes++;
			if (rx.out_len) {
				struct flight *r = &next_q[n_next++];

				r->to_b = !f->to_b;
				r->len = rx.out_len;
				memcpy(r->bytes, out, rx.out_len);
			}
			if (rx.flags & WG_RX_SESSION_READY) {
				/* Nothing staged: confirm with a keepalive. */
				struct wg_peer *p = f->to_b ? n.pb : n.pa;
				struct flight *k = &next_q[n_next++];

				assert_int_equal(wg_peer_encrypt(p, buf + 16, 0, n.now, &len),
				    WG_SEND_OK);
				k->to_b = !f->to_b;
				k->len = len;
				memcpy(k->bytes, buf, len);
			}
		}
		assert_true(n_next <= 16);
		memcpy(now_q, next_q, n_next * sizeof(next_q[0]));
		n_now = n_next;
	}
	/* Three rekeys (at 120 s intervals): an initiation and a response each. */
	assert_true(handshakes >= 6);
	assert_int_equal(received + 2, sent);	/* the last step's two are still in flight */
	net_free(&n);
}

/* B initiates and A answers (A holds next), but B's confirming keepalive is lost.  Later A
 * completes a handshake of its own as initiator while B still sends under the first keypair,
 * its current: A must keep that unconfirmed next decryptable as previous (the kernel's
 * add_new_keypair), not drop it. */
static void test_initiator_keeps_unconfirmed_next(void **state)
{
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN], msg[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	struct net n;
	size_t len;

	(void)state;
	net_setup(&n);
	/* B -> A: initiation, response; B now sends under keypair X, A holds X as next. */
	assert_int_equal(wg_peer_encrypt(n.pb, buf + 16, 0, n.now, &len), WG_SEND_NO_SESSION);
	assert_int_equal(wg_peer_tick(n.pb, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(deliver(&n, false, buf, len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(msg, out, rx.out_len);
	assert_int_equal(deliver(&n, true, msg, rx.out_len, out, &rx), WG_RX_HANDSHAKE);
	assert_true(wg_peer_has_session(n.pb));
	assert_false(wg_peer_has_session(n.pa));
	/* B's keepalive under X is lost.  REKEY_TIMEOUT later A initiates; B answers; A's new
	 * keypair Y is current at A, while B keeps sending under X until Y is confirmed. */
	advance(&n, REKEY_TIMEOUT * SEC);
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(msg, out, rx.out_len);
	assert_int_equal(deliver(&n, false, msg, rx.out_len, out, &rx), WG_RX_HANDSHAKE);
	assert_int_equal(rx.flags, WG_RX_SESSION_READY | WG_RX_ENDPOINT);
	assert_int_equal(transfer(&n, false, 4, 100, &rx), WG_RX_DATA);
	assert_ptr_equal(rx.peer, n.pa);
	/* A's data under Y confirms Y at B, which then sends under Y. */
	assert_int_equal(transfer(&n, true, 4, 100, &rx), WG_RX_DATA);
	assert_int_equal(rx.flags, WG_RX_SESSION_READY | WG_RX_ENDPOINT);
	assert_int_equal(transfer(&n, false, 6, 200, &rx), WG_RX_DATA);
	net_free(&n);
}

/* With the interface MTU set, a full-size inner packet is padded only up to the MTU: 1420
 * bytes travel as a 1452-byte message, not 1456 (1504 bytes on an IPv6 underlay). */
static void test_mtu_padding(void **state)
{
	uint8_t buf[2048], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	struct net n;
	size_t len;

	(void)state;
	net_setup(&n);
	wg_engine_set_mtu(n.a, 1420);
	handshake(&n);
	ip_packet(buf + WG_DATA_HEADROOM, 4, 1420, 5);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + WG_DATA_HEADROOM, 1420, n.now, &len),
	    WG_SEND_OK);
	assert_int_equal(len, 16 + 1420 + 16);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DATA);
	assert_int_equal(rx.inner_len, 1420);
	/* B has no MTU set: plain padding to 16. */
	assert_int_equal(transfer(&n, false, 4, 1420, &rx), WG_RX_DATA);
	net_free(&n);
}

static void test_reject_after_time(void **state)
{
	struct net n;
	struct wg_rx rx;
	uint8_t buf[512], late[512], out[WG_CONTROL_MAX_LEN];
	size_t len, late_len;

	(void)state;
	net_setup(&n);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 0, &rx), WG_RX_KEEPALIVE);
	advance(&n, REJECT_AFTER_TIME * SEC - 1);
	ip_packet(buf + 16, 4, 40, 3);
	assert_int_equal(wg_peer_encrypt(n.pb, buf + 16, 40, n.now, &len), WG_SEND_OK);
	memcpy(late, buf, len);
	late_len = len;
	advance(&n, 1);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 40, n.now, &len), WG_SEND_NO_SESSION);
	assert_false(wg_peer_has_session(n.pa));
	assert_int_equal(wg_peer_encrypt(n.pb, buf + 16, 40, n.now, &len), WG_SEND_NO_SESSION);
	/* The initiator asks for a new handshake at once. */
	assert_int_equal(wg_peer_next_deadline(n.pa), n.now);
	assert_int_equal(deliver(&n, false, late, late_len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data under an expired keypair");
	net_free(&n);
}

static void test_under_load(void **state)
{
	struct net n;
	struct wg_rx rx;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN], reply[WG_CONTROL_MAX_LEN];
	size_t len;

	(void)state;
	net_setup(&n);
	wg_engine_set_load_threshold(n.b, 0);
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	/* No mac2: a cookie reply instead of any Diffie-Hellman. */
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_UNDER_LOAD);
	assert_int_equal(rx.out_len, 64);
	assert_null(rx.peer);
	memcpy(reply, out, rx.out_len);
	/* A tampered cookie reply is refused, the real one consumed. */
	reply[20] ^= 1;
	assert_int_equal(deliver(&n, false, reply, 64, out, &rx), WG_RX_DROP);
	reply[20] ^= 1;
	assert_int_equal(deliver(&n, false, reply, 64, out, &rx), WG_RX_COOKIE);
	assert_ptr_equal(rx.peer, n.pa);
	/* The retransmission carries mac2 and goes through. */
	advance(&n, wg_peer_next_deadline(n.pa) - n.now);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 64, &rx), WG_RX_DATA);
	net_free(&n);
}

/* The cookie secret must never rotate to bytes the engine did not draw.  The checker treats a
 * secret born "after" now as expired; the engine drew fresh bytes only when the secret was
 * over 119 s old, so a handshake stamped earlier than the secret's birth (a clock that steps
 * back) rotated it to all zeros, and anyone could then mint cookies for any address. */
static void test_cookie_secret_never_zero(void **state)
{
	static const uint8_t zero_secret[32];
	uint8_t init[WG_CONTROL_MAX_LEN], buf[512], out[WG_CONTROL_MAX_LEN];
	uint8_t src[6], cookie[16];
	struct wg_rx rx;
	struct net n;
	size_t init_len;

	(void)state;
	net_setup(&n);
	wg_engine_set_load_threshold(n.b, 0);
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, init, sizeof(init), &init_len),
	    WG_TICK_SEND);
	/* Under load without mac2: a cookie reply; B's secret is born now. */
	memcpy(buf, init, init_len);
	assert_int_equal(deliver(&n, true, buf, init_len, out, &rx), WG_RX_UNDER_LOAD);
	/* The same initiation with mac2 forged from an all-zero secret, a second "earlier". */
	memcpy(src, &n.sa.in4.sin_addr, 4);
	memcpy(src + 4, &n.sa.in4.sin_port, 2);
	hash_mac(cookie, zero_secret, sizeof(zero_secret), src, sizeof(src));
	memcpy(buf, init, init_len);
	hash_mac(buf + init_len - 16, cookie, sizeof(cookie), buf, init_len - 16);
	n.now -= SEC;
	assert_int_equal(deliver(&n, true, buf, init_len, out, &rx), WG_RX_UNDER_LOAD);
	assert_null(rx.peer);
	net_free(&n);
}

/* Under load a valid mac2 still meets the per-IP rate limiter before any Diffie-Hellman:
 * copies of one initiation pass it RATELIMITER_BURST times, then are refused unread. */
static void test_under_load_ratelimit(void **state)
{
	struct net n;
	struct wg_rx rx;
	uint8_t init[WG_CONTROL_MAX_LEN], buf[512], out[WG_CONTROL_MAX_LEN];
	size_t len, init_len;

	(void)state;
	net_setup(&n);
	wg_engine_set_load_threshold(n.b, 0);
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_UNDER_LOAD);
	memcpy(buf, out, rx.out_len);
	assert_int_equal(deliver(&n, false, buf, rx.out_len, out, &rx), WG_RX_COOKIE);
	advance(&n, wg_peer_next_deadline(n.pa) - n.now);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, init, sizeof(init), &init_len),
	    WG_TICK_SEND);
	for (int i = 0; i < RATELIMITER_BURST + 2; i++) {
		enum wg_rx_kind kind;

		memcpy(buf, init, init_len);
		kind = deliver(&n, true, buf, init_len, out, &rx);
		if (i == 0) {
			assert_int_equal(kind, WG_RX_HANDSHAKE);
		} else if (i < RATELIMITER_BURST) {
			assert_int_equal(kind, WG_RX_DROP);	/* passed the limiter; replayed */
			assert_string_equal(rx.why,
			    "initiation rejected (replay, flood or bad key)");
		} else {
			assert_int_equal(kind, WG_RX_DROP);
			assert_string_equal(rx.why, "handshake rate limited");
		}
	}
	net_free(&n);
}

/* Load is "more handshake messages in a second than the threshold", and lasts a second more. */
static void test_load_threshold(void **state)
{
	static const struct {
		uint64_t at_ms;
		enum wg_rx_kind want;
	} cases[] = {
		/* 1 */ { 0, WG_RX_HANDSHAKE },		/* one message: not above 1 */
		/* 2 */ { 500, WG_RX_UNDER_LOAD },	/* two in the second: cookie reply */
		/* 3 */ { 1200, WG_RX_UNDER_LOAD },	/* new second, but load was 0.7 s ago */
		/* 4 */ { 2600, WG_RX_DROP },		/* quiet again: a plain replay */
	};
	struct net n;
	struct wg_rx rx;
	uint8_t init[WG_CONTROL_MAX_LEN], buf[512], out[WG_CONTROL_MAX_LEN];
	size_t init_len;
	uint64_t t0;

	(void)state;
	net_setup(&n);
	wg_engine_set_load_threshold(n.b, 1);
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, init, sizeof(init), &init_len),
	    WG_TICK_SEND);
	t0 = n.now;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum wg_rx_kind kind;

		advance(&n, t0 + cases[i].at_ms * MS - n.now);
		memcpy(buf, init, init_len);
		kind = deliver(&n, true, buf, init_len, out, &rx);
		if (kind != cases[i].want)
			fail_msg("case %zu: got %d want %d", i + 1, kind, cases[i].want);
	}
	net_free(&n);
}

static void test_remove_peer(void **state)
{
	struct net n;
	struct wg_rx rx;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	size_t len;

	(void)state;
	net_setup(&n);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 64, &rx), WG_RX_DATA);
	ip_packet(buf + 16, 4, 64, 1);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 64, n.now, &len), WG_SEND_OK);
	wg_engine_peer_remove(n.b, n.pb);
	assert_null(wg_engine_peer_lookup(n.b, n.pub_a));
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data for an unknown index");
	/* Re-adding starts from nothing: no session until a new handshake. */
	n.pb = wg_engine_peer_add(n.b, n.pub_a, NULL);
	assert_non_null(n.pb);
	assert_false(wg_peer_has_session(n.pb));
	advance(&n, REKEY_TIMEOUT * SEC);
	wg_peer_clear_sessions(n.pa);
	assert_false(wg_peer_has_session(n.pa));
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 64, &rx), WG_RX_DATA);
	assert_int_equal(transfer(&n, false, 4, 64, &rx), WG_RX_DATA);
	net_free(&n);
}

static void test_keys(void **state)
{
	struct net n;
	struct wg_rx rx;
	uint8_t k[WG_KEY_LEN], got[WG_KEY_LEN];

	(void)state;
	net_setup(&n);
	/* Our own key cannot be a peer; a duplicate neither. */
	assert_null(wg_engine_peer_add(n.a, n.pub_a, NULL));
	assert_null(wg_engine_peer_add(n.a, n.pub_b, NULL));
	assert_ptr_equal(wg_engine_peer_lookup(n.a, n.pub_b), n.pa);
	assert_ptr_equal(wg_peer_ctx(n.pa), &n.pa);
	assert_memory_equal(wg_peer_public_key(n.pa), n.pub_b, WG_KEY_LEN);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 0, &rx), WG_RX_KEEPALIVE);
	/* Same key again: a no-op, the session survives. */
	memset(k, 0x11, sizeof(k));
	wg_engine_set_private_key(n.a, k);
	assert_true(wg_peer_has_session(n.pa));
	assert_true(wg_engine_private_key(n.a, got));
	k[0] &= 248;			/* reported clamped, as wg show does */
	k[31] = (k[31] & 127) | 64;
	assert_memory_equal(got, k, sizeof(k));
	/* A new key drops every session. */
	memset(k, 0x44, sizeof(k));
	wg_engine_set_private_key(n.a, k);
	assert_false(wg_peer_has_session(n.pa));
	assert_int_equal(transfer(&n, false, 4, 0, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data for an unknown index");
	wg_engine_set_private_key(n.a, NULL);
	assert_false(wg_engine_private_key(n.a, got));
	assert_false(wg_engine_public_key(n.a, got));
	net_free(&n);
}

/* A peer configured with what became our own key is inert (is_self); when the roster moves it
 * to another key it must come back to life.  Rotating our key to NULL changes nothing. */
static void test_peer_rekeyed_from_self(void **state)
{
	uint8_t kb[WG_KEY_LEN], kc[WG_KEY_LEN], pub_c[WG_KEY_LEN], got[WG_KEY_LEN];
	uint8_t buf[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	struct net n;
	size_t len;

	(void)state;
	net_setup(&n);
	memset(kc, 0x33, sizeof(kc));
	kc[0] &= 248;
	kc[31] = (kc[31] & 127) | 64;
	assert_int_equal(crypto_scalarmult_base(pub_c, kc), 0);
	/* 1: A takes B's key: the peer holding it cannot handshake. */
	memset(kb, 0x22, sizeof(kb));
	wg_engine_set_private_key(n.a, kb);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 0, n.now, &len), WG_SEND_NO_SESSION);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_NONE);
	/* 2: the peer is moved to key C: it initiates again. */
	assert_true(wg_peer_set_public_key(n.pa, pub_c));
	want_handshake(&n);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(len, 148);
	/* 3: rotating to NULL keeps the identity. */
	net_free(&n);
	net_setup(&n);
	handshake(&n);
	assert_int_equal(transfer(&n, true, 4, 0, &rx), WG_RX_KEEPALIVE);
	wg_engine_rotate_private_key(n.a, NULL);
	assert_true(wg_engine_public_key(n.a, got));
	assert_memory_equal(got, n.pub_a, WG_KEY_LEN);
	assert_int_equal(transfer(&n, true, 4, 64, &rx), WG_RX_DATA);
	net_free(&n);
}

/* Many peers: the peer table and index table grow, lookups keep working, removal in any
 * order keeps the probe chains intact. */
static void test_many_peers(void **state)
{
	enum { N = 3000 };
	struct wg_engine *e = wg_engine_new();
	static struct wg_peer *peers[N];
	uint8_t key[WG_KEY_LEN];

	(void)state;
	assert_non_null(e);
	for (uint32_t i = 0; i < N; i++) {
		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		key[31] = 0x40;
		peers[i] = wg_engine_peer_add(e, key, (void *)(uintptr_t)(i + 1));
		assert_non_null(peers[i]);
	}
	for (uint32_t i = 0; i < N; i += 3)
		wg_engine_peer_remove(e, peers[i]);
	for (uint32_t i = 0; i < N; i++) {
		struct wg_peer *p;

		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		key[31] = 0x40;
		p = wg_engine_peer_lookup(e, key);
		if (i % 3 == 0) {
			assert_null(p);
		} else {
			assert_ptr_equal(p, peers[i]);
			assert_int_equal((uintptr_t)wg_peer_ctx(p), i + 1);
		}
	}
	wg_engine_free(e);
}

/* ---- index table against a naive reference ---- */

struct ref_entry {
	uint32_t index;
	void *obj;
	bool live;
};

static void test_index_table(void **state)
{
	enum { N = 2000 };
	static struct ref_entry ref[N];
	struct index_table t;
	struct rng r = { .seed = 7 };
	uint32_t x = 12345;

	(void)state;
	index_table_init(&t);
	assert_false(index_table_insert(&t, INDEX_HANDSHAKE, NULL, NULL, rng_fn, &r, &ref[0].index));
	assert_int_equal(index_table_reserve(&t, N), 0);
	memset(ref, 0, sizeof(ref));
	for (int round = 0; round < 20000; round++) {
		size_t i;

		x = x * 1103515245 + 12345;
		i = (x >> 8) % N;
		if (!ref[i].live) {
			ref[i].obj = &ref[i];
			assert_true(index_table_insert(&t, INDEX_HANDSHAKE, &r, ref[i].obj, rng_fn, &r,
			    &ref[i].index));
			assert_int_not_equal(ref[i].index, 0);
			ref[i].live = true;
		} else if (x & 1) {
			index_table_remove(&t, ref[i].index);
			ref[i].live = false;
		} else {
			assert_true(index_table_replace(&t, ref[i].index, INDEX_KEYPAIR, &x));
			ref[i].obj = &x;
		}
		if (round % 1000 == 0) {
			size_t live = 0;

			for (size_t j = 0; j < N; j++) {
				const struct index_entry *ent = index_table_lookup(&t, ref[j].index);

				if (ref[j].live) {
					assert_non_null(ent);
					assert_ptr_equal(ent->obj, ref[j].obj);
					assert_ptr_equal(ent->peer, &r);
					live++;
				} else if (ent) {
					/* the index may have been reissued to another live entry */
					assert_ptr_not_equal(ent->obj, NULL);
				}
			}
			assert_int_equal(live, t.count);
		}
	}
	/* Full: the reservation is a hard cap. */
	for (size_t j = 0; j < N; j++)
		if (!ref[j].live)
			assert_true(index_table_insert(&t, INDEX_KEYPAIR, NULL, &x, rng_fn, &r,
			    &ref[j].index));
	assert_false(index_table_insert(&t, INDEX_KEYPAIR, NULL, &x, rng_fn, &r, &ref[0].index));
	assert_null(index_table_lookup(&t, 0));
	index_table_free(&t);
}

/* ---- rate limiter: the kernel selftest's timeline, 20/s with a burst of 5 ---- */

struct rl_case {
	uint64_t t_ms;
	bool allow;
};

static const struct rl_case rl_cases[] = {
	/*  1 */ { 0, true }, /*  2 */ { 0, true }, /*  3 */ { 0, true },
	/*  4 */ { 0, true }, /*  5 */ { 0, true },	/* the burst */
	/*  6 */ { 0, false },
	/*  7 */ { 49, false },			/* a token takes 50 ms */
	/*  8 */ { 50, true },
	/*  9 */ { 50, false },
	/* 10 */ { 100, true },
	/* 11 */ { 349, true }, /* 12 */ { 349, true }, /* 13 */ { 349, true },
	/* 14 */ { 349, true },			/* 249 ms: 4 more tokens */
	/* 15 */ { 349, false },
	/* 16 */ { 2000, true },			/* expired and refilled */
	/* 17 */ { 2000, true }, /* 18 */ { 2000, true }, /* 19 */ { 2000, true },
	/* 20 */ { 2000, true },
	/* 21 */ { 2000, false },
};

static void test_ratelimiter(void **state)
{
	static struct ratelimiter rl;
	uint8_t key[crypto_shorthash_KEYBYTES] = { 1 };
	uint8_t ip4[4] = { 10, 0, 0, 1 }, other4[4] = { 10, 0, 0, 2 };
	uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8 }, same64[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	uint64_t t0 = 5 * SEC;

	(void)state;
	ratelimiter_init(&rl, key);
	for (size_t i = 0; i < sizeof(rl_cases) / sizeof(rl_cases[0]); i++)
		if (ratelimiter_allow(&rl, ip4, 4, t0 + rl_cases[i].t_ms * MS) != rl_cases[i].allow)
			fail_msg("case %zu", i + 1);
	/* Another address has its own bucket. */
	assert_true(ratelimiter_allow(&rl, other4, 4, t0 + 2000 * MS));
	/* IPv6 is keyed by its /64. */
	same64[15] = 9;
	for (int i = 0; i < RATELIMITER_BURST; i++)
		assert_true(ratelimiter_allow(&rl, ip6, 16, t0));
	assert_false(ratelimiter_allow(&rl, same64, 16, t0));
	same64[7] = 1;
	assert_true(ratelimiter_allow(&rl, same64, 16, t0));
	assert_false(ratelimiter_allow(&rl, ip6, 3, t0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_keepalive_confirms_responder),
		cmocka_unit_test(test_unknown_peer),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_psk),
		cmocka_unit_test(test_rekey_no_loss),
		cmocka_unit_test(test_initiator_keeps_unconfirmed_next),
		cmocka_unit_test(test_mtu_padding),
		cmocka_unit_test(test_reject_after_time),
		cmocka_unit_test(test_under_load),
		cmocka_unit_test(test_cookie_secret_never_zero),
		cmocka_unit_test(test_under_load_ratelimit),
		cmocka_unit_test(test_load_threshold),
		cmocka_unit_test(test_remove_peer),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_peer_rekeyed_from_self),
		cmocka_unit_test(test_many_peers),
		cmocka_unit_test(test_index_table),
		cmocka_unit_test(test_ratelimiter),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
