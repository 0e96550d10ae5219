/* TUN to UDP: read IP packets in batches, route each to a peer by destination (cryptokey
 * routing), encrypt in place and send the datagrams in batches. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gso.h"
#include "crypt_stage.h"
#include "log.h"
#include "peer.h"
#include "send.h"
#include "tun.h"

/* Destination address of an IP packet; false if it is not a well-formed IPv4/IPv6 header. */
static bool packet_destination(const uint8_t *pkt, size_t len, int *family, const uint8_t **dst)
{
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		*family = AF_INET;
		*dst = pkt + 16;
		return true;
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*family = AF_INET6;
		*dst = pkt + 24;
		return true;
	}
	return false;
}

static void route_one(struct device *dev, uint8_t *buf, size_t len, uint64_t now)
{
	uint8_t *pkt = buf + WG_DATA_HEADROOM;
	const uint8_t *dst;
	struct peer *p;
	size_t msg_len;
	int family;

	if (!packet_destination(pkt, len, &family, &dst)) {
		dev->stats.tun_no_route++;
		return;
	}
	p = allowedips_lookup(&dev->table, family, dst);
	if (!p) {
		dev->stats.tun_no_route++;
		return;
	}
	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC) {
		dev->stats.tun_no_endpoint++;
		return;
	}
	peer_touch(p);
	/* Packets queued before a handshake go first, so the peer sees them in order. */
	if (p->staged_head) {
		peer_stage(p, pkt, len);
		if (wg_peer_has_session(p->wg))
			peer_flush_staged(p, now);
		return;
	}
	if (dev->crypt) {
		crypt_stage_tx_add(dev, p, buf, len, now);
		return;
	}
	if (wg_peer_encrypt(p->wg, pkt, len, now, &msg_len) != WG_SEND_OK) {
		peer_stage(p, pkt, len);
		return;
	}
	p->tx_bytes += msg_len;
	p->tx_packets++;
	udp_send_batch_add(family_batch(dev, &p->endpoint), &dev->udp, &p->endpoint, buf, msg_len);
}

/* Routes the n packets in the tx slots and sends what they became (crypto workers: hands
 * them over and sends what earlier batches became). */
static void route_batch(struct device *dev, const size_t *lens, unsigned n)
{
	uint64_t now = clock_now_ns();

	for (unsigned i = 0; i < n; i++)
		route_one(dev, dev->tx_bufs + (size_t)i * dev->buf_size, lens[i], now);
	if (dev->crypt)
		crypt_stage_tx_end(dev);	/* dev->tx_bufs: another set from now on */
	dev->stats.tx_dropped += udp_send_batch_flush(&dev->send4, &dev->udp);
	dev->stats.tx_dropped += udp_send_batch_flush(&dev->send6, &dev->udp);
}

/* A read failed with err.  Returns true if the interface is gone (on_fatal was called). */
static bool read_failed(struct device *dev, int err)
{
	if (err == EAGAIN || err == EINTR)
		return false;
	if (err == EBADFD || err == EIO || err == ENXIO) {
		dev->on_fatal(dev, "the interface was removed");
		return true;
	}
	log_rl_errno(LOG_LEVEL_WARN, err, "read from %s", dev->ifname);
	return false;
}

/* Offloads on: each read is a virtio-net header and a packet, maybe a TCP or UDP super-packet,
 * read into a buffer of its own and cut into the tx slots at WG_DATA_HEADROOM, so that each
 * segment is routed and encrypted in place exactly as a packet read alone would be. */
static void tun_readable_vnet(struct device *dev)
{
	size_t lens[DEVICE_BATCH];
	struct gso_packet g;
	struct vnet_hdr hdr;
	const char *why;
	unsigned n = 0, reads, packets = 0;
	ssize_t r;

	/* Bounded in reads and packets: the sockets and timers get their turn under a flood. */
	for (reads = 0; reads < 4 * DEVICE_BATCH && packets < 8 * DEVICE_BATCH; reads++) {
		r = read(dev->tun_fd, dev->tun_read_buf, VNET_HDR_LEN + PACKET_MAX);
		if (r < 0) {
			if (read_failed(dev, errno))
				return;
			break;
		}
		if ((size_t)r < VNET_HDR_LEN) {
			dev->stats.tun_bad_vnet++;
			continue;
		}
		memcpy(&hdr, dev->tun_read_buf, VNET_HDR_LEN);
		if (!gso_parse(&hdr, dev->tun_read_buf + VNET_HDR_LEN, (size_t)r - VNET_HDR_LEN,
		    &g, &why)) {
			dev->stats.tun_bad_vnet++;
			log_debug_rl("%s: dropped a %zd-byte read: virtio-net header: %s",
			    dev->ifname, r, why);
			continue;
		}
		if (g.segments > 1) {
			dev->stats.tun_gso_read++;
			dev->stats.tun_gso_segments += g.segments;
		}
		packets += g.segments;
		for (unsigned i = 0; i < g.segments; i++) {
			if (n == DEVICE_BATCH) {
				route_batch(dev, lens, n);
				n = 0;
			}
			lens[n] = gso_segment(&g, i, dev->tx_bufs + (size_t)n * dev->buf_size +
			    WG_DATA_HEADROOM);
			n++;
		}
	}
	if (n)
		route_batch(dev, lens, n);
	device_rearm_touched(dev);
}

void device_tun_readable(struct device *dev)
{
	unsigned n, round;
	ssize_t r;

	if (dev->tun_offloads) {
		tun_readable_vnet(dev);
		return;
	}
	/* Bounded rounds so that the sockets and timers get their turn under a flood. */
	for (round = 0; round < 4; round++) {
		size_t lens[DEVICE_BATCH];

		for (n = 0; n < DEVICE_BATCH; n++) {
			r = read(dev->tun_fd, dev->tx_bufs + (size_t)n * dev->buf_size +
			    WG_DATA_HEADROOM, PACKET_MAX);
			if (r < 0) {
				if (read_failed(dev, errno))
					return;
				break;
			}
			lens[n] = (size_t)r;
		}
		if (n == 0)
			break;
		route_batch(dev, lens, n);
		device_rearm_touched(dev);
		if (n < DEVICE_BATCH)
			break;
	}
}
