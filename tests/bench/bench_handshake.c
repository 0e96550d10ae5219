/* Handshakes per second on one core, in process: one responder engine with PEERS peers, one
 * initiator engine per peer.  Per round, every initiator makes an initiation (not timed); then,
 * timed with CLOCK_THREAD_CPUTIME_ID and CLOCK_MONOTONIC around each whole pass:
 *   A  the responder consumes every initiation and writes its response,
 *   B  every initiator consumes its response and encrypts its first data packet (a keepalive),
 *   C  the responder consumes every keepalive, which confirms its session.
 * Responder handshakes/s = PEERS / (A + C); both sides = PEERS / (A + B + C); with the
 * initiation too = PEERS / (I + A + B + C).  Round 1 is the first contact with every peer
 * (its static-static Diffie-Hellman is computed then, once per peer); the figures are the
 * medians of rounds 2.. (the steady state of a fleet that reconnects).  Every result is
 * checked: a failed handshake aborts the run.
 *
 * The responder's load threshold is lifted: this measures the Diffie-Hellman path, not the
 * cookie replies that a node above the threshold sends instead.
 *
 * usage: bench_handshake [ROUNDS [PEERS...]]   (default: 5 rounds, 1000 and 10000 peers) */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tunneld/wg/engine.h"

#define SEC	1000000000ULL

struct initiator {
	struct wg_engine *e;
	struct wg_peer *responder;	/* the responder, as this initiator's peer */
	union wg_sockaddr addr;		/* its underlay address, as the responder sees it */
	uint8_t init[WG_CONTROL_MAX_LEN];
	uint8_t resp[WG_CONTROL_MAX_LEN];
	uint8_t data[WG_DATA_HEADROOM + WG_DATA_TAILROOM];
	size_t data_len;
};

static void die(const char *what, size_t i)
{
	fprintf(stderr, "bench_handshake: %s (peer %zu)\n", what, i);
	exit(1);
}

static double now_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737), a port per peer beyond 256. */
static void peer_addr(union wg_sockaddr *a, size_t i)
{
	memset(a, 0, sizeof(*a));
	a->in4.sin_family = AF_INET;
	a->in4.sin_addr.s_addr = htonl((i & 1 ? 0xcb007100u : 0xc6336400u) | (uint32_t)(i / 2 % 254 + 1));
	a->in4.sin_port = htons((uint16_t)(20000 + i / 508));
}

/* Seconds of thread CPU time in [0] and wall time in [1] of each pass. */
struct pass_time {
	double cpu, wall;
};

static void pass_begin(struct pass_time *t)
{
	t->cpu = now_s(CLOCK_THREAD_CPUTIME_ID);
	t->wall = now_s(CLOCK_MONOTONIC);
}

static void pass_end(struct pass_time *t)
{
	t->cpu = now_s(CLOCK_THREAD_CPUTIME_ID) - t->cpu;
	t->wall = now_s(CLOCK_MONOTONIC) - t->wall;
}

static void run(size_t npeers, int rounds)
{
	struct wg_engine *r = wg_engine_new();
	struct initiator *in = calloc(npeers, sizeof(*in));
	union wg_sockaddr r_addr;
	uint8_t key[WG_KEY_LEN], r_pub[WG_KEY_LEN], pub[WG_KEY_LEN];
	uint8_t out[WG_CONTROL_MAX_LEN];
	double *resp_rate = calloc((size_t)rounds, sizeof(double));
	double *both_rate = calloc((size_t)rounds, sizeof(double));
	double *all_rate = calloc((size_t)rounds, sizeof(double));
	double *wall_ratio = calloc((size_t)rounds, sizeof(double));
	double first_resp = 0;
	struct wg_rx rx;
	size_t len;

	if (!r || !in || !resp_rate || !both_rate || !all_rate || !wall_ratio)
		die("out of memory", 0);
	randombytes_buf(key, sizeof(key));
	wg_engine_set_private_key(r, key);
	wg_engine_public_key(r, r_pub);
	wg_engine_set_load_threshold(r, UINT_MAX);
	memset(&r_addr, 0, sizeof(r_addr));
	r_addr.in4.sin_family = AF_INET;
	r_addr.in4.sin_addr.s_addr = htonl(0xc0000201u);	/* 192.0.2.1 */
	r_addr.in4.sin_port = htons(51820);
	for (size_t i = 0; i < npeers; i++) {
		in[i].e = wg_engine_new();
		if (!in[i].e)
			die("out of memory", i);
		randombytes_buf(key, sizeof(key));
		wg_engine_set_private_key(in[i].e, key);
		wg_engine_public_key(in[i].e, pub);
		in[i].responder = wg_engine_peer_add(in[i].e, r_pub, NULL);
		if (!in[i].responder || !wg_engine_peer_add(r, pub, NULL))
			die("peer add failed", i);
		peer_addr(&in[i].addr, i);
	}
	sodium_memzero(key, sizeof(key));

	for (int round = 0; round <= rounds; round++) {
		/* Each round 10 s later: past REKEY_TIMEOUT and the initiation flood limit. */
		uint64_t now = (1000 + 10 * (uint64_t)round) * SEC;
		uint64_t wall = 1700000000ULL * SEC + now;
		struct pass_time ti, ta, tb, tc;

		pass_begin(&ti);
		for (size_t i = 0; i < npeers; i++) {
			wg_peer_request_handshake(in[i].responder, now);
			if (round == 0 && wg_peer_encrypt(in[i].responder, in[i].data +
			    WG_DATA_HEADROOM, 0, now, &len) != WG_SEND_NO_SESSION)
				die("session before the first handshake", i);
			if (wg_peer_tick(in[i].responder, now, wall, in[i].init, sizeof(in[i].init),
			    &len) != WG_TICK_SEND || len != 148)
				die("no initiation", i);
		}
		pass_end(&ti);

		pass_begin(&ta);
		for (size_t i = 0; i < npeers; i++) {
			if (wg_engine_receive(r, &in[i].addr, in[i].init, 148, now, wall, out,
			    sizeof(out), &rx) != WG_RX_HANDSHAKE || rx.out_len != 92)
				die(rx.why ? rx.why : "no response", i);
			memcpy(in[i].resp, out, 92);
		}
		pass_end(&ta);

		pass_begin(&tb);
		for (size_t i = 0; i < npeers; i++) {
			if (wg_engine_receive(in[i].e, &r_addr, in[i].resp, 92, now, wall, out,
			    sizeof(out), &rx) != WG_RX_HANDSHAKE || !(rx.flags & WG_RX_SESSION_READY))
				die(rx.why ? rx.why : "response not taken", i);
			if (wg_peer_encrypt(in[i].responder, in[i].data + WG_DATA_HEADROOM, 0, now,
			    &in[i].data_len) != WG_SEND_OK)
				die("no session after the response", i);
		}
		pass_end(&tb);

		pass_begin(&tc);
		for (size_t i = 0; i < npeers; i++) {
			if (wg_engine_receive(r, &in[i].addr, in[i].data, in[i].data_len, now, wall,
			    out, sizeof(out), &rx) != WG_RX_KEEPALIVE ||
			    !(rx.flags & WG_RX_SESSION_READY))
				die(rx.why ? rx.why : "keepalive did not confirm", i);
		}
		pass_end(&tc);

		double resp = (double)npeers / (ta.cpu + tc.cpu);
		if (round == 0) {
			first_resp = resp;
			continue;
		}
		resp_rate[round - 1] = resp;
		both_rate[round - 1] = (double)npeers / (ta.cpu + tb.cpu + tc.cpu);
		all_rate[round - 1] = (double)npeers / (ti.cpu + ta.cpu + tb.cpu + tc.cpu);
		wall_ratio[round - 1] = (ta.wall + tc.wall) / (ta.cpu + tc.cpu);
		printf("  %6zu peers round %d: responder %7.0f/s  both sides %7.0f/s  "
		    "with initiation %7.0f/s  (responder %.1f us, initiator %.1f us per handshake)\n",
		    npeers, round, resp_rate[round - 1], both_rate[round - 1], all_rate[round - 1],
		    (ta.cpu + tc.cpu) * 1e6 / (double)npeers,
		    (ti.cpu + tb.cpu) * 1e6 / (double)npeers);
	}
	printf("%6zu peers: responder %.0f handshakes/s, both sides %.0f/s, with initiation "
	    "%.0f/s; first contact (static-static DH) responder %.0f/s; wall/cpu %.2f "
	    "(medians of %d rounds, thread CPU time)\n", npeers, median(resp_rate, (size_t)rounds),
	    median(both_rate, (size_t)rounds), median(all_rate, (size_t)rounds), first_resp,
	    median(wall_ratio, (size_t)rounds), rounds);
	for (size_t i = 0; i < npeers; i++)
		wg_engine_free(in[i].e);
	wg_engine_free(r);
	free(in);
	free(resp_rate);
	free(both_rate);
	free(all_rate);
	free(wall_ratio);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;

	if (sodium_init() < 0 || rounds < 1 || rounds > 1000) {
		fprintf(stderr, "usage: bench_handshake [ROUNDS [PEERS...]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2) {
		for (int i = 2; i < argc; i++) {
			long n = atol(argv[i]);

			if (n < 1 || n > 100000) {
				fprintf(stderr, "bench_handshake: PEERS from 1 to 100000\n");
				return 2;
			}
			run((size_t)n, rounds);
		}
	} else {
		run(1000, rounds);
		run(10000, rounds);
	}
	return 0;
}
