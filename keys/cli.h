/* What the keys subcommands share: the command table entry, exit codes, option parsing, the
 * admin directory (paths, loading and atomically saving rosters) and JSON output. */
#ifndef KEYS_CLI_H
#define KEYS_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/json.h"
#include "common/log.h"
#include "common/vis.h"
#include "keys/lib/roster.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Longest path the CLI builds (admin directory + file name). */
enum { CLI_PATH_MAX = 4096 };

struct command {
	const char *name;
	int (*fn)(int argc, char *argv[]);	/* argv[0] is the command name */
	const char *args;
	const char *help;
};

extern const char *cli_prog;
/* The admin directory (-C DIR), "." by default. */
extern const char *cli_dir;

/* File names inside the admin directory. */
#define CLI_ADMIN_KEY "admin.key"
#define CLI_ROSTER "roster"
#define CLI_ROSTER_SIGNED "roster.signed"

/* A node's files, where README.md "Installing" and the unit (StateDirectory=warren) keep them:
 * the defaults of node-config, status --node, authorized-keys and push, defined once so that
 * they cannot drift apart (authorized-keys once looked for the key in /etc/warren). */
#define CLI_NODE_KEY_FILE "/var/lib/warren/wg0.key"
#define CLI_NODE_ROSTER "/var/lib/warren/roster"
#define CLI_NODE_ROSTER_NEW CLI_NODE_ROSTER ".new"

/* Prints "Usage: keys NAME ARGS" and the help of the table entry called name (keys.c). */
void cli_command_usage(FILE *f, const char *name);
/* Prints the usage of a command from another table (a subcommand's own table). */
void cli_table_usage(FILE *f, const char *prefix, const struct command *c);
/* A public key given to option opt: 44 characters of base64, or a file holding one.  false
 * (reported on stderr, naming opt) otherwise. */
bool cli_key_arg(const char *opt, const char *arg, uint8_t key[KEY_LEN]);
/* Runs the subcommand of group named by argv[1] from table (argv shifted by one), or prints the
 * group's usage: --help/-h exit 0, anything else exit 2. */
int cli_subcommand(const char *group, const struct command *table, size_t n, int argc,
    char *argv[]);

/* getopt_long over a subcommand's argv, quiet: returns the option, -1 at the end, 'h' for
 * --help, or '?' after printing which option was unknown or lacks its argument. */
int cli_getopt(int argc, char *argv[], const struct option *opts);
/* The same with short options too: shortopts starts with ":h" (e.g. ":hj:o:"). */
int cli_getopt_short(int argc, char *argv[], const char *shortopts, const struct option *opts);

/* DIR/file into out; false (after a message) if it does not fit. */
bool cli_path(char out[CLI_PATH_MAX], const char *file);

/* Loads DIR/roster (the working roster) or DIR/roster.signed, printing every error. */
bool cli_roster_load_working(struct roster *r);
bool cli_roster_load_signed(struct roster *r);
/* Serializes the working roster and parses it back: every rule of the format (addresses in
 * range, no overlaps, allow targets that exist, ...) holds, or the errors are printed. */
bool cli_roster_check(struct roster *r);

/* Atomic replacement in two steps so several files can change together: stage writes data to
 * a temp file next to path (mode, fsync'd) and puts its name in tmp; commit renames it over
 * path and fsyncs the directory; abort unlinks it.  0 or -errno. */
int cli_file_stage(const char *path, const void *data, size_t len, unsigned mode,
    char tmp[CLI_PATH_MAX]);
int cli_file_commit(const char *tmp, const char *path);
void cli_file_abort(const char *tmp);
/* Stages the working roster (canonical body, no signature) for DIR/roster. */
int cli_roster_stage_working(struct roster *r, char tmp[CLI_PATH_MAX]);
/* Stages and commits it; prints the error. */
bool cli_roster_save_working(struct roster *r);

/* Reads DIR/admin.key; prints the error. */
bool cli_admin_secret_read(uint8_t secret[ROSTER_ADMIN_SECRET_LEN]);

/* Text forms shared by list, show, diff and status. */
void cli_time_format(char out[32], int64_t t);			/* 2026-11-21T23:00:00Z */
void cli_addr_format(char out[64], int family, const uint8_t *addr);
void cli_prefix_format(char out[64], const struct roster_prefix *p);
void cli_endpoint_format(char out[300], const struct roster_endpoint *e);	/* [v6]:port */
void cli_allow_format(char out[96], const struct roster_allow *a);	/* target:lo-hi */

/* Command-line values are parsed with libkeys' own token parsers (roster_name_valid,
 * roster_prefix_parse, ...): the CLI accepts exactly what the roster format does.  A port:
 * decimal 1..65535, nothing else. */
bool cli_port_parse(const char *s, uint16_t *port);
/* A count or a number of seconds: decimal without sign or leading zero, lo (>= 1) .. hi. */
bool cli_uint_parse(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

/* JSON output: strings through json_string_write (common/json.h, the one escaper); a node or an engineer as one JSON object. */
void cli_json_node(FILE *f, const struct roster_node *n);
void cli_json_engineer(FILE *f, const struct roster_engineer *e);

/* The subcommands. */
int cmd_init(int argc, char *argv[]);
int cmd_publish(int argc, char *argv[]);
int cmd_verify(int argc, char *argv[]);
int cmd_rotate_admin(int argc, char *argv[]);
int cmd_admin_pubkey(int argc, char *argv[]);
int cmd_enroll(int argc, char *argv[]);
int cmd_rotate(int argc, char *argv[]);
int cmd_revoke(int argc, char *argv[]);
int cmd_list(int argc, char *argv[]);
int cmd_show(int argc, char *argv[]);
int cmd_diff(int argc, char *argv[]);
int cmd_engineer(int argc, char *argv[]);
int cmd_push(int argc, char *argv[]);
int cmd_node_config(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
/* Bastion access (cmd_audit.c, cmd_access.c). */
int cmd_audit(int argc, char *argv[]);
int cmd_authorized_keys(int argc, char *argv[]);
int cmd_ssh_config(int argc, char *argv[]);

#endif
