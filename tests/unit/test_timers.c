/* Protocol timers with a fake clock: first the pure deadline bookkeeping of timers.c, then two
 * engines A and B driving each other's timers through real messages (kernel timers.c
 * semantics: retransmission and give-up, keepalive, new handshake, key wipe, persistent
 * keepalive, the initiator's last-minute rekey). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "tunneld/wg/engine.h"
#include "tunneld/wg/messages.h"
#include "tunneld/wg/timers.h"
#include "tests/support/det_rng.h"

#define SEC	1000000000ULL
#define MS	1000000ULL
#define JITTER	((uint64_t)REKEY_TIMEOUT_JITTER_MAX_MS * MS)

/* ---- timers.c alone ---- */

static void test_timers_hooks(void **state)
{
	struct timers t;
	uint64_t t0 = 100 * SEC;

	(void)state;
	timers_init(&t);
	assert_int_equal(timers_next_deadline(&t), TIMER_OFF);
	assert_int_equal(timers_pop(&t, UINT64_MAX - 1), TIMER_NONE);

	/* 1: data received arms the keepalive once; more data asks for one more. */
	timers_data_received(&t, t0);
	timers_data_received(&t, t0 + 3 * SEC);
	assert_int_equal(t.at[TIMER_SEND_KEEPALIVE], t0 + KEEPALIVE_TIMEOUT * SEC);
	assert_true(t.need_another_keepalive);
	assert_int_equal(timers_pop(&t, t0 + KEEPALIVE_TIMEOUT * SEC - 1), TIMER_NONE);
	assert_int_equal(timers_pop(&t, t0 + KEEPALIVE_TIMEOUT * SEC), TIMER_SEND_KEEPALIVE);
	timers_keepalive_sent_by_timer(&t, t0 + KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(t.at[TIMER_SEND_KEEPALIVE], t0 + 2 * KEEPALIVE_TIMEOUT * SEC);
	timers_keepalive_sent_by_timer(&t, t0);	/* no second re-arm */
	assert_int_equal(t.at[TIMER_SEND_KEEPALIVE], t0 + 2 * KEEPALIVE_TIMEOUT * SEC);
	/* 2: anything sent cancels it. */
	timers_any_authenticated_packet_sent(&t);
	assert_int_equal(t.at[TIMER_SEND_KEEPALIVE], TIMER_OFF);

	/* 3: data sent arms the new handshake once (the first send counts), with the jitter. */
	t.jitter_ns = 123 * MS;
	timers_data_sent(&t, t0);
	timers_data_sent(&t, t0 + 4 * SEC);
	assert_int_equal(t.at[TIMER_NEW_HANDSHAKE],
	    t0 + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * SEC + 123 * MS);
	/* 4: anything received cancels it. */
	timers_any_authenticated_packet_received(&t);
	assert_int_equal(t.at[TIMER_NEW_HANDSHAKE], TIMER_OFF);

	/* 5: one initiation per REKEY_TIMEOUT; a fresh request resets the attempts. */
	assert_true(timers_handshake_request(&t, false, t0));
	assert_int_equal(timers_pop(&t, t0), TIMER_SEND_INITIATION);
	timers_handshake_initiated(&t, t0, 7 * MS);
	assert_int_equal(t.at[TIMER_RETRANSMIT_HANDSHAKE], t0 + REKEY_TIMEOUT * SEC + 7 * MS);
	t.handshake_attempts = 3;
	assert_false(timers_handshake_request(&t, false, t0 + REKEY_TIMEOUT * SEC - 1));
	assert_int_equal(t.handshake_attempts, 0);
	assert_int_equal(t.at[TIMER_SEND_INITIATION], TIMER_OFF);
	assert_true(timers_handshake_request(&t, true, t0 + REKEY_TIMEOUT * SEC));
	/* 6: completion stops the retransmission. */
	timers_handshake_complete(&t);
	assert_int_equal(t.at[TIMER_RETRANSMIT_HANDSHAKE], TIMER_OFF);

	/* 7: the earliest expired timer pops first; ties go to the lower event. */
	timers_init(&t);
	timers_session_derived(&t, t0);
	timers_set_persistent_keepalive(&t, 25, t0 + 3ULL * REJECT_AFTER_TIME * SEC);
	assert_int_equal(timers_next_deadline(&t), t0 + 3ULL * REJECT_AFTER_TIME * SEC);
	assert_int_equal(timers_pop(&t, UINT64_MAX - 1), TIMER_ZERO_KEY_MATERIAL);
	assert_int_equal(timers_pop(&t, UINT64_MAX - 1), TIMER_PERSISTENT_KEEPALIVE);
	assert_int_equal(timers_pop(&t, UINT64_MAX - 1), TIMER_NONE);
	/* 8: give-up schedules the wipe only if none is pending. */
	timers_gave_up(&t, t0);
	assert_int_equal(t.at[TIMER_ZERO_KEY_MATERIAL], t0 + 3ULL * REJECT_AFTER_TIME * SEC);
	timers_gave_up(&t, t0 + SEC);
	assert_int_equal(t.at[TIMER_ZERO_KEY_MATERIAL], t0 + 3ULL * REJECT_AFTER_TIME * SEC);
	/* 9: traversal moves the persistent keepalive; a new interval waits for it; interval 0
	 * turns it off. */
	timers_set_persistent_keepalive(&t, 25, t0);
	timers_any_authenticated_packet_traversal(&t, t0 + 7 * SEC);
	assert_int_equal(t.at[TIMER_PERSISTENT_KEEPALIVE], t0 + 32 * SEC);
	timers_set_persistent_keepalive(&t, 30, t0 + 8 * SEC);
	assert_int_equal(t.at[TIMER_PERSISTENT_KEEPALIVE], t0 + 32 * SEC);
	timers_any_authenticated_packet_traversal(&t, t0 + 9 * SEC);
	assert_int_equal(t.at[TIMER_PERSISTENT_KEEPALIVE], t0 + 39 * SEC);
	timers_set_persistent_keepalive(&t, 0, t0);
	timers_any_authenticated_packet_traversal(&t, t0 + 8 * SEC);
	assert_int_equal(t.at[TIMER_PERSISTENT_KEEPALIVE], TIMER_OFF);
}

/* ---- two engines ---- */

struct net {
	struct wg_engine *a, *b;
	struct wg_peer *pa, *pb;	/* B as A's peer, A as B's peer */
	struct rng ra, rb;
	union wg_sockaddr sa, sb;
	uint64_t now, wall;
};

static void net_setup(struct net *n)
{
	uint8_t ka[WG_KEY_LEN], kb[WG_KEY_LEN], pub[WG_KEY_LEN];

	memset(n, 0, sizeof(*n));
	memset(ka, 0x11, sizeof(ka));
	memset(kb, 0x22, sizeof(kb));
	n->now = 1000 * SEC;
	n->wall = 1700000000ULL * SEC;
	n->ra.seed = 1;
	n->rb.seed = 2;
	n->a = wg_engine_new();
	n->b = wg_engine_new();
	assert_non_null(n->a);
	assert_non_null(n->b);
	wg_engine_set_rng(n->a, rng_fn, &n->ra);
	wg_engine_set_rng(n->b, rng_fn, &n->rb);
	wg_engine_set_private_key(n->a, ka);
	wg_engine_set_private_key(n->b, kb);
	assert_true(wg_engine_public_key(n->b, pub));
	n->pa = wg_engine_peer_add(n->a, pub, NULL);
	assert_true(wg_engine_public_key(n->a, pub));
	n->pb = wg_engine_peer_add(n->b, pub, NULL);
	assert_non_null(n->pa);
	assert_non_null(n->pb);
	n->sa.in4.sin_family = AF_INET;
	n->sa.in4.sin_port = htons(1);
	n->sa.in4.sin_addr.s_addr = htonl(0x0a000001);
	n->sb.in4.sin_family = AF_INET;
	n->sb.in4.sin_port = htons(2);
	n->sb.in4.sin_addr.s_addr = htonl(0x0a000002);
}

static void net_free(struct net *n)
{
	wg_engine_free(n->a);
	wg_engine_free(n->b);
}

static void set_time(struct net *n, uint64_t now)
{
	n->wall += now - n->now;
	n->now = now;
}

static enum wg_rx_kind deliver(struct net *n, bool to_b, uint8_t *msg, size_t len,
    uint8_t *out, struct wg_rx *rx)
{
	return wg_engine_receive(to_b ? n->b : n->a, to_b ? &n->sa : &n->sb, msg, len, n->now,
	    n->wall, out, WG_CONTROL_MAX_LEN, rx);
}

static enum wg_tick_action tick(struct net *n, bool b, uint8_t *buf, size_t *len)
{
	return wg_peer_tick(b ? n->pb : n->pa, n->now, n->wall, buf, WG_CONTROL_MAX_LEN + 64,
	    len);
}

/* Encrypts a 64-byte IPv4 packet from A (from_a) or B; returns the message length. */
static size_t data(struct net *n, bool from_a, uint8_t *buf, size_t inner)
{
	uint8_t *pkt = buf + WG_DATA_HEADROOM;
	size_t len;

	memset(pkt, 0, inner);
	if (inner) {
		pkt[0] = 0x45;
		pkt[3] = (uint8_t)inner;
	}
	assert_int_equal(wg_peer_encrypt(from_a ? n->pa : n->pb, pkt, inner, n->now, &len),
	    WG_SEND_OK);
	return len;
}

/* Handshake A -> B, confirmed by A's keepalive, all at n->now. */
static void session(struct net *n)
{
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;

	assert_int_equal(wg_peer_encrypt(n->pa, buf + 16, 0, n->now, &len), WG_SEND_NO_SESSION);
	assert_int_equal(tick(n, false, buf, &len), WG_TICK_SEND);
	assert_int_equal(deliver(n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(buf, out, rx.out_len);
	assert_int_equal(deliver(n, false, buf, rx.out_len, out, &rx), WG_RX_HANDSHAKE);
	assert_true(rx.flags & WG_RX_SESSION_READY);
	len = data(n, true, buf, 0);
	assert_int_equal(deliver(n, true, buf, len, out, &rx), WG_RX_KEEPALIVE);
	assert_true(rx.flags & WG_RX_SESSION_READY);
}

static void test_retransmit_and_give_up(void **state)
{
	struct net n;
	uint8_t buf[512], first_index[4];
	size_t len, initiations = 0, retransmits = 0;
	uint64_t last, d, jitter_seen = 0, gave_up_at = 0;
	enum wg_tick_action act;

	(void)state;
	net_setup(&n);
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 0, n.now, &len), WG_SEND_NO_SESSION);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, 148);
	memcpy(first_index, buf + 4, 4);
	initiations++;
	last = n.now;
	for (;;) {
		d = wg_peer_next_deadline(n.pa);
		/* Every REKEY_TIMEOUT plus 0..333 ms of jitter; early ticks do nothing. */
		assert_true(d >= last + REKEY_TIMEOUT * SEC);
		assert_true(d < last + REKEY_TIMEOUT * SEC + JITTER);
		jitter_seen |= d - last - REKEY_TIMEOUT * SEC;
		set_time(&n, d - 1);
		assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
		set_time(&n, d);
		act = tick(&n, false, buf, &len);
		if (act == WG_TICK_GAVE_UP) {
			gave_up_at = d;
			break;
		}
		assert_int_equal(act, WG_TICK_SEND);
		assert_int_equal(len, 148);
		assert_memory_not_equal(buf + 4, first_index, 4);	/* fresh index each time */
		initiations++;
		retransmits++;
		last = d;
		assert_true(retransmits <= 100);
	}
	/* As the kernel: attempts > MAX_TIMER_HANDSHAKES gives up, so 1 + 19 initiations
	 * ("did not complete after MAX_TIMER_HANDSHAKES + 2 attempts" counts the give-up). */
	assert_int_equal(retransmits, MAX_TIMER_HANDSHAKES + 1);
	assert_int_equal(initiations, 20);
	assert_int_not_equal(jitter_seen, 0);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
	/* What is left is the wipe, 3 * REJECT_AFTER_TIME later; then nothing. */
	assert_int_equal(wg_peer_next_deadline(n.pa), gave_up_at + 3ULL * REJECT_AFTER_TIME * SEC);
	set_time(&n, wg_peer_next_deadline(n.pa));
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
	assert_int_equal(wg_peer_next_deadline(n.pa), UINT64_MAX);
	/* New traffic starts over. */
	assert_int_equal(wg_peer_encrypt(n.pa, buf + 16, 0, n.now, &len), WG_SEND_NO_SESSION);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	net_free(&n);
}

static void test_keepalive_after_receive(void **state)
{
	struct net n;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;
	uint64_t t;

	(void)state;
	net_setup(&n);
	session(&n);
	set_time(&n, n.now + SEC);
	t = n.now;
	len = data(&n, true, buf, 64);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DATA);
	assert_int_equal(wg_peer_next_deadline(n.pb), t + KEEPALIVE_TIMEOUT * SEC);
	set_time(&n, t + KEEPALIVE_TIMEOUT * SEC - 1);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_NONE);
	set_time(&n, t + KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, MESSAGE_MINIMUM_LENGTH);
	assert_int_equal(tick(&n, true, buf + 64, &len), WG_TICK_NONE);
	assert_int_equal(deliver(&n, false, buf, MESSAGE_MINIMUM_LENGTH, out, &rx),
	    WG_RX_KEEPALIVE);
	/* Two data packets while the keepalive is pending: one more keepalive, not two. */
	set_time(&n, n.now + SEC);
	t = n.now;
	len = data(&n, true, buf, 64);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DATA);
	set_time(&n, t + 3 * SEC);
	len = data(&n, true, buf, 64);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DATA);
	set_time(&n, t + KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, MESSAGE_MINIMUM_LENGTH);
	assert_int_equal(wg_peer_next_deadline(n.pb), t + 2 * KEEPALIVE_TIMEOUT * SEC);
	set_time(&n, t + 2 * KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, MESSAGE_MINIMUM_LENGTH);
	set_time(&n, t + 3 * KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_NONE);
	net_free(&n);
}

static void test_no_keepalive_if_sent(void **state)
{
	struct net n;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;
	uint64_t t;

	(void)state;
	net_setup(&n);
	session(&n);
	t = n.now;
	len = data(&n, true, buf, 64);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_DATA);
	set_time(&n, t + 3 * SEC);
	data(&n, false, buf, 64);	/* B answers (A never hears it) */
	set_time(&n, t + KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_NONE);
	/* B's own next timer is the new-handshake one for its unanswered data. */
	assert_true(wg_peer_next_deadline(n.pb) >=
	    t + (3 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * SEC);
	net_free(&n);
}

static void test_new_handshake_after_send(void **state)
{
	struct net n;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;
	uint64_t t, d;

	(void)state;
	net_setup(&n);
	session(&n);
	/* A sends, hears nothing: a new handshake 15 s (+ jitter) later. */
	set_time(&n, n.now + SEC);
	t = n.now;
	data(&n, true, buf, 64);
	set_time(&n, t + 2 * SEC);
	data(&n, true, buf, 64);	/* later sends do not push it back */
	d = wg_peer_next_deadline(n.pa);
	assert_true(d >= t + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * SEC);
	assert_true(d < t + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * SEC + JITTER);
	set_time(&n, d - 1);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
	set_time(&n, d);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, 148);

	/* Same, but B answers within the window: no handshake, a keepalive instead. */
	net_free(&n);
	net_setup(&n);
	session(&n);
	t = n.now;
	data(&n, true, buf, 64);
	set_time(&n, t + SEC);
	len = data(&n, false, buf, 64);
	assert_int_equal(deliver(&n, false, buf, len, out, &rx), WG_RX_DATA);
	set_time(&n, t + SEC + KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, MESSAGE_MINIMUM_LENGTH);
	set_time(&n, t + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + 1) * SEC);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
	net_free(&n);
}

static void test_persistent_keepalive(void **state)
{
	struct net n;
	uint8_t buf[512];
	size_t len, sent = 0;
	uint64_t t;

	(void)state;
	/* Without a session, turning it on starts a handshake. */
	net_setup(&n);
	wg_peer_set_persistent_keepalive(n.pa, 25, n.now);
	assert_int_equal(wg_peer_persistent_keepalive(n.pa), 25);
	assert_int_equal(wg_peer_next_deadline(n.pa), n.now);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, 148);
	net_free(&n);

	net_setup(&n);
	session(&n);
	t = n.now;
	wg_peer_set_persistent_keepalive(n.pa, 25, t);
	for (uint64_t s = 0; s <= 50; s++) {
		set_time(&n, t + s * SEC);
		while (tick(&n, false, buf, &len) == WG_TICK_SEND) {
			assert_int_equal(len, MESSAGE_MINIMUM_LENGTH);
			assert_true(s % 25 == 0);
			sent++;
		}
	}
	assert_int_equal(sent, 3);	/* at 0, 25 and 50 s */
	/* Any authenticated packet sent pushes it back. */
	set_time(&n, t + 60 * SEC);
	data(&n, true, buf, 0);
	set_time(&n, t + 75 * SEC);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
	set_time(&n, t + 85 * SEC);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	/* Off. */
	wg_peer_set_persistent_keepalive(n.pa, 0, n.now);
	set_time(&n, t + 200 * SEC);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_NONE);
	net_free(&n);
}

static void test_zero_key_material(void **state)
{
	struct net n;
	uint8_t buf[512], c1[512], c2[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len, msg_len;
	uint64_t t0;

	(void)state;
	net_setup(&n);
	session(&n);
	t0 = n.now;
	set_time(&n, t0 + SEC);
	msg_len = data(&n, true, buf, 64);
	memcpy(c1, buf, msg_len);
	memcpy(c2, buf, msg_len);
	/* B's only timer is the wipe, 3 * REJECT_AFTER_TIME after its session began. */
	assert_int_equal(wg_peer_next_deadline(n.pb), t0 + 3ULL * REJECT_AFTER_TIME * SEC);
	set_time(&n, t0 + 3ULL * REJECT_AFTER_TIME * SEC - 1);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_NONE);
	assert_int_equal(deliver(&n, true, c1, msg_len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data under an expired keypair");
	set_time(&n, t0 + 3ULL * REJECT_AFTER_TIME * SEC);
	assert_int_equal(tick(&n, true, buf, &len), WG_TICK_NONE);
	assert_int_equal(deliver(&n, true, c2, msg_len, out, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "data for an unknown index");
	assert_int_equal(wg_peer_next_deadline(n.pb), UINT64_MAX);
	assert_false(wg_peer_has_session(n.pb));
	assert_int_equal(wg_peer_encrypt(n.pb, buf + 16, 0, n.now, &len), WG_SEND_NO_SESSION);
	net_free(&n);
}

/* The initiator that only receives rekeys once its keypair is 165 s old. */
static void test_lastminute_handshake(void **state)
{
	struct net n;
	uint8_t buf[512], out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	size_t len;
	uint64_t t0;

	(void)state;
	net_setup(&n);
	session(&n);
	t0 = n.now;
	set_time(&n, t0 + (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) * SEC - 1);
	len = data(&n, false, buf, 64);
	assert_int_equal(deliver(&n, false, buf, len, out, &rx), WG_RX_DATA);
	assert_true(wg_peer_next_deadline(n.pa) > n.now);
	set_time(&n, n.now + 1);
	len = data(&n, false, buf, 64);
	assert_int_equal(deliver(&n, false, buf, len, out, &rx), WG_RX_DATA);
	assert_int_equal(wg_peer_next_deadline(n.pa), n.now);
	assert_int_equal(tick(&n, false, buf, &len), WG_TICK_SEND);
	assert_int_equal(len, 148);
	net_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_hooks),
		cmocka_unit_test(test_retransmit_and_give_up),
		cmocka_unit_test(test_keepalive_after_receive),
		cmocka_unit_test(test_no_keepalive_if_sent),
		cmocka_unit_test(test_new_handshake_after_send),
		cmocka_unit_test(test_persistent_keepalive),
		cmocka_unit_test(test_zero_key_material),
		cmocka_unit_test(test_lastminute_handshake),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
