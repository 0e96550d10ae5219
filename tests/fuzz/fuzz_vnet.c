/* libFuzzer target: the TUN offload paths, on hostile input.
 * Mode 0 (first byte even): a virtio-net header (10 bytes) and a packet, as read from TUN:
 * gso_parse, then every segment cut into a buffer of exactly the packet's size; each segment's
 * IPv4 header and TCP/UDP checksums must verify (naive reference checksum); and the segments,
 * coalesced again by gro.c and split, must come back byte for byte.
 * Mode 1 (odd): a sequence of (2-byte length, packet) records, as decrypted from peers:
 * gro_add, gro_finish, and every item written must be accepted by gso_parse (what the kernel
 * is given is well formed) and split back into the very packets given, in each flow's order. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/pkt_build.h"
#include "tunneld/gro.h"
#include "tunneld/gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gro_batch batch;
static uint8_t *in_pkts[GRO_MAX_PACKETS];	/* copies as given */
static size_t in_lens[GRO_MAX_PACKETS];
static uint8_t wire[VNET_HDR_LEN + 65536], out[65536];

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_vnet: %s\n", what);
	abort();
}

/* The flow gro.c orders by: protocol, addresses and, for unfragmented TCP/UDP, ports.
 * Returns the key's length in key (0: none). */
static size_t flow_key(const uint8_t *p, size_t len, uint8_t key[40])
{
	size_t ihl, alen;

	if (len >= 20 && (p[0] >> 4) == 4) {
		ihl = (size_t)(p[0] & 15) * 4;
		alen = 4;
		key[0] = p[9];
		if ((p[6] & 0x3f) || p[7])
			return 0;
		memcpy(key + 1, p + 12, 8);
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		ihl = 40;
		alen = 16;
		key[0] = p[6];
		memcpy(key + 1, p + 8, 32);
	} else {
		return 0;
	}
	if ((key[0] != 6 && key[0] != 17) || ihl < 20 || len < ihl + 8)
		return 0;
	memcpy(key + 1 + 2 * alen, p + ihl, 4);
	return 1 + 2 * alen + 4;
}

static bool same_flow(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	uint8_t ka[40], kb[40];
	size_t na = flow_key(a, la, ka), nb = flow_key(b, lb, kb);

	return na && na == nb && memcmp(ka, kb, na) == 0;
}

/* Writes out the batch, splits every item and checks it against in_pkts.  n: packets added. */
static void check_batch(unsigned n)
{
	struct iovec iov[GRO_MAX_IOV];
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	bool used[GRO_MAX_PACKETS] = { false };
	unsigned outs = 0;

	gro_finish(&batch);
	for (unsigned i = 0; i < batch.n_items; i++) {
		unsigned k = gro_item_iov(&batch, i, iov);
		size_t len = 0;

		for (unsigned j = 0; j < k; j++) {
			if (len + iov[j].iov_len > sizeof(wire))
				fail("item larger than 64 KiB");
			memcpy(wire + len, iov[j].iov_base, iov[j].iov_len);
			len += iov[j].iov_len;
		}
		memcpy(&h, wire, sizeof(h));
		if (h.gso_type == VNET_GSO_NONE) {
			/* Single packets go as they came. */
			if (k != 2)
				fail("single packet in pieces");
			memset(&g, 0, sizeof(g));
			g.segments = 1;
			g.pkt = wire + VNET_HDR_LEN;
			g.len = len - VNET_HDR_LEN;
		} else if (!gso_parse(&h, wire + VNET_HDR_LEN, len - VNET_HDR_LEN, &g, &why)) {
			fprintf(stderr, "coalesced item refused: %s\n", why);
			fail("coalesced item not well formed");
		}
		for (unsigned s = 0; s < g.segments; s++) {
			size_t m = gso_segment(&g, s, out);
			unsigned j;

			/* The first unused input equal to it... */
			for (j = 0; j < n; j++)
				if (!used[j] && in_lens[j] == m && !memcmp(in_pkts[j], out, m))
					break;
			if (j == n)
				fail("coalesce-then-split changed a packet");
			/* ...with no unused input of its flow before it. */
			for (unsigned e = 0; e < j; e++)
				if (!used[e] && same_flow(in_pkts[e], in_lens[e], out, m))
					fail("a flow's packet overtaken");
			used[j] = true;
			outs++;
		}
	}
	if (outs != n)
		fail("packets lost or made up");
}

static void mode_segment(const uint8_t *data, size_t size)
{
	struct vnet_hdr h;
	struct gso_packet g;
	const char *why;
	uint8_t *pkt, *seg;
	unsigned n = 0;

	if (size < VNET_HDR_LEN)
		return;
	memcpy(&h, data, sizeof(h));
	size -= VNET_HDR_LEN;
	pkt = malloc(size ? size : 1);
	memcpy(pkt, data + VNET_HDR_LEN, size);
	if (!gso_parse(&h, pkt, size, &g, &why)) {
		free(pkt);
		return;
	}
	gro_init(&batch, true);
	for (unsigned i = 0; i < g.segments; i++) {
		size_t m;

		seg = malloc(g.len);
		m = gso_segment(&g, i, seg);
		if (m > g.len)
			fail("segment longer than the packet");
		if (g.gso_size && (!ref_ip_ok(seg) || !ref_l4_ok(seg, m)))
			fail("segment checksum does not verify");
		if (n < GRO_MAX_PACKETS) {
			in_pkts[n] = seg;
			in_lens[n++] = m;
		} else {
			free(seg);
		}
	}
	free(pkt);
	/* gro_add rewrites heads in place: it gets copies. */
	{
		uint8_t *work[GRO_MAX_PACKETS];

		for (unsigned i = 0; i < n; i++) {
			work[i] = malloc(in_lens[i]);
			memcpy(work[i], in_pkts[i], in_lens[i]);
			if (!gro_add(&batch, work[i], in_lens[i]))
				fail("batch full below GRO_MAX_PACKETS");
		}
		check_batch(n);
		for (unsigned i = 0; i < n; i++) {
			free(work[i]);
			free(in_pkts[i]);
		}
	}
}

static void mode_coalesce(const uint8_t *data, size_t size)
{
	uint8_t *work[GRO_MAX_PACKETS];
	unsigned n = 0;

	gro_init(&batch, data[0] & 2);
	data++;
	size--;
	while (size >= 2 && n < GRO_MAX_PACKETS) {
		size_t len = (size_t)(data[0] << 8 | data[1]) % 2048;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* deliver() hands over only what passed packet_source: 20+ (v4), 40+ (v6). */
		if ((len >= 20 && (data[0] >> 4) == 4) || (len >= 40 && (data[0] >> 4) == 6)) {
			in_pkts[n] = malloc(len);
			memcpy(in_pkts[n], data, len);
			in_lens[n] = len;
			work[n] = malloc(len);
			memcpy(work[n], data, len);
			if (!gro_add(&batch, work[n], len))
				fail("batch full below GRO_MAX_PACKETS");
			n++;
		}
		data += len;
		size -= len;
	}
	check_batch(n);
	for (unsigned i = 0; i < n; i++) {
		free(work[i]);
		free(in_pkts[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		mode_coalesce(data, size);
	else
		mode_segment(data + 1, size - 1);
	return 0;
}
