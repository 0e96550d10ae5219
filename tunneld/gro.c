/* Coalescing of decrypted packets for one TUN write.
 *
 * A TCP segment may join the newest item of its flow (same addresses and ports) when: both
 * are IPv4 without options or fragmentation with equal TOS, TTL and flags, or IPv6 with equal
 * version/class/flow label and hop limit; its IPv4 ID is one more than the last (so that the
 * kernel, segmenting it again to forward it, rebuilds the very packets); the TCP headers have
 * equal length and reserved bits, options, acknowledgment number, window and urgent pointer,
 * and flags ACK or ACK|PSH; its sequence number follows the item's last byte; the item has
 * not ended (PSH, or a segment shorter than the first); its payload is no larger than the
 * first segment's; the result stays within 64 KiB and GRO_MAX_SEGMENTS; and the IPv4 header
 * and TCP checksums of both are right (the kernel recomputes the checksums of a coalesced
 * packet, so a corrupted segment must never be merged: it is written alone and the kernel
 * drops it).  UDP datagrams follow the same rules without sequence numbers.  Any other packet
 * is an item of its own; one of a TCP/UDP flow still closes that flow's older items, and one
 * whose flow cannot be told (an IPv4 fragment of TCP/UDP, an IPv6 packet with extension
 * headers) closes every item between its two hosts, so a flow's packets are written in the
 * order they arrived. */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "gro.h"

enum {
	TCP_FLAG_PSH = 0x08,
	TCP_FLAG_ACK = 0x10,
	IPV4_FRAG_MASK = 0x3fff,
};

void gro_init(struct gro_batch *b, bool udp)
{
	b->udp = udp;
	gro_reset(b);
}

void gro_reset(struct gro_batch *b)
{
	b->n_items = 0;
	b->n_segments = 0;
}

/* What gro_add learns of a packet. */
struct pkt_info {
	enum gro_kind kind;	/* GRO_ALONE: may not be coalesced */
	bool ipv6;
	uint8_t protocol;
	uint16_t ip_hlen, l4_hlen, payload;
	uint8_t key_len;
	uint8_t key[37];
	const uint8_t *addrs;	/* source and destination, when the flow cannot be told */
	uint8_t addrs_len;
};

static void classify(const uint8_t *pkt, size_t len, bool udp, struct pkt_info *pi)
{
	size_t alen;
	const uint8_t *src;
	const uint8_t *l4;
	bool fragment = false, whole;

	memset(pi, 0, sizeof(*pi));
	pi->kind = GRO_ALONE;
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		pi->ip_hlen = (uint16_t)((pkt[0] & 15) * 4);
		pi->protocol = pkt[9];
		src = pkt + 12;
		alen = 4;
		fragment = (load_be16(pkt + 6) & IPV4_FRAG_MASK) != 0;
		whole = pi->ip_hlen == 20 && load_be16(pkt + 2) == len && !fragment;
	} else if (len >= 40 && (pkt[0] >> 4) == 6) {
		pi->ipv6 = true;
		pi->ip_hlen = 40;
		pi->protocol = pkt[6];
		src = pkt + 8;
		alen = 16;
		whole = (size_t)load_be16(pkt + 4) + 40 == len;
	} else {
		return;
	}
	if ((pi->protocol != IPPROTO_TCP && pi->protocol != IPPROTO_UDP) || fragment ||
	    pi->ip_hlen < 20 || len < (size_t)pi->ip_hlen + 8) {
		/* Part of a TCP/UDP flow that cannot be told: an IPv4 fragment, an IPv6
		 * packet with extension headers (ICMPv6 is none). */
		if (pi->ipv6 ? pi->protocol != IPPROTO_ICMPV6 : fragment &&
		    (pi->protocol == IPPROTO_TCP || pi->protocol == IPPROTO_UDP)) {
			pi->addrs = src;
			pi->addrs_len = (uint8_t)(2 * alen);
		}
		return;
	}
	/* The flow: protocol, addresses, ports. */
	l4 = pkt + pi->ip_hlen;
	pi->key[0] = pi->protocol;
	memcpy(pi->key + 1, src, 2 * alen);
	memcpy(pi->key + 1 + 2 * alen, l4, 4);
	pi->key_len = (uint8_t)(1 + 2 * alen + 4);
	if (!whole)
		return;
	if (pi->protocol == IPPROTO_TCP) {
		if (len < (size_t)pi->ip_hlen + 20)
			return;
		pi->l4_hlen = (uint16_t)((l4[12] >> 4) * 4);
		if (pi->l4_hlen < 20 || (size_t)pi->ip_hlen + pi->l4_hlen >= len)
			return;
		if (l4[13] != TCP_FLAG_ACK && l4[13] != (TCP_FLAG_ACK | TCP_FLAG_PSH))
			return;
		pi->kind = GRO_TCP;
	} else {
		if (!udp || (size_t)pi->ip_hlen + 8 >= len)
			return;
		/* UDP without a checksum: a coalesced packet would get one; leave it (over
		 * IPv6 it is invalid, and the kernel drops it, even where 0 happens to verify). */
		if (load_be16(l4 + 6) == 0)
			return;
		if (load_be16(l4 + 4) != len - pi->ip_hlen)
			return;
		pi->l4_hlen = 8;
		pi->kind = GRO_UDP;
	}
	pi->payload = (uint16_t)(len - pi->ip_hlen - pi->l4_hlen);
}

/* The TCP or UDP checksum of a whole packet is right. */
static bool l4_checksum_ok(const uint8_t *pkt, size_t len, bool ipv6, uint16_t ip_hlen,
    uint8_t protocol)
{
	size_t alen = ipv6 ? 16 : 4;
	const uint8_t *src = pkt + (ipv6 ? 8 : 12);
	uint64_t sum = checksum_pseudo(src, src + alen, alen, protocol, (uint32_t)(len - ip_hlen));

	return checksum_fold(checksum_add(sum, pkt + ip_hlen, len - ip_hlen)) == 0xffff;
}

/* The IPv4 header checksum is right (the kernel drops a packet whose is not; coalesced, it
 * would be recomputed and the packet saved). */
static bool ip_checksum_ok(const uint8_t *pkt, bool ipv6)
{
	return ipv6 || checksum_fold(checksum_add(0, pkt, 20)) == 0xffff;
}

/* IP header fields that must agree for two packets to be one. */
static bool ip_headers_match(const uint8_t *a, const uint8_t *b, bool ipv6)
{
	if (ipv6)
		return memcmp(a, b, 4) == 0 && a[7] == b[7];
	return a[1] == b[1] && a[6] == b[6] && a[8] == b[8];
}

static bool can_join(struct gro_batch *b, struct gro_item *it, const uint8_t *pkt,
    size_t len, const struct pkt_info *pi)
{
	struct gro_segment *head = &b->segments[it->first];
	const uint8_t *h = head->data, *hl4 = h + it->ip_hlen, *l4 = pkt + pi->ip_hlen;

	if (it->kind != pi->kind || it->ended || it->ipv6 != pi->ipv6 ||
	    it->segments >= GRO_MAX_SEGMENTS || pi->payload > it->gso_size ||
	    (size_t)it->total_len + pi->payload > 65535 || !ip_headers_match(h, pkt, pi->ipv6))
		return false;
	if (!pi->ipv6 && load_be16(pkt + 4) != (uint16_t)(load_be16(h + 4) + it->segments))
		return false;
	if (pi->kind == GRO_TCP) {
		/* Split again, the segments get the first one's header: all of it but the
		 * sequence number, PSH and checksum must be equal already. */
		if (pi->l4_hlen != it->l4_hlen || load_be32(l4 + 4) != it->next_seq ||
		    memcmp(l4 + 8, hl4 + 8, 5) != 0 ||	/* acknowledgment, data offset */
		    memcmp(l4 + 14, hl4 + 14, 2) != 0 ||	/* window */
		    memcmp(l4 + 18, hl4 + 18, 2) != 0 ||	/* urgent pointer */
		    memcmp(l4 + 20, hl4 + 20, pi->l4_hlen - 20u) != 0)	/* options */
			return false;
	}
	/* Checked last: the costliest. */
	if (!it->head_checked) {
		if (!ip_checksum_ok(h, it->ipv6) ||
		    !l4_checksum_ok(h, head->len, it->ipv6, it->ip_hlen, pi->protocol)) {
			it->kind = GRO_ALONE;
			return false;
		}
		it->head_checked = true;
	}
	return ip_checksum_ok(pkt, pi->ipv6) &&
	    l4_checksum_ok(pkt, len, pi->ipv6, pi->ip_hlen, pi->protocol);
}

bool gro_add(struct gro_batch *b, uint8_t *pkt, size_t len)
{
	struct pkt_info pi;
	struct gro_item *it;
	struct gro_segment *seg;
	unsigned i, stop;

	if (b->n_segments >= GRO_MAX_PACKETS || b->n_items >= GRO_MAX_PACKETS)
		return false;
	classify(pkt, len, b->udp, &pi);
	seg = &b->segments[b->n_segments];
	seg->next = -1;
	/* Only the newest item of the flow may take it: joining an older one would put this
	 * packet before others of its flow that came earlier. */
	stop = b->n_items > GRO_SCAN ? b->n_items - GRO_SCAN : 0;
	/* A packet whose flow cannot be told may belong to any flow between its two hosts: it
	 * ends them, so that none takes a later packet ahead of it. */
	for (i = b->n_items; pi.addrs_len && i-- > stop;) {
		it = &b->items[i];
		if (it->key_len == 1 + pi.addrs_len + 4 &&
		    memcmp(it->key + 1, pi.addrs, pi.addrs_len) == 0)
			it->ended = true;
	}
	for (i = b->n_items; pi.key_len && i-- > stop;) {
		it = &b->items[i];
		if (it->key_len != pi.key_len || memcmp(it->key, pi.key, pi.key_len) != 0)
			continue;
		if (pi.kind == GRO_ALONE || !can_join(b, it, pkt, len, &pi))
			break;
		seg->data = pkt + pi.ip_hlen + pi.l4_hlen;
		seg->len = pi.payload;
		b->segments[it->last].next = (int16_t)b->n_segments;
		it->last = (int16_t)b->n_segments++;
		it->segments++;
		it->total_len = (uint16_t)(it->total_len + pi.payload);
		if (pi.kind == GRO_TCP) {
			it->next_seq += pi.payload;
			it->psh = (pkt[pi.ip_hlen + 13] & TCP_FLAG_PSH) != 0;
			it->ended = it->psh;
		}
		if (pi.payload < it->gso_size)
			it->ended = true;
		return true;
	}
	it = &b->items[b->n_items++];
	memset(it, 0, sizeof(*it));
	it->kind = pi.kind;
	it->ipv6 = pi.ipv6;
	it->key_len = pi.key_len;
	memcpy(it->key, pi.key, pi.key_len);
	it->first = it->last = (int16_t)b->n_segments;
	it->segments = 1;
	it->gso_size = pi.payload;
	it->total_len = (uint16_t)len;
	it->ip_hlen = pi.ip_hlen;
	it->l4_hlen = pi.l4_hlen;
	if (pi.kind == GRO_TCP) {
		it->psh = (pkt[pi.ip_hlen + 13] & TCP_FLAG_PSH) != 0;
		it->ended = it->psh;
		it->next_seq = load_be32(pkt + pi.ip_hlen + 4) + pi.payload;
	}
	seg->data = pkt;
	seg->len = (uint16_t)len;
	b->n_segments++;
	return true;
}

static void finish_item(struct gro_batch *b, struct gro_item *it)
{
	uint8_t *h = b->segments[it->first].data, *l4 = h + it->ip_hlen;
	size_t alen = it->ipv6 ? 16 : 4, l4_len = (size_t)it->total_len - it->ip_hlen;
	const uint8_t *src = h + (it->ipv6 ? 8 : 12);
	uint8_t protocol = it->kind == GRO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	uint16_t csum;

	memset(&it->vnet, 0, sizeof(it->vnet));
	if (it->segments < 2)
		return;
	if (it->ipv6) {
		store_be16(h + 4, (uint16_t)l4_len);
	} else {
		store_be16(h + 2, it->total_len);
		memset(h + 10, 0, 2);
		csum = checksum_finish(checksum_add(0, h, it->ip_hlen));
		memcpy(h + 10, &csum, 2);
	}
	if (it->kind == GRO_TCP) {
		if (it->psh)
			l4[13] |= TCP_FLAG_PSH;
		it->vnet.gso_type = it->ipv6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
		it->vnet.csum_offset = htole16(16);
	} else {
		store_be16(l4 + 4, (uint16_t)l4_len);
		it->vnet.gso_type = VNET_GSO_UDP_L4;
		it->vnet.csum_offset = htole16(6);
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not complemented. */
	csum = checksum_fold(checksum_pseudo(src, src + alen, alen, protocol, (uint32_t)l4_len));
	memcpy(l4 + le16toh(it->vnet.csum_offset), &csum, 2);
	it->vnet.flags = VNET_F_NEEDS_CSUM;
	it->vnet.hdr_len = htole16((uint16_t)(it->ip_hlen + it->l4_hlen));
	it->vnet.gso_size = htole16(it->gso_size);
	it->vnet.csum_start = htole16(it->ip_hlen);
}

void gro_finish(struct gro_batch *b)
{
	for (unsigned i = 0; i < b->n_items; i++)
		finish_item(b, &b->items[i]);
}

unsigned gro_item_iov(struct gro_batch *b, unsigned i, struct iovec *iov)
{
	struct gro_item *it = &b->items[i];
	unsigned n = 0;

	iov[n].iov_base = &it->vnet;
	iov[n++].iov_len = sizeof(it->vnet);
	for (int16_t s = it->first; s >= 0; s = b->segments[s].next) {
		iov[n].iov_base = b->segments[s].data;
		iov[n++].iov_len = b->segments[s].len;
	}
	return n;
}
