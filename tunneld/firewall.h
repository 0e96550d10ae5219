/* The overlay firewall: an nftables table of tunneld's own (`table inet warren-IFACE`, built
 * through libnftnl + libmnl) that makes the interface's addresses answer only packets that
 * arrived through the tunnel or from the host itself:
 *
 *   chain input { type filter hook input priority filter; policy accept;
 *       iif IFACE accept; iiftype loopback accept;
 *       ip daddr ADDR4 drop; ... ip6 daddr ADDR6 drop; ... }
 *
 * Without it a host on the underlay with a route to the overlay via this node reaches the
 * node's overlay services (sshd, gossip) with no tunnel, no peer key and no bastion.  The
 * chain accepts everything else, so it adds to the host's own firewall and overrides none of
 * it.  Every change is one nfnetlink transaction: the table is replaced whole, never seen
 * half built.  The table is created with NFT_TABLE_F_OWNER: the kernel removes it when this
 * process's netlink socket closes, so it lives exactly as long as tunneld (and its
 * interface), even after SIGKILL.  Needs CAP_NET_ADMIN only. */
#ifndef TUNNELD_FIREWALL_H
#define TUNNELD_FIREWALL_H

#include <stddef.h>

#include "config.h"

/* "warren-" + an interface name (at most 15 characters) */
enum { FIREWALL_TABLE_NAME_MAX = 7 + 16 };

struct firewall;

/* Opens the nfnetlink socket and installs the table for interface ifname/ifindex with no
 * address yet, replacing a table of that name left by an earlier run (one without an owner;
 * a table owned by a live process is refused: -EPERM).  Returns 0 or a negative errno. */
int firewall_open(struct firewall **out, const char *ifname, int ifindex);
/* Replaces the drop rules with one per address in addrs[0..n) (their host part is what is
 * protected; the prefix length is ignored), in one transaction.  On failure the previous
 * table stays in force.  Returns 0, -E2BIG past FIREWALL_MAX_ADDRESSES (256) or another
 * negative errno. */
int firewall_set_addresses(struct firewall *fw, const struct config_prefix *addrs, size_t n);
/* Deletes the table and closes the socket (NULL: nothing). */
void firewall_close(struct firewall *fw);
/* The table's name for messages and documentation: "warren-IFACE".  Borrowed from fw. */
const char *firewall_table_name(const struct firewall *fw);

#endif
