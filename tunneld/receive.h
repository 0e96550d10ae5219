/* The inbound packet path: UDP -> engine (handshakes, cookies, decryption) -> TUN. */
#ifndef TUNNELD_RECEIVE_H
#define TUNNELD_RECEIVE_H

#include "device.h"

/* Called when a UDP socket is readable. */
void device_udp_readable(struct device *dev, int fd);

#endif
