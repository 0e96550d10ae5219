/* Editing the nodes of the working roster: enroll, rotate, revoke.  Each command checks all of
 * its arguments and the resulting roster before it writes anything. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "common/mem.h"
#include "keys/cli.h"

static int usage_error(const char *name)
{
	cli_command_usage(stderr, name);
	return EXIT_USAGE;
}

static void node_clear(struct roster_node *n)
{
	free(n->subnets);
	free(n->endpoints);
	free(n->groups);
	memset(n, 0, sizeof(*n));
}

static int group_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool key_arg(const char *s, uint8_t key[KEY_LEN])
{
	if (strlen(s) != KEY_B64_LEN || !key_from_base64(key, s) || key_is_zero(key)) {
		log_error("'%.100s' is not a WireGuard public key (44 characters of "
		    "base64, as 'keys pubkey' prints)", s);
		return false;
	}
	return true;
}

/* The key must not already belong to a node (other than except). */
static bool key_unused(const struct roster *r, const uint8_t key[KEY_LEN],
    const struct roster_node *except)
{
	const struct roster_node *o = roster_node_find_key(r, key);
	char b64[KEY_B64_LEN + 1];

	if (!o || o == except)
		return true;
	key_to_base64(b64, key);
	log_error("key %s is already enrolled as node '%s'", b64, o->name);
	return false;
}

static bool address_arg(const char *s, struct roster_node *n, const struct roster *r)
{
	uint8_t a[16];
	int family;

	if (!roster_address_parse(&family, a, s)) {
		log_error("--address '%.100s' is not an IPv4 or IPv6 address (canonical "
		    "form)", s);
		return false;
	}
	if (family == AF_INET) {
		if (n->has_addr4) {
			log_error("more than one IPv4 --address");
			return false;
		}
		memcpy(n->addr4, a, 4);
		n->has_addr4 = true;
		return true;
	}
	if (!r->has_cidr6) {
		log_error("--address %.100s: network %s has no IPv6 cidr6", s,
		    r->network);
		return false;
	}
	if (n->has_addr6) {
		log_error("more than one IPv6 --address");
		return false;
	}
	memcpy(n->addr6, a, 16);
	n->has_addr6 = true;
	return true;
}

/* Fills the families not given from the network's CIDRs (lowest free address). */
static bool allocate(const struct roster *r, struct roster_node *n)
{
	uint8_t a[16];
	char cidr[64];

	if (!n->has_addr4) {
		if (!roster_allocate_address(r, AF_INET, a)) {
			cli_prefix_format(cidr, &r->cidr4);
			log_error("no free address left in %s", cidr);
			return false;
		}
		memcpy(n->addr4, a, 4);
		n->has_addr4 = true;
	}
	if (r->has_cidr6 && !n->has_addr6) {
		if (!roster_allocate_address(r, AF_INET6, a)) {
			cli_prefix_format(cidr, &r->cidr6);
			log_error("no free address left in %s", cidr);
			return false;
		}
		memcpy(n->addr6, a, 16);
		n->has_addr6 = true;
	}
	return true;
}

static void print_node_line(const char *verb, const struct roster_node *n)
{
	char a[64];

	printf("%s %s", verb, n->name);
	if (n->has_addr4) {
		cli_addr_format(a, AF_INET, n->addr4);
		printf(" %s", a);
	}
	if (n->has_addr6) {
		cli_addr_format(a, AF_INET6, n->addr6);
		printf(" %s", a);
	}
	printf("\n");
}

int cmd_enroll(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "address", required_argument, NULL, 'a' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "group", required_argument, NULL, 'g' },
		{ "subnet", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Option values, checked once the roster is loaded. */
	const char **addrs = NULL;
	const char *pubkey = NULL, *name;
	struct roster_node n, *grown;
	size_t n_addrs = 0, i, j;
	struct roster r;
	int c, ret = EXIT_FAIL;

	roster_init(&r);
	memset(&n, 0, sizeof(n));
	/* argc bounds how many of each option there can be. */
	addrs = calloc((size_t)argc, sizeof(*addrs));
	n.subnets = calloc((size_t)argc, sizeof(*n.subnets));
	n.endpoints = calloc((size_t)argc, sizeof(*n.endpoints));
	n.groups = calloc((size_t)argc, sizeof(*n.groups));
	if (!addrs || !n.subnets || !n.endpoints || !n.groups) {
		log_error("out of memory");
		goto out;
	}
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'k':
			pubkey = optarg;
			break;
		case 'a':
			addrs[n_addrs++] = optarg;
			break;
		case 'e':
			if (!roster_endpoint_parse(&n.endpoints[n.n_endpoints], optarg)) {
				log_error("--endpoint '%.100s' is not HOST:PORT or "
				    "[IPv6]:PORT", optarg);
				goto out;
			}
			n.n_endpoints++;
			break;
		case 'g':
			if (!roster_name_valid(optarg)) {
				log_error("invalid group name '%.100s'",
				    optarg);
				goto out;
			}
			snprintf(n.groups[n.n_groups++], ROSTER_NAME_MAX + 1, "%s", optarg);
			break;
		case 's':
			if (!roster_prefix_parse(&n.subnets[n.n_subnets], optarg)) {
				log_error("--subnet '%.100s' is not a network such as "
				    "10.20.0.0/16 (host bits zero)", optarg);
				goto out;
			}
			n.n_subnets++;
			break;
		case 'h':
			cli_command_usage(stdout, "enroll");
			ret = EXIT_OK;
			goto out;
		default:
			ret = usage_error("enroll");
			goto out;
		}
	}
	if (optind != argc - 1 || !pubkey) {
		ret = usage_error("enroll");
		goto out;
	}
	name = argv[optind];
	if (!roster_name_valid(name)) {
		log_error("invalid node name '%.100s' ([a-z0-9][a-z0-9.-]*, at most %d "
		    "characters)", name, ROSTER_NAME_MAX);
		goto out;
	}
	snprintf(n.name, sizeof(n.name), "%s", name);
	if (!key_arg(pubkey, n.key) || !cli_roster_load_working(&r))
		goto out;
	if (roster_node_find(&r, name)) {
		log_error("node '%s' is already enrolled (use 'keys rotate' to change "
		    "its key)", name);
		goto out;
	}
	if (!key_unused(&r, n.key, NULL))
		goto out;
	for (i = 0; i < n_addrs; i++)
		if (!address_arg(addrs[i], &n, &r))
			goto out;
	array_sort(n.groups, n.n_groups, sizeof(*n.groups), group_cmp);
	for (i = 1; i < n.n_groups; i++)
		if (!strcmp(n.groups[i - 1], n.groups[i])) {
			log_error("--group %s given twice", n.groups[i]);
			goto out;
		}
	for (i = 0; i < n.n_endpoints; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(n.endpoints[i].host, n.endpoints[j].host) &&
			    n.endpoints[i].port == n.endpoints[j].port) {
				log_error("--endpoint given twice");
				goto out;
			}
	if (!allocate(&r, &n))
		goto out;

	grown = realloc(r.nodes, (r.n_nodes + 1) * sizeof(*r.nodes));
	if (!grown) {
		log_error("out of memory");
		goto out;
	}
	r.nodes = grown;
	r.nodes[r.n_nodes++] = n;	/* the roster owns the arrays now */
	memset(&n, 0, sizeof(n));
	if (!cli_roster_check(&r) || !cli_roster_save_working(&r))
		goto out;
	grown = roster_node_find(&r, name);
	if (grown)
		print_node_line("enrolled", grown);
	ret = EXIT_OK;
out:
	node_clear(&n);
	free(addrs);
	roster_free(&r);
	return ret;
}

int cmd_rotate(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char old_b64[KEY_B64_LEN + 1], new_b64[KEY_B64_LEN + 1];
	const char *pubkey = NULL;
	uint8_t key[KEY_LEN];
	struct roster_node *n;
	struct roster r;
	int c, ret = EXIT_FAIL;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'k': pubkey = optarg; break;
		case 'h': cli_command_usage(stdout, "rotate"); ret = EXIT_OK; goto out;
		default: ret = usage_error("rotate"); goto out;
		}
	}
	if (optind != argc - 1 || !pubkey) {
		ret = usage_error("rotate");
		goto out;
	}
	if (!key_arg(pubkey, key) || !cli_roster_load_working(&r))
		goto out;
	n = roster_node_find(&r, argv[optind]);
	if (!n) {
		log_error("no node '%.100s'", argv[optind]);
		goto out;
	}
	if (sodium_memcmp(n->key, key, KEY_LEN) == 0) {
		log_error("node '%s' already has that key", n->name);
		goto out;
	}
	if (!key_unused(&r, key, n))
		goto out;
	key_to_base64(old_b64, n->key);
	key_to_base64(new_b64, key);
	memcpy(n->key, key, KEY_LEN);
	if (!cli_roster_check(&r) || !cli_roster_save_working(&r))
		goto out;
	printf("rotated %s %s -> %s\n", argv[optind], old_b64, new_b64);
	ret = EXIT_OK;
out:
	roster_free(&r);
	return ret;
}

/* Drops the allow lines that name nothing once a node is revoked (its name, a group it was
 * the last member of, or a prefix inside its subnets: roster_allow_target_exists), saying which: a revocation must never wait for ACL edits, and a stale
 * line must not grant a later node enrolled under the same name. */
static void allows_drop_dangling(struct roster *r)
{
	struct roster_engineer *e;
	size_t i, j, k;

	for (i = 0; i < r->n_engineers; i++) {
		e = &r->engineers[i];
		for (j = 0, k = 0; j < e->n_allows; j++) {
			if (roster_allow_target_exists(r, &e->allows[j]))
				e->allows[k++] = e->allows[j];
			else if (e->allows[j].port_lo == e->allows[j].port_hi)
				printf("dropped %s's allow %s:%u\n", e->name, e->allows[j].target,
				    e->allows[j].port_lo);
			else
				printf("dropped %s's allow %s:%u-%u\n", e->name, e->allows[j].target,
				    e->allows[j].port_lo, e->allows[j].port_hi);
		}
		e->n_allows = k;
	}
}

int cmd_revoke(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct roster_node *n;
	struct roster r;
	int c, ret = EXIT_FAIL;
	size_t i;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'h') {
			cli_command_usage(stdout, "revoke");
			ret = EXIT_OK;
		} else {
			ret = usage_error("revoke");
		}
		goto out;
	}
	if (optind != argc - 1) {
		ret = usage_error("revoke");
		goto out;
	}
	if (!cli_roster_load_working(&r))
		goto out;
	n = roster_node_find(&r, argv[optind]);
	if (!n) {
		log_error("no node '%.100s'", argv[optind]);
		goto out;
	}
	i = (size_t)(n - r.nodes);
	node_clear(n);
	memmove(&r.nodes[i], &r.nodes[i + 1], (r.n_nodes - i - 1) * sizeof(*r.nodes));
	r.n_nodes--;
	allows_drop_dangling(&r);
	if (!cli_roster_check(&r)) {
		log_error("revoking '%s' would leave the roster invalid",
		    argv[optind]);
		goto out;
	}
	if (!cli_roster_save_working(&r))
		goto out;
	printf("revoked %s\n", argv[optind]);
	ret = EXIT_OK;
out:
	roster_free(&r);
	return ret;
}
