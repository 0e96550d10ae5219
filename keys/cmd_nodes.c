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
	/* Private and public keys look alike: a private key here would be published 0644 and
	 * gossiped to every node.  Not echoed: it may be a secret. */
	if (!key_is_public(key)) {
		log_error("--pubkey is not a WireGuard public key (no point of the curve's "
		    "prime-order group, which every public key is): a private key? On the node: "
		    "'keys pubkey < /var/lib/warren/wg0.key' prints the public one");
		sodium_memzero(key, KEY_LEN);
		return false;
	}
	return true;
}

/* The 1 private key in 16 that passes key_is_public: if it is the private key of a node
 * already enrolled, its public key is in the roster. */
static bool key_not_private_of(const struct roster *r, const uint8_t key[KEY_LEN])
{
	const struct roster_node *o;
	uint8_t pub[KEY_LEN];

	if (!key_public_from_private(pub, key))
		return true;
	o = roster_node_find_key(r, pub);
	if (!o)
		return true;
	log_error("--pubkey is node '%s''s private key, not a public key; on the node: 'keys "
	    "pubkey < /var/lib/warren/wg0.key' prints the public one", o->name);
	return false;
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

/* One family's lowest free address, skipping those a revoke holds back. */
static bool allocate_one(const struct roster *r, const struct cli_held *held, int family,
    uint8_t a[16])
{
	uint8_t (*avoid)[16] = NULL;
	size_t n_avoid = 0;
	char cidr[64];
	bool ok;

	if (!cli_held_addresses(held, family, &avoid, &n_avoid))
		return false;
	ok = roster_allocate_address_avoiding(r, family, (const uint8_t (*)[16])avoid, n_avoid, a);
	free(avoid);
	if (!ok) {
		cli_prefix_format(cidr, family == AF_INET ? &r->cidr4 : &r->cidr6);
		log_error("no free address left in %s%s", cidr, n_avoid ?
		    " (some are held after a revoke: " CLI_HELD ", AddressHold in " CLI_SETTINGS
		    ")" : "");
	}
	return ok;
}

/* Fills the families not given from the network's CIDRs (lowest free address). */
static bool allocate(const struct roster *r, const struct cli_held *held, struct roster_node *n)
{
	uint8_t a[16];

	if (!n->has_addr4) {
		if (!allocate_one(r, held, AF_INET, a))
			return false;
		memcpy(n->addr4, a, 4);
		n->has_addr4 = true;
	}
	if (r->has_cidr6 && !n->has_addr6) {
		if (!allocate_one(r, held, AF_INET6, a))
			return false;
		memcpy(n->addr6, a, 16);
		n->has_addr6 = true;
	}
	return true;
}

/* An address given with --address that a revoke holds back: refused unless --force. */
static bool held_check(const struct cli_held *held, int family, const uint8_t *addr, bool force)
{
	const struct cli_held_entry *h = cli_held_find(held, family, addr);
	char a[64], when[32];

	if (!h)
		return true;
	cli_addr_format(a, family, addr);
	cli_time_format(when, h->freed + cli_settings.address_hold);
	if (force) {
		log_warn("reusing %s, freed by revoking %s, before its hold ends (%s)", a,
		    h->node, when);
		return true;
	}
	log_error("address %s was freed by revoking %s and is held until %s (AddressHold in "
	    "%s); --force to reuse it now", a, h->node, when, CLI_SETTINGS);
	return false;
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
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Option values, checked once the roster is loaded. */
	const char **addrs = NULL;
	const char *pubkey = NULL, *name;
	struct cli_held held = { 0 };
	struct roster_node n, *grown;
	size_t n_addrs = 0, i, j;
	bool force = false;
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
		case 'f':
			force = true;
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
	if (!key_unused(&r, n.key, NULL) || !key_not_private_of(&r, n.key))
		goto out;
	for (i = 0; i < n_addrs; i++)
		if (!address_arg(addrs[i], &n, &r))
			goto out;
	if (!cli_held_load(&held) ||
	    (n.has_addr4 && !held_check(&held, AF_INET, n.addr4, force)) ||
	    (n.has_addr6 && !held_check(&held, AF_INET6, n.addr6, force)))
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
	if (!allocate(&r, &held, &n))
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
	cli_held_free(&held);
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
	if (!key_unused(&r, key, n) || !key_not_private_of(&r, key))
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

int cmd_revoke(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char doing[ROSTER_NAME_MAX + 16];
	struct cli_held held = { 0 };
	struct roster_node *n;
	struct roster r;
	bool force = false;
	int c, ret = EXIT_FAIL;
	size_t i;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
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
	/* Every engineer's jump goes through the bastion's node: revoking it cuts them all. */
	if (cli_node_is_bastion(n) && r.n_engineers) {
		log_warn("%s is the bastion's node (%s): revoking it cuts every jump of the %zu "
		    "engineers until the bastion runs elsewhere", n->name,
		    cli_settings.bastion_node[0] ? "BastionNode in " CLI_SETTINGS :
		    "group " CLI_BASTION_GROUP, r.n_engineers);
		if (!force) {
			log_error("not revoking the bastion's node; nothing was changed "
			    "(--force to do it anyway)");
			goto out;
		}
	}
	/* Its addresses are held back from enroll for AddressHold (dir_held.c). */
	if (!cli_held_load(&held) || !cli_held_add(&held, n))
		goto out;
	i = (size_t)(n - r.nodes);
	node_clear(n);
	memmove(&r.nodes[i], &r.nodes[i + 1], (r.n_nodes - i - 1) * sizeof(*r.nodes));
	r.n_nodes--;
	snprintf(doing, sizeof(doing), "revoking %s", argv[optind]);
	if (!cli_allows_settle(&r, doing, force))
		goto out;
	if (!cli_roster_check(&r)) {
		log_error("revoking '%s' would leave the roster invalid",
		    argv[optind]);
		goto out;
	}
	/* The hold first: if the roster write then fails, an address held once too often
	 * costs nothing; the other way round it could be handed out again at once. */
	if (!cli_held_save(&held) || !cli_roster_save_working(&r))
		goto out;
	printf("revoked %s\n", argv[optind]);
	ret = EXIT_OK;
out:
	cli_held_free(&held);
	roster_free(&r);
	return ret;
}
