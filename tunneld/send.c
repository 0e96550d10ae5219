/* TUN to UDP: read IP packets in batches, route each to a peer by destination (cryptokey
 * routing), encrypt in place and send the datagrams in batches. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "send.h"

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
	if (wg_peer_encrypt(p->wg, pkt, len, now, &msg_len) != WG_SEND_OK) {
		peer_stage(p, pkt, len);
		return;
	}
	p->tx_bytes += msg_len;
	p->tx_packets++;
	udp_send_batch_add(family_batch(dev, &p->endpoint), &dev->udp, &p->endpoint, buf, msg_len);
}

void device_tun_readable(struct device *dev)
{
	unsigned n, i, round;
	ssize_t r;
	uint64_t now;

	/* Bounded rounds so that the sockets and timers get their turn under a flood. */
	for (round = 0; round < 4; round++) {
		size_t lens[DEVICE_BATCH];

		for (n = 0; n < DEVICE_BATCH; n++) {
			r = read(dev->tun_fd, dev->tx_bufs + (size_t)n * dev->buf_size +
			    WG_DATA_HEADROOM, PACKET_MAX);
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				if (errno == EBADFD || errno == EIO || errno == ENXIO) {
					dev->on_fatal(dev, "the interface was removed");
					return;
				}
				log_rl_errno(LOG_LEVEL_WARN, errno, "read from %s", dev->ifname);
				break;
			}
			lens[n] = (size_t)r;
		}
		if (n == 0)
			break;
		now = clock_now_ns();
		for (i = 0; i < n; i++)
			route_one(dev, dev->tx_bufs + (size_t)i * dev->buf_size, lens[i], now);
		dev->stats.tx_dropped += udp_send_batch_flush(&dev->send4, &dev->udp);
		dev->stats.tx_dropped += udp_send_batch_flush(&dev->send6, &dev->udp);
		device_rearm_touched(dev);
		if (n < DEVICE_BATCH)
			break;
	}
}
