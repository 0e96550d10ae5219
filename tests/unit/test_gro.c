/* Coalescing of decrypted packets for TUN (tunneld/gro.c): coalesce-then-split (with gso.c)
 * gives back the original packets byte for byte, in order per flow; the coalesced packet is
 * what the kernel wants (lengths, IPv4 header checksum, pseudo-header sum in the L4 field,
 * virtio-net header); a numbered table of packets that must not be coalesced, each with a
 * control that is; ordering across a packet that may not join; the 64 KiB and
 * GRO_MAX_SEGMENTS limits and a full batch; and a random differential run with lost,
 * reordered and corrupted packets.  Checksums are checked with the naive routine of
 * tests/support/pkt_build.h.  Seeds are printed on failure. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/support/pkt_build.h"
#include "tunneld/gro.h"
#include "tunneld/gso.h"

enum { MAXP = GRO_MAX_PACKETS, PKT = 2048 };

static struct gro_batch batch;
static uint8_t orig[MAXP][PKT];		/* as built */
static uint8_t work[MAXP][PKT];		/* handed to gro_add (rewritten in place) */
static size_t lens[MAXP];
static unsigned n_pkts;
static uint8_t wire[VNET_HDR_LEN + 65536];

static void reset_pkts(bool udp)
{
	n_pkts = 0;
	gro_init(&batch, udp);
}

/* Builds a packet and adds it; corrupt: its last byte flipped first (a bad checksum). */
static unsigned add_pkt_corrupt(const struct pkt_spec *s, size_t plen, bool corrupt)
{
	uint8_t payload[PKT];

	for (size_t k = 0; k < plen; k++)
		payload[k] = (uint8_t)rnd();
	lens[n_pkts] = pkt_build(orig[n_pkts], s, payload, plen);
	if (corrupt)
		orig[n_pkts][lens[n_pkts] - 1] ^= 1;
	memcpy(work[n_pkts], orig[n_pkts], lens[n_pkts]);
	assert_true(gro_add(&batch, work[n_pkts], lens[n_pkts]));
	return n_pkts++;
}

static unsigned add_pkt(const struct pkt_spec *s, size_t plen)
{
	return add_pkt_corrupt(s, plen, false);
}

/* Packet i of the batch's input came out as out/len: find which input it is, by bytes. */
struct out_pkt {
	uint8_t data[PKT];
	size_t len;
};

static struct out_pkt outs[MAXP];
static unsigned n_outs;

/* Finishes the batch and splits every item back into packets (outs), checking each item is
 * what the kernel expects. */
static void finish_and_split(void)
{
	struct iovec iov[GRO_MAX_IOV];
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	size_t len;
	unsigned n;

	n_outs = 0;
	gro_finish(&batch);
	for (unsigned i = 0; i < batch.n_items; i++) {
		n = gro_item_iov(&batch, i, iov);
		assert_true(n >= 2 && n <= GRO_MAX_IOV);
		assert_int_equal(iov[0].iov_len, VNET_HDR_LEN);
		len = 0;
		for (unsigned k = 0; k < n; k++) {
			memcpy(wire + len, iov[k].iov_base, iov[k].iov_len);
			len += iov[k].iov_len;
		}
		memcpy(&h, wire, sizeof(h));
		len -= VNET_HDR_LEN;
		assert_true(len <= 65535);
		if (h.gso_type == VNET_GSO_NONE) {
			assert_memory_equal(&h, &(struct vnet_hdr){ 0 }, sizeof(h));
			assert_int_equal(batch.items[i].segments, 1);
		} else {
			const uint8_t *p = wire + VNET_HDR_LEN;
			size_t hl = ref_ip_hlen(p);
			uint8_t proto = (p[0] >> 4) == 6 ? p[6] : p[9];

			assert_true(batch.items[i].segments >= 2);
			assert_int_equal(h.flags, VNET_F_NEEDS_CSUM);
			assert_int_equal(le16toh(h.csum_start), hl);
			assert_int_equal(le16toh(h.csum_offset), proto == IPPROTO_TCP ? 16 : 6);
			assert_true(ref_ip_ok(p));
			if ((p[0] >> 4) == 4)
				assert_int_equal(rd16(p + 2), len);
			else
				assert_int_equal(rd16(p + 4) + 40u, len);
			/* CHECKSUM_PARTIAL: the pseudo-header sum of the whole length. */
			assert_int_equal(rd16(p + hl + le16toh(h.csum_offset)),
			    ref_fold(ref_pseudo(p, proto, (uint32_t)(len - hl))));
		}
		assert_true(gso_parse(&h, wire + VNET_HDR_LEN, len, &g, &why));
		assert_int_equal(g.segments, batch.items[i].segments);
		if (g.segments > 1)
			assert_int_equal(le16toh(h.hdr_len), g.hdr_len);
		for (unsigned k = 0; k < g.segments; k++) {
			assert_true(n_outs < MAXP);
			outs[n_outs].len = gso_segment(&g, k, outs[n_outs].data);
			n_outs++;
		}
	}
}

static bool same_flow(const uint8_t *a, const uint8_t *b)
{
	size_t ha = ref_ip_hlen(a), hb = ref_ip_hlen(b);
	bool v6 = (a[0] >> 4) == 6;

	if ((a[0] >> 4) != (b[0] >> 4))
		return false;
	return memcmp(a + (v6 ? 8 : 12), b + (v6 ? 8 : 12), v6 ? 32 : 8) == 0 &&
	    (v6 ? a[6] == b[6] : a[9] == b[9]) && memcmp(a + ha, b + hb, 4) == 0;
}

/* Every input packet came out once, unchanged, and each flow in its order. */
static void check_roundtrip(uint64_t seed, unsigned iter)
{
	bool used[MAXP] = { false };

	if (n_outs != n_pkts)
		fail_msg("seed %llu iter %u: %u packets in, %u out", (unsigned long long)seed,
		    iter, n_pkts, n_outs);
	for (unsigned o = 0; o < n_outs; o++) {
		unsigned i;

		/* The first unused input of this output's flow must be this very packet. */
		for (i = 0; i < n_pkts; i++)
			if (!used[i] && same_flow(orig[i], outs[o].data))
				break;
		if (i == n_pkts || lens[i] != outs[o].len ||
		    memcmp(orig[i], outs[o].data, lens[i]) != 0) {
			for (size_t b = 0; i < n_pkts && b < lens[i]; b++)
				if (orig[i][b] != outs[o].data[b]) {
					printf("first difference at byte %zu of %zu\n", b, lens[i]);
					break;
				}
			fail_msg("seed %llu iter %u: output %u is not its flow's next input "
			    "(%u)", (unsigned long long)seed, iter, o, i);
		}
		used[i] = true;
	}
}

static void flow_spec(struct pkt_spec *s, bool v6, uint8_t proto)
{
	random_spec(s, v6, proto);
	s->flags = 0x10;	/* ACK */
}

/* Several flows of in-order segments, interleaved: one item per flow, and back again. */
static void test_gro_split_roundtrip(void **state)
{
	uint64_t seed = seed_now("test_gro_split_roundtrip");

	(void)state;
	for (unsigned iter = 0; iter < 200; iter++) {
		struct pkt_spec f[3];
		unsigned left[3], nflows = rnd_range(1, 3), gs[3], total = 0;

		reset_pkts(true);
		for (unsigned k = 0; k < nflows; k++) {
			flow_spec(&f[k], rnd() % 2, rnd() % 3 ? IPPROTO_TCP : IPPROTO_UDP);
			f[k].ip_opt_len = 0;
			gs[k] = rnd_range(1, 1400);
			left[k] = rnd_range(1, 40);
			total += left[k];
		}
		while (total) {
			unsigned k = rnd() % nflows;
			size_t plen;

			if (!left[k])
				continue;
			left[k]--;
			total--;
			/* The last may be shorter and, for TCP, carry PSH. */
			plen = left[k] ? gs[k] : rnd_range(1, gs[k]);
			if (!left[k] && rnd() % 2)
				f[k].flags |= 0x08;
			add_pkt(&f[k], plen);
			f[k].seq += (uint32_t)plen;
			f[k].ip_id++;
		}
		if (batch.n_items != nflows)
			fail_msg("seed %llu iter %u: %u flows became %u items",
			    (unsigned long long)seed, iter, nflows, batch.n_items);
		finish_and_split();
		check_roundtrip(seed, iter);
	}
}

/* Two packets that must not be one: mutate makes the second (or both) differ in one way. */
struct pair_case {
	const char *what;
	void (*mutate)(struct pkt_spec *a, struct pkt_spec *b, size_t *pa, size_t *pb,
	    bool *bad_a, bool *bad_b);
};

#define M(name) static void name(struct pkt_spec *a, struct pkt_spec *b, size_t *pa, \
    size_t *pb, bool *bad_a, bool *bad_b)
#define UNUSED (void)a; (void)b; (void)pa; (void)pb; (void)bad_a; (void)bad_b
M(c_gap) { UNUSED; b->seq += 1; }
M(c_ack) { UNUSED; b->ack += 1; }
M(c_window) { UNUSED; b->window ^= 1; }
M(c_options) { UNUSED; a->tcp_opt_len = b->tcp_opt_len = 12; b->tcp_opt[3] ^= 1; }
M(c_psh_first) { UNUSED; a->flags |= 0x08; }
M(c_syn) { UNUSED; b->flags |= 0x02; }
M(c_fin) { UNUSED; b->flags |= 0x01; }
M(c_bigger) { UNUSED; *pb = *pa + 1; }
M(c_ttl) { UNUSED; b->ttl ^= 1; }
M(c_tos) { UNUSED; b->tos ^= 4; }
M(c_ipopt) { UNUSED; a->ip_opt_len = b->ip_opt_len = 4; }
M(c_bad_b) { UNUSED; *bad_b = true; }
M(c_bad_a) { UNUSED; *bad_a = true; }
M(c_port) { UNUSED; b->dport ^= 1; }
M(c_pure_ack) { UNUSED; *pb = 0; }
M(c_optlen) { UNUSED; b->tcp_opt_len = 4; }
M(c_ipid) { UNUSED; b->ip_id = (uint16_t)(a->ip_id + 2); }
M(c_ipsum_b) { UNUSED; }	/* see run_pairs */
M(c_urgent) { UNUSED; }		/* see run_pairs */
M(c_reserved) { UNUSED; }	/* see run_pairs */

static const struct pair_case tcp_cases[] = {
	/*  1 */ { "sequence gap", c_gap },
	/*  2 */ { "another acknowledgment number", c_ack },
	/*  3 */ { "another window", c_window },
	/*  4 */ { "other TCP options", c_options },
	/*  5 */ { "PSH on the first", c_psh_first },
	/*  6 */ { "SYN on the second", c_syn },
	/*  7 */ { "FIN on the second", c_fin },
	/*  8 */ { "second payload larger", c_bigger },
	/*  9 */ { "another TTL", c_ttl },
	/* 10 */ { "another TOS / traffic class", c_tos },
	/* 11 */ { "IPv4 options", c_ipopt },
	/* 12 */ { "bad checksum on the second", c_bad_b },
	/* 13 */ { "bad checksum on the first", c_bad_a },
	/* 14 */ { "another port", c_port },
	/* 15 */ { "second without payload", c_pure_ack },
	/* 16 */ { "another TCP header length", c_optlen },
	/* 17 */ { "IPv4 ID not the next", c_ipid },
	/* 18 */ { "bad IPv4 header checksum on the second", c_ipsum_b },
	/* 19 */ { "another urgent pointer (URG not set)", c_urgent },
	/* 20 */ { "other reserved bits (AE)", c_reserved },
};

static const struct pair_case udp_cases[] = {
	/* 21 */ { "UDP: second payload larger", c_bigger },
	/* 22 */ { "UDP: another TTL", c_ttl },
	/* 23 */ { "UDP: bad checksum on the second", c_bad_b },
	/* 24 */ { "UDP: bad checksum on the first", c_bad_a },
	/* 25 */ { "UDP: another port", c_port },
	/* 26 */ { "UDP: second without payload", c_pure_ack },
	/* 27 */ { "UDP: IPv4 ID not the next", c_ipid },
	/* 28 */ { "UDP: bad IPv4 header checksum on the second", c_ipsum_b },
};

static void run_pairs(const struct pair_case *c, size_t n, uint8_t proto, unsigned first)
{
	for (size_t i = 0; i < n; i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			for (int control = 1; control >= 0; control--) {
				struct pkt_spec a, b;
				size_t pa = 1000, pb = 1000;
				bool bad_a = false, bad_b = false;
				unsigned ia, ib;

				/* IPv6 has no options or ID. */
				if (!control && v6 && (c[i].mutate == c_ipopt ||
				    c[i].mutate == c_ipid || c[i].mutate == c_ipsum_b))
					continue;
				flow_spec(&a, v6, proto);
				a.ip_opt_len = 0;
				a.tcp_opt_len = 0;
				b = a;
				if (!control) {
					c[i].mutate(&a, &b, &pa, &pb, &bad_a, &bad_b);
				}
				b.seq = control || c[i].mutate != c_gap ? a.seq + (uint32_t)pa :
				    b.seq + (uint32_t)pa;
				if (control || c[i].mutate != c_ipid)
					b.ip_id = (uint16_t)(a.ip_id + 1);
				reset_pkts(true);
				ia = add_pkt_corrupt(&a, pa, bad_a);
				ib = n_pkts;
				{
					uint8_t payload[PKT];

					for (size_t k = 0; k < pb; k++)
						payload[k] = (uint8_t)rnd();
					lens[ib] = pkt_build(orig[ib], &b, payload, pb);
					if (bad_b)
						orig[ib][lens[ib] - 1 - (pb == 0)] ^= 0x40;
					if (!control && c[i].mutate == c_ipsum_b)
						orig[ib][10] ^= 0x01;	/* IPv4 header checksum */
					/* TCP header bytes pkt_spec has no field for. */
					if (!control && (c[i].mutate == c_urgent ||
					    c[i].mutate == c_reserved)) {
						orig[ib][ref_ip_hlen(orig[ib]) +
						    (c[i].mutate == c_urgent ? 19 : 12)] ^= 0x01;
						ref_checksums(orig[ib], lens[ib]);
					}
					memcpy(work[ib], orig[ib], lens[ib]);
					assert_true(gro_add(&batch, work[ib], lens[ib]));
					n_pkts++;
				}
				if (control && batch.n_items != 1)
					fail_msg("case %zu (%s) %s: the control did not coalesce",
					    first + i, c[i].what, v6 ? "IPv6" : "IPv4");
				if (!control && batch.n_items != 2)
					fail_msg("case %zu (%s) %s: coalesced", first + i,
					    c[i].what, v6 ? "IPv6" : "IPv4");
				finish_and_split();
				if (!control) {
					/* Written as they came, untouched. */
					assert_int_equal(n_outs, 2);
					assert_int_equal(outs[0].len, lens[ia]);
					assert_memory_equal(outs[0].data, orig[ia], lens[ia]);
					assert_int_equal(outs[1].len, lens[ib]);
					assert_memory_equal(outs[1].data, orig[ib], lens[ib]);
				}
			}
		}
	}
}

static void test_gro_no_coalesce_table(void **state)
{
	(void)state;
	seed_now("test_gro_no_coalesce_table");
	run_pairs(tcp_cases, sizeof(tcp_cases) / sizeof(tcp_cases[0]), IPPROTO_TCP, 1);
	run_pairs(udp_cases, sizeof(udp_cases) / sizeof(udp_cases[0]), IPPROTO_UDP, 21);
}

/* UDP is left alone unless USO was accepted; IPv4 UDP without a checksum always is. */
static void test_gro_udp_off(void **state)
{
	struct pkt_spec s;

	(void)state;
	seed_now("test_gro_udp_off");
	flow_spec(&s, false, IPPROTO_UDP);
	s.ip_opt_len = 0;
	reset_pkts(false);
	add_pkt(&s, 500);
	s.ip_id++;
	add_pkt(&s, 500);
	assert_int_equal(batch.n_items, 2);
	reset_pkts(true);
	add_pkt(&s, 500);
	s.ip_id++;
	add_pkt(&s, 500);
	assert_int_equal(batch.n_items, 1);
	/* Checksum 0: "none" over IPv4. */
	reset_pkts(true);
	for (int k = 0; k < 2; k++) {
		uint8_t payload[500] = { 0 };

		lens[n_pkts] = pkt_build(orig[n_pkts], &s, payload, sizeof(payload));
		s.ip_id++;
		wr16(orig[n_pkts] + 20 + 6, 0);
		memcpy(work[n_pkts], orig[n_pkts], lens[n_pkts]);
		assert_true(gro_add(&batch, work[n_pkts], lens[n_pkts]));
		n_pkts++;
	}
	assert_int_equal(batch.n_items, 2);
}

/* d1, then a packet of the same two hosts whose flow cannot be told (an IPv6 fragment, whose
 * Fragment header hides the UDP ports; an IPv4 fragment), then d3 of d1's flow: d3 may not join
 * d1, or the receiver gets d1 d3 d2. */
static void test_gro_order_fragment(void **state)
{
	struct pkt_spec s;
	uint8_t payload[1000] = { 0 };

	(void)state;
	seed_now("test_gro_order_fragment");
	for (int v6 = 0; v6 < 2; v6++) {
		uint8_t *f;
		size_t flen;

		flow_spec(&s, v6, IPPROTO_UDP);
		s.ip_opt_len = 0;
		reset_pkts(true);
		add_pkt(&s, 1000);
		s.ip_id++;
		/* The first fragment of d2: same addresses, the UDP header behind a Fragment
		 * header (IPv6) or with MF set (IPv4). */
		f = work[n_pkts];
		flen = pkt_build(f, &s, payload, sizeof(payload));
		if (v6) {
			memmove(f + 48, f + 40, flen - 40);
			f[6] = 44;	/* Fragment */
			memset(f + 40, 0, 8);
			f[40] = IPPROTO_UDP;
			f[43] = 1;	/* offset 0, M */
			flen += 8;
			wr16(f + 4, (uint16_t)(flen - 40));
		} else {
			f[6] = 0x20;	/* MF */
			wr16(f + 10, 0);
			wr16(f + 10, ref_fold(ref_sum(0, f, 20)) ^ 0xffff);
		}
		/* d3 carries the ID after d1's (the fragment's came from another counter). */
		assert_true(gro_add(&batch, f, flen));
		n_pkts++;
		add_pkt(&s, 1000);
		assert_int_equal(batch.n_items, 3);
		assert_int_equal(batch.items[0].segments, 1);
	}
}

/* IPv6 UDP with checksum 0 is invalid (the kernel drops it) even when the rest of the datagram
 * sums to 0xffff, so that 0 verifies arithmetically: coalesced, it would get a checksum and be
 * delivered.  Each stays alone. */
static void test_gro_udp6_zero_checksum(void **state)
{
	struct pkt_spec s;
	uint8_t payload[500];
	uint16_t rest;

	(void)state;
	seed_now("test_gro_udp6_zero_checksum");
	flow_spec(&s, true, IPPROTO_UDP);
	reset_pkts(true);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(payload); i++)
			payload[i] = (uint8_t)rnd();
		payload[0] = payload[1] = 0;
		lens[n_pkts] = pkt_build(orig[n_pkts], &s, payload, sizeof(payload));
		wr16(orig[n_pkts] + 46, 0);
		rest = ref_fold(ref_sum(ref_pseudo(orig[n_pkts], IPPROTO_UDP,
		    (uint32_t)(lens[n_pkts] - 40)), orig[n_pkts] + 40, lens[n_pkts] - 40));
		wr16(orig[n_pkts] + 48, (uint16_t)(0xffff - rest));
		assert_true(ref_l4_ok(orig[n_pkts], lens[n_pkts]));
		memcpy(work[n_pkts], orig[n_pkts], lens[n_pkts]);
		assert_true(gro_add(&batch, work[n_pkts], lens[n_pkts]));
		n_pkts++;
	}
	assert_int_equal(batch.n_items, 2);
}

/* a1 a2 a3(FIN) a4: a4 may not join a1+a2 (it would be written before the FIN). */
static void test_gro_order(void **state)
{
	uint64_t seed = seed_now("test_gro_order");
	struct pkt_spec s;

	(void)state;
	flow_spec(&s, true, IPPROTO_TCP);
	reset_pkts(true);
	for (int k = 0; k < 4; k++) {
		s.flags = k == 2 ? 0x11 : 0x10;
		add_pkt(&s, 800);
		s.seq += 800;
		s.ip_id++;
	}
	assert_int_equal(batch.n_items, 3);
	assert_int_equal(batch.items[0].segments, 2);
	finish_and_split();
	check_roundtrip(seed, 0);
}

static void test_gro_limits(void **state)
{
	uint64_t seed = seed_now("test_gro_limits");
	struct pkt_spec s;
	unsigned first;

	(void)state;
	/* GRO_MAX_SEGMENTS. */
	flow_spec(&s, false, IPPROTO_TCP);
	s.ip_opt_len = s.tcp_opt_len = 0;
	reset_pkts(true);
	for (int k = 0; k < GRO_MAX_SEGMENTS + 6; k++) {
		add_pkt(&s, 100);
		s.seq += 100;
		s.ip_id++;
	}
	assert_int_equal(batch.n_items, 2);
	assert_int_equal(batch.items[0].segments, GRO_MAX_SEGMENTS);
	finish_and_split();
	check_roundtrip(seed, 0);
	/* 64 KiB: 1440-byte packets, 46 fit (1440 + 45 * 1400 = 64440). */
	reset_pkts(true);
	for (int k = 0; k < 50; k++) {
		add_pkt(&s, 1400);
		s.seq += 1400;
		s.ip_id++;
	}
	assert_int_equal(batch.n_items, 2);
	assert_int_equal(batch.items[0].segments, 46);
	assert_true(batch.items[0].total_len <= 65535);
	finish_and_split();
	check_roundtrip(seed, 1);
	/* A full batch refuses, and takes packets again after a reset. */
	reset_pkts(true);
	for (first = 0; first < GRO_MAX_PACKETS; first++) {
		lens[0] = pkt_build(orig[0], &s, orig[1], 10);
		memcpy(work[first], orig[0], lens[0]);
		assert_true(gro_add(&batch, work[first], lens[0]));
	}
	assert_false(gro_add(&batch, work[0], lens[0]));
	gro_reset(&batch);
	assert_true(gro_add(&batch, work[0], lens[0]));
}

/* Random streams of four flows with losses, reordering, corruption, PSH and pure ACKs: every
 * packet comes out once, unchanged, in its flow's order. */
static void test_gro_random_differential(void **state)
{
	uint64_t seed = seed_now("test_gro_random_differential");

	(void)state;
	for (unsigned iter = 0; iter < 300; iter++) {
		struct pkt_spec f[4];
		unsigned gs[4], n = rnd_range(1, 200);

		reset_pkts(rnd() % 2);
		for (int k = 0; k < 4; k++) {
			flow_spec(&f[k], rnd() % 2, rnd() % 3 ? IPPROTO_TCP : IPPROTO_UDP);
			gs[k] = rnd_range(1, 1400);
		}
		for (unsigned i = 0; i < n; i++) {
			unsigned k = rnd() % 4, r = rnd() % 20;
			size_t plen = gs[k];
			struct pkt_spec s = f[k];

			if (r == 0)
				f[k].seq += (uint32_t)gs[k];		/* one lost */
			if (r == 1)
				s.flags |= 0x08;			/* PSH */
			if (r == 2)
				plen = 0;				/* pure ACK */
			if (r == 3)
				plen = rnd_range(1, gs[k]);		/* short */
			if (r == 4)
				s.seq -= (uint32_t)gs[k];		/* old, reordered */
			s.seq = r == 4 ? s.seq : f[k].seq;
			/* r == 5: corrupted inside (an authenticated peer sent it so: our
			 * checksum check is all that keeps it from being "repaired"). */
			add_pkt_corrupt(&s, plen, r == 5);
			if (r != 4) {
				f[k].seq += (uint32_t)plen;
				f[k].ip_id++;
			}
		}
		finish_and_split();
		check_roundtrip(seed, iter);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gro_split_roundtrip),
		cmocka_unit_test(test_gro_no_coalesce_table),
		cmocka_unit_test(test_gro_udp_off),
		cmocka_unit_test(test_gro_udp6_zero_checksum),
		cmocka_unit_test(test_gro_order),
		cmocka_unit_test(test_gro_order_fragment),
		cmocka_unit_test(test_gro_limits),
		cmocka_unit_test(test_gro_random_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
