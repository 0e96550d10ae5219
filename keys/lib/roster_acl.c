/* Engineers' access rules: which node and port an allow line covers. */
#include "keys/lib/roster_int.h"

#include <string.h>

static bool in_group(const struct roster_node *n, const char *group)
{
	size_t i;

	for (i = 0; i < n->n_groups; i++)
		if (strcmp(n->groups[i], group) == 0)
			return true;
	return false;
}

static bool target_matches(const char *target, const struct roster_node *n)
{
	if (strcmp(target, "*") == 0)
		return true;
	if (strncmp(target, "group:", 6) == 0)
		return in_group(n, target + 6);
	return strcmp(target, n->name) == 0;
}

bool roster_engineer_allows(const struct roster *r, const struct roster_engineer *e,
    const struct roster_node *n, uint16_t port)
{
	size_t i;

	(void)r;	/* targets name nodes and groups, both carried by n itself */
	if (port == 0)
		return false;
	for (i = 0; i < e->n_allows; i++)
		if (port >= e->allows[i].port_lo && port <= e->allows[i].port_hi &&
		    target_matches(e->allows[i].target, n))
			return true;
	return false;
}
