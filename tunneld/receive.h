/* The inbound packet path: UDP -> engine (handshakes, cookies, decryption) -> TUN. */
#ifndef TUNNELD_RECEIVE_H
#define TUNNELD_RECEIVE_H

#include "device.h"

/* Called when a UDP socket is readable. */
void device_udp_readable(struct device *dev, int fd);
/* What follows the engine's answer (kind, rx) for one datagram of len bytes at buf from
 * `from`: counters, the endpoint, the reply in out (NULL: none), delivery to TUN, the staged
 * packets of a new session.  For the inline path and for the crypto stage's finish. */
void receive_result(struct device *dev, struct udp_endpoint *from, uint8_t *buf,
    size_t len, enum wg_rx_kind kind, const struct wg_rx *rx, const uint8_t *out, uint64_t now);
/* After the receive_result calls of one batch. */
void receive_batch_end(struct device *dev);

#endif
