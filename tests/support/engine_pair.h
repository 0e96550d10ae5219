/* Two engines, A and B, peered with each other, exchanging messages in memory: the harness of
 * the engine's unit tests.  Include after cmocka.h.  Keys are fixed (A: 0x11.., B: 0x22..),
 * randomness is deterministic (det_rng.h), the clock is moved by hand (advance). */
#ifndef TESTS_ENGINE_PAIR_H
#define TESTS_ENGINE_PAIR_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tunneld/wg/engine.h"
#include "tests/support/det_rng.h"

#ifndef SEC
#define SEC	1000000000ULL
#endif

struct net {
	struct wg_engine *a, *b;
	struct wg_peer *pa;	/* B, as A's peer */
	struct wg_peer *pb;	/* A, as B's peer */
	struct rng ra, rb;
	union wg_sockaddr sa, sb;
	uint8_t pub_a[WG_KEY_LEN], pub_b[WG_KEY_LEN];
	uint64_t now, wall;
};

static inline void addr4(union wg_sockaddr *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->in4.sin_family = AF_INET;
	s->in4.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s->in4.sin_addr), 1);
}

static inline void priv(uint8_t k[WG_KEY_LEN], uint8_t fill)
{
	memset(k, fill, WG_KEY_LEN);
}

static inline void pub_of(uint8_t pub[WG_KEY_LEN], uint8_t fill)
{
	struct wg_engine *e = wg_engine_new();
	uint8_t k[WG_KEY_LEN];

	assert_non_null(e);
	priv(k, fill);
	wg_engine_set_private_key(e, k);
	assert_true(wg_engine_public_key(e, pub));
	wg_engine_free(e);
}

static inline void net_setup(struct net *n)
{
	uint8_t k[WG_KEY_LEN];

	memset(n, 0, sizeof(*n));
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
	priv(k, 0x11);
	wg_engine_set_private_key(n->a, k);
	priv(k, 0x22);
	wg_engine_set_private_key(n->b, k);
	assert_true(wg_engine_public_key(n->a, n->pub_a));
	assert_true(wg_engine_public_key(n->b, n->pub_b));
	n->pa = wg_engine_peer_add(n->a, n->pub_b, &n->pa);
	n->pb = wg_engine_peer_add(n->b, n->pub_a, &n->pb);
	assert_non_null(n->pa);
	assert_non_null(n->pb);
	addr4(&n->sa, "192.0.2.1", 51820);
	addr4(&n->sb, "198.51.100.2", 51821);
}

static inline void net_free(struct net *n)
{
	wg_engine_free(n->a);
	wg_engine_free(n->b);
}

static inline void advance(struct net *n, uint64_t ns)
{
	n->now += ns;
	n->wall += ns;
}

static inline enum wg_rx_kind deliver(struct net *n, bool to_b, uint8_t *msg, size_t len,
    uint8_t out[WG_CONTROL_MAX_LEN], struct wg_rx *rx)
{
	return wg_engine_receive(to_b ? n->b : n->a, to_b ? &n->sa : &n->sb, msg, len, n->now,
	    n->wall, out, WG_CONTROL_MAX_LEN, rx);
}

#endif
