/* rtnetlink through libmnl: link state, MTU, addresses and routes of the tunnel interface.
 * Every call is synchronous (request + ACK) and returns 0 or a negative errno. */
#ifndef TUNNELD_NETLINK_H
#define TUNNELD_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

struct netlink;

int netlink_open(struct netlink **out);
void netlink_close(struct netlink *nl);
/* Returns the ifindex (> 0) or a negative errno. */
int netlink_link_index(struct netlink *nl, const char *ifname);
int netlink_link_set_up(struct netlink *nl, int ifindex, bool up);
int netlink_link_set_mtu(struct netlink *nl, int ifindex, unsigned mtu);
/* No IPv6 link-local address (as WireGuard interfaces): a layer-3 tunnel has no use for one,
 * and router solicitations into it would only be dropped. */
int netlink_link_set_ipv6_addr_gen_none(struct netlink *nl, int ifindex);
/* family AF_INET (addr 4 bytes) or AF_INET6 (16 bytes), network order.  Adding an address or
 * route that exists already returns 0 (a route only if it is ours: one to the same prefix via
 * another interface or a blackhole is -EEXIST); deleting one that is gone returns 0. */
int netlink_addr_add(struct netlink *nl, int ifindex, int family, const void *addr,
    uint8_t prefixlen);
int netlink_addr_del(struct netlink *nl, int ifindex, int family, const void *addr,
    uint8_t prefixlen);
/* Routes in the main table via the interface (scope link, protocol RTPROT_STATIC). */
int netlink_route_add(struct netlink *nl, int ifindex, int family, const void *dst,
    uint8_t prefixlen);
int netlink_route_del(struct netlink *nl, int ifindex, int family, const void *dst,
    uint8_t prefixlen);

#endif
