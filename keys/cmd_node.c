/* The node side: node-config prints the tunneld [Interface] section that joins a node to the
 * roster; status --node shows which roster a node runs (its persisted copy). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "keys/cli.h"

enum { NODE_LISTEN_PORT = 51820 };

/* A path that goes into the config file verbatim: absolute, one line, no comment sign. */
static bool config_path_valid(const char *p)
{
	const char *c;

	if (p[0] != '/' || strlen(p) >= 1024 || strchr(p, '#'))
		return false;
	for (c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	return p[strlen(p) - 1] != ' ';
}

int cmd_node_config(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "private-key-file", required_argument, NULL, 'k' },
		{ "roster-path", required_argument, NULL, 'r' },
		{ "listen-port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_file = CLI_NODE_KEY_FILE, *roster_path = CLI_NODE_ROSTER, *port_arg = NULL;
	char b64[KEY_B64_LEN + 1], a[64];
	uint16_t port = NODE_LISTEN_PORT;
	const struct roster_node *n;
	struct roster work, pub;
	int c, ret = EXIT_FAIL;

	roster_init(&work);
	roster_init(&pub);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'k': key_file = optarg; break;
		case 'r': roster_path = optarg; break;
		case 'p': port_arg = optarg; break;
		case 'h': cli_command_usage(stdout, "node-config"); ret = EXIT_OK; goto out;
		default: cli_command_usage(stderr, "node-config"); ret = EXIT_USAGE; goto out;
		}
	}
	if (optind != argc - 1) {
		cli_command_usage(stderr, "node-config");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!config_path_valid(key_file) || !config_path_valid(roster_path)) {
		log_error("--private-key-file and --roster-path must be absolute paths on "
		    "one line without '#'");
		goto out;
	}
	if (port_arg && !cli_port_parse(port_arg, &port)) {
		log_error("--listen-port '%.100s' is not a port (1-65535)",
		    port_arg);
		goto out;
	}
	if (!cli_roster_load_working(&work) || !cli_roster_load_signed(&pub))
		goto out;
	n = roster_node_find(&work, argv[optind]);
	if (!n) {
		log_error("no node '%.100s'; enroll it first", argv[optind]);
		goto out;
	}
	/* Without --listen-port the node listens where the roster says peers reach it. */
	if (!port_arg && n->n_endpoints)
		port = n->endpoints[0].port;
	if (!roster_node_find(&pub, n->name))
		log_info("note: '%s' is not in the published roster yet; run 'keys "
		    "publish' before starting it", n->name);
	/* The node pins the key that signed the published roster: later rosters reach it
	 * through their endorsement chain, even after rotate-admin. */
	key_to_base64(b64, pub.admin_key);
	printf("# warren node %s, network %s", n->name, work.network);
	if (n->has_addr4) {
		cli_addr_format(a, AF_INET, n->addr4);
		printf(", %s", a);
	}
	if (n->has_addr6) {
		cli_addr_format(a, AF_INET6, n->addr6);
		printf(", %s", a);
	}
	printf("\n[Interface]\nPrivateKeyFile = %s\nListenPort = %u\nRoster = %s\n"
	    "AdminKey = %s\n", key_file, port, roster_path, b64);
	ret = EXIT_OK;
out:
	roster_free(&work);
	roster_free(&pub);
	return ret;
}

int cmd_status(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "node", no_argument, NULL, 'n' },
		{ "roster", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct roster_errors errs = { 0 };
	const char *path = CLI_NODE_ROSTER;
	char issued[32], expires[32] = "never", b64[KEY_B64_LEN + 1];
	bool node = false, json = false, expired;
	struct roster r;
	int c, ret = EXIT_FAIL;
	size_t i;

	/* Without --node: the fleet as this node sees it (cmd_fleet.c). */
	for (i = 1; i < (size_t)argc && strcmp(argv[i], "--node") != 0; i++)
		;
	if (i == (size_t)argc)
		return cmd_status_fleet(argc, argv);
	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'n': node = true; break;
		case 'r': path = optarg; break;
		case 'j': json = true; break;
		case 'h': cli_command_usage(stdout, "status"); ret = EXIT_OK; goto out;
		default: cli_command_usage(stderr, "status"); ret = EXIT_USAGE; goto out;
		}
	}
	/* --node names the view: the admin side has 'list' and 'diff'. */
	if (optind != argc || !node) {
		cli_command_usage(stderr, "status");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!roster_load(path, &r, &errs)) {
		for (i = 0; i < errs.count; i++)
			log_error("%s", errs.msgs[i]);
		if (!errs.count)
			log_error("cannot read %s", path);
		goto out;
	}
	cli_time_format(issued, r.issued);
	if (r.has_expires)
		cli_time_format(expires, r.expires);
	expired = roster_expiry_at(&r, (int64_t)time(NULL), 0) == ROSTER_EXPIRY_EXPIRED;
	key_to_base64(b64, r.admin_key);
	if (json) {
		printf("{\"roster\": ");
		json_string_write(stdout, path);
		fputs(", \"network\": ", stdout);
		json_string_write(stdout, r.network);
		printf(", \"serial\": %llu, \"issued\": \"%s\", "
		    "\"admin_key\": \"%s\", \"signed\": %s, \"nodes\": %zu, \"engineers\": %zu",
		    (unsigned long long)r.serial, issued, b64,
		    r.has_signature ? "true" : "false", r.n_nodes, r.n_engineers);
		if (r.has_expires)
			printf(", \"expires\": \"%s\"", expires);
		else
			fputs(", \"expires\": null", stdout);
		printf(", \"expired\": %s}\n", expired ? "true" : "false");
	} else {
		printf("roster %s\nnetwork %s\nserial %llu\nissued %s\nexpires %s%s\nadmin %s\n"
		    "nodes %zu\nengineers %zu\n", path, r.network, (unsigned long long)r.serial,
		    issued, expires, expired ? " (expired)" : "", b64, r.n_nodes, r.n_engineers);
	}
	ret = EXIT_OK;
out:
	roster_errors_free(&errs);
	roster_free(&r);
	return ret;
}
