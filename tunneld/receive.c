#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gro.h"
#include "crypt_stage.h"
#include "log.h"
#include "wg/messages.h"
#include "peer.h"
#include "peer_log.h"
#include "receive.h"

/* Source address of a decrypted IP packet, validated against its claimed length. */
static bool packet_source(const uint8_t *pkt, size_t len, int *family, const uint8_t **src)
{
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		*family = AF_INET;
		*src = pkt + 12;
		return true;
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*family = AF_INET6;
		*src = pkt + 8;
		return true;
	}
	return false;
}

/* Offloads on: writes the packets gathered in this batch, coalesced where gro.c allows, each
 * write a virtio-net header and the packet (gathered, not copied).  Called before the receive
 * buffers the packets point into are reused. */
static void tun_flush(struct device *dev)
{
	struct gro_batch *b = dev->gro;
	struct iovec iov[GRO_MAX_IOV];
	unsigned i, n;

	gro_finish(b);
	for (i = 0; i < b->n_items; i++) {
		n = gro_item_iov(b, i, iov);
		if (b->items[i].segments > 1) {
			dev->stats.tun_gro_written++;
			dev->stats.tun_gro_segments += b->items[i].segments;
		}
		if (writev(dev->tun_fd, iov, (int)n) < 0 && errno != EAGAIN) {
			dev->stats.tun_write_failed++;
			log_debug_rl("write to %s: %s", dev->ifname, strerror(errno));
		}
	}
	gro_reset(b);
}

static void deliver(struct device *dev, struct peer *p, uint8_t *pkt, size_t len)
{
	const uint8_t *src;
	int family;

	/* Cryptokey routing, inbound half: the inner source must be one of the sender's
	 * allowed IPs, or the packet is dropped. */
	if (!packet_source(pkt, len, &family, &src) ||
	    allowedips_lookup(&dev->table, family, src) != p) {
		dev->stats.rx_bad_source++;
		return;
	}
	if (dev->tun_offloads) {
		if (!gro_add(dev->gro, pkt, len)) {
			tun_flush(dev);
			gro_add(dev->gro, pkt, len);
		}
		return;
	}
	if (write(dev->tun_fd, pkt, len) < 0 && errno != EAGAIN) {
		dev->stats.tun_write_failed++;
		log_debug_rl("write to %s: %s", dev->ifname, strerror(errno));
	}
}

/* A new session: logged when the peer had none that could still carry data (the first, or
 * one after REJECT_AFTER_TIME without a handshake), not at every rekey. */
static void session_note(struct peer *p, uint64_t now)
{
	struct peer_log l;

	if (!p->last_session_ns ||
	    now - p->last_session_ns >= (uint64_t)REJECT_AFTER_TIME * 1000000000u) {
		peer_log_of(&l, p);
		log_fields_rl(LOG_LEVEL_INFO, &l.fields, "%s: %s: session up, endpoint %s",
		    p->dev->ifname, l.text, l.endpoint[0] ? l.endpoint : "?");
	}
	p->last_session_ns = now;
}

void receive_result(struct device *dev, struct udp_endpoint *from, uint8_t *buf,
    size_t len, enum wg_rx_kind kind, const struct wg_rx *rx, const uint8_t *out, uint64_t now)
{
	struct peer *p = rx->peer ? wg_peer_ctx(rx->peer) : NULL;

	if (kind == WG_RX_DROP) {
		dev->stats.rx_dropped[rx->reason < WG_DROP_REASONS ? rx->reason :
		    WG_DROP_INTERNAL]++;
		log_debug_rl("dropped %zu-byte datagram: %s", len, rx->why ? rx->why : "invalid");
	}
	/* An authenticated packet counts (endpoint, session confirmation) even when its inner
	 * packet is then dropped as malformed.  The endpoint includes the local address the
	 * packet came to, so that what we send back (the response below included) leaves from
	 * it. */
	if (p) {
		p->rx_bytes += len;
		p->rx_packets++;
		p->last_rx_ns = now;
		if (rx->flags & WG_RX_ENDPOINT)
			peer_set_endpoint(p, from);
		peer_touch(p);
	}
	if (kind == WG_RX_HANDSHAKE && rx->out_len > 0)
		dev->stats.handshake_initiations_answered++;
	else if (kind == WG_RX_UNDER_LOAD)
		dev->stats.cookie_replies_sent++;
	if (rx->flags & WG_RX_SESSION_READY)
		dev->stats.handshakes_completed++;
	/* Cookie replies, which have no peer, also answer from the address they were sent to. */
	if (rx->out_len > 0 && out) {
		if (p)
			peer_send_datagram(p, out, rx->out_len);
		else
			udp_send_one(&dev->udp, from, out, rx->out_len);
	}
	if (kind == WG_RX_DATA && p)
		deliver(dev, p, buf + rx->inner_off, rx->inner_len);
	if ((rx->flags & WG_RX_SESSION_READY) && p) {
		session_note(p, now);
		peer_flush_staged(p, now);
	}
}

void receive_batch_end(struct device *dev)
{
	/* Before the buffers the gathered packets point into are reused. */
	if (dev->tun_offloads)
		tun_flush(dev);
}

static void receive_one(struct device *dev, struct udp_endpoint *from, uint8_t *buf,
    size_t len, uint64_t now, uint64_t wall)
{
	uint8_t out[WG_CONTROL_MAX_LEN];
	struct wg_rx rx;
	enum wg_rx_kind kind;

	memset(&rx, 0, sizeof(rx));
	if (dev->crypt)
		kind = crypt_stage_rx_prepare(dev, from, buf, len, now, wall, out, sizeof(out),
		    &rx);
	else
		kind = wg_engine_receive(dev->engine, &from->addr, buf, len, now, wall, out,
		    sizeof(out), &rx);
	if (kind == WG_RX_PENDING)
		return;	/* data for the crypto workers: receive_result when it is back */
	receive_result(dev, from, buf, len, kind, &rx, out, now);
}

void device_udp_readable(struct device *dev, int fd)
{
	struct udp_recv_batch *b = &dev->recv;
	struct udp_datagram d;
	unsigned round, done = 0;
	uint64_t now, wall;

	/* Bounded as the TUN side (4 x DEVICE_BATCH datagrams, GRO trains or not), so that the
	 * other fds and the timers get their turn under a flood. */
	for (round = 0; round < 4 && done < 4 * DEVICE_BATCH; round++) {
		if (udp_recv_batch(b, &dev->udp, fd, dev->rx_bufs, dev->buf_size) <= 0)
			break;
		now = clock_now_ns();
		wall = clock_wall_ns();
		/* Each datagram in place (a GRO train's too): their buffers stay ours until the
		 * next udp_recv_batch. */
		for (; udp_recv_batch_next(b, &d); done++)
			receive_one(dev, d.from, d.data, d.len, now, wall);
		if (dev->crypt)
			crypt_stage_rx_end(dev);	/* dev->rx_bufs: another set from now on */
		if (dev->tun_offloads)
			tun_flush(dev);
		device_rearm_touched(dev);
		if (!udp_recv_batch_full(b))
			break;
	}
}
