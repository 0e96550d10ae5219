/* Engineers' access rules: which node, subnet host and port an allow line covers. */
#include "keys/lib/roster_int.h"

#include <string.h>
#include <sys/socket.h>

static bool in_group(const struct roster_node *n, const char *group)
{
	size_t i;

	for (i = 0; i < n->n_groups; i++)
		if (strcmp(n->groups[i], group) == 0)
			return true;
	return false;
}

bool roster_target_matches(const struct roster_allow *a, const struct roster_node *n)
{
	if (a->is_prefix)
		return (n->has_addr4 && roster_prefix_contains(&a->prefix, AF_INET, n->addr4)) ||
		    (n->has_addr6 && roster_prefix_contains(&a->prefix, AF_INET6, n->addr6));
	if (strcmp(a->target, "*") == 0)
		return true;
	if (strncmp(a->target, "group:", 6) == 0)
		return in_group(n, a->target + 6);
	return strcmp(a->target, n->name) == 0;
}

/* Whether rule's protocol and ports cover proto/port (ICMP and "any": no port). */
static bool policy_proto_matches(const struct roster_policy_rule *rule, uint8_t proto,
    uint16_t port)
{
	if (rule->proto == ROSTER_POLICY_ANY)
		return true;
	if (rule->proto != proto)
		return false;
	return rule->port_lo == 0 || (port >= rule->port_lo && port <= rule->port_hi);
}

/* What a policy rule's TO must cover: a node, or a host by address (inside a subnet). */
struct policy_dest {
	const struct roster_node *node;		/* or NULL: */
	int family;
	const uint8_t *addr;
};

static bool dest_matches(const struct roster_allow *to, const struct policy_dest *d)
{
	if (d->node)
		return roster_target_matches(to, d->node);
	/* Names and groups cover nodes, never the hosts behind them. */
	return strcmp(to->target, "*") == 0 ||
	    (to->is_prefix && roster_prefix_contains(&to->prefix, d->family, d->addr));
}

static bool policy_decide(const struct roster *r, const struct roster_node *from,
    const struct policy_dest *to, uint8_t proto, uint16_t port,
    const struct roster_policy_rule **matched)
{
	const struct roster_policy_rule *allow = NULL;

	for (size_t i = 0; i < r->n_policy; i++) {
		const struct roster_policy_rule *rule = &r->policy[i];

		if (!roster_target_matches(&rule->from, from) || !dest_matches(&rule->to, to) ||
		    !policy_proto_matches(rule, proto, port))
			continue;
		if (rule->deny) {
			*matched = rule;
			return false;
		}
		if (!allow)
			allow = rule;
	}
	*matched = allow;
	return allow ? true : !r->policy_default_deny;
}

bool roster_policy_allows(const struct roster *r, const struct roster_node *from,
    const struct roster_node *to, uint8_t proto, uint16_t port,
    const struct roster_policy_rule **matched)
{
	const struct policy_dest d = { to, 0, NULL };

	return policy_decide(r, from, &d, proto, port, matched);
}

bool roster_policy_allows_host(const struct roster *r, const struct roster_node *from,
    int family, const uint8_t *addr, uint8_t proto, uint16_t port,
    const struct roster_policy_rule **matched)
{
	const struct policy_dest d = { NULL, family, addr };

	return policy_decide(r, from, &d, proto, port, matched);
}

/* An allow line with an until grants nothing from that moment on. */
static bool in_force(const struct roster_allow *a, int64_t now)
{
	return !a->has_until || now < a->until;
}

bool roster_engineer_allows(const struct roster *r, const struct roster_engineer *e,
    const struct roster_node *n, uint16_t port, int64_t now)
{
	size_t i;

	(void)r;	/* targets name nodes, groups and prefixes, all matched against n itself */
	if (port == 0)
		return false;
	for (i = 0; i < e->n_allows; i++)
		if (port >= e->allows[i].port_lo && port <= e->allows[i].port_hi &&
		    in_force(&e->allows[i], now) && roster_target_matches(&e->allows[i], n))
			return true;
	return false;
}

bool roster_engineer_allows_address(const struct roster_engineer *e, int family, int64_t now,
    const uint8_t *addr, uint16_t port)
{
	size_t i;

	if (port == 0)
		return false;
	for (i = 0; i < e->n_allows; i++)
		if (e->allows[i].is_prefix && port >= e->allows[i].port_lo &&
		    port <= e->allows[i].port_hi && in_force(&e->allows[i], now) &&
		    roster_prefix_contains(&e->allows[i].prefix, family, addr))
			return true;
	return false;
}

const struct roster_node *roster_subnet_router(const struct roster *r, int family,
    const uint8_t *addr)
{
	size_t i, j;

	/* Subnets never overlap (roster.md), so at most one node holds addr. */
	for (i = 0; i < r->n_nodes; i++)
		for (j = 0; j < r->nodes[i].n_subnets; j++)
			if (roster_prefix_contains(&r->nodes[i].subnets[j], family, addr))
				return &r->nodes[i];
	return NULL;
}

/* Whether inner lies entirely inside outer. */
static bool prefix_within(const struct roster_prefix *inner, const struct roster_prefix *outer)
{
	return inner->family == outer->family && inner->cidr >= outer->cidr &&
	    roster_prefix_contains(outer, inner->family, inner->addr);
}

bool roster_allow_target_exists(const struct roster *r, const struct roster_allow *a)
{
	size_t i, j;

	if (a->is_prefix) {
		if (prefix_within(&a->prefix, &r->cidr4) ||
		    (r->has_cidr6 && prefix_within(&a->prefix, &r->cidr6)))
			return true;
		for (i = 0; i < r->n_nodes; i++)
			for (j = 0; j < r->nodes[i].n_subnets; j++)
				if (prefix_within(&a->prefix, &r->nodes[i].subnets[j]))
					return true;
		return false;
	}
	if (strcmp(a->target, "*") == 0)
		return true;
	if (strncmp(a->target, "group:", 6) == 0) {
		for (i = 0; i < r->n_nodes; i++)
			if (in_group(&r->nodes[i], a->target + 6))
				return true;
		return false;
	}
	return roster_node_find(r, a->target) != NULL;
}
