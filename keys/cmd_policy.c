/* keys policy allow|deny|remove|default|test: the roster's node-to-node policy (docs/roster.md,
 * "Policy").  Edits go to the working roster, as every other edit; test answers from it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "keys/cli.h"

static int policy_add(int argc, char *argv[]);
static int policy_remove(int argc, char *argv[]);
static int policy_default(int argc, char *argv[]);
static int policy_test(int argc, char *argv[]);
static int policy_list(int argc, char *argv[]);

static const struct command policy_commands[] = {
	{ "allow", policy_add, "FROM TO PROTO[/PORTS] [--force]",
	    "Adds 'policy allow FROM -> TO PROTO[/PORTS]': FROM and TO a node, group:NAME, '*' or a "
	    "prefix; PROTO any, icmp, tcp or udp; PORTS N or N-M (none: every port)" },
	{ "deny", policy_add, "FROM TO PROTO[/PORTS] [--force]",
	    "Adds a deny rule (a matching deny wins over every allow)" },
	{ "remove", policy_remove, "allow|deny FROM TO PROTO[/PORTS] [--force]",
	    "Removes a rule" },
	{ "default", policy_default, "allow|deny [--force]",
	    "What no rule matches: allow (the default) or deny.  An edit that would block the "
	    "bastion's node from jumps the allow lines grant is refused without --force" },
	{ "test", policy_test, "FROM TO PROTO[/PORT]",
	    "Says whether the working roster lets node FROM reach node TO, or a host inside a "
	    "node's subnet (an address), (exit 0: allowed, 1: denied, 2: error) and which rule "
	    "decides" },
	{ "list", policy_list, "[--json]",
	    "Prints the working roster's policy: its default, then its rules in order" },
};

enum { JUMP_EXAMPLES = 3 };

/* Removes "--force" from argv (anywhere after the subcommand); whether it was there. */
static bool take_force(int *argc, char *argv[])
{
	bool force = false;
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	return force;
}

/* The port a jump to allow line a most likely uses: 22 when a grants it, else its first. */
static uint16_t jump_port(const struct roster_allow *a)
{
	return a->port_lo <= 22 && a->port_hi >= 22 ? 22 : a->port_lo;
}

/* Whether r's policy lets bastion reach what allow line a grants on node n (NULL: the line
 * is a prefix inside a node's subnet; its first address stands for the hosts), on the line's
 * jump port. */
static bool jump_passes(const struct roster *r, const struct roster_node *bastion,
    const struct roster_node *n, const struct roster_allow *a)
{
	const struct roster_policy_rule *rule;

	if (n)
		return roster_policy_allows(r, bastion, n, ROSTER_POLICY_TCP, jump_port(a), &rule);
	return roster_policy_allows_host(r, bastion, a->prefix.family, a->prefix.addr,
	    ROSTER_POLICY_TCP, jump_port(a), &rule);
}

/* Whether the edit newly blocks bastion from what allow line a grants on n (as jump_passes). */
static bool jump_newly_blocked(const struct roster *before, const struct roster *after,
    const struct roster_node *bastion, const struct roster_node *n,
    const struct roster_allow *a)
{
	const struct roster_node *old_bastion = roster_node_find(before, bastion->name);
	const struct roster_node *old = n ? roster_node_find(before, n->name) : NULL;

	if (jump_passes(after, bastion, n, a))
		return false;
	/* Blocked before this edit too: not this edit's doing. */
	return !old_bastion || (n && !old) || jump_passes(before, old_bastion, old, a);
}

struct jump_count {
	size_t blocked;
	bool force;
};

static void jump_report(struct jump_count *c, const struct roster_node *bastion,
    const char *where, const struct roster_engineer *eng, const struct roster_allow *a)
{
	if (c->blocked++ < JUMP_EXAMPLES)
		log_msg(c->force ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "the policy would block the "
		    "bastion's node %s from %s tcp/%u, which %s's allow line '%s' grants",
		    bastion->name, where, jump_port(a), eng->name, a->target);
}

/* Every jump an engineer's allow line grants comes from a bastion's node (every node keys
 * takes for one), which the policy must let in: at the node, or at the node routing a subnet
 * for a host inside it.  An edit that newly blocks some (after, against before) is refused
 * with examples unless force: the way to lock every engineer out by one command. */
static bool jumps_kept(const struct roster *before, const struct roster *after, bool force)
{
	struct jump_count c = { 0, force };
	const struct roster_node *first = NULL;

	for (size_t b = 0; b < after->n_nodes; b++) {
		const struct roster_node *bastion = &after->nodes[b];

		if (!cli_node_is_bastion(bastion))
			continue;
		first = first ? first : bastion;
		for (size_t e = 0; e < after->n_engineers; e++) {
			const struct roster_engineer *eng = &after->engineers[e];

			for (size_t i = 0; i < eng->n_allows; i++) {
				const struct roster_allow *a = &eng->allows[i];

				if (a->is_prefix && roster_subnet_router(after, a->prefix.family,
				    a->prefix.addr)) {
					if (jump_newly_blocked(before, after, bastion, NULL, a))
						jump_report(&c, bastion, a->target, eng, a);
					continue;
				}
				for (size_t j = 0; j < after->n_nodes; j++) {
					const struct roster_node *n = &after->nodes[j];

					if (n != bastion && roster_target_matches(a, n) &&
					    jump_newly_blocked(before, after, bastion, n, a))
						jump_report(&c, bastion, n->name, eng, a);
				}
			}
		}
	}
	if (!first) {
		if (after->policy_default_deny || after->n_policy)
			log_warn("cannot tell which node is the bastion's (group '%s', or BastionNode "
			    "in %s): make sure a policy rule lets it reach the nodes' sshd",
			    CLI_BASTION_GROUP, CLI_SETTINGS);
		return true;
	}
	if (!c.blocked)
		return true;
	if (c.blocked > JUMP_EXAMPLES)
		log_msg(force ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "... and %zu more jumps",
		    c.blocked - JUMP_EXAMPLES);
	if (force)
		return true;
	log_error("nothing was changed: allow the bastion first (keys policy allow %s '*' "
	    "tcp/22), or repeat with --force", cli_settings.bastion_node[0] ?
	    cli_settings.bastion_node : "group:" CLI_BASTION_GROUP);
	return false;
}

/* An address literal, v4 or v6. */
static bool host_parse(const char *s, int *family, uint8_t addr[16])
{
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	return inet_pton(*family, s, addr) == 1;
}

static int usage_error(const struct command *c)
{
	cli_table_usage(stderr, "policy", c);
	return EXIT_USAGE;
}

/* The rule of argv[0..2] (FROM TO PROTO) with action deny; false after a message. */
static bool rule_of(struct roster_policy_rule *rule, bool deny, char *const argv[])
{
	char text[ROSTER_POLICY_TEXT_MAX + 1], why[160];

	if (snprintf(text, sizeof(text), "%s %s -> %s %s", deny ? "deny" : "allow", argv[0],
	    argv[1], argv[2]) >= (int)sizeof(text) ||
	    !roster_policy_rule_parse(rule, text, why, sizeof(why))) {
		log_error("%s", why);
		return false;
	}
	return true;
}

static const struct roster_policy_rule *rule_find(const struct roster *r,
    const struct roster_policy_rule *rule)
{
	for (size_t i = 0; i < r->n_policy; i++)
		if (roster_policy_cmp(&r->policy[i], rule) == 0)
			return &r->policy[i];
	return NULL;
}

/* One edit of the working roster's policy: add a rule, remove one, or set the default
 * (default_deny: -1 leaves it).  The format's checks, then the jumps' (jumps_kept), then saved;
 * nothing is written on any failure.  Returns an exit status. */
static int policy_edit(const struct roster_policy_rule *add,
    const struct roster_policy_rule *remove, int default_deny, bool force)
{
	const struct roster_policy_rule *found;
	struct roster_policy_rule *grown;
	char text[ROSTER_POLICY_TEXT_MAX] = "";
	struct roster r, before;
	size_t i;
	int ret = EXIT_FAIL;

	roster_init(&r);
	roster_init(&before);
	if (!cli_roster_load_working(&r) || !cli_roster_load_working(&before))
		goto out;
	if (add) {
		roster_policy_rule_format(text, add);
		if (rule_find(&r, add)) {
			log_error("'policy %s' is there already", text);
			goto out;
		}
		grown = realloc(r.policy, (r.n_policy + 1) * sizeof(*r.policy));
		if (!grown) {
			log_error("out of memory");
			goto out;
		}
		r.policy = grown;
		r.policy[r.n_policy++] = *add;
	}
	if (remove) {
		roster_policy_rule_format(text, remove);
		if (!(found = rule_find(&r, remove))) {
			log_error("no rule 'policy %s' in the working roster", text);
			goto out;
		}
		i = (size_t)(found - r.policy);
		memmove(&r.policy[i], &r.policy[i + 1], (r.n_policy - i - 1) * sizeof(*r.policy));
		r.n_policy--;
	}
	if (default_deny >= 0)
		r.policy_default_deny = default_deny == 1;
	/* The checks of the format (a group no node is in, a node not in the roster, the order:
	 * saving sorts), then what the edit does to the engineers' jumps. */
	if (!cli_roster_check(&r) || !jumps_kept(&before, &r, force) ||
	    !cli_roster_save_working(&r))
		goto out;
	if (add)
		printf("added 'policy %s'; 'keys diff' shows it, 'keys publish' signs it\n", text);
	else if (remove)
		printf("removed 'policy %s'\n", text);
	else
		printf("policy default %s\n", default_deny == 1 ? "deny" : "allow");
	ret = EXIT_OK;
out:
	roster_free(&r);
	roster_free(&before);
	return ret;
}

static int policy_add(int argc, char *argv[])
{
	const struct command *self = &policy_commands[strcmp(argv[0], "deny") == 0];
	struct roster_policy_rule rule;
	bool force = take_force(&argc, argv);

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		cli_table_usage(stdout, "policy", self);
		return EXIT_OK;
	}
	if (argc != 4)
		return usage_error(self);
	if (!rule_of(&rule, self == &policy_commands[1], argv + 1))
		return EXIT_USAGE;
	return policy_edit(&rule, NULL, -1, force);
}

static int policy_remove(int argc, char *argv[])
{
	const struct command *self = &policy_commands[2];
	struct roster_policy_rule rule;
	bool force = take_force(&argc, argv);

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		cli_table_usage(stdout, "policy", self);
		return EXIT_OK;
	}
	if (argc != 5 || (strcmp(argv[1], "allow") && strcmp(argv[1], "deny")))
		return usage_error(self);
	if (!rule_of(&rule, !strcmp(argv[1], "deny"), argv + 2))
		return EXIT_USAGE;
	return policy_edit(NULL, &rule, -1, force);
}

static int policy_default(int argc, char *argv[])
{
	const struct command *self = &policy_commands[3];
	bool force = take_force(&argc, argv);

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		cli_table_usage(stdout, "policy", self);
		return EXIT_OK;
	}
	if (argc != 2 || (strcmp(argv[1], "allow") && strcmp(argv[1], "deny")))
		return usage_error(self);
	return policy_edit(NULL, NULL, !strcmp(argv[1], "deny"), force);
}

static int policy_test(int argc, char *argv[])
{
	const struct command *self = &policy_commands[4];
	const struct roster_node *from, *to;
	const struct roster_policy_rule *rule;
	struct roster_policy_rule want;
	uint8_t addr[16];
	int family;
	char text[ROSTER_POLICY_TEXT_MAX];
	struct roster r;
	bool allowed;
	int ret = EXIT_USAGE;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		cli_table_usage(stdout, "policy", self);
		return EXIT_OK;
	}
	if (argc != 4)
		return usage_error(self);
	/* PROTO/PORT parsed as a rule's would be: one port, a real protocol. */
	char star[] = "*";

	if (!rule_of(&want, false, (char *[]){ star, star, argv[3] }))
		return EXIT_USAGE;
	if (want.proto == ROSTER_POLICY_ANY || want.port_lo != want.port_hi) {
		log_error("'%s': give a protocol and one port (tcp/5432, udp/53) or icmp", argv[3]);
		return EXIT_USAGE;
	}
	/* 0 allowed, 1 denied, 2 anything else (as grep: a script can tell them apart). */
	roster_init(&r);
	if (!cli_roster_load_working(&r))
		goto out;
	from = roster_node_find(&r, argv[1]);
	to = roster_node_find(&r, argv[2]);
	if (!from) {
		log_error("no node '%.100s' in the roster", argv[1]);
		goto out;
	}
	if (to) {
		allowed = roster_policy_allows(&r, from, to, want.proto, want.port_lo, &rule);
	} else if (host_parse(argv[2], &family, addr) && roster_subnet_router(&r, family, addr)) {
		/* A host inside a node's subnet: what that node enforces for it. */
		allowed = roster_policy_allows_host(&r, from, family, addr, want.proto,
		    want.port_lo, &rule);
	} else {
		log_error("'%.100s' is neither a node of the roster nor an address inside a node's "
		    "subnet", argv[2]);
		goto out;
	}
	if (rule) {
		roster_policy_rule_format(text, rule);
		printf("%s: %s -> %s %s, by 'policy %s'\n", allowed ? "allowed" : "denied",
		    argv[1], argv[2], argv[3], text);
	} else {
		printf("%s: %s -> %s %s, by the default (no rule matches)\n",
		    allowed ? "allowed" : "denied", argv[1], argv[2], argv[3]);
	}
	ret = allowed ? EXIT_OK : EXIT_FAIL;
out:
	roster_free(&r);
	return ret;
}

static int policy_list(int argc, char *argv[])
{
	const struct command *self = &policy_commands[5];
	char text[ROSTER_POLICY_TEXT_MAX];
	struct roster r;
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	int ret = EXIT_FAIL;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		cli_table_usage(stdout, "policy", self);
		return EXIT_OK;
	}
	if (argc > 2 || (argc == 2 && !json))
		return usage_error(self);
	roster_init(&r);
	if (!cli_roster_load_working(&r))
		goto out;
	if (json)
		printf("{\"default\": \"%s\", \"rules\": [",
		    r.policy_default_deny ? "deny" : "allow");
	else
		printf("policy default %s\n", r.policy_default_deny ? "deny" : "allow");
	for (size_t i = 0; i < r.n_policy; i++) {
		roster_policy_rule_format(text, &r.policy[i]);
		if (json) {
			printf("%s", i ? ", " : "");
			json_string_write(stdout, text);
		} else {
			printf("policy %s\n", text);
		}
	}
	if (json)
		printf("]}\n");
	ret = EXIT_OK;
out:
	roster_free(&r);
	return ret;
}

int cmd_policy(int argc, char *argv[])
{
	return cli_subcommand("policy", policy_commands,
	    sizeof(policy_commands) / sizeof(policy_commands[0]), argc, argv);
}
