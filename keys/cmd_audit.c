/* keys audit verify: checks a bastion audit log (docs/audit.md) against the audit public key.
 * Its own subcommand table, like 'keys engineer'. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "keys/cli.h"
#include "keys/lib/audit.h"

static int audit_verify(int argc, char *argv[]);

static const struct command audit_commands[] = {
	{ "verify", audit_verify, "FILE --key PUB [--json]",
	    "Verifies an audit log's hash chain and checkpoint signatures against the audit "
	    "public key PUB (base64, or a file holding it)" },
};

static void report_json(const char *file, bool ok, const struct audit_verify_result *res,
    const char *why)
{
	fputs("{\"ok\": ", stdout);
	fputs(ok ? "true" : "false", stdout);
	fputs(", \"file\": ", stdout);
	json_string_write(stdout, file);
	printf(", \"lines\": %llu, \"checkpoints\": %llu", (unsigned long long)res->lines,
	    (unsigned long long)res->checkpoints);
	if (ok) {
		printf(", \"unsigned\": %llu, \"recovered\": %llu, \"first_recovered_line\": %llu, "
		    "\"lost\": %llu}\n", (unsigned long long)res->unsigned_tail,
		    (unsigned long long)res->recovered_lines,
		    (unsigned long long)res->first_recovered_line, (unsigned long long)res->lost);
		return;
	}
	printf(", \"line\": %u, \"error\": ", res->bad_line);
	json_string_write(stdout, why);
	fputs("}\n", stdout);
}

static int audit_verify(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_verify_result res;
	const char *key_arg = NULL, *file;
	uint8_t pub[KEY_LEN];
	char why[256], shown[VIS_ESCAPE_MAX * 256];
	bool json = false, ok;
	int c;

	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'k': key_arg = optarg; break;
		case 'j': json = true; break;
		case 'h': cli_table_usage(stdout, "audit", &audit_commands[0]); return EXIT_OK;
		default: cli_table_usage(stderr, "audit", &audit_commands[0]); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !key_arg) {
		cli_table_usage(stderr, "audit", &audit_commands[0]);
		return EXIT_USAGE;
	}
	file = argv[optind];
	if (!cli_key_arg("--key", key_arg, pub))
		return EXIT_FAIL;
	ok = audit_verify_file(file, pub, &res, why, sizeof(why));
	if (json)
		report_json(file, ok, &res, why);
	if (!ok) {
		/* FILE:LINE: like a compiler, so editors jump to it; no line if unreadable.
		 * The reason may quote the file: escaped as the logger does. */
		vis_escape(shown, sizeof(shown), why, strlen(why));
		if (res.bad_line)
			fprintf(stderr, "%s:%u: %s\n", file, res.bad_line, shown);
		else
			fprintf(stderr, "%s: %s\n", file, shown);
		return EXIT_FAIL;
	}
	if (json)
		return EXIT_OK;
	printf("OK: %llu lines, %llu checkpoints, %llu lines after the last checkpoint "
	    "unsigned\n", (unsigned long long)res.lines,
	    (unsigned long long)res.checkpoints, (unsigned long long)res.unsigned_tail);
	/* The chain holds, but these lines are vouched for by nobody: say so, every time. */
	if (res.recovered_lines)
		printf("WARNING: %llu lines recovered, unverified (from line %llu): found unsigned "
		    "by a restart (a crash, or lines appended while the bastion was stopped)\n",
		    (unsigned long long)res.recovered_lines,
		    (unsigned long long)res.first_recovered_line);
	if (res.lost)
		printf("WARNING: %llu events lost (the log could not be written)\n",
		    (unsigned long long)res.lost);
	return EXIT_OK;
}

int cmd_audit(int argc, char *argv[])
{
	return cli_subcommand("audit", audit_commands, sizeof(audit_commands) / sizeof(audit_commands[0]), argc, argv);
}
