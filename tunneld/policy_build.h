/* The roster's node-to-node policy as one node enforces it (docs/roster.md, "Policy"): the
 * rules whose TO covers the node, their FROM resolved to addresses, for firewall_set_policy. */
#ifndef TUNNELD_POLICY_BUILD_H
#define TUNNELD_POLICY_BUILD_H

#include "firewall.h"
#include "keys/lib/roster.h"

/* Fills out (firewall_policy_free releases it) with r's policy for node self, with the meaning
 * keys policy test gives it (roster_policy_allows) wherever that names nodes:
 *   - TO: "*" is anything that arrives through the tunnel; a node or group:NAME that covers
 *     self is this node: every local destination (not only its overlay addresses: a peer
 *     picks the destination); a prefix is its own addresses where it overlaps self's
 *     addresses or routed subnets, and this node too when it holds one of self's overlay
 *     addresses; other rules are left out;
 *   - FROM: "*" is any source; a node or group:NAME is the overlay addresses of its nodes
 *     (not their subnets); a prefix is itself and every address of the nodes it holds one
 *     address of.
 * gossip_port (0: none) is always open on self's addresses: the roster travels through it.
 * r or self NULL (no roster, or this node not in it): an empty policy.  Returns 0 or
 * -ENOMEM (out emptied). */
int policy_build(const struct roster *r, const struct roster_node *self, uint16_t gossip_port,
    struct firewall_policy *out);

#endif
