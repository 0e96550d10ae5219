/* keys status without --node: the fleet table (see fleet.h), here or --via a node over ssh. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "keys/cli.h"
#include "keys/fleet.h"

enum { FLEET_GOSSIP_PORT = 7946, FLEET_TIMEOUT_MAX = 60, FLEET_VIA_ARGS = 64 };

static void bytes_format(char out[32], uint64_t b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	unsigned u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(out, 32, "%.2f %s", v, units[u]);
	else
		snprintf(out, 32, "%llu B", (unsigned long long)b);
}

static void age_format(char out[32], uint64_t now, uint64_t then)
{
	uint64_t a = now > then ? now - then : 0;

	if (!then)
		snprintf(out, 32, "never");
	else if (a < 120)
		snprintf(out, 32, "%llus ago", (unsigned long long)a);
	else if (a < 7200)
		snprintf(out, 32, "%llum ago", (unsigned long long)(a / 60));
	else if (a < 2 * 86400)
		snprintf(out, 32, "%lluh ago", (unsigned long long)(a / 3600));
	else
		snprintf(out, 32, "%llud ago", (unsigned long long)(a / 86400));
}

static void json_node(const struct fleet_node *f, uint64_t now)
{
	fputs("{\"name\": ", stdout);
	json_string_write(stdout, f->rn->name);
	fputs(", \"address\": ", stdout);
	json_string_write(stdout, f->addr);
	fputs(", \"endpoint\": ", stdout);
	if (f->endpoint[0])
		json_string_write(stdout, f->endpoint);
	else
		fputs("null", stdout);
	printf(", \"self\": %s, \"reachable\": %s, \"serial\": ", f->self ? "true" : "false",
	    f->reachable ? "true" : "false");
	if (f->reachable)
		printf("%llu", (unsigned long long)f->serial);
	else
		fputs("null", stdout);
	if (f->has_local && f->last_handshake)
		printf(", \"last_handshake\": %llu, \"handshake_age_seconds\": %llu",
		    (unsigned long long)f->last_handshake,
		    (unsigned long long)(now > f->last_handshake ? now - f->last_handshake : 0));
	else
		fputs(", \"last_handshake\": null, \"handshake_age_seconds\": null", stdout);
	printf(", \"rx_bytes\": %llu, \"tx_bytes\": %llu", (unsigned long long)f->rx_bytes,
	    (unsigned long long)f->tx_bytes);
	if (f->reachable)
		printf(", \"peers\": %u, \"peers_live\": %u, \"error\": null}", f->peers,
		    f->peers_live);
	else {
		fputs(", \"peers\": null, \"peers_live\": null, \"error\": ", stdout);
		json_string_write(stdout, f->error);
		fputs("}", stdout);
	}
}

static void table_row(const struct fleet_node *f, uint64_t now)
{
	char name[4 * (ROSTER_NAME_MAX + 1)], err[4 * 128], serial[24], hs[32], rx[32], tx[32],
	    peers[32];

	vis_escape(name, sizeof(name), f->rn->name, strlen(f->rn->name));
	vis_escape(err, sizeof(err), f->error, strlen(f->error));
	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)f->serial);
	snprintf(peers, sizeof(peers), "%u/%u", f->peers_live, f->peers);
	bytes_format(rx, f->rx_bytes);
	bytes_format(tx, f->tx_bytes);
	if (f->has_local)
		age_format(hs, now, f->last_handshake);
	printf("%-16s %-15s %-21s %-7s %-10s %-11s %-11s %-6s %s%s%s\n", name,
	    f->addr[0] ? f->addr : "-", f->endpoint[0] ? f->endpoint : "-",
	    f->reachable ? serial : "-", f->has_local ? hs : "-", f->has_local ? rx : "-",
	    f->has_local ? tx : "-", f->reachable ? peers : "-",
	    f->self ? "self" : f->reachable ? "reachable" : "UNREACHABLE",
	    !f->reachable && !f->self ? ": " : "", !f->reachable && !f->self ? err : "");
}

/* A word for the remote shell: single-quoted, ' as '\''. */
static char *shell_quote(const char *s)
{
	size_t n = 3;
	char *q, *o;

	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	q = o = malloc(n);
	if (!q)
		return NULL;
	*o++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *s;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

/* ssh [OPT...] HOST keys status ARGS... (all but --via and --ssh-option), quoted for the
 * remote shell.  Returns only on failure. */
static int via_exec(const char *host, char *ssh_opts[], size_t n_opts, int argc, char *argv[])
{
	char *args[FLEET_VIA_ARGS + 8];
	size_t k = 0;

	args[k++] = (char *)"ssh";
	for (size_t i = 0; i < n_opts; i++) {
		args[k++] = (char *)"-o";
		args[k++] = ssh_opts[i];
	}
	args[k++] = (char *)"--";
	args[k++] = (char *)host;
	args[k++] = (char *)"keys";
	args[k++] = (char *)"status";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--via") || !strcmp(argv[i], "--ssh-option")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--via=", 6) || !strncmp(argv[i], "--ssh-option=", 13))
			continue;
		if (k >= FLEET_VIA_ARGS + 6 || !(args[k++] = shell_quote(argv[i]))) {
			log_error("--via: too many arguments or out of memory");
			return EXIT_FAIL;
		}
	}
	args[k] = NULL;
	fflush(stdout);
	execvp("ssh", args);
	log_error("--via %.100s: cannot run ssh: %s", host, strerror(errno));
	return EXIT_FAIL;
}

int cmd_status_fleet(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "roster", required_argument, NULL, 'r' },
		{ "interface", required_argument, NULL, 'i' },
		{ "gossip-port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "via", required_argument, NULL, 'V' },
		{ "ssh-option", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct roster_errors errs = { 0 };
	const char *path = CLI_NODE_ROSTER, *ifname = "wg0", *via = NULL;
	char *ssh_opts[FLEET_VIA_ARGS / 2], why[256], *end;
	struct fleet_node *nodes = NULL, *self = NULL;
	uint16_t port = FLEET_GOSSIP_PORT;
	size_t n_ssh = 0, i;
	bool json = false;
	unsigned long timeout_s = FLEET_TIMEOUT_MS / 1000;
	uint64_t now;
	struct roster r;
	int c, ret = EXIT_FAIL, err;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'r': path = optarg; break;
		case 'i': ifname = optarg; break;
		case 'j': json = true; break;
		case 'V': via = optarg; break;
		case 'p':
			if (!cli_port_parse(optarg, &port)) {
				log_error("--gossip-port '%.100s' is not a port (1-65535)", optarg);
				goto out;
			}
			break;
		case 't':
			errno = 0;
			timeout_s = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno || !timeout_s ||
			    timeout_s > FLEET_TIMEOUT_MAX) {
				log_error("--timeout '%.100s' is not a number of seconds (1-%d)",
				    optarg, FLEET_TIMEOUT_MAX);
				goto out;
			}
			break;
		case 'o':
			if (n_ssh >= sizeof(ssh_opts) / sizeof(ssh_opts[0])) {
				log_error("too many --ssh-option");
				goto out;
			}
			ssh_opts[n_ssh++] = optarg;
			break;
		case 'h': cli_command_usage(stdout, "status"); ret = EXIT_OK; goto out;
		default: cli_command_usage(stderr, "status"); ret = EXIT_USAGE; goto out;
		}
	}
	if (optind != argc) {
		cli_command_usage(stderr, "status");
		ret = EXIT_USAGE;
		goto out;
	}
	if (via) {
		if (via[0] == '-' || !via[0]) {
			log_error("--via '%.100s' is not a host", via);
			goto out;
		}
		ret = via_exec(via, ssh_opts, n_ssh, argc, argv);
		goto out;
	}
	if (!roster_load(path, &r, &errs)) {
		for (i = 0; i < errs.count; i++)
			log_error("%s", errs.msgs[i]);
		if (!errs.count)
			log_error("cannot read %s", path);
		log_error("keys status runs on a node; from the admin machine: keys status --via "
		    "NODE");
		goto out;
	}
	nodes = calloc(r.n_nodes ? r.n_nodes : 1, sizeof(*nodes));
	if (!nodes) {
		log_error("out of memory");
		goto out;
	}
	for (i = 0; i < r.n_nodes; i++) {
		nodes[i].rn = &r.nodes[i];
		if (r.nodes[i].has_addr4)
			cli_addr_format(nodes[i].addr, AF_INET, r.nodes[i].addr4);
		else if (r.nodes[i].has_addr6)
			cli_addr_format(nodes[i].addr, AF_INET6, r.nodes[i].addr6);
	}
	err = fleet_uapi_read(ifname, nodes, r.n_nodes, why, sizeof(why));
	if (err < 0) {
		log_error("cannot read tunneld's view of %.40s: %s", ifname, why);
		goto out;
	}
	for (i = 0; i < r.n_nodes; i++)
		if (nodes[i].self)
			self = &nodes[i];
	if (!self) {
		log_error("%.40s's key is not a node of %s: not this node's roster, or revoked",
		    ifname, path);
		goto out;
	}
	fleet_fetch_all(nodes, r.n_nodes, port, (int)timeout_s * 1000);
	/* Ourselves: the serial of the persisted roster, the sessions tunneld reports. */
	now = (uint64_t)time(NULL);
	self->reachable = true;
	self->serial = r.serial;
	for (i = 0; i < r.n_nodes; i++) {
		if (nodes[i].self || !nodes[i].has_local)
			continue;
		self->peers++;
		if (nodes[i].last_handshake && now >= nodes[i].last_handshake &&
		    now - nodes[i].last_handshake < FLEET_SESSION_LIVE)
			self->peers_live++;
	}
	if (json) {
		fputs("{\"node\": ", stdout);
		json_string_write(stdout, self->rn->name);
		fputs(", \"network\": ", stdout);
		json_string_write(stdout, r.network);
		printf(", \"time\": %llu, \"nodes\": [", (unsigned long long)now);
		for (i = 0; i < r.n_nodes; i++) {
			fputs(i ? ", " : "", stdout);
			json_node(&nodes[i], now);
		}
		fputs("]}\n", stdout);
	} else {
		printf("%-16s %-15s %-21s %-7s %-10s %-11s %-11s %-6s %s\n", "NAME", "ADDRESS",
		    "ENDPOINT", "SERIAL", "HANDSHAKE", "RX", "TX", "PEERS", "STATE");
		for (i = 0; i < r.n_nodes; i++)
			table_row(&nodes[i], now);
	}
	ret = EXIT_OK;
out:
	free(nodes);
	roster_errors_free(&errs);
	roster_free(&r);
	return ret;
}
