/* What a change to the nodes breaks, said before it is made: the allow lines and policy rules
 * that would name nothing once a node is revoked or leaves a group, and the bastion's own node.
 * Shared by revoke and node set, so both say the same and both need --force for the same
 * things. */
#include <string.h>

#include "keys/cli.h"

static bool policy_rule_alive(const struct roster *r, const struct roster_policy_rule *rule)
{
	return roster_allow_target_exists(r, &rule->from) &&
	    roster_allow_target_exists(r, &rule->to);
}

/* A policy rule naming a group the change empties: a deny dropped would not stop a node
 * enrolled in that group later, an allow dropped would not let it in; either way --force. */
static bool policy_warn_groups(const struct roster *r, const char *doing, bool force)
{
	char text[ROSTER_POLICY_TEXT_MAX];
	bool refuse = false;

	for (size_t i = 0; i < r->n_policy; i++) {
		const struct roster_policy_rule *rule = &r->policy[i];
		const struct roster_allow *gone[2] = { &rule->from, &rule->to };

		for (int side = 0; side < 2; side++) {
			if (roster_allow_target_exists(r, gone[side]) ||
			    strncmp(gone[side]->target, "group:", 6) != 0)
				continue;
			roster_policy_rule_format(text, rule);
			log_warn("%s leaves group %s empty: 'policy %s' %s (a node added to group "
			    "%s later would not be %s by it)", doing, gone[side]->target + 6, text,
			    force ? "is dropped" : "would be dropped", gone[side]->target + 6,
			    rule->deny ? "denied" : "allowed");
			refuse |= !force;
			break;
		}
	}
	return !refuse;
}

/* Drops the rules that name what the roster no longer has (each said). */
static void policy_drop_dead(struct roster *r)
{
	char text[ROSTER_POLICY_TEXT_MAX];
	size_t k = 0;

	for (size_t i = 0; i < r->n_policy; i++) {
		if (policy_rule_alive(r, &r->policy[i])) {
			r->policy[k++] = r->policy[i];
			continue;
		}
		roster_policy_rule_format(text, &r->policy[i]);
		printf("dropped 'policy %s'\n", text);
	}
	r->n_policy = k;
}

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
	if (!policy_warn_groups(r, doing, force))
		refuse = true;
	if (refuse) {
		log_error("%s would drop the allow lines or policy rules above; nothing was "
		    "changed (--force to do it anyway)", doing);
		return false;
	}
	policy_drop_dead(r);
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
