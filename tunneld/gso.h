/* Generic segmentation offload in userspace: a packet read from TUN with its virtio-net header
 * (a TCP or UDP super-packet of up to 64 KiB, or a plain packet whose checksum may still be to
 * complete) is checked and cut into the IP packets the kernel would have put on the wire, each
 * with its own IPv4 length/ID/checksum or IPv6 payload length, TCP sequence number and flags or
 * UDP length, and full TCP/UDP checksum.  Pure functions, no allocation. */
#ifndef TUNNELD_GSO_H
#define TUNNELD_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnet.h"

enum {
	/* Segments per super-packet, at most.  TCP's smallest MSS (48) cuts 64 KiB into 1366;
	 * UDP_SEGMENT allows 128.  A header asking for more is hostile and dropped. */
	GSO_MAX_SEGMENTS = 1400,
};

/* A packet read from TUN, checked by gso_parse. */
struct gso_packet {
	const uint8_t *pkt;	/* borrowed: the packet after the virtio-net header */
	size_t len;
	unsigned segments;	/* packets it becomes; 1 for a plain packet */
	uint16_t gso_size;	/* payload bytes per segment (the last may be shorter); 0: plain */
	uint16_t ip_hlen;	/* IP header bytes (IPv4 with options, IPv6 fixed header) */
	uint16_t hdr_len;	/* ip_hlen + TCP header (20..60) or UDP header (8) */
	uint8_t protocol;	/* IPPROTO_TCP or IPPROTO_UDP (segmented packets only) */
	bool ipv6;
};

/* Checks hdr and the len-byte packet pkt that followed it.  A plain packet (VNET_GSO_NONE) is
 * accepted as it is, except that with VNET_F_NEEDS_CSUM its checksum is completed in place
 * (csum_start and csum_offset bounds-checked, csum_offset even).  A super-packet must be IPv4
 * (options allowed, not a fragment) or IPv6 without extension headers, carrying the protocol
 * its gso_type
 * names, with consistent lengths, csum_start equal to its IP header length, a TCP header
 * length within the packet, gso_size >= 1, at least one byte of payload and at most
 * GSO_MAX_SEGMENTS segments; its hdr_len field is ignored (recomputed).  Returns true and
 * fills g, or false with *why naming the first check that failed (a static string). */
bool gso_parse(const struct vnet_hdr *hdr, uint8_t *pkt, size_t len, struct gso_packet *g,
    const char **why);

/* Writes segment i (0 <= i < g->segments) of g at out and returns its length, at most g->len
 * (so out needs room for g->len bytes, at most 65535).  For a plain packet this is a copy. */
size_t gso_segment(const struct gso_packet *g, unsigned i, uint8_t *out);

#endif
