/* The device's crypto stage (tunneld --crypto-workers N, N > 0): the AEAD of data packets on
 * worker threads (crypt_worker.h), between "a batch of packets gathered" and "the batch
 * emitted", in both directions.
 *
 * The send path reads and routes a batch as always, but instead of encrypting each packet it
 * prepares it (wg_peer_encrypt_prepare: keypair, counter, header, padding) into a job of the
 * batch being filled; crypt_stage_tx_end hands the batch over and gives the send path fresh
 * buffers.  When the batch comes back its datagrams leave, in order.  The receive path handles
 * handshakes and cookies at once, as always, and prepares data messages
 * (wg_engine_receive_prepare); when the batch comes back each is finished in order
 * (wg_engine_receive_finish: the replay window and the session, on this thread, after
 * authentication) and delivered.
 *
 * Buffers: 2 + 2 x workers sets of DEVICE_BATCH packet buffers; dev->tx_bufs and dev->rx_bufs
 * point at the set being read into in each direction.  A set is free when no batch points
 * into it; a round's jobs usually make one batch, but a round that gives more than
 * CRYPT_BATCH_MAX (UDP GRO trains) hands each full batch over and fills the next on the same
 * set.  When a path needs a free set or batch and none is, the loop waits for the oldest
 * batch in flight (backpressure: nothing more is read until one is back).
 *
 * Everything here runs on the loop thread. */
#ifndef TUNNELD_CRYPT_STAGE_H
#define TUNNELD_CRYPT_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"

enum {
	/* A batch this small, with nothing in flight, is sealed or opened on the loop thread:
	 * handing it over would cost two wake-ups for microseconds of crypto (ping, lone ACKs). */
	CRYPT_INLINE_MAX = 4,
};

/* Starts workers threads (1..CRYPT_WORKERS_MAX) for dev; 0 leaves the inline path.  Returns 0
 * or a negative errno, logged. */
int crypt_stage_start(struct device *dev, unsigned workers);
/* Stops the workers and drops every batch in flight (nothing is sent or delivered), wiping
 * its buffers; dev is back on the inline path.  Before the engine and peers go.  No-op
 * without a stage. */
void crypt_stage_stop(struct device *dev);

/* Send path, for the packet at buf + WG_DATA_HEADROOM (len bytes) in dev->tx_bufs, routed to
 * p (with an endpoint, nothing staged): prepares it into the batch, or stages it if p has no
 * session. */
void crypt_stage_tx_add(struct device *dev, struct peer *p, uint8_t *buf, size_t len,
    uint64_t now);
/* The packets of dev->tx_bufs are all routed: hands the batch over (or runs it here when it
 * is small and nothing is in flight) and points dev->tx_bufs at a free buffer set. */
void crypt_stage_tx_end(struct device *dev);

/* Receive path, for a datagram at buf (len bytes) in dev->rx_bufs from `from`: as
 * wg_engine_receive, except that a data message that passes the checks before decryption is
 * prepared into the batch (WG_RX_PENDING: nothing more to do now; receive_result is called
 * for it when the batch comes back). */
enum wg_rx_kind crypt_stage_rx_prepare(struct device *dev, const struct udp_endpoint *from,
    uint8_t *buf, size_t len, uint64_t now, uint64_t wall, uint8_t *out, size_t out_cap,
    struct wg_rx *rx);
/* The datagrams of dev->rx_bufs are all handled: hands the batch over (as tx_end) and points
 * dev->rx_bufs at a free buffer set. */
void crypt_stage_rx_end(struct device *dev);

/* The peer is going away: its packets in flight are dropped when they come back. */
void crypt_stage_forget_peer(struct device *dev, const struct peer *p);

#endif
