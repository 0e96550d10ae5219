/* keys: the warren admin tool.  Subcommands come from one table that also prints the usage.
 * Exit codes: 0 success, 1 failure, 2 usage. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/lib/key.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Longest stdin accepted by pubkey: a key line plus generous whitespace. */
enum { PUBKEY_INPUT_MAX = 1024 };

static const char *prog = "keys";

struct command {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *args;
	const char *help;
};

static int cmd_genkey(int argc, char *argv[]);
static int cmd_pubkey(int argc, char *argv[]);
static int cmd_help(int argc, char *argv[]);

static const struct command commands[] = {
	{ "genkey", cmd_genkey, "", "Generates a new private key and writes it to stdout" },
	{ "pubkey", cmd_pubkey, "< private.key",
	    "Reads a private key from stdin and writes its public key to stdout" },
	{ "help", cmd_help, "", "Shows this help" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s <cmd> [<args>]\n\nAvailable subcommands:\n", prog);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nRun '%s <cmd> --help' for a subcommand's usage.\n", prog);
}

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: %s %s%s%s\n%s\n", prog, c->name, *c->args ? " " : "", c->args, c->help);
}

static bool wants_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h") || !strcmp(arg, "help");
}

static int cmd_genkey(int argc, char *argv[])
{
	char b64[KEY_B64_LEN + 1];
	uint8_t key[KEY_LEN];
	struct stat st;
	int ret = EXIT_FAIL;

	(void)argv;
	if (argc != 1) {
		command_usage(stderr, &commands[0]);
		return EXIT_USAGE;
	}
	/* As wg: a regular file others can read is a leak waiting to happen; say so. */
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
		fprintf(stderr, "%s: warning: writing a private key to a file with mode 0%03o "
		    "(group or others can read it); consider 'umask 077'\n", prog,
		    (unsigned)(st.st_mode & 0777));
	key_generate_private(key);
	key_to_base64(b64, key);
	if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "%s: cannot write the key to stdout\n", prog);
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
		command_usage(stderr, &commands[1]);
		return EXIT_USAGE;
	}
	len = fread(in, 1, sizeof(in), stdin);
	if (ferror(stdin)) {
		fprintf(stderr, "%s: cannot read stdin\n", prog);
		goto out;
	}
	if (len > PUBKEY_INPUT_MAX) {
		fprintf(stderr, "%s: input too long for a key\n", prog);
		goto out;
	}
	for (start = 0; start < len && is_space(in[start]); start++)
		;
	for (end = len; end > start && is_space(in[end - 1]); end--)
		;
	in[end] = '\0';
	if (end - start != KEY_B64_LEN || memchr(in + start, '\0', end - start) ||
	    !key_from_base64(priv, in + start)) {
		fprintf(stderr, "%s: stdin does not hold a base64 private key "
		    "(44 characters ending in '=')\n", prog);
		goto out;
	}
	if (!key_public_from_private(pub, priv)) {
		fprintf(stderr, "%s: invalid private key\n", prog);
		goto out;
	}
	key_to_base64(b64, pub);
	if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "%s: cannot write the key to stdout\n", prog);
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
		command_usage(stderr, &commands[2]);
		return EXIT_USAGE;
	}
	usage(stdout);
	return EXIT_OK;
}

int main(int argc, char *argv[])
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv + 1);
	if (!key_lib_init()) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog);
		return EXIT_FAIL;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		if (argc == 3 && wants_help(argv[2])) {
			command_usage(stdout, &commands[i]);
			return EXIT_OK;
		}
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: invalid subcommand '%.100s'\n", prog, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
