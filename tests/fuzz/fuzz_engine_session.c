/* libFuzzer target: wg_engine_receive with a live session, so that the data path (receiver
 * index lookup, keypair expiry, decryption, the replay window, session confirmation, inner
 * packet parsing) and the handshake state machine are reachable.
 *
 * Per input, engines A (under test) and B, peered with each other, complete a real handshake
 * in memory (B initiates) with deterministic rngs and a fake clock.  The input is then a
 * program: each op byte picks an action below, its arguments follow.  Replies an engine
 * produces are delivered to the other one, as a network would.
 *
 * Besides memory safety it checks what must hold for any input: a message B encrypted is
 * accepted at most once (replay), never after any byte of it was changed, and what A
 * decrypts is what B sent (plus padding zeros, if the inner header claims them). */
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
#include "tests/support/det_rng.h"

#define SEC	1000000000ULL
#define MS	1000000ULL

enum {
	OPS_MAX = 64,		/* per input */
	SLOTS = 8,		/* messages B encrypted and kept for later delivery */
	PAYLOAD_MAX = 1440,
	SLOT_CAP = WG_DATA_HEADROOM + PAYLOAD_MAX + WG_DATA_TAILROOM,
	SKIP_BUDGET = 9000,	/* encryptions per input on counter jumps: past the 8128 window */
	RAW_MAX = 2048,
};

enum op {
	OP_RAW,		/* u8 from, u16 len, bytes: any datagram to A */
	OP_RAW_MAC,	/* same, with mac1 recomputed for A if handshake-sized */
	OP_B_SEND,	/* u16 len, bytes: B encrypts an inner packet into the next slot */
	OP_DELIVER,	/* u8 slot, u8 mutate, u16 offset, u8 xor: slot to A, maybe altered */
	OP_SKIP,	/* u16 n: B encrypts and discards n keepalives (counter jump) */
	OP_TIME,	/* u16 t: both clocks advance t * 10 ms */
	OP_TICK,	/* A's and B's timers fire; what they send is delivered */
	OP_A_SEND,	/* u16 len, bytes: A encrypts to B, delivered */
	OP_CLEAR_B,	/* B drops its sessions (next send starts a handshake) */
	OP_LOAD,	/* u8 threshold: A's handshake load threshold */
	OP_RAW_TO_B,	/* u16 len, bytes: any datagram to B from A's address */
	OP_COUNT,
};

struct input {
	const uint8_t *p;
	size_t n;
};

struct slot {
	uint8_t buf[SLOT_CAP];
	size_t len;		/* 0: empty */
	uint8_t inner[PAYLOAD_MAX];
	size_t inner_len;
	bool accepted;
};

struct net {
	struct wg_engine *a, *b;
	struct wg_peer *pa;	/* B, as A's peer */
	struct wg_peer *pb;	/* A, as B's peer */
	struct rng ra, rb;
	uint64_t now, wall;
	struct cookie_maker to_a;
	struct slot slots[SLOTS];
	unsigned next_slot;
	unsigned skip_budget;
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t priv_a[WG_KEY_LEN], priv_b[WG_KEY_LEN], pub_a[WG_KEY_LEN], pub_b[WG_KEY_LEN];
static union wg_sockaddr addr_a, addr_b, addr_x;

static bool trace;	/* FUZZ_TRACE=1: print every delivery, to read a reproducer */

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_engine_session: %s\n", what);
	abort();
}

static uint8_t u8(struct input *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint16_t u16(struct input *in)
{
	uint16_t hi = u8(in);

	return (uint16_t)(hi << 8 | u8(in));
}

/* Up to want bytes of input into dst, zeros for what is missing. */
static void bytes(struct input *in, uint8_t *dst, size_t want)
{
	size_t n = want < in->n ? want : in->n;

	memcpy(dst, in->p, n);
	memset(dst + n, 0, want - n);
	in->p += n;
	in->n -= n;
}

static void addr4(union wg_sockaddr *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->in4.sin_family = AF_INET;
	s->in4.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &s->in4.sin_addr) != 1)
		abort();
}

static void check(enum wg_rx_kind kind, const struct wg_rx *rx, size_t len)
{
	if (rx->out_len > WG_CONTROL_MAX_LEN)
		fail("reply longer than the out buffer");
	if (kind == WG_RX_DROP && !rx->why)
		fail("drop without a reason");
	if (kind == WG_RX_DATA && (!rx->peer || !rx->inner_len ||
	    rx->inner_off + rx->inner_len > len))
		fail("data outside the datagram");
	if ((kind == WG_RX_HANDSHAKE || kind == WG_RX_KEEPALIVE || kind == WG_RX_COOKIE) &&
	    !rx->peer)
		fail("authenticated message without a peer");
}

/* Delivers len bytes of msg to A (to_a) or B, from the other's address (or from addr_x, an
 * address that is nobody's), and carries a reply back, to a bounded depth. */
static enum wg_rx_kind deliver(struct net *n, bool to_a, const union wg_sockaddr *from,
    const uint8_t *msg, size_t len, uint8_t *inner, size_t *inner_len, int depth)
{
	uint8_t out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	enum wg_rx_kind kind;
	uint8_t *buf;

	buf = malloc(len ? len : 1);	/* exact size: ASan sees any access past the end */
	if (!buf)
		abort();
	memcpy(buf, msg, len);
	kind = wg_engine_receive(to_a ? n->a : n->b, from, buf, len, n->now, n->wall, out,
	    sizeof(out), &rx);
	check(kind, &rx, len);
	if (trace)
		fprintf(stderr, "to %s len %zu: kind %d out %zu flags %u %s\n", to_a ? "A" : "B",
		    len, (int)kind, rx.out_len, rx.flags, kind == WG_RX_DROP ? rx.why : "");
	if (kind == WG_RX_DATA && inner) {
		memcpy(inner, buf + rx.inner_off, rx.inner_len);
		*inner_len = rx.inner_len;
	}
	free(buf);
	if (rx.out_len && depth < 2 && from != &addr_x)
		deliver(n, !to_a, to_a ? &addr_a : &addr_b, out, rx.out_len, NULL, NULL,
		    depth + 1);
	return kind;
}

/* Timers of one engine's peer until they have nothing more to send. */
static void tick(struct net *n, bool a)
{
	uint8_t buf[WG_CONTROL_MAX_LEN];
	size_t len;
	int i;

	for (i = 0; i < 4; i++) {
		if (wg_peer_tick(a ? n->pa : n->pb, n->now, n->wall, buf, sizeof(buf), &len) !=
		    WG_TICK_SEND)
			break;
		deliver(n, !a, a ? &addr_a : &addr_b, buf, len, NULL, NULL, 0);
	}
}

/* B encrypts len bytes; the message goes to the next slot (or nowhere when keep is false). */
static void b_send(struct net *n, const uint8_t *pkt, size_t len, bool keep)
{
	uint8_t scratch[SLOT_CAP];
	struct slot *s = &n->slots[n->next_slot];
	uint8_t *buf = keep ? s->buf : scratch;
	size_t msg_len = 0;

	if (len)
		memcpy(buf + WG_DATA_HEADROOM, pkt, len);
	if (wg_peer_encrypt(n->pb, buf + WG_DATA_HEADROOM, len, n->now, &msg_len) != WG_SEND_OK)
		return;
	if (msg_len > SLOT_CAP)
		fail("encrypt wrote past its tailroom");
	if (!keep)
		return;
	s->len = msg_len;
	if (len)
		memcpy(s->inner, pkt, len);
	s->inner_len = len;
	s->accepted = false;
	n->next_slot = (n->next_slot + 1) % SLOTS;
}

static bool net_setup(struct net *n)
{
	memset(n, 0, sizeof(*n));
	n->now = 1000 * SEC;
	n->wall = 1700000000ULL * SEC;
	n->ra.seed = 1;
	n->rb.seed = 2;
	n->skip_budget = SKIP_BUDGET;
	n->a = wg_engine_new();
	n->b = wg_engine_new();
	if (!n->a || !n->b)
		return false;
	wg_engine_set_rng(n->a, rng_fn, &n->ra);
	wg_engine_set_rng(n->b, rng_fn, &n->rb);
	wg_engine_set_private_key(n->a, priv_a);
	wg_engine_set_private_key(n->b, priv_b);
	n->pa = wg_engine_peer_add(n->a, pub_b, NULL);
	n->pb = wg_engine_peer_add(n->b, pub_a, NULL);
	if (!n->pa || !n->pb)
		return false;
	cookie_maker_init(&n->to_a, pub_a);
	/* B initiates (its first packet asks for a handshake); A answers; B consumes. */
	b_send(n, NULL, 0, false);
	tick(n, false);
	return wg_peer_has_session(n->pb);
}

static void op_deliver(struct net *n, struct input *in)
{
	struct slot *s = &n->slots[u8(in) % SLOTS];
	uint8_t mutate = u8(in), xor;
	uint16_t off = u16(in);
	uint8_t msg[SLOT_CAP], inner[SLOT_CAP];
	size_t inner_len = 0;
	enum wg_rx_kind kind;

	xor = u8(in) | 1;
	if (!s->len)
		return;
	memcpy(msg, s->buf, s->len);
	if (mutate & 1)
		msg[off % s->len] ^= xor;
	kind = deliver(n, true, &addr_b, msg, s->len, inner, &inner_len, 0);
	if (kind != WG_RX_DATA && kind != WG_RX_KEEPALIVE)
		return;
	if (mutate & 1)
		fail("accepted a message with a byte changed");
	if (s->accepted)
		fail("accepted the same message twice");
	s->accepted = true;
	/* The inner length comes from the packet's own header, which may claim bytes of the
	 * zero padding (as in the kernel, which bounds it by the padded length only). */
	if (kind == WG_RX_DATA && (memcmp(inner, s->inner, inner_len < s->inner_len ?
	    inner_len : s->inner_len) || (inner_len > s->inner_len &&
	    !sodium_is_zero(inner + s->inner_len, inner_len - s->inner_len))))
		fail("decrypted packet differs from what B sent");
	if (kind == WG_RX_KEEPALIVE && s->inner_len)
		fail("data message taken for a keepalive");
}

static void op_raw(struct net *n, struct input *in, bool fix_mac, bool to_a)
{
	uint8_t msg[RAW_MAX];
	bool stranger = to_a && (u8(in) & 1);
	size_t len = u16(in) % (RAW_MAX + 1);

	bytes(in, msg, len);
	if (fix_mac && (len == sizeof(struct msg_initiation) || len == sizeof(struct msg_response)))
		cookie_add_mac_to_packet(&n->to_a, msg, len, n->now);
	deliver(n, to_a, to_a ? (stranger ? &addr_x : &addr_b) : &addr_a, msg, len, NULL, NULL, 0);
}

static void run(struct net *n, struct input *in)
{
	uint8_t pkt[PAYLOAD_MAX], buf[SLOT_CAP];
	size_t len, msg_len;
	unsigned ops, k;

	for (ops = 0; ops < OPS_MAX && in->n; ops++) {
		switch ((enum op)(u8(in) % OP_COUNT)) {
		case OP_RAW:
			op_raw(n, in, false, true);
			break;
		case OP_RAW_MAC:
			op_raw(n, in, true, true);
			break;
		case OP_B_SEND:
			len = u16(in) % (PAYLOAD_MAX + 1);
			bytes(in, pkt, len);
			b_send(n, pkt, len, true);
			break;
		case OP_DELIVER:
			op_deliver(n, in);
			break;
		case OP_SKIP:
			k = u16(in);
			for (; k && n->skip_budget; k--, n->skip_budget--)
				b_send(n, pkt, 0, false);
			break;
		case OP_TIME:
			n->now += u16(in) * 10 * MS;
			n->wall = n->now + 1700000000ULL * SEC;
			break;
		case OP_TICK:
			tick(n, true);
			tick(n, false);
			break;
		case OP_A_SEND:
			len = u16(in) % (PAYLOAD_MAX + 1);
			bytes(in, buf + WG_DATA_HEADROOM, len);
			if (wg_peer_encrypt(n->pa, buf + WG_DATA_HEADROOM, len, n->now, &msg_len) ==
			    WG_SEND_OK)
				deliver(n, false, &addr_a, buf, msg_len, NULL, NULL, 0);
			break;
		case OP_CLEAR_B:
			wg_peer_clear_sessions(n->pb);
			break;
		case OP_LOAD:
			wg_engine_set_load_threshold(n->a, u8(in));
			break;
		case OP_RAW_TO_B:
			op_raw(n, in, false, false);
			break;
		case OP_COUNT:
			break;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	trace = getenv("FUZZ_TRACE") != NULL;
	memset(priv_a, 0x11, sizeof(priv_a));
	memset(priv_b, 0x22, sizeof(priv_b));
	if (!key_public_from_private(pub_a, priv_a) || !key_public_from_private(pub_b, priv_b))
		abort();
	addr4(&addr_a, "192.0.2.1", 51820);
	addr4(&addr_b, "198.51.100.2", 51821);
	addr4(&addr_x, "203.0.113.9", 4444);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	static struct net n;	/* large; static keeps it off the fuzzer's stack */

	if (!net_setup(&n))
		fail("the in-memory handshake did not complete");
	run(&n, &in);
	wg_engine_free(n.a);
	wg_engine_free(n.b);
	return 0;
}
