/* What a change to the nodes breaks, said before it is made: the allow lines that would name
 * nothing once a node is revoked or leaves a group, and the bastion's own node.  Shared by
 * revoke and node set, so both say the same and both need --force for the same things. */
#include <string.h>

#include "keys/cli.h"

bool cli_allows_settle(struct roster *r, const char *doing, bool force)
{
	struct roster_engineer *e;
	char allow[CLI_ALLOW_TEXT_MAX];
	bool refuse = false;
	size_t i, j, k;

	/* First say everything that breaks, then drop only if nothing needs --force. */
	for (i = 0; i < r->n_engineers; i++) {
		e = &r->engineers[i];
		for (j = 0; j < e->n_allows; j++) {
			if (roster_allow_target_exists(r, &e->allows[j]) ||
			    strncmp(e->allows[j].target, "group:", 6) != 0)
				continue;
			cli_allow_format(allow, &e->allows[j]);
			/* A group is a policy: a node enrolled later in it would silently not be
			 * reachable, so losing the line takes --force. */
			log_warn("%s leaves group %s empty: %s's allow %s %s (a node added to "
			    "group %s later would not be reachable by %s)", doing,
			    e->allows[j].target + 6, e->name, allow,
			    force ? "is dropped" : "would be dropped", e->allows[j].target + 6,
			    e->name);
			refuse |= !force;
		}
	}
	if (refuse) {
		log_error("%s would drop the allow lines above; nothing was changed (--force "
		    "to do it anyway)", doing);
		return false;
	}
	for (i = 0; i < r->n_engineers; i++) {
		e = &r->engineers[i];
		for (j = 0, k = 0; j < e->n_allows; j++) {
			if (roster_allow_target_exists(r, &e->allows[j])) {
				e->allows[k++] = e->allows[j];
				continue;
			}
			cli_allow_format(allow, &e->allows[j]);
			printf("dropped %s's allow %s\n", e->name, allow);
		}
		e->n_allows = k;
	}
	return true;
}

bool cli_node_is_bastion(const struct roster_node *n)
{
	size_t g;

	if (cli_settings.bastion_node[0])
		return strcmp(n->name, cli_settings.bastion_node) == 0;
	for (g = 0; g < n->n_groups; g++)
		if (strcmp(n->groups[g], CLI_BASTION_GROUP) == 0)
			return true;
	return false;
}
