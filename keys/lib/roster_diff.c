/* What a new roster changes, node by node: the apply step's input. */
#include "keys/lib/roster_int.h"

#include <string.h>

#include <sodium.h>

static bool same_fields(const struct roster_node *a, const struct roster_node *b)
{
	size_t i;

	if (a->has_addr4 != b->has_addr4 || a->has_addr6 != b->has_addr6 ||
	    (a->has_addr4 && memcmp(a->addr4, b->addr4, 4) != 0) ||
	    (a->has_addr6 && memcmp(a->addr6, b->addr6, 16) != 0) ||
	    a->n_subnets != b->n_subnets || a->n_endpoints != b->n_endpoints ||
	    a->n_groups != b->n_groups)
		return false;
	for (i = 0; i < a->n_subnets; i++)
		if (roster_prefix_cmp(&a->subnets[i], &b->subnets[i]) != 0)
			return false;
	for (i = 0; i < a->n_endpoints; i++)
		if (a->endpoints[i].port != b->endpoints[i].port ||
		    strcmp(a->endpoints[i].host, b->endpoints[i].host) != 0)
			return false;
	for (i = 0; i < a->n_groups; i++)
		if (strcmp(a->groups[i], b->groups[i]) != 0)
			return false;
	return true;
}

/* A merge walk over the two name-sorted arrays.  A node whose key changed is reported as
 * KEY_CHANGED even if other fields changed too: the caller re-keys it, then applies it. */
void roster_diff_nodes(const struct roster *old_r, const struct roster *new_r, roster_diff_fn *fn,
    void *ctx)
{
	size_t i = 0, j = 0;
	int c;

	while (i < old_r->n_nodes || j < new_r->n_nodes) {
		const struct roster_node *o = i < old_r->n_nodes ? &old_r->nodes[i] : NULL;
		const struct roster_node *n = j < new_r->n_nodes ? &new_r->nodes[j] : NULL;

		c = !o ? 1 : !n ? -1 : strcmp(o->name, n->name);
		if (c < 0) {
			fn(ctx, ROSTER_NODE_REMOVED, o, NULL);
			i++;
		} else if (c > 0) {
			fn(ctx, ROSTER_NODE_ADDED, NULL, n);
			j++;
		} else {
			if (sodium_memcmp(o->key, n->key, KEY_LEN) != 0)
				fn(ctx, ROSTER_NODE_KEY_CHANGED, o, n);
			else if (!same_fields(o, n))
				fn(ctx, ROSTER_NODE_CHANGED, o, n);
			i++;
			j++;
		}
	}
}
