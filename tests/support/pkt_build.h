/* Builds IPv4/IPv6 TCP and UDP packets for the offload tests, with checksums from a naive
 * Internet checksum written here independently of tunneld/checksum.c (16-bit big-endian words,
 * one at a time, carries folded at the end), so the two can be checked against each other. */
#ifndef TESTS_PKT_BUILD_H
#define TESTS_PKT_BUILD_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static inline uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)); wr16(p + 2, (uint16_t)v); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

/* Pseudo-header sum of a packet whose IP header is at pkt and whose L4 part is l4_len bytes. */
static inline uint32_t ref_pseudo(const uint8_t *pkt, uint8_t proto, uint32_t l4_len)
{
	bool v6 = (pkt[0] >> 4) == 6;
	uint32_t sum = ref_sum(0, pkt + (v6 ? 8 : 12), v6 ? 32 : 8);

	return sum + proto + (l4_len >> 16) + (l4_len & 0xffff);
}

static inline size_t ref_ip_hlen(const uint8_t *pkt)
{
	return (pkt[0] >> 4) == 6 ? 40 : (size_t)(pkt[0] & 15) * 4;
}

/* The TCP/UDP checksum of pkt (len bytes) verifies. */
static inline bool ref_l4_ok(const uint8_t *pkt, size_t len)
{
	size_t hl = ref_ip_hlen(pkt);
	uint8_t proto = (pkt[0] >> 4) == 6 ? pkt[6] : pkt[9];

	return ref_fold(ref_sum(ref_pseudo(pkt, proto, (uint32_t)(len - hl)), pkt + hl, len - hl)) ==
	    0xffff;
}

/* The IPv4 header checksum verifies (true for IPv6, which has none). */
static inline bool ref_ip_ok(const uint8_t *pkt)
{
	if ((pkt[0] >> 4) == 6)
		return true;
	return ref_fold(ref_sum(0, pkt, ref_ip_hlen(pkt))) == 0xffff;
}

/* Fills in the IPv4 header checksum and the L4 checksum of a finished packet. */
static inline void ref_checksums(uint8_t *pkt, size_t len)
{
	size_t hl = ref_ip_hlen(pkt);
	uint8_t proto = (pkt[0] >> 4) == 6 ? pkt[6] : pkt[9];
	uint8_t *field = pkt + hl + (proto == IPPROTO_TCP ? 16 : 6);
	uint16_t c;

	if ((pkt[0] >> 4) == 4) {
		wr16(pkt + 10, 0);
		wr16(pkt + 10, (uint16_t)~ref_fold(ref_sum(0, pkt, hl)));
	}
	wr16(field, 0);
	c = (uint16_t)~ref_fold(ref_sum(ref_pseudo(pkt, proto, (uint32_t)(len - hl)), pkt + hl,
	    len - hl));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	wr16(field, c);
}

struct pkt_spec {
	bool v6;
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint16_t ip_id;
	uint8_t ttl, tos;
	uint8_t ip_opt_len;	/* IPv4 options, multiple of 4, <= 40 */
	uint8_t tcp_opt_len;	/* multiple of 4, <= 40 */
	uint8_t tcp_opt[40];
	uint32_t seq, ack;
	uint8_t flags;		/* TCP flags */
	uint16_t window;
};

/* Writes the packet spec describes with payload (plen bytes) at out; returns its length.
 * Checksums and lengths are right. */
static inline size_t pkt_build(uint8_t *out, const struct pkt_spec *s, const uint8_t *payload,
    size_t plen)
{
	size_t ihl = s->v6 ? 40 : 20u + s->ip_opt_len;
	size_t l4h = s->proto == IPPROTO_TCP ? 20u + s->tcp_opt_len : 8;
	size_t len = ihl + l4h + plen;
	uint8_t *l4 = out + ihl;

	memset(out, 0, ihl + l4h);
	if (s->v6) {
		out[0] = (uint8_t)(0x60 | (s->tos >> 4));
		out[1] = (uint8_t)(s->tos << 4);
		wr16(out + 4, (uint16_t)(len - 40));
		out[6] = s->proto;
		out[7] = s->ttl;
		memcpy(out + 8, s->src, 16);
		memcpy(out + 24, s->dst, 16);
	} else {
		out[0] = (uint8_t)(0x40 | (ihl / 4));
		out[1] = s->tos;
		wr16(out + 2, (uint16_t)len);
		wr16(out + 4, s->ip_id);
		out[6] = 0x40;	/* DF */
		out[8] = s->ttl;
		out[9] = s->proto;
		memcpy(out + 12, s->src, 4);
		memcpy(out + 16, s->dst, 4);
		for (size_t i = 20; i < ihl; i++)
			out[i] = 1;	/* NOP options */
	}
	wr16(l4, s->sport);
	wr16(l4 + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		wr32(l4 + 4, s->seq);
		wr32(l4 + 8, s->ack);
		l4[12] = (uint8_t)((l4h / 4) << 4);
		l4[13] = s->flags;
		wr16(l4 + 14, s->window);
		memcpy(l4 + 20, s->tcp_opt, s->tcp_opt_len);
	} else {
		wr16(l4 + 4, (uint16_t)(l4h + plen));
	}
	memcpy(out + ihl + l4h, payload, plen);
	ref_checksums(out, len);
	return len;
}

/* Random test data, reproducible from the printed seed. */
static uint64_t rng_state;


static inline uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static inline uint32_t rnd_range(uint32_t lo, uint32_t hi)	/* inclusive */
{
	return lo + rnd() % (hi - lo + 1);
}

static inline uint64_t seed_now(const char *test)
{
	uint64_t seed = getenv("SEED") ? strtoull(getenv("SEED"), NULL, 0) :
	    (uint64_t)time(NULL) * 2654435761u + (uint64_t)clock();

	printf("%s: seed %llu (SEED=... to repeat)\n", test, (unsigned long long)seed);
	rng_state = seed | 1;
	return seed;
}

static inline void random_spec(struct pkt_spec *s, bool v6, uint8_t proto)
{
	memset(s, 0, sizeof(*s));
	s->v6 = v6;
	s->proto = proto;
	for (int i = 0; i < 16; i++) {
		s->src[i] = (uint8_t)rnd();
		s->dst[i] = (uint8_t)rnd();
	}
	s->sport = (uint16_t)rnd();
	s->dport = (uint16_t)rnd();
	s->ip_id = (uint16_t)rnd();
	s->ttl = (uint8_t)rnd_range(1, 255);
	s->tos = (uint8_t)rnd();
	s->ip_opt_len = v6 || rnd() % 2 ? 0 : (uint8_t)(4 * rnd_range(1, 10));
	s->tcp_opt_len = rnd() % 2 ? 0 : (uint8_t)(4 * rnd_range(1, 10));
	for (int i = 0; i < 40; i++)
		s->tcp_opt[i] = (uint8_t)rnd();
	s->seq = rnd();
	s->ack = rnd();
	/* ACK, maybe PSH/FIN/CWR/ECE: the flags a TSO super-packet can carry. */
	s->flags = (uint8_t)(0x10 | (rnd() % 2 ? 0x08 : 0) | (rnd() % 4 == 0 ? 0x01 : 0) |
	    (rnd() % 4 == 0 ? 0x80 : 0) | (rnd() % 4 == 0 ? 0x40 : 0));
	s->window = (uint16_t)rnd();
}

#endif
