/* The I/O side of a peer: endpoint, counters, packets staged until a handshake completes, and
 * the libevent timer that drives the engine's protocol timers. */
#ifndef TUNNELD_PEER_H
#define TUNNELD_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

enum {
	/* Bytes of one packet buffer: room for the data header, the largest IP packet and the
	 * padding + tag, so encryption and decryption happen in place. */
	PACKET_MAX = 65535,
	PACKET_BUF_SIZE = WG_DATA_HEADROOM + PACKET_MAX + WG_DATA_TAILROOM + 1,
	/* Seconds between re-resolutions of a silent peer's endpoint name. */
	ENDPOINT_RERESOLVE_INTERVAL = 30,
};

uint64_t clock_now_ns(void);
uint64_t clock_wall_ns(void);

/* Returns NULL (logged) if the engine refuses the key or memory runs out.  Borrowed pointer,
 * valid until peer_destroy(). */
struct peer *peer_create(struct device *dev, const uint8_t public_key[WG_KEY_LEN]);
void peer_destroy(struct peer *p);
struct peer *peer_find(struct device *dev, const uint8_t public_key[WG_KEY_LEN]);

/* Gives the peer a prefix (taking it from another peer that held it, as WireGuard does).
 * 0 or a negative errno. */
int peer_allowed_ip_add(struct peer *p, const struct config_prefix *prefix);
/* Takes every prefix away from the peer. */
void peer_allowed_ips_clear(struct peer *p);
/* true if the peer's allowed IPs are the n prefixes of want in the same order (host bits
 * ignored, as the trie ignores them): replacing them would change nothing, not even the
 * order the UAPI lists them in. */
bool peer_allowed_ips_same(const struct peer *p, const struct config_prefix *want, size_t n);

/* Copies pkt (len bytes) into the staging pool; the oldest is dropped when the peer's queue is
 * full, the new one when the pool is. */
void peer_stage(struct peer *p, const uint8_t *pkt, size_t len);
void peer_drop_staged(struct peer *p);
/* Encrypts and sends the staged packets; a keepalive if there were none. */
void peer_flush_staged(struct peer *p, uint64_t now_ns);
/* Sends one datagram to the peer's endpoint now, counting it. */
void peer_send_datagram(struct peer *p, const void *data, size_t len);
/* The endpoint of an authenticated packet: the peer's address and the local address it came
 * to (roaming, and the sticky source of our answers). */
void peer_set_endpoint(struct peer *p, const struct udp_endpoint *ep);
/* A configured or resolved address: the kernel chooses the source until the peer is heard. */
void peer_set_endpoint_addr(struct peer *p, const union wg_sockaddr *addr);

/* Looks endpoint_host:endpoint_port up now, in the background; the answer sets the endpoint.
 * Any lookup still in flight for the peer is superseded: its answer will be dropped. */
void peer_resolve_now(struct peer *p, uint64_t now_ns);
/* Drops interest in the lookup in flight (the endpoint was set otherwise). */
void peer_resolve_cancel(struct peer *p);
/* resolver_done_fn for the device's resolver (ctx is the device).  Applies the answer only if
 * it is for the peer's latest lookup (tag). */
void peer_resolved(void *ctx, const uint8_t key[WG_KEY_LEN], uint64_t tag, int err,
    const union wg_sockaddr *ep, const char *msg);

/* Marks the peer for a timer re-arm at the end of the current batch. */
void peer_touch(struct peer *p);
/* Re-arms the timers of every peer touched since the last call. */
void device_rearm_touched(struct device *dev);
void peer_rearm(struct peer *p, uint64_t now_ns);

#endif
