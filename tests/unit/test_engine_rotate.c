/* Planned key changes in the engine: a peer re-keyed in place (wg_peer_set_public_key) and our
 * own key rotated (wg_engine_rotate_private_key).  Two engines in memory under a deterministic
 * rng and a fake clock: data keeps flowing across the change, the next handshake uses the new
 * key, and the old key no longer completes one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "tunneld/wg/engine.h"
#include "tests/support/engine_pair.h"

#define SEC	1000000000ULL

/* The initiator (A if from_a) sends an initiation now; returns what the responder made of it,
 * and when it answered, what the initiator made of the response. */
static enum wg_rx_kind handshake(struct net *n, bool from_a, enum wg_rx_kind *second)
{
	uint8_t buf[WG_CONTROL_MAX_LEN + 64], out[WG_CONTROL_MAX_LEN], resp[WG_CONTROL_MAX_LEN];
	struct wg_peer *ini = from_a ? n->pa : n->pb;
	struct wg_rx rx;
	enum wg_rx_kind k;
	size_t len;

	*second = WG_RX_DROP;
	wg_peer_request_handshake(ini, n->now);
	assert_int_equal(wg_peer_tick(ini, n->now, n->wall, buf, sizeof(buf), &len),
	    WG_TICK_SEND);
	assert_int_equal(len, 148);
	k = deliver(n, from_a, buf, len, out, &rx);
	if (k != WG_RX_HANDSHAKE)
		return k;
	memcpy(resp, out, rx.out_len);
	*second = deliver(n, !from_a, resp, rx.out_len, out, &rx);
	return k;
}

/* One IPv4 packet from A (a_to_b) or B; true if it arrived intact as data. */
static bool transfer(struct net *n, bool a_to_b, uint8_t seed)
{
	uint8_t buf[256], want[64], out[WG_CONTROL_MAX_LEN];
	uint8_t *pkt = buf + WG_DATA_HEADROOM;
	struct wg_rx rx;
	size_t msg_len;

	for (size_t i = 0; i < sizeof(want); i++)
		pkt[i] = (uint8_t)(seed + i);
	pkt[0] = 0x45;
	pkt[2] = 0;
	pkt[3] = sizeof(want);
	memcpy(want, pkt, sizeof(want));
	if (wg_peer_encrypt(a_to_b ? n->pa : n->pb, pkt, sizeof(want), n->now, &msg_len) !=
	    WG_SEND_OK)
		return false;
	if (deliver(n, a_to_b, buf, msg_len, out, &rx) != WG_RX_DATA)
		return false;
	return rx.inner_len == sizeof(want) && memcmp(buf + rx.inner_off, want, sizeof(want)) == 0;
}

/* A session both ways (A initiates, B confirms on A's first packet). */
static void established(struct net *n)
{
	enum wg_rx_kind second;

	assert_int_equal(handshake(n, true, &second), WG_RX_HANDSHAKE);
	assert_int_equal(second, WG_RX_HANDSHAKE);
	assert_true(transfer(n, true, 1));
	assert_true(transfer(n, false, 2));
}

/* 1. B rotates to a new key, A re-keys B in place: data flows both ways across the change,
 *    the next handshake (either direction) uses B's new key, and the session it makes works. */
static void test_rotation_keeps_traffic(void **state)
{
	uint8_t k2[WG_KEY_LEN], pub_b2[WG_KEY_LEN], got[WG_KEY_LEN];
	enum wg_rx_kind second;
	struct net n;

	(void)state;
	net_setup(&n);
	established(&n);
	priv(k2, 0x33);
	pub_of(pub_b2, 0x33);
	wg_engine_rotate_private_key(n.b, k2);
	assert_true(wg_engine_public_key(n.b, got));
	assert_memory_equal(got, pub_b2, WG_KEY_LEN);
	/* B switched first: the established keypair still carries traffic both ways. */
	assert_true(wg_peer_has_session(n.pb));
	assert_true(transfer(&n, true, 3));
	assert_true(transfer(&n, false, 4));
	assert_true(wg_peer_set_public_key(n.pa, pub_b2));
	assert_true(wg_peer_has_session(n.pa));
	assert_true(transfer(&n, true, 5));
	assert_true(transfer(&n, false, 6));
	/* Peer table follows the key. */
	assert_ptr_equal(wg_engine_peer_lookup(n.a, pub_b2), n.pa);
	assert_null(wg_engine_peer_lookup(n.a, n.pub_b));
	assert_memory_equal(wg_peer_public_key(n.pa), pub_b2, WG_KEY_LEN);
	/* The next handshake from A is to the new key, and completes. */
	advance(&n, 1 * SEC);
	assert_int_equal(handshake(&n, true, &second), WG_RX_HANDSHAKE);
	assert_int_equal(second, WG_RX_HANDSHAKE);
	assert_true(transfer(&n, true, 7));
	assert_true(transfer(&n, false, 8));
	/* And from B, under its new identity. */
	advance(&n, 6 * SEC);
	assert_int_equal(handshake(&n, false, &second), WG_RX_HANDSHAKE);
	assert_int_equal(second, WG_RX_HANDSHAKE);
	assert_true(transfer(&n, false, 9));
	assert_true(transfer(&n, true, 10));
	net_free(&n);
}

/* An initiation from an engine holding priv_seed's key, addressed to the public key of
 * to_seed, delivered to B; returns what B made of it (rx->why says why it dropped). */
static enum wg_rx_kind initiation_to_b(struct net *n, uint8_t priv_seed, uint8_t to_seed,
    struct wg_rx *rx)
{
	uint8_t k[WG_KEY_LEN], to[WG_KEY_LEN], buf[WG_CONTROL_MAX_LEN + 64];
	uint8_t out[WG_CONTROL_MAX_LEN];
	struct rng r = { .seed = 77 };
	struct wg_engine *x;
	struct wg_peer *xp;
	enum wg_rx_kind kind;
	size_t len;

	x = wg_engine_new();
	assert_non_null(x);
	wg_engine_set_rng(x, rng_fn, &r);
	priv(k, priv_seed);
	pub_of(to, to_seed);
	wg_engine_set_private_key(x, k);
	xp = wg_engine_peer_add(x, to, NULL);
	assert_non_null(xp);
	wg_peer_request_handshake(xp, n->now);
	assert_int_equal(wg_peer_tick(xp, n->now, n->wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	kind = wg_engine_receive(n->b, &n->sa, buf, len, n->now, n->wall, out, sizeof(out), rx);
	wg_engine_free(x);
	sodium_memzero(k, sizeof(k));
	return kind;
}

/* 2. B rotates while A still runs the old roster: the old key keeps answering A (handshake
 *    and data) until A has used the new key once; from then on an initiation to the old key
 *    claiming to be A is refused, and once B finishes the rotation the old key answers no
 *    one.  An engine holding B's old private key is an unknown peer at A once A re-keyed. */
static void test_old_key_answers_until_confirmed(void **state)
{
	uint8_t k[WG_KEY_LEN], pub_b2[WG_KEY_LEN], buf[WG_CONTROL_MAX_LEN + 64];
	uint8_t out[WG_CONTROL_MAX_LEN];
	struct wg_engine *old;
	struct wg_peer *op;
	enum wg_rx_kind second;
	struct wg_rx rx;
	struct rng r = { .seed = 9 };
	struct net n;
	size_t len;

	(void)state;
	net_setup(&n);
	established(&n);
	priv(k, 0x33);
	pub_of(pub_b2, 0x33);
	wg_engine_rotate_private_key(n.b, k);
	assert_true(wg_engine_rotation_in_progress(n.b));
	assert_int_equal(wg_engine_rotation_unconfirmed(n.b), 1);
	/* A has not heard of the rotation yet: its initiation to the old key still completes. */
	advance(&n, 6 * SEC);
	assert_int_equal(handshake(&n, true, &second), WG_RX_HANDSHAKE);
	assert_int_equal(second, WG_RX_HANDSHAKE);
	assert_true(transfer(&n, true, 11));
	assert_true(transfer(&n, false, 12));
	assert_int_equal(wg_engine_rotation_unconfirmed(n.b), 1);
	/* A learns the new key: its next handshake is under it, which confirms A. */
	assert_true(wg_peer_set_public_key(n.pa, pub_b2));
	advance(&n, 6 * SEC);
	assert_int_equal(handshake(&n, true, &second), WG_RX_HANDSHAKE);
	assert_int_equal(second, WG_RX_HANDSHAKE);
	assert_int_equal(wg_engine_rotation_unconfirmed(n.b), 0);
	assert_true(transfer(&n, true, 13));
	/* A's key addressing B's old key now: refused, though the previous key is still held. */
	advance(&n, 6 * SEC);
	assert_int_equal(initiation_to_b(&n, 0x11, 0x22, &rx), WG_RX_DROP);
	assert_string_equal(rx.why,
	    "initiation to our previous key from a peer that knows the new one");
	/* After the rotation finishes the old key fails mac1 for everyone. */
	wg_engine_rotation_finish(n.b);
	assert_false(wg_engine_rotation_in_progress(n.b));
	advance(&n, 6 * SEC);
	assert_int_equal(initiation_to_b(&n, 0x11, 0x22, &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "bad mac");
	assert_true(transfer(&n, true, 14));
	assert_true(transfer(&n, false, 15));
	/* Someone still holding B's old private key. */
	old = wg_engine_new();
	assert_non_null(old);
	wg_engine_set_rng(old, rng_fn, &r);
	priv(k, 0x22);
	wg_engine_set_private_key(old, k);
	op = wg_engine_peer_add(old, n.pub_a, NULL);
	assert_non_null(op);
	wg_peer_request_handshake(op, n.now);
	assert_int_equal(wg_peer_tick(op, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(wg_engine_receive(n.a, &n.sb, buf, len, n.now, n.wall, out,
	    sizeof(out), &rx), WG_RX_DROP);
	assert_string_equal(rx.why, "unknown peer");
	wg_engine_free(old);
	sodium_memzero(k, sizeof(k));
	net_free(&n);
}

/* 6. B's own initiations during the rotation alternate, old key first: A, which already
 *    knows only B's new key, drops the first and completes the second, which confirms A.
 *    A peer added during the rotation counts as unconfirmed too. */
static void test_rotating_initiations_alternate(void **state)
{
	uint8_t k[WG_KEY_LEN], pub_b2[WG_KEY_LEN], pub_c[WG_KEY_LEN];
	enum wg_rx_kind second;
	struct net n;

	(void)state;
	net_setup(&n);
	established(&n);
	priv(k, 0x33);
	pub_of(pub_b2, 0x33);
	assert_true(wg_peer_set_public_key(n.pa, pub_b2));
	wg_engine_rotate_private_key(n.b, k);
	/* A peer added during the rotation may know B by its old key too. */
	pub_of(pub_c, 0x44);
	assert_non_null(wg_engine_peer_add(n.b, pub_c, NULL));
	assert_int_equal(wg_engine_rotation_unconfirmed(n.b), 2);
	advance(&n, 6 * SEC);
	assert_int_equal(handshake(&n, false, &second), WG_RX_DROP);
	assert_int_equal(wg_engine_rotation_unconfirmed(n.b), 2);
	advance(&n, 6 * SEC);
	assert_int_equal(handshake(&n, false, &second), WG_RX_HANDSHAKE);
	assert_int_equal(second, WG_RX_HANDSHAKE);
	assert_int_equal(wg_engine_rotation_unconfirmed(n.b), 1);
	assert_true(transfer(&n, false, 40));
	assert_true(transfer(&n, true, 41));
	/* A plain key change (not a rotation) keeps no previous key. */
	priv(k, 0x66);
	wg_engine_set_private_key(n.b, k);
	assert_false(wg_engine_rotation_in_progress(n.b));
	sodium_memzero(k, sizeof(k));
	net_free(&n);
}

/* 3. Refusals change nothing: our own key, another peer's key; the unchanged key is a no-op. */
static void test_set_public_key_refusals(void **state)
{
	uint8_t pub_c[WG_KEY_LEN];
	struct wg_peer *pc;
	struct net n;

	(void)state;
	net_setup(&n);
	established(&n);
	pub_of(pub_c, 0x44);
	pc = wg_engine_peer_add(n.a, pub_c, NULL);
	assert_non_null(pc);
	static const struct {
		int which;		/* 0: A's own key, 1: C's key, 2: B's own (unchanged) */
		bool ok;
	} cases[] = {
		{ 0, false },
		{ 1, false },
		{ 2, true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *k = cases[i].which == 0 ? n.pub_a : cases[i].which == 1 ? pub_c :
		    n.pub_b;

		assert_int_equal(wg_peer_set_public_key(n.pa, k), cases[i].ok);
		assert_memory_equal(wg_peer_public_key(n.pa), n.pub_b, WG_KEY_LEN);
		assert_ptr_equal(wg_engine_peer_lookup(n.a, n.pub_b), n.pa);
		assert_ptr_equal(wg_engine_peer_lookup(n.a, pub_c), pc);
		assert_true(transfer(&n, true, (uint8_t)(20 + i)));
	}
	net_free(&n);
}

/* 4. A handshake in progress is dropped by the re-key: the response to it no longer matches. */
static void test_rekey_drops_handshake_in_progress(void **state)
{
	uint8_t buf[WG_CONTROL_MAX_LEN + 64], out[WG_CONTROL_MAX_LEN], pub_c[WG_KEY_LEN];
	struct wg_rx rx;
	struct net n;
	size_t len;

	(void)state;
	net_setup(&n);
	wg_peer_request_handshake(n.pa, n.now);
	assert_int_equal(wg_peer_tick(n.pa, n.now, n.wall, buf, sizeof(buf), &len), WG_TICK_SEND);
	assert_int_equal(deliver(&n, true, buf, len, out, &rx), WG_RX_HANDSHAKE);
	memcpy(buf, out, rx.out_len);
	len = rx.out_len;
	pub_of(pub_c, 0x55);
	assert_true(wg_peer_set_public_key(n.pa, pub_c));
	assert_int_equal(deliver(&n, false, buf, len, out, &rx), WG_RX_DROP);
	assert_false(wg_peer_has_session(n.pa));
	net_free(&n);
}

/* 5. Rotating to the same key or an invalid one changes nothing: sessions survive. */
static void test_rotate_noop(void **state)
{
	uint8_t k[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct net n;

	(void)state;
	net_setup(&n);
	established(&n);
	priv(k, 0x22);
	wg_engine_rotate_private_key(n.b, k);
	assert_true(wg_engine_public_key(n.b, pub));
	assert_memory_equal(pub, n.pub_b, WG_KEY_LEN);
	assert_true(transfer(&n, true, 30));
	assert_true(transfer(&n, false, 31));
	net_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_keeps_traffic),
		cmocka_unit_test(test_old_key_answers_until_confirmed),
		cmocka_unit_test(test_set_public_key_refusals),
		cmocka_unit_test(test_rekey_drops_handshake_in_progress),
		cmocka_unit_test(test_rotate_noop),
		cmocka_unit_test(test_rotating_initiations_alternate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
