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
#define CLI_SETTINGS "keys.conf"	/* this tool's settings (dir_settings.c) */
#define CLI_LOCK ".lock"		/* held by every command that changes the directory */
#define CLI_HELD "addresses.held"	/* overlay addresses freed by revoke (dir_held.c) */
#define CLI_ENGINEER_CA "engineer-ca"	/* OpenSSH Ed25519 key: signs engineers' certificates */
#define CLI_ENGINEER_CA_SERIAL "engineer-ca.serial"	/* the last certificate's serial */

/* A node's files, where README.md "Installing" and the unit (StateDirectory=warren) keep them:
 * the defaults of node-config, status --node, authorized-keys and push, defined once so that
 * they cannot drift apart (authorized-keys once looked for the key in /etc/warren). */
#define CLI_NODE_KEY_FILE "/var/lib/warren/wg0.key"
#define CLI_NODE_ROSTER "/var/lib/warren/roster"
#define CLI_NODE_ROSTER_NEW CLI_NODE_ROSTER ".new"

/* DIR/keys.conf (docs/keys.1, FILES).  Durations in seconds. */
enum {
	CLI_ADDRESS_HOLD_DEFAULT = 30 * 86400,	/* a revoked node's addresses are not reused */
	CLI_ADDRESS_HOLD_MAX = 3650 * 86400,
	CLI_LOCK_TIMEOUT_DEFAULT = 30,		/* wait for another command's lock */
	CLI_LOCK_TIMEOUT_MAX = 3600,
	CLI_ROSTER_VALIDITY_DEFAULT = 30 * 86400,	/* a published roster's expires - issued */
	CLI_ROSTER_VALIDITY_MAX = 3650 * 86400,
	CLI_EXPIRY_WARNING = 7 * 86400,		/* list and push warn this long before */
};
struct cli_settings {
	int64_t address_hold;			/* AddressHold */
	unsigned lock_timeout;			/* LockTimeout */
	char bastion_node[ROSTER_NAME_MAX + 1];	/* BastionNode, "" if unset */
	int64_t roster_validity;		/* RosterValidity, seconds; 0: no expires */
};

/* Reads DIR/keys.conf into st (defaults first; no file: the defaults).  false after printing
 * every FILE:LINE: error. */
bool cli_settings_load(struct cli_settings *st);
/* Takes the exclusive lock DIR/.lock, waiting at most timeout_s seconds for another command
 * to release it; held until the process exits.  No directory: nothing to lock, true.  false
 * after saying which lock is held and by which pid (/proc/locks). */
bool cli_dir_lock(unsigned timeout_s);
/* Loaded by main before a command that mutates runs (the defaults otherwise). */
extern struct cli_settings cli_settings;

/* Whether the working roster differs from the published one (cmd_pending.c): *pending, false
 * only if out of memory. */
bool cli_roster_unpublished(struct roster *work, struct roster *pub, bool *pending);
/* If DIR/roster holds unpublished changes, says so on stderr: "working roster has unpublished
 * changes (keys diff); DOING serial N" with N pub's serial. */
void cli_unpublished_warn(struct roster *pub, const char *doing);
/* If pub expires within CLI_EXPIRY_WARNING (or the last quarter of its validity), or has no
 * expiry while keys.conf wants one, says so on stderr with how to renew.  (An expired one is
 * refused where it matters: keys push.) */
void cli_expiry_warn(const struct roster *pub);

/* Addresses freed by revoke, held back from enroll for AddressHold (dir_held.c). */
struct cli_held_entry {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order, 4 bytes used for AF_INET */
	int64_t freed;			/* Unix seconds */
	char node[ROSTER_NAME_MAX + 1];	/* the node revoked */
};
struct cli_held {
	struct cli_held_entry *e;	/* malloc'd: cli_held_free */
	size_t n;
};
/* Reads DIR/addresses.held (none: empty), leaving out entries past their hold.  false after
 * printing FILE:LINE: errors. */
bool cli_held_load(struct cli_held *h);
/* Adds n's addresses, freed now. */
bool cli_held_add(struct cli_held *h, const struct roster_node *n);
/* Writes the file atomically. */
bool cli_held_save(const struct cli_held *h);
void cli_held_free(struct cli_held *h);
/* The entry holding addr of family, or NULL (borrowed from h). */
const struct cli_held_entry *cli_held_find(const struct cli_held *h, int family,
    const uint8_t *addr);
/* The held addresses of family as roster_allocate_address_avoiding takes them: *out is
 * malloc'd (free it), *n entries. */
bool cli_held_addresses(const struct cli_held *h, int family, uint8_t (**out)[16], size_t *n);

/* Engineers (cmd_engineer_guard.c).  A name that is a system account (the reserved list, or
 * below UID_MIN in this machine's passwd) is refused unless force (then a warning). */
bool cli_engineer_name_check(const char *name, bool force);
/* Each SSH key of e is on no other engineer of r and not twice on e: false after naming the
 * other engineer and the key's SHA256: fingerprint. */
bool cli_ssh_keys_unique(const struct roster *r, const struct roster_engineer *e);
/* The engineer other than name whose keys include k, or NULL (borrowed from r). */
const char *cli_ssh_key_holder(const struct roster *r, const struct roster_ssh_key *k,
    const char *name);
/* Appends the keys of an authorized_keys style file (blank lines, # comments skipped) to e;
 * a private key file is refused without echoing it.  false after a FILE:LINE: message. */
bool cli_ssh_keys_read(const char *path, struct roster_engineer *e);
/* keys engineer ca, keys engineer cert (cmd_engineer_cert.c). */
int cli_engineer_ca(int argc, char *argv[]);
int cli_engineer_cert(int argc, char *argv[]);
/* keys engineer set (cmd_engineer_set.c) and its usage line. */
int cli_engineer_set(int argc, char *argv[]);
#define CLI_ENGINEER_SET_ARGS "NAME [--add-ssh-key FILE]... [--remove-ssh-key SHA256:FP|FILE]... " \
	"[--allow TARGET[:PORTS]]... [--disallow TARGET[:PORTS]]... [--until TIME] [--revoke-certs]"


/* What a node change breaks (cmd_impact.c).  Called on the changed roster: every allow line
 * or policy rule whose group no longer has a node is named on stderr (doing: "revoking
 * db-1"); without force that is refused (false, nothing dropped).  Otherwise the lines and
 * rules naming nothing are dropped, each said on stdout ("dropped alice's allow db-1:22",
 * "dropped 'policy allow web-1 -> db-1 tcp/80'"): a revocation never waits for ACL edits, and
 * a stale line must not grant a later node enrolled under the same name. */
bool cli_allows_settle(struct roster *r, const char *doing, bool force);
/* The group that marks the bastion's node when keys.conf names no BastionNode. */
#define CLI_BASTION_GROUP "bastion"
/* Whether n is the bastion's own node: BastionNode in keys.conf, else a node in group
 * "bastion".  Every engineer's jump goes through it. */
bool cli_node_is_bastion(const struct roster_node *n);

/* Prints "Usage: keys NAME ARGS" and the help of the table entry called name (keys.c). */
void cli_command_usage(FILE *f, const char *name);
/* Prints the usage of a command from another table (a subcommand's own table). */
void cli_table_usage(FILE *f, const char *prefix, const struct command *c);
/* An Ed25519 public key (admin, audit) given to option opt: 44 characters of base64, or a file
 * holding one; a value that is no point of the main subgroup (a secret?) is refused.  false
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
/* Writes the known_hosts file known_hosts ("~/" = $HOME; replaced atomically, 0644) pinning,
 * under the name alias, every public host key of key_file (the bastion's
 * ssh_host_ed25519_key.pub); says on stderr what it pinned.  0 or -errno, the error printed
 * (key_file:line: for a line that is not a public key). */
int cli_known_hosts_write(const char *known_hosts, const char *alias, const char *key_file);
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
enum { CLI_ALLOW_TEXT_MAX = 128 };
/* "target:lo-hi", and " until 2026-12-01T18:00:00Z" when the line has one (" (passed)" once
 * it is in the past: the line grants nothing any more). */
void cli_allow_format(char out[CLI_ALLOW_TEXT_MAX], const struct roster_allow *a);
/* --until TIME: YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DDTHH:MMZ or +DURATION (from now, as
 * common/duration.h); *out in Unix seconds.  false if none of these. */
bool cli_until_parse(const char *s, int64_t now, int64_t *out);
/* cli_until_parse of a --until argument at the current time, which must give a moment in
 * the future; says what is wrong on stderr otherwise. */
bool cli_until_check(const char *arg, int64_t *until);

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
int cmd_policy(int argc, char *argv[]);
int cmd_push(int argc, char *argv[]);
int cmd_node(int argc, char *argv[]);
int cmd_node_config(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_status_fleet(int argc, char *argv[]);
/* Bastion access (cmd_audit.c, cmd_access.c). */
int cmd_audit(int argc, char *argv[]);
int cmd_authorized_keys(int argc, char *argv[]);
int cmd_ssh_config(int argc, char *argv[]);

#endif
