/* Segmentation of TUN super-packets (tunneld/gso.c) against a per-packet reference: random TCP
 * and UDP super-packets, IPv4 (with and without options) and IPv6, with and without TCP
 * options, are cut by gso_segment and compared byte for byte with the packets a plain sender
 * would have built one at a time (tests/support/pkt_build.h, whose checksums come from a naive
 * routine of its own); plain packets whose checksum is left to us; a numbered table of hostile
 * virtio-net headers; and random mutations, under ASan, against exact-size buffers.  Seeds are
 * printed on failure. */
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
#include "tunneld/checksum.h"
#include "tunneld/gso.h"

static size_t spec_hdr_len(const struct pkt_spec *s)
{
	return (s->v6 ? 40 : 20u + s->ip_opt_len) +
	    (s->proto == IPPROTO_TCP ? 20u + s->tcp_opt_len : 8);
}

static void vnet_for(struct vnet_hdr *h, const struct pkt_spec *s, uint16_t gso_size)
{
	memset(h, 0, sizeof(*h));
	h->flags = VNET_F_NEEDS_CSUM;
	h->gso_type = s->proto == IPPROTO_UDP ? VNET_GSO_UDP_L4 :
	    s->v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
	if (s->proto == IPPROTO_TCP && (s->flags & 0xc0))
		h->gso_type |= VNET_GSO_ECN;
	/* hdr_len is not trusted (the forwarding path sets it to the whole first packet). */
	h->hdr_len = htole16((uint16_t)(rnd() % 2 ? spec_hdr_len(s) : rnd()));
	h->gso_size = htole16(gso_size);
	h->csum_start = htole16((uint16_t)(s->v6 ? 40 : 20u + s->ip_opt_len));
	h->csum_offset = htole16(s->proto == IPPROTO_TCP ? 16 : 6);
}

/* As the kernel hands it over with CHECKSUM_PARTIAL: the L4 field holds the pseudo-header sum. */
static void make_partial(uint8_t *pkt, size_t len)
{
	size_t hl = ref_ip_hlen(pkt);
	uint8_t proto = (pkt[0] >> 4) == 6 ? pkt[6] : pkt[9];

	wr16(pkt + hl + (proto == IPPROTO_TCP ? 16 : 6),
	    ref_fold(ref_pseudo(pkt, proto, (uint32_t)(len - hl))));
}

static uint8_t super[65536], payload[65536], want[65536], got[65536];

/* One random super-packet, segmented and compared with the reference.  Returns segments. */
static unsigned one_superpacket(bool v6, uint8_t proto, uint64_t seed, unsigned iter)
{
	struct pkt_spec s, seg;
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why = NULL;
	size_t hl, plen, len, off, n, wlen;
	uint16_t gso_size;
	unsigned i, nseg;

	random_spec(&s, v6, proto);
	hl = spec_hdr_len(&s);
	switch (rnd() % 4) {
	case 0: gso_size = (uint16_t)rnd_range(1, 64); break;		/* tiny */
	case 1: gso_size = (uint16_t)(1420 - hl); break;		/* a 1420 MTU */
	default: gso_size = (uint16_t)rnd_range(48, 9000); break;
	}
	plen = rnd_range(1, (uint32_t)(65535 - hl));
	if ((plen + gso_size - 1) / gso_size > GSO_MAX_SEGMENTS)
		plen = (size_t)gso_size * rnd_range(1, GSO_MAX_SEGMENTS);
	if (plen > 65535 - hl)
		plen = 65535 - hl;
	for (size_t k = 0; k < plen; k++)
		payload[k] = (uint8_t)rnd();
	len = pkt_build(super, &s, payload, plen);
	make_partial(super, len);
	vnet_for(&h, &s, gso_size);
	if (!gso_parse(&h, super, len, &g, &why))
		fail_msg("seed %llu iter %u: valid super-packet refused: %s",
		    (unsigned long long)seed, iter, why);
	nseg = (unsigned)((plen + gso_size - 1) / gso_size);
	assert_int_equal(g.segments, nseg);
	assert_int_equal(g.hdr_len, hl);
	for (i = 0, off = 0; i < nseg; i++, off += gso_size) {
		n = plen - off < gso_size ? plen - off : gso_size;
		seg = s;
		seg.seq = s.seq + (uint32_t)off;
		seg.ip_id = (uint16_t)(s.ip_id + i);
		if (i + 1 < nseg)
			seg.flags &= (uint8_t)~0x09;	/* FIN, PSH: last only */
		if (i > 0)
			seg.flags &= (uint8_t)~0x80;	/* CWR: first only */
		wlen = pkt_build(want, &seg, payload + off, n);
		memset(got, 0xa5, wlen + 16);
		if (gso_segment(&g, i, got) != wlen || memcmp(got, want, wlen) != 0)
			fail_msg("seed %llu iter %u: %s %s segment %u/%u (gso_size %u) differs "
			    "from the per-packet reference", (unsigned long long)seed, iter,
			    v6 ? "IPv6" : "IPv4", proto == IPPROTO_TCP ? "TCP" : "UDP", i, nseg,
			    gso_size);
		assert_true(ref_ip_ok(got));
		assert_true(ref_l4_ok(got, wlen));
	}
	return nseg;
}

static void test_gso_differential(void **state)
{
	uint64_t seed = seed_now("test_gso_differential");
	unsigned iter, total = 0;

	(void)state;
	for (iter = 0; iter < 400; iter++)
		total += one_superpacket(iter & 1, iter & 2 ? IPPROTO_UDP : IPPROTO_TCP, seed, iter);
	assert_true(total > 400);
}

/* A plain packet (no GSO) with NEEDS_CSUM gets the checksum a per-packet sender computes. */
static void test_gso_plain_needs_csum(void **state)
{
	uint64_t seed = seed_now("test_gso_plain_needs_csum");
	struct pkt_spec s;
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	size_t len, plen;

	(void)state;
	for (unsigned iter = 0; iter < 200; iter++) {
		random_spec(&s, iter & 1, iter & 2 ? IPPROTO_UDP : IPPROTO_TCP);
		plen = rnd_range(0, 1400);
		for (size_t k = 0; k < plen; k++)
			payload[k] = (uint8_t)rnd();
		len = pkt_build(want, &s, payload, plen);
		memcpy(super, want, len);
		make_partial(super, len);
		memset(&h, 0, sizeof(h));
		h.flags = VNET_F_NEEDS_CSUM;
		h.csum_start = htole16((uint16_t)ref_ip_hlen(super));
		h.csum_offset = htole16(s.proto == IPPROTO_TCP ? 16 : 6);
		if (!gso_parse(&h, super, len, &g, &why))
			fail_msg("seed %llu iter %u: refused: %s", (unsigned long long)seed, iter, why);
		assert_int_equal(g.segments, 1);
		assert_int_equal(gso_segment(&g, 0, got), len);
		if (memcmp(got, want, len) != 0)
			fail_msg("seed %llu iter %u: completed checksum differs",
			    (unsigned long long)seed, iter);
		/* Without NEEDS_CSUM the packet passes untouched. */
		h.flags = 0;
		memcpy(super, want, len);
		super[len - 1] ^= 0xff;
		assert_true(gso_parse(&h, super, len, &g, &why));
		assert_int_equal(super[len - 1], want[len - 1] ^ 0xff);
	}
}


/* A plain UDP packet whose checksum comes to 0 carries 0xffff (RFC 768; the kernel's
 * skb_checksum_help writes CSUM_MANGLED_0): 0 means "no checksum", which an IPv6 receiver
 * drops and an IPv4 one does not verify. */
static void test_gso_plain_needs_csum_zero(void **state)
{
	struct pkt_spec s;
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	size_t len;
	uint16_t rest;

	(void)state;
	seed_now("test_gso_plain_needs_csum_zero");
	for (int v6 = 0; v6 < 2; v6++) {
		random_spec(&s, v6, IPPROTO_UDP);
		s.ip_opt_len = 0;
		for (size_t k = 0; k < 100; k++)
			payload[k] = (uint8_t)rnd();
		payload[0] = payload[1] = 0;
		len = pkt_build(want, &s, payload, 100);
		/* The first payload word chosen so that the L4 sum folds to 0xffff. */
		wr16(want + (v6 ? 46 : 26), 0);
		rest = ref_fold(ref_sum(ref_pseudo(want, IPPROTO_UDP, (uint32_t)(len - (v6 ? 40 : 20))),
		    want + (v6 ? 40 : 20), len - (v6 ? 40 : 20)));
		wr16(want + (v6 ? 48 : 28), (uint16_t)(0xffff - rest));
		memcpy(super, want, len);
		make_partial(super, len);
		memset(&h, 0, sizeof(h));
		h.flags = VNET_F_NEEDS_CSUM;
		h.csum_start = htole16(v6 ? 40 : 20);
		h.csum_offset = htole16(6);
		assert_true(gso_parse(&h, super, len, &g, &why));
		assert_int_equal(rd16(super + (v6 ? 46 : 26)), 0xffff);
		assert_true(ref_l4_ok(super, len));
	}
}

/* The checksum module against the naive reference, odd lengths and all. */
static void test_checksum_reference(void **state)
{
	uint64_t seed = seed_now("test_checksum_reference");

	(void)state;
	for (unsigned iter = 0; iter < 2000; iter++) {
		size_t len = rnd_range(0, 3000);
		uint16_t ours, theirs, folded;
		uint8_t b[2];

		for (size_t k = 0; k < len; k++)
			payload[k] = (uint8_t)rnd();
		theirs = ref_fold(ref_sum(0, payload, len));
		/* Ours is in memory order, to be stored as it is: read it back as bytes. */
		folded = checksum_fold(checksum_add(0, payload, len));
		memcpy(b, &folded, 2);
		ours = (uint16_t)(b[0] << 8 | b[1]);
		/* One's complement: 0 and 0xffff are the same number. */
		if (ours != theirs && !(ours == 0xffff && theirs == 0) &&
		    !(ours == 0 && theirs == 0xffff))
			fail_msg("seed %llu: %zu bytes: %04x != %04x", (unsigned long long)seed, len,
			    ours, theirs);
	}
}

/* Hostile or unusable headers: each case is one lie, on an otherwise valid IPv4 TCP
 * super-packet (or IPv6 where it says), and must be refused. */
struct bad_case {
	const char *what;
	void (*mutate)(struct vnet_hdr *h, uint8_t *pkt, size_t *len);
};

static void m_flags(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->flags |= 4; }
static void m_type(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->gso_type = 3; }
static void m_udp_ecn(struct vnet_hdr *h, uint8_t *p, size_t *l)
{ (void)l; h->gso_type = VNET_GSO_UDP_L4 | VNET_GSO_ECN; p[9] = IPPROTO_UDP; }
static void m_tcpv6_on_v4(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->gso_type = VNET_GSO_TCPV6; }
static void m_ihl_small(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[0] = 0x44; }
static void m_ihl_big(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; p[0] = 0x4f; *l = 50; wr16(p + 2, 50); }
static void m_totlen(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; wr16(p + 2, (uint16_t)(*l + 1)); }
static void m_frag(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[6] |= 0x20; }
static void m_fragoff(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[7] = 1; }
static void m_proto(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[9] = IPPROTO_UDP; }
static void m_doff_small(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[20 + 12] = 0x40; }
static void m_doff_big(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; p[20 + 12] = 0xf0; *l = 60; wr16(p + 2, 60); }
static void m_gso0(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->gso_size = 0; }
static void m_nopayload(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; *l = 40; wr16(p + 2, 40); }
static void m_segments(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->gso_size = htole16(1); }
static void m_csum_start(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->csum_start = htole16(24); }
static void m_csum_offset(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->csum_offset = htole16(6); }
static void m_version(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[0] = 0x55; }
static void m_short(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)p; *l = 19; }
static void m_empty(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)p; *l = 0; }
static void m_trunc_tcp(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; *l = 30; wr16(p + 2, 30); }
static void m_none_start(struct vnet_hdr *h, uint8_t *p, size_t *l)
{ (void)p; h->gso_type = 0; h->csum_start = htole16((uint16_t)*l); }
static void m_none_offset(struct vnet_hdr *h, uint8_t *p, size_t *l)
{ (void)p; h->gso_type = 0; h->csum_start = htole16(20); h->csum_offset = htole16((uint16_t)(*l - 21)); }
static void m_none_odd(struct vnet_hdr *h, uint8_t *p, size_t *l)
{ (void)p; (void)l; h->gso_type = 0; h->csum_start = htole16(20); h->csum_offset = htole16(15); }
static void m_none_huge(struct vnet_hdr *h, uint8_t *p, size_t *l)
{ (void)p; (void)l; h->gso_type = 0; h->csum_start = htole16(0xffff); h->csum_offset = htole16(0xffff); }
static void m_none_ecn(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->gso_type = VNET_GSO_ECN; }
static void m_v6_ext(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; (void)l; p[6] = 0; }	/* hop-by-hop */
static void m_v6_plen(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)h; wr16(p + 4, (uint16_t)(*l - 39)); }
static void m_v6_tcpv4(struct vnet_hdr *h, uint8_t *p, size_t *l) { (void)p; (void)l; h->gso_type = VNET_GSO_TCPV4; }

static const struct bad_case bad_v4[] = {
	/*  1 */ { "unknown flag", m_flags },
	/*  2 */ { "gso_type UFO (3)", m_type },
	/*  3 */ { "ECN on UDP", m_udp_ecn },
	/*  4 */ { "TCPV6 on IPv4", m_tcpv6_on_v4 },
	/*  5 */ { "IHL 4", m_ihl_small },
	/*  6 */ { "IHL past the end", m_ihl_big },
	/*  7 */ { "total length lies", m_totlen },
	/*  8 */ { "more fragments", m_frag },
	/*  9 */ { "fragment offset", m_fragoff },
	/* 10 */ { "protocol UDP under TCPV4", m_proto },
	/* 11 */ { "TCP data offset 4", m_doff_small },
	/* 12 */ { "TCP data offset past the end", m_doff_big },
	/* 13 */ { "gso_size 0", m_gso0 },
	/* 14 */ { "no payload", m_nopayload },
	/* 15 */ { "more than GSO_MAX_SEGMENTS", m_segments },
	/* 16 */ { "csum_start not the IP header length", m_csum_start },
	/* 17 */ { "csum_offset not TCP's", m_csum_offset },
	/* 18 */ { "IP version 5", m_version },
	/* 19 */ { "19 bytes", m_short },
	/* 20 */ { "empty", m_empty },
	/* 21 */ { "truncated TCP header", m_trunc_tcp },
	/* 22 */ { "no GSO, csum_start at the end", m_none_start },
	/* 23 */ { "no GSO, csum field past the end", m_none_offset },
	/* 24 */ { "no GSO, odd csum_offset", m_none_odd },
	/* 25 */ { "no GSO, csum_start and offset 0xffff", m_none_huge },
	/* 26 */ { "ECN without GSO", m_none_ecn },
};

static const struct bad_case bad_v6[] = {
	/* 27 */ { "IPv6 extension header", m_v6_ext },
	/* 28 */ { "IPv6 payload length lies", m_v6_plen },
	/* 29 */ { "TCPV4 on IPv6", m_v6_tcpv4 },
};

static void run_bad(const struct bad_case *c, size_t n, bool v6, unsigned first)
{
	struct pkt_spec s;
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		random_spec(&s, v6, IPPROTO_TCP);
		s.ip_opt_len = 0;
		s.tcp_opt_len = 0;
		memset(payload, 7, 2000);
		len = pkt_build(super, &s, payload, 2000);
		vnet_for(&h, &s, 1000);
		h.gso_type &= (uint8_t)~VNET_GSO_ECN;
		h.flags = VNET_F_NEEDS_CSUM;
		/* The unmutated packet is accepted: each case tests its one lie. */
		assert_true(gso_parse(&h, super, len, &g, &why));
		c[i].mutate(&h, super, &len);
		why = NULL;
		if (gso_parse(&h, super, len, &g, &why))
			fail_msg("case %zu (%s): accepted", first + i, c[i].what);
		assert_non_null(why);
	}
}

static void test_gso_hostile_table(void **state)
{
	(void)state;
	seed_now("test_gso_hostile_table");
	run_bad(bad_v4, sizeof(bad_v4) / sizeof(bad_v4[0]), false, 1);
	run_bad(bad_v6, sizeof(bad_v6) / sizeof(bad_v6[0]), true, 27);
}

/* Random lies on valid packets and random headers: whatever is accepted is segmented into a
 * buffer of exactly g.len bytes (ASan catches any write past it), and the segments' payloads
 * add up to the packet's. */
static void test_gso_fuzz(void **state)
{
	uint64_t seed = seed_now("test_gso_fuzz");
	struct pkt_spec s;
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	size_t len, plen, sum;
	unsigned accepted = 0;

	(void)state;
	for (unsigned iter = 0; iter < 3000; iter++) {
		random_spec(&s, rnd() % 2, rnd() % 2 ? IPPROTO_TCP : IPPROTO_UDP);
		plen = rnd_range(0, 3000);
		memset(payload, 0x5a, plen);
		len = pkt_build(super, &s, payload, plen);
		vnet_for(&h, &s, (uint16_t)rnd_range(0, 1500));
		for (unsigned k = rnd() % 4; k > 0; k--)
			super[rnd() % 80] = (uint8_t)rnd();
		if (rnd() % 3 == 0)
			for (unsigned k = 0; k < sizeof(h); k++)
				if (rnd() % 3 == 0)
					((uint8_t *)&h)[k] = (uint8_t)rnd();
		if (rnd() % 4 == 0)
			len = rnd_range(0, (uint32_t)len);
		{
			uint8_t *exact = malloc(len ? len : 1);
			uint8_t *out;

			memcpy(exact, super, len);
			if (!gso_parse(&h, exact, len, &g, &why)) {
				free(exact);
				continue;
			}
			accepted++;
			out = malloc(g.len ? g.len : 1);
			sum = 0;
			for (unsigned i = 0; i < g.segments; i++) {
				size_t n = gso_segment(&g, i, out);

				if (n > g.len || (g.gso_size && n < g.hdr_len))
					fail_msg("seed %llu iter %u: segment of %zu bytes",
					    (unsigned long long)seed, iter, n);
				sum += g.gso_size ? n - g.hdr_len : n;
			}
			assert_int_equal(sum, g.gso_size ? g.len - g.hdr_len : g.len);
			free(out);
			free(exact);
		}
	}
	assert_true(accepted > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_reference),
		cmocka_unit_test(test_gso_differential),
		cmocka_unit_test(test_gso_plain_needs_csum),
		cmocka_unit_test(test_gso_plain_needs_csum_zero),
		cmocka_unit_test(test_gso_hostile_table),
		cmocka_unit_test(test_gso_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
