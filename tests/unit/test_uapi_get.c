/* The UAPI get dump (device_uapi_get), formatted by hand per peer, against a plain printf
 * reference of the same lines: random peers with and without a preshared key, IPv4, IPv6 or
 * no endpoint, large counters and up to 40 allowed IPs of both families, so that every line
 * length and every block boundary is met (under ASan, any overrun of the block fails). */
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

#include "tunneld/device.h"
#include "tunneld/peer.h"

struct text {
	char *p;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void append(void *ctx, const char *fmt, ...)
{
	struct text *t = ctx;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < t->cap - t->len);
	t->len += (size_t)n;
}

static void hex(char out[2 * WG_KEY_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* What the dump said before it was formatted by hand: a printf per line. */
static void reference(struct device *dev, struct text *t)
{
	char h[2 * WG_KEY_LEN + 1], a[INET6_ADDRSTRLEN];
	uint8_t key[WG_KEY_LEN];
	struct peer *p;
	uint64_t hs;

	if (wg_engine_private_key(dev->engine, key)) {
		hex(h, key);
		append(t, "private_key=%s\n", h);
	}
	if (dev->udp.port)
		append(t, "listen_port=%u\n", dev->udp.port);
	if (dev->fwmark)
		append(t, "fwmark=%u\n", dev->fwmark);
	for (p = dev->peers_head; p; p = p->next) {
		hex(h, wg_peer_public_key(p->wg));
		append(t, "public_key=%s\n", h);
		if (!wg_peer_preshared_key(p->wg, key))
			memset(key, 0, sizeof(key));
		hex(h, key);
		append(t, "preshared_key=%s\n", h);
		append(t, "protocol_version=1\n");
		if (p->endpoint.addr.sa.sa_family == AF_INET) {
			inet_ntop(AF_INET, &p->endpoint.addr.in4.sin_addr, a, sizeof(a));
			append(t, "endpoint=%s:%u\n", a, ntohs(p->endpoint.addr.in4.sin_port));
		} else if (p->endpoint.addr.sa.sa_family == AF_INET6) {
			inet_ntop(AF_INET6, &p->endpoint.addr.in6.sin6_addr, a, sizeof(a));
			append(t, "endpoint=[%s]:%u\n", a, ntohs(p->endpoint.addr.in6.sin6_port));
		}
		hs = wg_peer_last_handshake_wall_ns(p->wg);
		append(t, "last_handshake_time_sec=%llu\n", (unsigned long long)(hs / 1000000000ULL));
		append(t, "last_handshake_time_nsec=%llu\n", (unsigned long long)(hs % 1000000000ULL));
		append(t, "tx_bytes=%llu\n", (unsigned long long)p->tx_bytes);
		append(t, "rx_bytes=%llu\n", (unsigned long long)p->rx_bytes);
		append(t, "persistent_keepalive_interval=%u\n", wg_peer_persistent_keepalive(p->wg));
		for (size_t i = 0; i < p->n_allowed_ips; i++) {
			inet_ntop(p->allowed_ips[i].family, p->allowed_ips[i].addr, a, sizeof(a));
			append(t, "allowed_ip=%s/%u\n", a, p->allowed_ips[i].cidr);
		}
	}
}

/* Random bits of every width: the edges (0, all ones) as often as anything between. */
static uint64_t random_u64(void)
{
	uint64_t v;

	randombytes_buf(&v, sizeof(v));
	switch (randombytes_uniform(4)) {
	case 0: return 0;
	case 1: return UINT64_MAX;
	case 2: return v >> randombytes_uniform(64);
	default: return v;
	}
}

static void random_peer(struct device *dev, struct peer *p)
{
	uint8_t key[WG_KEY_LEN];

	randombytes_buf(key, sizeof(key));
	p->dev = dev;
	p->wg = wg_engine_peer_add(dev->engine, key, p);
	assert_non_null(p->wg);
	if (randombytes_uniform(2)) {
		randombytes_buf(key, sizeof(key));
		wg_peer_set_preshared_key(p->wg, key);
	}
	if (randombytes_uniform(2))
		wg_peer_set_persistent_keepalive(p->wg, (uint16_t)(randombytes_uniform(2) ? 65535 :
		    randombytes_uniform(65536)), 0);
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	switch (randombytes_uniform(3)) {
	case 0:
		p->endpoint.addr.in4.sin_family = AF_INET;
		randombytes_buf(&p->endpoint.addr.in4.sin_addr, 4);
		p->endpoint.addr.in4.sin_port = (uint16_t)randombytes_uniform(65536);
		break;
	case 1:
		p->endpoint.addr.in6.sin6_family = AF_INET6;
		/* Full-length IPv6 (no :: to shorten it) as often as random. */
		if (randombytes_uniform(2))
			memset(&p->endpoint.addr.in6.sin6_addr, 0xff, 16);
		else
			randombytes_buf(&p->endpoint.addr.in6.sin6_addr, 16);
		p->endpoint.addr.in6.sin6_port = (uint16_t)randombytes_uniform(65536);
		break;
	default:
		break;
	}
	p->tx_bytes = random_u64();
	p->rx_bytes = random_u64();
	p->n_allowed_ips = randombytes_uniform(41);
	p->allowed_ips = calloc(p->n_allowed_ips + 1, sizeof(*p->allowed_ips));
	assert_non_null(p->allowed_ips);
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		struct config_prefix *x = &p->allowed_ips[i];

		x->family = randombytes_uniform(2) ? AF_INET : AF_INET6;
		if (randombytes_uniform(2))
			memset(x->addr, 0xff, sizeof(x->addr));
		else
			randombytes_buf(x->addr, sizeof(x->addr));
		x->cidr = (uint8_t)randombytes_uniform(x->family == AF_INET ? 33 : 129);
	}
}

static void test_dump_matches_reference(void **state)
{
	struct text got = { 0 }, want = { 0 };
	uint8_t priv[WG_KEY_LEN];

	(void)state;
	for (int round = 0; round < 40; round++) {
		struct device dev;
		size_t n = randombytes_uniform(60);
		struct peer *peers = calloc(n + 1, sizeof(*peers));

		assert_non_null(peers);
		memset(&dev, 0, sizeof(dev));
		dev.engine = wg_engine_new();
		assert_non_null(dev.engine);
		if (round % 2) {
			randombytes_buf(priv, sizeof(priv));
			wg_engine_set_private_key(dev.engine, priv);
		}
		dev.udp.port = (uint16_t)(round % 3 ? randombytes_uniform(65536) : 0);
		dev.fwmark = round % 4 ? (uint32_t)random_u64() : 0;
		for (size_t i = 0; i < n; i++) {
			random_peer(&dev, &peers[i]);
			peers[i].next = i + 1 < n ? &peers[i + 1] : NULL;
		}
		dev.peers_head = n ? &peers[0] : NULL;
		got.cap = want.cap = 4096 + n * 4096;
		got.p = calloc(1, got.cap);
		want.p = calloc(1, want.cap);
		assert_non_null(got.p);
		assert_non_null(want.p);
		got.len = want.len = 0;
		device_uapi_get(&dev, append, &got);
		reference(&dev, &want);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.p, want.p, want.len);
		free(got.p);
		free(want.p);
		for (size_t i = 0; i < n; i++)
			free(peers[i].allowed_ips);
		wg_engine_free(dev.engine);
		free(peers);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_matches_reference),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
