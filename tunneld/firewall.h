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
 * interface), even after SIGKILL.  Needs CAP_NET_ADMIN only.
 *
 * The roster's node-to-node policy (docs/roster.md, "Policy") is a second chain of the same
 * table, on what arrives through the tunnel before routing (so both what the node receives and
 * what it routes to its subnets), stateful through the kernel's conntrack:
 *
 *   chain policy { type filter hook prerouting priority filter; policy accept;
 *       iif != IFACE accept; ct direction reply accept; ct state related accept;
 *       ct mark & 0xffff0000 == GEN accept; tcp dport GOSSIP ip daddr @self4 accept; ...
 *       <deny rules: counter drop>; <allow rules: ct mark set GEN accept>;
 *       <default: counter drop, or ct mark set GEN accept> }
 *
 * A connection's first packet walks the rules; an allowed one marks its conntrack entry with
 * the policy's generation (GEN, in the ct mark bits 0xffff0000, the low bits left to others),
 * and its later packets take the fourth rule.  A new policy has a new generation: every
 * connection is judged again by its next packet, so what the new policy denies stops and
 * what it allows goes on, without touching a WireGuard session.  Replies to what the node
 * itself opened always pass, and so does gossip: a policy cannot cut the roster's own way. */
#ifndef TUNNELD_FIREWALL_H
#define TUNNELD_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* One policy rule as this node enforces it, resolved from the roster by policy_build. */
enum { FIREWALL_RULE_TEXT_MAX = 192 };
struct firewall_rule {
	char text[FIREWALL_RULE_TEXT_MAX];	/* "deny group:web -> group:db tcp/22": the
						 * rule's comment and its metrics label */
	bool drop;
	uint8_t proto;			/* 0 any; 1 ICMP and ICMPv6; IPPROTO_TCP; IPPROTO_UDP */
	uint16_t port_lo, port_hi;	/* destination ports (host order); 0, 0: all */
	bool from_any;			/* any source; else from[0..n_from) */
	struct config_prefix *from;	/* owned; host addresses or one prefix */
	size_t n_from;
	bool to_any;			/* to anything that arrives through the tunnel; else: */
	bool to_self;			/* to this node: any local destination */
	bool to_prefix;			/* and/or to a prefix (a routed subnet or overlay range) */
	struct config_prefix to;
};

/* A node's whole policy.  A policy with no rule and default allow is no policy: no chain. */
struct firewall_policy {
	bool default_drop;
	uint16_t gossip_port;		/* accepted to self before every rule; 0: none */
	struct firewall_rule *rules;	/* owned; deny rules first (the roster's order) */
	size_t n_rules;
	struct config_prefix *self;	/* owned; this node's addresses */
	size_t n_self;
};

void firewall_policy_free(struct firewall_policy *p);
/* dst = a deep copy of src.  Returns 0 or -ENOMEM (dst empty). */
int firewall_policy_copy(struct firewall_policy *dst, const struct firewall_policy *src);
bool firewall_policy_equal(const struct firewall_policy *a, const struct firewall_policy *b);
/* Whether p enforces anything (a rule, or default deny). */
bool firewall_policy_active(const struct firewall_policy *p);

/* Replaces the policy chain with p's (NULL or inactive: none), in one transaction with the
 * rest of the table; p is copied.  A policy equal to the one in force changes nothing; a new
 * one starts a new generation (every connection judged again).  The drop counters of rules
 * kept across the change go on from where they were.  On failure the previous table stays in
 * force.  Returns 0, -E2BIG (more than FIREWALL_MAX_POLICY_RULES nft rules) or a negative
 * errno. */
enum { FIREWALL_MAX_POLICY_RULES = 4096 };
int firewall_set_policy(struct firewall *fw, const struct firewall_policy *p);

/* Packets dropped by each drop rule of the policy in force, read from the kernel's counters
 * now (one netlink dump): calls fn(text, packets, arg) for each deny rule, then for
 * "default deny" when that is the default.  Returns 0 or a negative errno (then fn was not
 * called).  Not for the packet path: one call costs a dump of the chain. */
int firewall_policy_drops(struct firewall *fw,
    void (*fn)(const char *text, uint64_t packets, void *arg), void *arg);

/* Deletes the table and closes the socket (NULL: nothing). */
void firewall_close(struct firewall *fw);
/* The table's name for messages and documentation: "warren-IFACE".  Borrowed from fw. */
const char *firewall_table_name(const struct firewall *fw);

#endif
