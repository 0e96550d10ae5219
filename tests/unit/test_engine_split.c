/* Transport data in three steps (wg_peer_encrypt_prepare, wg_engine_receive_prepare /
 * wg_data_job_seal, wg_data_job_open / wg_engine_receive_finish) against the engine's one-step
 * path (wg_peer_encrypt, wg_engine_receive): two identical pairs of engines (same keys, same
 * deterministic randomness, same clock), one driven each way, must put the same bytes on the
 * wire and give the same answers, replay and counter decisions included, for a stream with
 * replays, reordering, forgeries, truncation and a malformed inner packet, when the jobs of a
 * batch run in any order and are finished in order.  Then what only the split path meets: a
 * keypair or a peer that goes away between prepare and finish. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tunneld/wg/engine.h"
#include "tests/support/engine_pair.h"

enum {
	BUF = 2048,
	STREAM = 400,		/* datagrams A sends */
	BATCH = 37,		/* receive jobs prepared before any is finished */
};

struct dgram {
	uint8_t bytes[BUF];
	size_t len;
};

static struct rng draw = { .seed = 11 };

/* An IPv4 or IPv6 packet of len bytes (len 0: a keepalive; bad: a malformed inner header). */
static void inner_packet(uint8_t *p, size_t len, unsigned seq, bool bad)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 13 + i);
	if (len == 0 || bad)
		return;
	if (seq % 2 && len >= 40) {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
	}
}

static void handshake(struct net *n)
{
	uint8_t buf[WG_CONTROL_MAX_LEN + 64], out[WG_CONTROL_MAX_LEN], resp[WG_CONTROL_MAX_LEN];
	uint8_t ka[WG_DATA_HEADROOM + WG_DATA_TAILROOM];
	struct wg_rx rx;
	size_t len;

	assert_int_equal(wg_peer_encrypt(n->pa, ka + WG_DATA_HEADROOM, 0, n->now, &len),
	    WG_SEND_NO_SESSION);
	assert_int_equal(wg_peer_tick(n->pa, n->now, n->wall, buf, sizeof(buf), &len),
	    WG_TICK_SEND);
	assert_int_equal(deliver(n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(resp, out, rx.out_len);
	len = rx.out_len;
	assert_int_equal(deliver(n, false, resp, len, out, &rx), WG_RX_HANDSHAKE);
	assert_true(wg_peer_has_session(n->pa));
}

/* Two identical pairs with a session from A to B (B's keypair still "next"). */
static void two_nets(struct net *n1, struct net *n2)
{
	net_setup(n1);
	net_setup(n2);
	wg_engine_set_mtu(n1->a, 1420);
	wg_engine_set_mtu(n2->a, 1420);
	handshake(n1);
	handshake(n2);
}

/* A sends the same stream through both nets: n1 one packet at a time, n2 prepared in batches
 * whose jobs are sealed in reverse order.  The datagrams must be byte-identical. */
static void send_stream(struct net *n1, struct net *n2, struct dgram *out, size_t count)
{
	static struct dgram pending[64];
	struct wg_data_job jobs[64];
	size_t i = 0;

	while (i < count) {
		unsigned k = 1 + rng_below(&draw, 64), got = 0;

		for (; got < k && i + got < count; got++) {
			size_t len = rng_below(&draw, 8) == 0 ? 0 : 1 + rng_below(&draw, 1420);
			bool bad = rng_below(&draw, 50) == 0;
			struct dgram *d = &out[i + got], *p = &pending[got];
			size_t len1 = 0, len2 = 0;

			inner_packet(d->bytes + WG_DATA_HEADROOM, len, (unsigned)(i + got), bad);
			memcpy(p->bytes, d->bytes, sizeof(p->bytes));
			assert_int_equal(wg_peer_encrypt(n1->pa, d->bytes + WG_DATA_HEADROOM, len,
			    n1->now, &len1), WG_SEND_OK);
			assert_int_equal(wg_peer_encrypt_prepare(n2->pa, p->bytes + WG_DATA_HEADROOM,
			    len, n2->now, &len2, &jobs[got]), WG_SEND_OK);
			assert_int_equal(len1, len2);
			d->len = p->len = len1;
			/* Timers and rekey decisions move alike. */
			assert_int_equal(wg_peer_next_deadline(n1->pa), wg_peer_next_deadline(n2->pa));
		}
		for (unsigned j = got; j-- > 0;) {
			static const uint8_t zero[WG_KEY_LEN];

			wg_data_job_seal(&jobs[j]);
			assert_true(jobs[j].ok);
			assert_memory_equal(jobs[j].key, zero, sizeof(zero));
		}
		for (unsigned j = 0; j < got; j++)
			assert_memory_equal(pending[j].bytes, out[i + j].bytes, out[i + j].len);
		i += got;
		advance(n1, 1000);
		advance(n2, 1000);
	}
}

static void test_send_identical(void **state)
{
	static struct dgram stream[STREAM];
	struct net n1, n2;

	(void)state;
	two_nets(&n1, &n2);
	send_stream(&n1, &n2, stream, STREAM);
	net_free(&n1);
	net_free(&n2);
}

/* What B receives: the stream as sent, with replays, reordering (inside and beyond the
 * window's reach of a batch), forgeries, truncations and garbage mixed in. */
static size_t hostile_stream(const struct dgram *sent, size_t n_sent, struct dgram *out,
    size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < n_sent && n + 4 < cap; i++) {
		struct dgram *d;

		if (i + 1 < n_sent && rng_below(&draw, 10) == 0) {
			out[n++] = sent[i + 1];	/* swapped with the next */
			out[n++] = sent[i];
			i++;
		} else {
			out[n++] = sent[i];
		}
		switch (rng_below(&draw, 12)) {
		case 0:		/* a replay of something earlier */
			out[n++] = sent[rng_below(&draw, (uint32_t)i + 1)];
			break;
		case 1:		/* forged: one bit anywhere after the header */
			d = &out[n++];
			*d = sent[rng_below(&draw, (uint32_t)i + 1)];
			d->bytes[16 + rng_below(&draw, (uint32_t)d->len - 16)] ^= 1 << rng_below(&draw, 8);
			break;
		case 2:		/* forged counter */
			d = &out[n++];
			*d = sent[rng_below(&draw, (uint32_t)i + 1)];
			d->bytes[8 + rng_below(&draw, 8)] ^= 0x40;
			break;
		case 3:		/* truncated */
			d = &out[n++];
			*d = sent[rng_below(&draw, (uint32_t)i + 1)];
			d->len = rng_below(&draw, (uint32_t)d->len);
			break;
		case 4:		/* unknown receiver index */
			d = &out[n++];
			*d = sent[rng_below(&draw, (uint32_t)i + 1)];
			d->bytes[4] ^= 0x5a;
			break;
		default:
			break;
		}
	}
	return n;
}

static void assert_same_answer(enum wg_rx_kind k1, const struct wg_rx *r1, const uint8_t *b1,
    enum wg_rx_kind k2, const struct wg_rx *r2, const uint8_t *b2, const struct net *n1,
    const struct net *n2)
{
	assert_int_equal(k1, k2);
	assert_int_equal(r1->flags, r2->flags);
	assert_int_equal(r1->out_len, r2->out_len);
	assert_int_equal(r1->inner_off, r2->inner_off);
	assert_int_equal(r1->inner_len, r2->inner_len);
	if (k1 == WG_RX_DROP)
		assert_int_equal(r1->reason, r2->reason);
	assert_true((r1->peer == NULL) == (r2->peer == NULL));
	if (r1->peer) {
		assert_ptr_equal(r1->peer, n1->pb);
		assert_ptr_equal(r2->peer, n2->pb);
	}
	if (k1 == WG_RX_DATA)
		assert_memory_equal(b1 + r1->inner_off, b2 + r2->inner_off, r1->inner_len);
}

static void test_receive_identical(void **state)
{
	static struct dgram sent[STREAM], rx1[2 * STREAM], rx2[2 * STREAM];
	static struct wg_data_job jobs[BATCH];
	static struct wg_rx_pending pend[BATCH];
	enum wg_rx_kind k1[BATCH], k2;
	struct wg_rx r1[BATCH], r2;
	uint8_t out[WG_CONTROL_MAX_LEN];
	unsigned n_data = 0, n_keepalive = 0, n_replay = 0, n_other_drop = 0;
	struct net n1, n2;
	size_t n;

	(void)state;
	two_nets(&n1, &n2);
	send_stream(&n1, &n2, sent, STREAM);
	n = hostile_stream(sent, STREAM, rx1, 2 * STREAM);
	memcpy(rx2, rx1, sizeof(rx1));
	for (size_t i = 0; i < n; i += BATCH) {
		size_t m = n - i < BATCH ? n - i : BATCH;
		bool pending[BATCH];

		/* n1: inline, one at a time.  n2: prepare all, open in reverse, finish in order. */
		for (size_t j = 0; j < m; j++)
			k1[j] = deliver(&n1, true, rx1[i + j].bytes, rx1[i + j].len, out, &r1[j]);
		for (size_t j = 0; j < m; j++) {
			k2 = wg_engine_receive_prepare(n2.b, &n2.sa, rx2[i + j].bytes,
			    rx2[i + j].len, n2.now, n2.wall, out, sizeof(out), &r2, &jobs[j],
			    &pend[j]);
			pending[j] = k2 == WG_RX_PENDING;
			if (!pending[j])
				assert_same_answer(k1[j], &r1[j], rx1[i + j].bytes, k2, &r2,
				    rx2[i + j].bytes, &n1, &n2);
		}
		for (size_t j = m; j-- > 0;) {
			if (pending[j])
				wg_data_job_open(&jobs[j]);
		}
		for (size_t j = 0; j < m; j++) {
			if (!pending[j])
				continue;
			k2 = wg_engine_receive_finish(n2.b, rx2[i + j].bytes, rx2[i + j].len,
			    &pend[j], jobs[j].ok, n2.now, n2.wall, &r2);
			assert_same_answer(k1[j], &r1[j], rx1[i + j].bytes, k2, &r2,
			    rx2[i + j].bytes, &n1, &n2);
			n_data += k1[j] == WG_RX_DATA;
			n_keepalive += k1[j] == WG_RX_KEEPALIVE;
			n_replay += k1[j] == WG_RX_DROP && r1[j].reason == WG_DROP_REPLAY;
			n_other_drop += k1[j] == WG_RX_DROP && r1[j].reason != WG_DROP_REPLAY;
		}
		assert_int_equal(wg_peer_next_deadline(n1.pb), wg_peer_next_deadline(n2.pb));
		advance(&n1, 1000);
		advance(&n2, 1000);
	}
	/* The stream did exercise what it claims: data, keepalives, replays and other drops. */
	assert_true(n_data > STREAM / 2);
	assert_true(n_keepalive > 0);
	assert_true(n_replay > 0);
	assert_true(n_other_drop > 0);	/* forged, malformed inside */
	/* B confirmed the session on the first data message, both ways alike, and can send. */
	assert_true(wg_peer_has_session(n1.pb));
	assert_true(wg_peer_has_session(n2.pb));
	net_free(&n1);
	net_free(&n2);
}

/* One data message from A, prepared on B: returns the kind (WG_RX_PENDING). */
static enum wg_rx_kind prepare_one(struct net *n, struct dgram *d, struct wg_data_job *job,
    struct wg_rx_pending *pend)
{
	uint8_t out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;

	inner_packet(d->bytes + WG_DATA_HEADROOM, 100, 1, false);
	assert_int_equal(wg_peer_encrypt(n->pa, d->bytes + WG_DATA_HEADROOM, 100, n->now,
	    &d->len), WG_SEND_OK);
	return wg_engine_receive_prepare(n->b, &n->sa, d->bytes, d->len, n->now, n->wall, out,
	    sizeof(out), &rx, job, pend);
}

/* A fresh pair with a session, and one data message from A prepared and opened on B. */
static void opened_one(struct net *n, struct dgram *d, struct wg_data_job *job,
    struct wg_rx_pending *pend)
{
	net_setup(n);
	handshake(n);
	assert_int_equal(prepare_one(n, d, job, pend), WG_RX_PENDING);
	wg_data_job_open(job);
	assert_true(job->ok);
}

/* Between prepare and finish the keypair is dropped (the sessions cleared), or the peer is
 * removed: the finish drops the message as for an unknown index and names no peer. */
static void test_keypair_gone_meanwhile(void **state)
{
	static struct dgram d;
	struct wg_data_job job;
	struct wg_rx_pending pend;
	struct wg_rx rx;
	struct net n;

	(void)state;
	for (int removed = 0; removed < 2; removed++) {
		opened_one(&n, &d, &job, &pend);
		if (removed)
			wg_engine_peer_remove(n.b, n.pb);
		else
			wg_peer_clear_sessions(n.pb);
		assert_int_equal(wg_engine_receive_finish(n.b, d.bytes, d.len, &pend, true, n.now,
		    n.wall, &rx), WG_RX_DROP);
		assert_int_equal(rx.reason, WG_DROP_NO_SESSION);
		assert_null(rx.peer);
		net_free(&n);
	}
}

/* A new handshake replaces the keypair between prepare and finish; a job for the old one must
 * not be taken for the new one (same engine, maybe a reused index): told apart by birth. */
static void test_keypair_replaced_meanwhile(void **state)
{
	static struct dgram d;
	struct wg_data_job job;
	struct wg_rx_pending pend, forged;
	struct wg_rx rx;
	struct net n;

	(void)state;
	opened_one(&n, &d, &job, &pend);
	/* The old keypair still answers to its index: finishing it works... */
	forged = pend;
	forged.birthdate_ns ^= 1;
	/* ...but not under another birth: as if the index now named a newer keypair. */
	assert_int_equal(wg_engine_receive_finish(n.b, d.bytes, d.len, &forged, true, n.now,
	    n.wall, &rx), WG_RX_DROP);
	assert_int_equal(rx.reason, WG_DROP_NO_SESSION);
	assert_int_equal(wg_engine_receive_finish(n.b, d.bytes, d.len, &pend, true, n.now, n.wall,
	    &rx), WG_RX_DATA);
	assert_ptr_equal(rx.peer, n.pb);
	/* Finishing the same job twice is a replay. */
	assert_int_equal(wg_engine_receive_finish(n.b, d.bytes, d.len, &pend, true, n.now, n.wall,
	    &rx), WG_RX_DROP);
	assert_int_equal(rx.reason, WG_DROP_REPLAY);
	/* An unauthentic job never moves the window: the same counter, authentic, still may. */
	assert_int_equal(prepare_one(&n, &d, &job, &pend), WG_RX_PENDING);
	assert_int_equal(wg_engine_receive_finish(n.b, d.bytes, d.len, &pend, false, n.now,
	    n.wall, &rx), WG_RX_DROP);
	assert_int_equal(rx.reason, WG_DROP_BAD_AUTH);
	assert_null(rx.peer);
	wg_data_job_open(&job);
	assert_int_equal(wg_engine_receive_finish(n.b, d.bytes, d.len, &pend, job.ok, n.now,
	    n.wall, &rx), WG_RX_DATA);
	net_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_identical),
		cmocka_unit_test(test_receive_identical),
		cmocka_unit_test(test_keypair_gone_meanwhile),
		cmocka_unit_test(test_keypair_replaced_meanwhile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
