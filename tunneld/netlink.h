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
/* Routes in routing table `table` (RT_TABLE_MAIN or a table id of our own, never
 * RT_TABLE_UNSPEC) via the interface (scope link, protocol RTPROT_STATIC). */
int netlink_route_add(struct netlink *nl, int ifindex, uint32_t table, int family,
    const void *dst, uint8_t prefixlen);
int netlink_route_del(struct netlink *nl, int ifindex, uint32_t table, int family,
    const void *dst, uint8_t prefixlen);
/* Calls fn for every unicast route in table via ifindex (dst: 4 or 16 bytes, borrowed for the
 * call).  Returns 0 or a negative errno. */
typedef void netlink_route_fn(void *ctx, int family, const uint8_t *dst, uint8_t prefixlen);
int netlink_route_walk(struct netlink *nl, uint32_t table, int ifindex, netlink_route_fn *fn,
    void *ctx);

enum {
	/* Our policy rules' priority: after local (0), before main (32766), so that the
	 * tunnel's table is consulted first, as wg-quick's `not fwmark` rule is. */
	NETLINK_RULE_PRIORITY = 32765,
	NETLINK_RULE_FLUSH_MAX = 1024,
};

/* The policy rule `not fwmark MARK lookup TABLE` (priority NETLINK_RULE_PRIORITY, family
 * AF_INET or AF_INET6): every packet but those marked MARK (mark != 0) consults TABLE before
 * the main table.  Adding a rule that exists returns 0; deleting one that is gone returns 0
 * (mark 0 deletes one rule to TABLE whatever its mark). */
int netlink_rule_add(struct netlink *nl, int family, uint32_t mark, uint32_t table);
int netlink_rule_del(struct netlink *nl, int family, uint32_t mark, uint32_t table);
/* Deletes every rule of priority NETLINK_RULE_PRIORITY to TABLE (what a crashed run left,
 * whatever its mark).  Returns 0, -ELOOP past NETLINK_RULE_FLUSH_MAX, or a negative errno. */
int netlink_rule_flush(struct netlink *nl, int family, uint32_t table);

#endif
