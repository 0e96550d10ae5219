/* The outbound packet path: TUN -> encrypt -> UDP. */
#ifndef TUNNELD_SEND_H
#define TUNNELD_SEND_H

#include "device.h"

static inline struct udp_send_batch *family_batch(struct device *dev,
    const struct udp_endpoint *to)
{
	return to->addr.sa.sa_family == AF_INET6 ? &dev->send6 : &dev->send4;
}

/* Called when the TUN fd is readable. */
void device_tun_readable(struct device *dev);

#endif
