/* Generic receive offload in userspace: decrypted IP packets bound for TUN are gathered per
 * batch, and in-order TCP segments of one flow (and, when the TUN device accepted USO, UDP
 * datagrams of one flow with equal payload sizes) become one super-packet with a GSO
 * virtio-net header, so the kernel takes them in one write.  The rules are the kernel's GRO
 * rules (tcp_gro_receive, udp_gro_receive) as wireguard-go applies them: see gro.c.  Nothing is
 * copied: an item is the first packet (whose headers are rewritten in place) followed by the
 * payloads of the others, written with writev.  Pure functions, no allocation. */
#ifndef TUNNELD_GRO_H
#define TUNNELD_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vnet.h"

enum {
	/* Packets held per batch; gro_add refuses more until gro_reset. */
	GRO_MAX_PACKETS = 256,
	/* Packets coalesced into one super-packet, at most (and 64 KiB in all). */
	GRO_MAX_SEGMENTS = 64,
	/* Items looked back at for a packet's flow. */
	GRO_SCAN = 16,
	/* iovecs of one item: virtio-net header, first packet, the other payloads. */
	GRO_MAX_IOV = GRO_MAX_SEGMENTS + 1,
};

struct gro_segment {
	uint8_t *data;		/* first packet: all of it; the others: their payload */
	uint16_t len;
	int16_t next;		/* index in packets[] of the item's next segment; -1: last */
};

enum gro_kind { GRO_ALONE, GRO_TCP, GRO_UDP };

struct gro_item {
	struct vnet_hdr vnet;	/* set by gro_finish */
	enum gro_kind kind;	/* GRO_ALONE: written as it is, nothing joins it */
	bool ipv6;
	bool ended;		/* PSH seen or a short segment: nothing may follow */
	bool psh;		/* the last segment had PSH */
	bool head_checked;	/* the first packet's checksum was verified */
	uint8_t key_len;	/* 0: no flow (not TCP/UDP, or a fragment) */
	uint8_t key[37];	/* protocol, source, destination, ports */
	int16_t first, last;
	uint16_t segments;
	uint16_t gso_size;	/* payload bytes of the first segment */
	uint16_t total_len;	/* bytes of the coalesced IP packet */
	uint16_t ip_hlen, l4_hlen;
	uint32_t next_seq;	/* TCP: sequence number the next segment must carry */
};

struct gro_batch {
	bool udp;		/* coalesce UDP too (TUN_F_USO4/6 accepted) */
	unsigned n_items;
	unsigned n_segments;
	struct gro_item items[GRO_MAX_PACKETS];
	struct gro_segment segments[GRO_MAX_PACKETS];
};

/* An empty batch; udp: whether UDP datagrams may be coalesced. */
void gro_init(struct gro_batch *b, bool udp);
/* Forgets every item (after they were written). */
void gro_reset(struct gro_batch *b);

/* Adds the well-formed IP packet pkt (len bytes, len <= 65535), borrowed until gro_reset: its
 * headers may be rewritten by gro_finish.  It joins the newest item of its flow when the
 * rules allow (checksums of both verified), or starts an item of its own.  Returns false,
 * adding nothing, when the batch is full: write it out, reset, add again. */
bool gro_add(struct gro_batch *b, uint8_t *pkt, size_t len);

/* Fills each item's virtio-net header (all zeros for a single packet; NEEDS_CSUM, the GSO
 * type, hdr_len, gso_size, csum_start/offset for a coalesced one) and rewrites a coalesced
 * item's first packet in place: IPv4 total length and header checksum or IPv6 payload length,
 * UDP length, PSH from the last segment, and in the TCP/UDP checksum field the pseudo-header
 * sum over the whole length, as CHECKSUM_PARTIAL wants it. */
void gro_finish(struct gro_batch *b);

/* Fills iov (GRO_MAX_IOV entries) with item i after gro_finish: header, first packet, the
 * other payloads.  Returns the number of entries used. */
unsigned gro_item_iov(struct gro_batch *b, unsigned i, struct iovec *iov);

#endif
