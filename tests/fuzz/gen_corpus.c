/* Writes the engine seeds of tests/fuzz/corpus: real messages of every type from two engines
 * with the fuzz targets' fixed keys, rngs and clock, and short programs for
 * fuzz_engine_session, and signed rosters for fuzz_roster_offer.  Usage: gen_corpus DIR
 * (creates DIR/fuzz_engine_receive/, DIR/fuzz_engine_session/, DIR/fuzz_roster_offer/).  Deterministic: the same files on every run. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "keys/lib/key.h"
#include "tunneld/wg/engine.h"
#include "tunneld/wg/messages.h"
#include "keys/lib/roster.h"
#include "tests/support/det_rng.h"
#include "tests/support/fuzz_roster.h"

#define SEC	1000000000ULL

/* fuzz_engine_session's op numbers. */
enum { OP_RAW, OP_RAW_MAC, OP_B_SEND, OP_DELIVER, OP_SKIP, OP_TIME, OP_TICK, OP_A_SEND,
	OP_CLEAR_B, OP_LOAD, OP_RAW_TO_B };

static const char *dir;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s\n", what);
	exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("cannot create the target directory");
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		die("cannot write a seed");
}

/* A program for fuzz_engine_session, built op by op. */
struct prog {
	uint8_t b[4096];
	size_t n;
};

static void p8(struct prog *p, unsigned v)
{
	if (p->n < sizeof(p->b))
		p->b[p->n++] = (uint8_t)v;
}

static void p16(struct prog *p, unsigned v)
{
	p8(p, v >> 8);
	p8(p, v & 0xff);
}

static void pbytes(struct prog *p, const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p8(p, d[i]);
}

/* A minimal IPv4 packet of len bytes (>= 20). */
static void ipv4(uint8_t *pkt, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		pkt[i] = (uint8_t)(seed + i);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
}

static void send_ip(struct prog *p, size_t len, uint8_t seed)
{
	uint8_t pkt[1500];

	ipv4(pkt, len, seed);
	p8(p, OP_B_SEND);
	p16(p, (unsigned)len);
	pbytes(p, pkt, len);
}

static void deliver(struct prog *p, unsigned slot, bool mutate, unsigned off)
{
	p8(p, OP_DELIVER);
	p8(p, slot);
	p8(p, mutate);
	p16(p, off);
	p8(p, 0x80);
}

static void session_seeds(const uint8_t *init, const uint8_t *resp)
{
	struct prog p;
	uint8_t ip6[80] = { 0x60 };

	memset(&p, 0, sizeof(p));
	send_ip(&p, 84, 1);
	deliver(&p, 0, false, 0);
	put("fuzz_engine_session", "data", p.b, p.n);

	memset(&p, 0, sizeof(p));
	send_ip(&p, 60, 1);
	send_ip(&p, 60, 2);
	send_ip(&p, 60, 3);
	deliver(&p, 2, false, 0);
	deliver(&p, 0, false, 0);
	deliver(&p, 0, false, 0);	/* replay */
	deliver(&p, 1, true, 20);	/* altered */
	put("fuzz_engine_session", "reorder-replay", p.b, p.n);

	memset(&p, 0, sizeof(p));
	p8(&p, OP_B_SEND);
	p16(&p, 0);			/* keepalive */
	send_ip(&p, 40, 9);
	p8(&p, OP_SKIP);
	p16(&p, 8200);			/* past the replay window */
	send_ip(&p, 40, 10);
	deliver(&p, 2, false, 0);
	deliver(&p, 1, false, 0);	/* too old now */
	deliver(&p, 0, false, 0);
	put("fuzz_engine_session", "window", p.b, p.n);

	memset(&p, 0, sizeof(p));
	ip6[5] = sizeof(ip6) - 40;
	p8(&p, OP_B_SEND);
	p16(&p, sizeof(ip6));
	pbytes(&p, ip6, sizeof(ip6));
	deliver(&p, 0, false, 0);
	p8(&p, OP_A_SEND);
	p16(&p, 0);
	p8(&p, OP_TIME);
	p16(&p, 12500);			/* 125 s: rekey due */
	p8(&p, OP_TICK);
	send_ip(&p, 20, 4);
	deliver(&p, 1, false, 0);
	p8(&p, OP_TIME);
	p16(&p, 6000);			/* past REJECT_AFTER_TIME */
	deliver(&p, 1, false, 0);
	p8(&p, OP_TICK);
	put("fuzz_engine_session", "timers", p.b, p.n);

	memset(&p, 0, sizeof(p));
	p8(&p, OP_CLEAR_B);
	p8(&p, OP_TIME);
	p16(&p, 600);			/* 6 s: past REKEY_TIMEOUT since the first */
	p8(&p, OP_B_SEND);
	p16(&p, 0);			/* no session: asks for a handshake */
	p8(&p, OP_TICK);
	send_ip(&p, 20, 5);
	deliver(&p, 0, false, 0);
	put("fuzz_engine_session", "rehandshake", p.b, p.n);

	memset(&p, 0, sizeof(p));
	p8(&p, OP_LOAD);
	p8(&p, 0);
	p8(&p, OP_RAW_MAC);
	p8(&p, 0);
	p16(&p, sizeof(struct msg_initiation));
	pbytes(&p, init, sizeof(struct msg_initiation));
	p8(&p, OP_RAW_MAC);
	p8(&p, 1);
	p16(&p, sizeof(struct msg_response));
	pbytes(&p, resp, sizeof(struct msg_response));
	p8(&p, OP_RAW_TO_B);
	p16(&p, sizeof(struct msg_response));
	pbytes(&p, resp, sizeof(struct msg_response));
	put("fuzz_engine_session", "handshakes-under-load", p.b, p.n);
}

/* fuzz_roster_offer: a mode byte and a roster by the fixed keys of fuzz_roster.h. */
static void roster_seed(const char *name, unsigned mode, uint64_t serial, bool endorse,
    bool sign)
{
	uint8_t sec_a[ROSTER_ADMIN_SECRET_LEN], pub_a[KEY_LEN];
	uint8_t sec_b[ROSTER_ADMIN_SECRET_LEN], pub_b[KEY_LEN];
	struct roster r;
	char *text, *seed;
	size_t len;

	fuzz_roster_keys(sec_a, pub_a, sec_b, pub_b);
	if (!fuzz_roster_build(&r, serial, endorse ? pub_b : pub_a))
		die("out of memory");
	if (endorse && !roster_endorse(&r, sec_a, pub_b))
		die("cannot endorse");
	if (sign)
		roster_sign(&r, sec_a);
	text = roster_serialize(&r, sign, &len);
	seed = malloc(len + 1);
	if (!text || !seed)
		die("out of memory");
	seed[0] = (char)mode;
	memcpy(seed + 1, text, len);
	put("fuzz_roster_offer", name, seed, len + 1);
	free(text);
	free(seed);
	roster_free(&r);
	sodium_memzero(sec_a, sizeof(sec_a));
	sodium_memzero(sec_b, sizeof(sec_b));
}

static void roster_seeds(void)
{
	roster_seed("signed-a", 0, 6, false, true);
	roster_seed("signed-a-running", FUZZ_ROSTER_RUNNING, 6, false, true);
	roster_seed("unsigned", 0, 6, false, false);
	roster_seed("sign-a", FUZZ_ROSTER_SIGN_A, 6, false, false);
	roster_seed("sign-a-running", FUZZ_ROSTER_SIGN_A | FUZZ_ROSTER_RUNNING, 6, false, false);
	roster_seed("sign-a-not-newer", FUZZ_ROSTER_SIGN_A | FUZZ_ROSTER_RUNNING, 3, false, false);
	roster_seed("sign-b-endorsed", FUZZ_ROSTER_SIGN_B | FUZZ_ROSTER_RUNNING, 7, true, false);
}

int main(int argc, char **argv)
{
	uint8_t priv_a[WG_KEY_LEN], priv_b[WG_KEY_LEN], pub_a[WG_KEY_LEN], pub_b[WG_KEY_LEN];
	uint8_t init[WG_CONTROL_MAX_LEN], out[WG_CONTROL_MAX_LEN], tmp[WG_CONTROL_MAX_LEN];
	uint8_t resp[WG_CONTROL_MAX_LEN], buf[256];
	struct rng ra = { 1, 0 }, rb = { 2, 0 };
	union wg_sockaddr sa = { 0 }, sb = { 0 };
	uint64_t now = 1000 * SEC, wall = 1700000000ULL * SEC;
	struct wg_engine *a, *b;
	struct wg_peer *pa, *pb;
	struct wg_rx rx;
	size_t len, init_len;

	if (argc != 2 || !key_lib_init())
		die("usage: gen_corpus DIR");
	dir = argv[1];
	roster_seeds();
	memset(priv_a, 0x11, sizeof(priv_a));
	memset(priv_b, 0x22, sizeof(priv_b));
	sa.in4.sin_family = sb.in4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sa.in4.sin_addr);
	inet_pton(AF_INET, "198.51.100.2", &sb.in4.sin_addr);
	sa.in4.sin_port = htons(51820);
	sb.in4.sin_port = htons(51821);
	a = wg_engine_new();
	b = wg_engine_new();
	if (!a || !b)
		die("out of memory");
	wg_engine_set_rng(a, rng_fn, &ra);
	wg_engine_set_rng(b, rng_fn, &rb);
	wg_engine_set_private_key(a, priv_a);
	wg_engine_set_private_key(b, priv_b);
	if (!wg_engine_public_key(a, pub_a) || !wg_engine_public_key(b, pub_b))
		die("no public key");
	pa = wg_engine_peer_add(a, pub_b, NULL);
	pb = wg_engine_peer_add(b, pub_a, NULL);
	if (!pa || !pb)
		die("cannot add peers");

	/* Type 1: B's initiation, as fuzz_engine_receive's engine A gets it. */
	wg_peer_encrypt(pb, buf + WG_DATA_HEADROOM, 0, now, &len);
	if (wg_peer_tick(pb, now, wall, init, sizeof(init), &init_len) != WG_TICK_SEND)
		die("no initiation");
	put("fuzz_engine_receive", "initiation", init, init_len);
	/* Type 3: A under load answers it with a cookie reply. */
	wg_engine_set_load_threshold(a, 0);
	memcpy(tmp, init, init_len);
	if (wg_engine_receive(a, &sb, tmp, init_len, now, wall, out, sizeof(out), &rx) !=
	    WG_RX_UNDER_LOAD)
		die("no cookie reply");
	put("fuzz_engine_receive", "cookie-reply", out, rx.out_len);
	/* Type 2: A's response. */
	wg_engine_set_load_threshold(a, WG_DEFAULT_LOAD_THRESHOLD);
	now += 2 * SEC;		/* out of the load hysteresis */
	memcpy(tmp, init, init_len);
	if (wg_engine_receive(a, &sb, tmp, init_len, now, wall, out, sizeof(out), &rx) !=
	    WG_RX_HANDSHAKE)
		die("no response");
	memcpy(resp, out, rx.out_len);
	put("fuzz_engine_receive", "response", resp, rx.out_len);
	if (wg_engine_receive(b, &sa, out, rx.out_len, now, wall, tmp, sizeof(tmp), &rx) !=
	    WG_RX_HANDSHAKE)
		die("response not consumed");
	/* Type 4: a data message and a keepalive from B. */
	ipv4(buf + WG_DATA_HEADROOM, 84, 7);
	if (wg_peer_encrypt(pb, buf + WG_DATA_HEADROOM, 84, now, &len) != WG_SEND_OK)
		die("cannot encrypt");
	put("fuzz_engine_receive", "data", buf, len);
	if (wg_peer_encrypt(pb, buf + WG_DATA_HEADROOM, 0, now, &len) != WG_SEND_OK)
		die("cannot encrypt");
	put("fuzz_engine_receive", "keepalive", buf, len);

	session_seeds(init, resp);
	wg_engine_free(a);
	wg_engine_free(b);
	return 0;
}
