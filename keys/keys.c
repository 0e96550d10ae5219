/* keys: the warren admin tool.  Subcommands come from one table that also prints the usage.
 * Exit codes: 0 success, 1 failure, 2 usage.  Global option: -C DIR, the admin directory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli.h"
#include "keys/lib/key.h"

/* Longest stdin accepted by pubkey: a key line plus generous whitespace. */
enum { PUBKEY_INPUT_MAX = 1024 };

const char *cli_prog = "keys";
struct cli_settings cli_settings = {
	.address_hold = CLI_ADDRESS_HOLD_DEFAULT,
	.lock_timeout = CLI_LOCK_TIMEOUT_DEFAULT,
	.roster_validity = CLI_ROSTER_VALIDITY_DEFAULT,
};

static int cmd_genkey(int argc, char *argv[]);
static int cmd_pubkey(int argc, char *argv[]);
static int cmd_help(int argc, char *argv[]);

static const struct command commands[] = {
	{ "genkey", cmd_genkey, "", "Generates a new private key and writes it to stdout" },
	{ "pubkey", cmd_pubkey, "< private.key",
	    "Reads a private key from stdin and writes its public key to stdout" },
	{ "init", cmd_init, "--network NAME --cidr V4CIDR [--cidr6 V6CIDR]",
	    "Creates the admin key and the roster (serial 1) in the admin directory" },
	{ "enroll", cmd_enroll,
	    "NAME --pubkey KEY [--address A]... [--endpoint HOST:PORT]... [--group G]... "
	    "[--subnet CIDR]... [--force]",
	    "Adds a node; its addresses are allocated from the network's CIDRs unless given" },
	{ "rotate", cmd_rotate, "NAME --pubkey NEWKEY", "Replaces a node's public key" },
	{ "revoke", cmd_revoke, "NAME [--force]", "Removes a node" },
	{ "list", cmd_list, "[--json]", "Lists the nodes and engineers of the working roster" },
	{ "show", cmd_show, "NAME [--json]", "Shows one node or engineer" },
	{ "diff", cmd_diff, "[--json]", "Shows what the next publish changes" },
	{ "engineer", cmd_engineer, "add|remove|set|ca|cert ...",
	    "Adds, removes or edits an engineer" },
	{ "node", cmd_node, "set ...", "Edits a node's endpoints, groups and subnets" },
	{ "policy", cmd_policy, "allow|deny|remove|default|test|list ...",
	    "Edits the node-to-node policy, or says what it allows" },
	{ "rotate-admin", cmd_rotate_admin, "",
	    "Replaces the admin key; the old key endorses the new one in the roster" },
	{ "publish", cmd_publish, "[--force] [--renew] [--valid DURATION|none]",
	    "Signs the working roster with the next serial into roster.signed, valid for "
	    "RosterValidity (30d); --renew re-signs what is published; prints the serial" },
	{ "verify", cmd_verify, "FILE --admin-key KEY [--json]",
	    "Verifies a signed roster as a node that pinned KEY would" },
	{ "push", cmd_push, "HOST... [-j N] [--timeout S] [--wait [S]] [--json] "
	    "[--remote-path PATH] [--remote-roster PATH] [--remote-keys PATH] [-o OPT]...",
	    "Copies roster.signed to the hosts (scp, -j at once); --wait confirms the serial each "
	    "then runs" },
	{ "node-config", cmd_node_config,
	    "NAME [--private-key-file PATH] [--roster-path PATH] [--listen-port N]",
	    "Prints the tunneld [Interface] section for a node" },
	{ "status", cmd_status, "[--node] [--roster PATH] [--json] [--interface IF] "
	    "[--gossip-port N] [--timeout S] [--via HOST [--ssh-option OPT]...]",
	    "On a node: every roster node's serial, handshake, traffic, reachability (--node: "
	    "the node's persisted roster); --via HOST runs it there over ssh" },
	{ "admin-pubkey", cmd_admin_pubkey, "", "Prints the admin public key" },
	{ "authorized-keys", cmd_authorized_keys,
	    "USER --admin-key KEY [--roster PATH] [--node NAME] [--key-file PATH]",
	    "Prints the SSH keys allowed to log in to this node as USER (sshd "
	    "AuthorizedKeysCommand)" },
	{ "ssh-config", cmd_ssh_config, "ENGINEER --bastion HOST[:PORT] [--user USER] "
	    "[--identity FILE] [--roster PATH] [--bastion-host-key FILE --known-hosts PATH]",
	    "Prints the ssh_config snippet that jumps to the engineer's nodes; with "
	    "--bastion-host-key, writes PATH pinning the bastion's host key" },
	{ "audit", cmd_audit, "verify FILE --key PUB [--json]",
	    "Verifies a bastion audit log (hash chain and signed checkpoints)" },
	{ "help", cmd_help, "", "Shows this help" },
};

/* The commands that change the admin directory: each runs under its lock (dir_lock.c), from
 * before it reads the roster to its exit.  A new command that writes DIR goes here. */
static const char *const mutating_commands[] = {
	"init", "enroll", "rotate", "revoke", "engineer", "node", "policy", "rotate-admin",
	"publish",
};

static bool command_mutates(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(mutating_commands) / sizeof(mutating_commands[0]); i++)
		if (!strcmp(name, mutating_commands[i]))
			return true;
	return false;
}

static const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s [-C DIR] [--log-format text|json] <cmd> [<args>]\n\n"
	    "Available subcommands:\n", cli_prog);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n-C DIR is the admin directory (default: the current directory); "
	    "--log-format json\nwrites messages as JSON lines on stderr.\n"
	    "Run '%s <cmd> --help' for a subcommand's usage, '%s --version' for the version.\n",
	    cli_prog, cli_prog);
}

void cli_table_usage(FILE *f, const char *prefix, const struct command *c)
{
	fprintf(f, "Usage: %s %s%s%s%s%s\n%s\n", cli_prog, prefix ? prefix : "", prefix ? " " : "",
	    c->name, *c->args ? " " : "", c->args, c->help);
}

/* The keys cli_key_arg reads (admin, audit) are Ed25519 public keys: a point of the main
 * subgroup.  A 32-byte seed (a secret) given instead is refused 15 times in 16, unechoed. */
static bool ed25519_public_check(const char *opt, uint8_t key[KEY_LEN])
{
	if (crypto_core_ed25519_is_valid_point(key) == 1)
		return true;
	log_error("%s is not an Ed25519 public key (no point of the curve's prime-order "
	    "group): a secret key? 'keys admin-pubkey' prints the admin public key", opt);
	sodium_memzero(key, KEY_LEN);
	return false;
}

bool cli_key_arg(const char *opt, const char *arg, uint8_t key[KEY_LEN])
{
	char err[256];
	int ret;

	if (strlen(arg) == KEY_B64_LEN && key_from_base64(key, arg))
		return ed25519_public_check(opt, key);
	/* Read, not access()ed first: a file in a directory we may not search (EACCES) is not
	 * "no such file", and the message must say which it is. */
	ret = key_file_read(arg, false, key, err, sizeof(err));
	if (ret == 0)
		return ed25519_public_check(opt, key);
	if (ret == -ENOENT || ret == -ENOTDIR)
		log_error("%s '%.100s' is neither a base64 key nor a file",
		    opt, arg);
	else
		log_error("%s: %s", opt, err);
	return false;
}

int cli_subcommand(const char *group, const struct command *table, size_t n, int argc,
    char *argv[])
{
	FILE *f = stderr;
	int ret = EXIT_USAGE;
	size_t i;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		f = stdout;
		ret = EXIT_OK;
	} else if (argc >= 2) {
		for (i = 0; i < n; i++) {
			if (strcmp(argv[1], table[i].name))
				continue;
			optind = 0;
			return table[i].fn(argc - 1, argv + 1);
		}
		log_error("%s: invalid subcommand '%.100s'", group, argv[1]);
	}
	for (i = 0; i < n; i++)
		cli_table_usage(f, group, &table[i]);
	return ret;
}

void cli_command_usage(FILE *f, const char *name)
{
	const struct command *c = command_find(name);

	if (c)
		cli_table_usage(f, NULL, c);
}

int cli_getopt(int argc, char *argv[], const struct option *opts)
{
	return cli_getopt_short(argc, argv, ":h", opts);
}

int cli_getopt_short(int argc, char *argv[], const char *shortopts, const struct option *opts)
{
	int c;

	opterr = 0;
	/* Leading ':' so a missing argument is told apart from an unknown option. */
	c = getopt_long(argc, argv, shortopts, opts, NULL);
	if (c == '?') {
		if (optopt)
			log_error("%s: unknown option '-%c'", argv[0], optopt);
		else
			log_error("%s: unknown option '%.100s'", argv[0],
			    argv[optind - 1]);
	} else if (c == ':') {
		log_error("%s: option '%.100s' needs an argument", argv[0],
		    argv[optind - 1]);
		c = '?';
	}
	return c;
}

static bool wants_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

static int cmd_genkey(int argc, char *argv[])
{
	char b64[KEY_B64_LEN + 1];
	uint8_t key[KEY_LEN];
	struct stat st;
	int ret = EXIT_FAIL;

	(void)argv;
	if (argc != 1) {
		cli_command_usage(stderr, "genkey");
		return EXIT_USAGE;
	}
	/* As wg: a regular file others can read is a leak waiting to happen; say so. */
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
		log_warn("writing a private key to a file with mode 0%03o "
		    "(group or others can read it); consider 'umask 077'",
		    (unsigned)(st.st_mode & 0777));
	key_generate_private(key);
	key_to_base64(b64, key);
	if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
		log_error("cannot write the key to stdout");
		goto out;
	}
	ret = EXIT_OK;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int cmd_pubkey(int argc, char *argv[])
{
	char in[PUBKEY_INPUT_MAX + 1], b64[KEY_B64_LEN + 1];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	size_t len, start, end;
	int ret = EXIT_FAIL;

	(void)argv;
	if (argc != 1) {
		cli_command_usage(stderr, "pubkey");
		return EXIT_USAGE;
	}
	len = fread(in, 1, sizeof(in), stdin);
	if (ferror(stdin)) {
		log_error("cannot read stdin");
		goto out;
	}
	if (len > PUBKEY_INPUT_MAX) {
		log_error("input too long for a key");
		goto out;
	}
	for (start = 0; start < len && is_space(in[start]); start++)
		;
	for (end = len; end > start && is_space(in[end - 1]); end--)
		;
	in[end] = '\0';
	if (end - start != KEY_B64_LEN || memchr(in + start, '\0', end - start) ||
	    !key_from_base64(priv, in + start)) {
		log_error("stdin does not hold a base64 private key "
		    "(44 characters ending in '=')");
		goto out;
	}
	if (!key_public_from_private(pub, priv)) {
		log_error("invalid private key");
		goto out;
	}
	key_to_base64(b64, pub);
	if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
		log_error("cannot write the key to stdout");
		goto out;
	}
	ret = EXIT_OK;
out:
	sodium_memzero(in, sizeof(in));
	sodium_memzero(priv, sizeof(priv));
	return ret;
}

static int cmd_help(int argc, char *argv[])
{
	(void)argv;
	if (argc != 1) {
		cli_command_usage(stderr, "help");
		return EXIT_USAGE;
	}
	usage(stdout);
	return EXIT_OK;
}

int main(int argc, char *argv[])
{
	const struct command *c;

	log_init(cli_prog, LOG_LEVEL_INFO, LOG_DEST_TOOL);
	/* Global options come before the subcommand: -C DIR or -CDIR, --log-format F. */
	while (argc >= 2 && (!strncmp(argv[1], "-C", 2) || !strcmp(argv[1], "--log-format"))) {
		if (!strcmp(argv[1], "--log-format")) {
			enum log_format f;

			if (argc < 3 || !log_format_parse(argv[2], &f)) {
				log_error("--log-format needs text or json");
				usage(stderr);
				return EXIT_USAGE;
			}
			log_style_set(f, false);
			argc -= 2;
			argv += 2;
		} else if (argv[1][2]) {
			cli_dir = argv[1] + 2;
			argc -= 1;
			argv += 1;
		} else if (argc >= 3) {
			cli_dir = argv[2];
			argc -= 2;
			argv += 2;
		} else {
			log_error("-C needs a directory");
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (wants_help(argv[1]))
		return cmd_help(1, argv + 1);
	if (!strcmp(argv[1], "--version") && argc == 2) {
		printf("keys %s\n", WARREN_VERSION);
		return EXIT_OK;
	}
	if (!key_lib_init()) {
		log_error("cannot initialise libsodium");
		return EXIT_FAIL;
	}
	c = command_find(argv[1]);
	if (!c) {
		log_error("invalid subcommand '%.100s'", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc == 3 && wants_help(argv[2])) {
		cli_table_usage(stdout, NULL, c);
		return EXIT_OK;
	}
	/* A command that changes the directory reads its settings and holds its lock from
	 * before the read of the roster to its exit: no lost update between two commands. */
	if (command_mutates(c->name) && (!cli_settings_load(&cli_settings) ||
	    !cli_dir_lock(cli_settings.lock_timeout)))
		return EXIT_FAIL;
	optind = 0;	/* each subcommand parses its own argv from the start */
	return c->fn(argc - 1, argv + 1);
}
