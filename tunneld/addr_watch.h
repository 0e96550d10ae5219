/* Local addresses that the host stops having, from rtnetlink (RTM_DELADDR, groups
 * RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR), so that an endpoint's sticky source address
 * (udp_endpoint) is forgotten as soon as it goes: a send from a vanished address does not
 * always fail (net.ipv6.ip_nonlocal_bind=1, as keepalived hosts set it, lets the kernel send
 * from an address it no longer has, and the answers then go to whoever holds it now). */
#ifndef TUNNELD_ADDR_WATCH_H
#define TUNNELD_ADDR_WATCH_H

#include <event2/event.h>

struct addr_watch;

/* Called on the event loop for each deleted address: family AF_INET (addr 4 bytes) or
 * AF_INET6 (16 bytes, network order); or family AF_UNSPEC and addr NULL when notifications
 * were lost (the socket's buffer overflowed), which means any address may have gone. */
typedef void addr_watch_fn(void *ctx, int family, const void *addr);

/* Starts watching on base.  Returns 0 or a negative errno (the socket cannot be opened). */
int addr_watch_new(struct addr_watch **out, struct event_base *base, addr_watch_fn *fn,
    void *ctx);
/* Stops watching; NULL is a no-op. */
void addr_watch_free(struct addr_watch *w);

#endif
