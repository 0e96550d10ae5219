/* The roster's policy for this node (policy_build.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy_build.h"

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int node_addresses(const struct roster_node *n, struct config_prefix **v, size_t *count)
{
	if (n->has_addr4 && !config_prefix_add(v, count, AF_INET, n->addr4, 32))
		return -ENOMEM;
	if (n->has_addr6 && !config_prefix_add(v, count, AF_INET6, n->addr6, 128))
		return -ENOMEM;
	return 0;
}

/* Whether the first min(a, b) bits of two addresses of one family agree. */
static bool overlap(int family, const uint8_t *a, uint8_t a_cidr, const uint8_t *b,
    uint8_t b_cidr)
{
	unsigned bits = a_cidr < b_cidr ? a_cidr : b_cidr;

	for (unsigned i = 0; i < bits && i < 8 * addr_len(family); i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));

		if ((a[i / 8] & m) != (b[i / 8] & m))
			return false;
	}
	return true;
}

static bool prefix_reaches(const struct roster_prefix *p, const struct roster_node *self)
{
	if (p->family == AF_INET && self->has_addr4 &&
	    overlap(AF_INET, p->addr, p->cidr, self->addr4, 32))
		return true;
	if (p->family == AF_INET6 && self->has_addr6 &&
	    overlap(AF_INET6, p->addr, p->cidr, self->addr6, 128))
		return true;
	for (size_t i = 0; i < self->n_subnets; i++) {
		const struct roster_prefix *s = &self->subnets[i];

		if (s->family == p->family && overlap(p->family, p->addr, p->cidr, s->addr, s->cidr))
			return true;
	}
	return false;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct config_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

/* Sorted, each address once (a set may not hold one twice). */
static void unique(struct config_prefix *v, size_t *n)
{
	size_t out = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), prefix_cmp);
	for (size_t i = 1; i < *n; i++)
		if (prefix_cmp(&v[out], &v[i]) != 0)
			v[++out] = v[i];
	*n = out + 1;
}

/* Host addresses inside the one prefix of their family are left out: the prefix covers them. */
static void drop_covered(struct config_prefix *v, size_t *n, const struct roster_prefix *p)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++)
		if (v[i].family != p->family || !overlap(p->family, v[i].addr, v[i].cidr, p->addr,
		    p->cidr))
			v[k++] = v[i];
	*n = k;
}

/* FROM as addresses.  A prefix is itself, and also the every address of the nodes it holds
 * one address of: "100.64.0.2/32" is node web-1 to keys policy test, so its IPv6 address too. */
static int rule_from(const struct roster *r, const struct roster_policy_rule *pr,
    struct firewall_rule *fr)
{
	if (!strcmp(pr->from.target, "*")) {
		fr->from_any = true;
		return 0;
	}
	for (size_t i = 0; i < r->n_nodes; i++)
		if (roster_target_matches(&pr->from, &r->nodes[i]) &&
		    node_addresses(&r->nodes[i], &fr->from, &fr->n_from) < 0)
			return -ENOMEM;
	if (pr->from.is_prefix) {
		drop_covered(fr->from, &fr->n_from, &pr->from.prefix);
		if (!config_prefix_add(&fr->from, &fr->n_from, pr->from.prefix.family,
		    pr->from.prefix.addr, pr->from.prefix.cidr))
			return -ENOMEM;
	}
	unique(fr->from, &fr->n_from);
	return 0;
}

int policy_build(const struct roster *r, const struct roster_node *self, uint16_t gossip_port,
    struct firewall_policy *out)
{
	_Static_assert((int)FIREWALL_RULE_TEXT_MAX >= (int)ROSTER_POLICY_TEXT_MAX, "a rule's text fits");
	memset(out, 0, sizeof(*out));
	if (!r || !self)
		return 0;
	out->default_drop = r->policy_default_deny;
	out->gossip_port = gossip_port;
	if (node_addresses(self, &out->self, &out->n_self) < 0)
		goto fail;
	if (!(out->rules = calloc(r->n_policy ? r->n_policy : 1, sizeof(*out->rules))))
		goto fail;
	for (size_t k = 0; k < r->n_policy; k++) {
		const struct roster_policy_rule *pr = &r->policy[k];
		struct firewall_rule *fr = &out->rules[out->n_rules];

		memset(fr, 0, sizeof(*fr));
		if (!strcmp(pr->to.target, "*")) {
			fr->to_any = true;
		} else if (pr->to.is_prefix) {
			/* Its addresses (a subnet's hosts too); and this node whole when it holds
			 * one of our overlay addresses, as keys policy test judges it. */
			fr->to_self = roster_target_matches(&pr->to, self);
			fr->to_prefix = prefix_reaches(&pr->to.prefix, self);
			if (!fr->to_self && !fr->to_prefix)
				continue;
			fr->to.family = pr->to.prefix.family;
			memcpy(fr->to.addr, pr->to.prefix.addr, addr_len(fr->to.family));
			fr->to.cidr = pr->to.prefix.cidr;
		} else if (roster_target_matches(&pr->to, self)) {
			fr->to_self = true;
		} else {
			continue;
		}
		out->n_rules++;		/* counted first: firewall_policy_free frees its from */
		roster_policy_rule_format(fr->text, pr);
		fr->drop = pr->deny;
		fr->proto = pr->proto;
		/* The roster writes every port as 1-65535; the firewall matches none then. */
		if (pr->port_lo > 1 || pr->port_hi < 65535) {
			fr->port_lo = pr->port_lo;
			fr->port_hi = pr->port_hi;
		}
		if (rule_from(r, pr, fr) < 0)
			goto fail;
	}
	return 0;
fail:
	firewall_policy_free(out);
	return -ENOMEM;
}
