/* libFuzzer target: wg_engine_receive on a fresh engine, the parser of every UDP datagram from
 * the network.  Engine A has a fixed private key and one peer (B, fixed key), a deterministic
 * rng and a fixed clock; the input is one datagram from a fixed source.
 *
 * A fuzzer cannot forge mac1 (keyed BLAKE2s), so a handshake-sized input is delivered three
 * times: as it is; with mac1 recomputed for A's public key, which lets the mutated ephemeral,
 * static and timestamp reach Diffie-Hellman and the AEAD; and again under load (threshold 0),
 * which takes the mac2 / cookie reply path. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "keys/lib/key.h"
#include "tunneld/wg/cookie.h"
#include "tunneld/wg/engine.h"
#include "tunneld/wg/messages.h"

#define SEC	1000000000ULL

enum { DATAGRAM_MAX = 65535 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pub_a[WG_KEY_LEN], pub_b[WG_KEY_LEN], priv_a[WG_KEY_LEN];
static union wg_sockaddr src;

/* Deterministic randomness: ChaCha20 keyed by the call number, restarted per input. */
static void rng(void *ctx, void *buf, size_t len)
{
	uint64_t *calls = ctx;
	uint8_t seed[randombytes_SEEDBYTES] = { 0 };

	memcpy(seed, calls, sizeof(*calls));
	(*calls)++;
	randombytes_buf_deterministic(buf, len, seed);
}

static bool trace;	/* FUZZ_TRACE=1: print every delivery, to read a reproducer */

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_engine_receive: %s\n", what);
	abort();
}

/* What the engine answers must be consistent with what it was given. */
static void check(enum wg_rx_kind kind, const struct wg_rx *rx, size_t len)
{
	if (rx->out_len > WG_CONTROL_MAX_LEN)
		fail("reply longer than the out buffer");
	switch (kind) {
	case WG_RX_DROP:
		if (!rx->why)
			fail("drop without a reason");
		if (rx->out_len)
			fail("drop with a reply");
		break;
	case WG_RX_DATA:
		if (!rx->peer || !rx->inner_len || rx->inner_off + rx->inner_len > len)
			fail("data outside the datagram");
		break;
	case WG_RX_KEEPALIVE:
	case WG_RX_COOKIE:
		if (!rx->peer)
			fail("authenticated message without a peer");
		break;
	case WG_RX_HANDSHAKE:
		if (!rx->peer)
			fail("handshake without a peer");
		if (rx->out_len && rx->out_len != sizeof(struct msg_response))
			fail("handshake reply is not a response");
		break;
	case WG_RX_UNDER_LOAD:
		if (rx->out_len != sizeof(struct msg_cookie))
			fail("under load without a cookie reply");
		break;
	default:
		fail("unknown result kind");
	}
}

static void deliver(struct wg_engine *e, const uint8_t *data, size_t size)
{
	uint8_t out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	enum wg_rx_kind kind;
	uint8_t *buf;

	/* Exact-size heap copy (decrypted in place), so ASan sees any access past its end. */
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	kind = wg_engine_receive(e, &src, buf, size, 1000 * SEC, 1700000000ULL * SEC, out,
	    sizeof(out), &rx);
	check(kind, &rx, size);
	if (trace)
		fprintf(stderr, "len %zu: kind %d out %zu flags %u %s\n", size, (int)kind,
		    rx.out_len, rx.flags, kind == WG_RX_DROP ? rx.why : "");
	free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t priv_b[WG_KEY_LEN];

	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	trace = getenv("FUZZ_TRACE") != NULL;
	memset(priv_a, 0x11, sizeof(priv_a));
	memset(priv_b, 0x22, sizeof(priv_b));
	if (!key_public_from_private(pub_a, priv_a) || !key_public_from_private(pub_b, priv_b))
		abort();
	src.in4.sin_family = AF_INET;
	src.in4.sin_port = htons(51821);
	inet_pton(AF_INET, "198.51.100.2", &src.in4.sin_addr);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cookie_maker maker;
	struct wg_engine *e;
	uint64_t calls = 0;
	uint8_t *msg;

	if (size > DATAGRAM_MAX)
		return 0;
	e = wg_engine_new();
	if (!e)
		abort();
	wg_engine_set_rng(e, rng, &calls);
	wg_engine_set_private_key(e, priv_a);
	if (!wg_engine_peer_add(e, pub_b, NULL))
		abort();
	deliver(e, data, size);
	if (size == sizeof(struct msg_initiation) || size == sizeof(struct msg_response)) {
		msg = malloc(size);
		if (!msg)
			abort();
		memcpy(msg, data, size);
		cookie_maker_init(&maker, pub_a);
		cookie_add_mac_to_packet(&maker, msg, size, 1000 * SEC);
		deliver(e, msg, size);
		wg_engine_set_load_threshold(e, 0);
		deliver(e, msg, size);
		free(msg);
	}
	wg_engine_free(e);
	return 0;
}
