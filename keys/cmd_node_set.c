/* keys node set: edits an enrolled node in place -- endpoints, groups, routed subnets -- so a
 * gateway gains a subnet or a node moves without revoke + enroll (which would change its
 * address, drop allow lines and cut its traffic).  Like every edit it changes the working
 * roster only: `keys diff` shows it, `keys publish` signs it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keys/cli.h"

static int node_set(int argc, char *argv[]);

static const struct command node_commands[] = {
	{ "set", node_set,
	    "NAME [--endpoint HOST:PORT]... [--add-endpoint HOST:PORT]... "
	    "[--remove-endpoint HOST:PORT]... [--add-group G]... [--remove-group G]... "
	    "[--add-subnet CIDR]... [--remove-subnet CIDR]... [--force]",
	    "Edits a node: --endpoint replaces its endpoints (in preference order), the others "
	    "add or remove one item; --force drops allow lines a removed group leaves naming "
	    "nothing" },
};

enum op_kind { OP_ENDPOINT, OP_ADD_ENDPOINT, OP_DEL_ENDPOINT, OP_ADD_GROUP, OP_DEL_GROUP,
	OP_ADD_SUBNET, OP_DEL_SUBNET };

struct op {
	enum op_kind kind;
	const char *arg;
};

static int usage_error(void)
{
	cli_table_usage(stderr, "node", &node_commands[0]);
	return EXIT_USAGE;
}

static bool endpoint_eq(const struct roster_endpoint *a, const struct roster_endpoint *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static bool prefix_eq(const struct roster_prefix *a, const struct roster_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	    memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* Removes element i of the array *arr of *n elements (del), or appends item: the one edit
 * every list of a node gets.  LIST_MISSING if del and i == *n (not there), LIST_PRESENT if not
 * del and i < *n (already there), LIST_NOMEM, or LIST_OK. */
enum list_result { LIST_OK, LIST_MISSING, LIST_PRESENT, LIST_NOMEM };

static enum list_result list_edit(void *arr_p, size_t *n, size_t size, size_t i, bool del,
    const void *item)
{
	uint8_t **arr = arr_p, *grown;

	if (del) {
		if (i == *n)
			return LIST_MISSING;
		memmove(*arr + i * size, *arr + (i + 1) * size, (*n - i - 1) * size);
		(*n)--;
		return LIST_OK;
	}
	if (i < *n)
		return LIST_PRESENT;
	grown = realloc(*arr, (*n + 1) * size);
	if (!grown)
		return LIST_NOMEM;
	*arr = grown;
	memcpy(*arr + (*n)++ * size, item, size);
	return LIST_OK;
}

/* Says what list_edit refused: what (e.g. "endpoint"), the node, the argument. */
static bool list_said(enum list_result res, const char *what, const struct roster_node *n,
    const char *arg)
{
	switch (res) {
	case LIST_OK:
		return true;
	case LIST_MISSING:
		log_error("node %s has no %s %.100s", n->name, what, arg);
		break;
	case LIST_PRESENT:
		log_error("node %s already has %s %.100s", n->name, what, arg);
		break;
	case LIST_NOMEM:
		log_error("out of memory");
		break;
	}
	return false;
}

static bool op_endpoint(struct roster_node *n, const struct op *o, bool *replaced)
{
	struct roster_endpoint ep;
	size_t i;

	if (!roster_endpoint_parse(&ep, o->arg)) {
		log_error("'%.100s' is not HOST:PORT or [IPv6]:PORT", o->arg);
		return false;
	}
	if (o->kind == OP_ENDPOINT && !*replaced) {
		n->n_endpoints = 0;	/* the first --endpoint starts the new list */
		*replaced = true;
	}
	for (i = 0; i < n->n_endpoints && !endpoint_eq(&n->endpoints[i], &ep); i++)
		;
	return list_said(list_edit(&n->endpoints, &n->n_endpoints, sizeof(ep), i,
	    o->kind == OP_DEL_ENDPOINT, &ep), "endpoint", n, o->arg);
}

static bool op_group(struct roster_node *n, const struct op *o)
{
	char g[ROSTER_NAME_MAX + 1];
	size_t i;

	if (!roster_name_valid(o->arg)) {
		log_error("invalid group name '%.100s'", o->arg);
		return false;
	}
	snprintf(g, sizeof(g), "%s", o->arg);
	for (i = 0; i < n->n_groups && strcmp(n->groups[i], g) != 0; i++)
		;
	return list_said(list_edit(&n->groups, &n->n_groups, sizeof(g), i,
	    o->kind == OP_DEL_GROUP, g), "group", n, o->arg);
}

static bool op_subnet(struct roster_node *n, const struct op *o)
{
	struct roster_prefix p;
	size_t i;

	if (!roster_prefix_parse(&p, o->arg)) {
		log_error("'%.100s' is not a network such as 10.20.0.0/16 (host bits "
		    "zero)", o->arg);
		return false;
	}
	for (i = 0; i < n->n_subnets && !prefix_eq(&n->subnets[i], &p); i++)
		;
	return list_said(list_edit(&n->subnets, &n->n_subnets, sizeof(p), i,
	    o->kind == OP_DEL_SUBNET, &p), "subnet", n, o->arg);
}

static int node_set(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, OP_ENDPOINT + 'A' },
		{ "add-endpoint", required_argument, NULL, OP_ADD_ENDPOINT + 'A' },
		{ "remove-endpoint", required_argument, NULL, OP_DEL_ENDPOINT + 'A' },
		{ "add-group", required_argument, NULL, OP_ADD_GROUP + 'A' },
		{ "remove-group", required_argument, NULL, OP_DEL_GROUP + 'A' },
		{ "add-subnet", required_argument, NULL, OP_ADD_SUBNET + 'A' },
		{ "remove-subnet", required_argument, NULL, OP_DEL_SUBNET + 'A' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char doing[ROSTER_NAME_MAX + 32];
	struct roster_node *n;
	bool force = false, replaced = false, ok, edits_endpoints = false, sets_endpoints = false;
	struct op *ops = NULL;
	size_t n_ops = 0, i;
	struct roster r;
	int c, ret = EXIT_FAIL;

	roster_init(&r);
	ops = calloc((size_t)argc, sizeof(*ops));	/* argc bounds the options */
	if (!ops) {
		log_error("out of memory");
		goto out;
	}
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c >= 'A' && c <= OP_DEL_SUBNET + 'A') {
			ops[n_ops].kind = (enum op_kind)(c - 'A');
			ops[n_ops++].arg = optarg;
			sets_endpoints |= c == OP_ENDPOINT + 'A';
			edits_endpoints |= c == OP_ADD_ENDPOINT + 'A' || c == OP_DEL_ENDPOINT + 'A';
		} else if (c == 'f') {
			force = true;
		} else if (c == 'h') {
			cli_table_usage(stdout, "node", &node_commands[0]);
			ret = EXIT_OK;
			goto out;
		} else {
			ret = usage_error();
			goto out;
		}
	}
	if (optind != argc - 1 || n_ops == 0) {
		ret = usage_error();
		goto out;
	}
	if (sets_endpoints && edits_endpoints) {
		log_error("--endpoint replaces the list: not with --add-endpoint or "
		    "--remove-endpoint");
		ret = usage_error();
		goto out;
	}
	if (!cli_roster_load_working(&r))
		goto out;
	n = roster_node_find(&r, argv[optind]);
	if (!n) {
		log_error("no node '%.100s'", argv[optind]);
		goto out;
	}
	for (i = 0; i < n_ops; i++) {
		switch (ops[i].kind) {
		case OP_ENDPOINT:
		case OP_ADD_ENDPOINT:
		case OP_DEL_ENDPOINT:
			ok = op_endpoint(n, &ops[i], &replaced);
			break;
		case OP_ADD_GROUP:
		case OP_DEL_GROUP:
			ok = op_group(n, &ops[i]);
			break;
		default:
			ok = op_subnet(n, &ops[i]);
			break;
		}
		if (!ok)
			goto out;
	}
	snprintf(doing, sizeof(doing), "editing node %s", argv[optind]);
	if (!cli_allows_settle(&r, doing, force) || !cli_roster_check(&r) ||
	    !cli_roster_save_working(&r))
		goto out;
	printf("changed node %s; 'keys diff' shows it, 'keys publish' signs it\n", argv[optind]);
	ret = EXIT_OK;
out:
	free(ops);
	roster_free(&r);
	return ret;
}

int cmd_node(int argc, char *argv[])
{
	return cli_subcommand("node", node_commands, sizeof(node_commands) / sizeof(node_commands[0]),
	    argc, argv);
}
