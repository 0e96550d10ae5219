/* Segmentation of TUN super-packets, as the kernel's tcp_gso_segment / __udp_gso_segment would
 * have done it had the interface not offered TSO/USO. */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "gso.h"

enum {
	TCP_FLAG_FIN = 0x01,
	TCP_FLAG_PSH = 0x08,
	TCP_FLAG_CWR = 0x80,
	IPV4_FRAG_MASK = 0x3fff,	/* MF and the fragment offset */
};

#define FAIL(msg) do { *why = (msg); return false; } while (0)

/* A plain packet with CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the rest is
 * ours to add (the kernel's skb_checksum_help). */
static bool complete_checksum(uint8_t *pkt, size_t len, uint16_t start, uint16_t offset,
    const char **why)
{
	uint16_t seed, csum;

	if (start >= len || len - start < 2 || offset > len - start - 2)
		FAIL("csum_start/csum_offset outside the packet");
	/* An odd offset would put the field across the 16-bit words being summed. */
	if (offset & 1)
		FAIL("odd csum_offset");
	memcpy(&seed, pkt + start + offset, 2);
	memset(pkt + start + offset, 0, 2);
	csum = checksum_finish(checksum_add(seed, pkt + start, len - start));
	/* A computed 0 goes as all ones, whatever the protocol (CSUM_MANGLED_0): to UDP, 0 is
	 * "no checksum" (RFC 768), which IPv6 forbids; to the others both are zero. */
	if (csum == 0)
		csum = 0xffff;
	memcpy(pkt + start + offset, &csum, 2);
	return true;
}

bool gso_parse(const struct vnet_hdr *hdr, uint8_t *pkt, size_t len, struct gso_packet *g,
    const char **why)
{
	uint8_t type = hdr->gso_type & (uint8_t)~VNET_GSO_ECN, want;
	uint16_t csum_start = le16toh(hdr->csum_start), csum_offset = le16toh(hdr->csum_offset);
	uint16_t gso_size = le16toh(hdr->gso_size), l4_hlen;
	size_t payload;

	memset(g, 0, sizeof(*g));
	g->pkt = pkt;
	g->len = len;
	g->segments = 1;
	if (hdr->flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID))
		FAIL("unknown flags");
	if (len == 0 || len > 65535)
		FAIL("packet length");
	if (type == VNET_GSO_NONE) {
		if (hdr->gso_type & VNET_GSO_ECN)
			FAIL("ECN flag without GSO");
		if (hdr->flags & VNET_F_NEEDS_CSUM)
			return complete_checksum(pkt, len, csum_start, csum_offset, why);
		return true;
	}
	if (type != VNET_GSO_TCPV4 && type != VNET_GSO_TCPV6 && type != VNET_GSO_UDP_L4)
		FAIL("unknown gso_type");
	if (type == VNET_GSO_UDP_L4 && (hdr->gso_type & VNET_GSO_ECN))
		FAIL("ECN flag on UDP");
	want = type == VNET_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
	switch (pkt[0] >> 4) {
	case 4:
		if (type == VNET_GSO_TCPV6)
			FAIL("TCPV6 on an IPv4 packet");
		if (len < 20 || (pkt[0] & 15) < 5 || (size_t)(pkt[0] & 15) * 4 > len)
			FAIL("IPv4 header length");
		g->ip_hlen = (uint16_t)((pkt[0] & 15) * 4);
		if (load_be16(pkt + 2) != len)
			FAIL("IPv4 total length");
		if (load_be16(pkt + 6) & IPV4_FRAG_MASK)
			FAIL("IPv4 fragment");
		g->protocol = pkt[9];
		break;
	case 6:
		if (type == VNET_GSO_TCPV4)
			FAIL("TCPV4 on an IPv6 packet");
		if (len < 40 || (size_t)load_be16(pkt + 4) + 40 != len)
			FAIL("IPv6 payload length");
		g->ip_hlen = 40;
		g->ipv6 = true;
		g->protocol = pkt[6];
		break;
	default:
		FAIL("not IPv4 or IPv6");
	}
	if (g->protocol != want)
		FAIL("protocol does not match gso_type (or IPv6 extension headers)");
	if ((hdr->flags & VNET_F_NEEDS_CSUM) && (csum_start != g->ip_hlen ||
	    csum_offset != (want == IPPROTO_TCP ? 16 : 6)))
		FAIL("csum_start/csum_offset not the TCP/UDP checksum");
	if (want == IPPROTO_TCP) {
		if (len < (size_t)g->ip_hlen + 20)
			FAIL("truncated TCP header");
		l4_hlen = (uint16_t)((pkt[g->ip_hlen + 12] >> 4) * 4);
		if (l4_hlen < 20 || (size_t)g->ip_hlen + l4_hlen > len)
			FAIL("TCP header length");
	} else {
		l4_hlen = 8;
		if ((size_t)g->ip_hlen + l4_hlen > len)
			FAIL("truncated UDP header");
	}
	g->hdr_len = (uint16_t)(g->ip_hlen + l4_hlen);
	if (gso_size == 0)
		FAIL("gso_size 0");
	payload = len - g->hdr_len;
	if (payload == 0)
		FAIL("no payload");
	if ((payload + gso_size - 1) / gso_size > GSO_MAX_SEGMENTS)
		FAIL("too many segments");
	g->segments = (unsigned)((payload + gso_size - 1) / gso_size);
	g->gso_size = gso_size;
	return true;
}

size_t gso_segment(const struct gso_packet *g, unsigned i, uint8_t *out)
{
	size_t off, plen, seg_len, l4_len, alen = g->ipv6 ? 16 : 4;
	const uint8_t *src = out + (g->ipv6 ? 8 : 12);
	uint8_t *l4 = out + g->ip_hlen;
	uint16_t csum;

	if (!g->gso_size) {
		memcpy(out, g->pkt, g->len);
		return g->len;
	}
	off = g->hdr_len + (size_t)i * g->gso_size;
	plen = g->len - off < g->gso_size ? g->len - off : g->gso_size;
	seg_len = g->hdr_len + plen;
	l4_len = seg_len - g->ip_hlen;
	memcpy(out, g->pkt, g->hdr_len);
	memcpy(out + g->hdr_len, g->pkt + off, plen);
	if (g->ipv6) {
		store_be16(out + 4, (uint16_t)l4_len);
	} else {
		/* Each segment its own ID, consecutive, as the kernel's inet_gso_segment. */
		store_be16(out + 2, (uint16_t)seg_len);
		store_be16(out + 4, (uint16_t)(load_be16(out + 4) + i));
		memset(out + 10, 0, 2);
		csum = checksum_finish(checksum_add(0, out, g->ip_hlen));
		memcpy(out + 10, &csum, 2);
	}
	if (g->protocol == IPPROTO_TCP) {
		store_be32(l4 + 4, load_be32(l4 + 4) + (uint32_t)(i * g->gso_size));
		/* FIN and PSH end the burst: only on the last; CWR answers once: only on the
		 * first (tcp_gso_segment). */
		if (i + 1 < g->segments)
			l4[13] &= (uint8_t)~(TCP_FLAG_FIN | TCP_FLAG_PSH);
		if (i > 0)
			l4[13] &= (uint8_t)~TCP_FLAG_CWR;
		memset(l4 + 16, 0, 2);
		csum = checksum_finish(checksum_add(checksum_pseudo(src, src + alen, alen,
		    IPPROTO_TCP, (uint32_t)l4_len), l4, l4_len));
		memcpy(l4 + 16, &csum, 2);
	} else {
		store_be16(l4 + 4, (uint16_t)l4_len);
		memset(l4 + 6, 0, 2);
		csum = checksum_finish(checksum_add(checksum_pseudo(src, src + alen, alen,
		    IPPROTO_UDP, (uint32_t)l4_len), l4, l4_len));
		/* 0 means "no checksum" in UDP: a computed 0 is sent as all ones (RFC 768). */
		if (csum == 0)
			csum = 0xffff;
		memcpy(l4 + 6, &csum, 2);
	}
	return seg_len;
}
