/* Who may reach what: the bastion's own copy of the verified roster (it checks the admin
 * signature itself and keeps its last good roster), the engineer behind an SSH key, and
 * whether a jump target is allowed.  The roster file is watched with inotify. */
#ifndef BASTION_ACCESS_H
#define BASTION_ACCESS_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/roster.h"
#include "keys/lib/ssh_cert.h"

struct access {
	char path[PATH_MAX];		/* Roster */
	uint8_t pinned[KEY_LEN];	/* AdminKey, then the key the verified chain leads to */
	bool has_roster;
	struct roster r;
	int inotify_fd;			/* -1 if none */
};

/* A resolved jump target (copied: stays valid across roster changes). */
struct access_target {
	char name[ROSTER_NAME_MAX + 1];	/* the node's name (for a subnet host: its router's) */
	bool in_subnet;			/* addr is a host in that node's routed subnets */
	int family;
	uint8_t addr[16];
	char addr_str[INET6_ADDRSTRLEN];
	uint16_t port;
};

/* Sets up the watch; the roster itself is read by access_reload.  0 or -errno. */
int access_open(struct access *a, const char *path, const uint8_t admin_key[KEY_LEN]);
void access_close(struct access *a);
/* Reads the roster file; applies it if it verifies and is newer than the running one.  Returns
 * true if a new roster applied; false with why set if the file was refused (why empty: the same
 * serial as running, nothing to do). */
bool access_reload(struct access *a, char *why, size_t whylen);
/* Drains pending inotify events; true if one concerns the roster file. */
bool access_watch_drain(struct access *a);

/* The engineer named user holding the key blob (compared in constant time), or NULL.  fp gets
 * the key's fingerprint when found.  Borrowed: valid until the next access_reload. */
const struct roster_engineer *access_engineer_match(const struct access *a, const char *user,
    const uint8_t *blob, size_t blob_len, char fp[51]);
/* The engineer named user, logging in with the OpenSSH certificate blob: the roster names an
 * engineer CA, user is in the roster, and the certificate is the CA's, for her cert-principal
 * (NAME#TOKEN) and valid at now (ssh_cert_check).  c describes it (borrowing blob), fp gets the certified key's
 * fingerprint.  NULL with why: "unknown engineer", "certificate expired at ...", or
 * "certificate refused: ...".  Borrowed: valid until the next access_reload. */
const struct roster_engineer *access_cert_match(const struct access *a, const char *user,
    const uint8_t *blob, size_t blob_len, int64_t now, struct ssh_cert *c, char fp[51],
    char *why, size_t whylen);
/* host: a node name, one of a node's overlay addresses, or an address inside a node's routed
 * subnets (in_subnet set, name = that node).  false if it names none of these. */
bool access_target_resolve(const struct access *a, const char *host, uint16_t port,
    struct access_target *t);
/* The earliest allow line's until later than now (Unix seconds) in the roster in use, or
 * INT64_MAX if none: when open jumps must be checked again. */
int64_t access_next_until(const struct access *a, int64_t now);

/* When to check open jumps against the allow lines' until, on the wall clock: due once an
 * until has passed since the last call.  The next until is recomputed after each due call,
 * after access_until_reset (a new roster), and whenever the clock went backwards (a line
 * that had passed may grant again, and its until is then the next one). */
struct access_until {
	bool primed;
	int64_t next;		/* the next until, INT64_MAX: none */
	int64_t last;		/* now at the last call */
};
bool access_until_due(struct access_until *u, const struct access *a, int64_t now);
void access_until_reset(struct access_until *u);
/* Whether the roster in use has expired at now (Unix seconds): new jumps are then refused
 * (humans fail closed) until a newer roster arrives.  false with no roster (nothing is
 * allowed then anyway) or no expires line. */
bool access_expired(const struct access *a, int64_t now);
/* Whether engineer may reach t at now, Unix seconds (the engineer and node looked up again by
 * name; a subnet host only through a prefix allow line, and only while the node still routes
 * it; an allow line with "until" only before then; now = INT64_MIN ignores until). */
bool access_allows(const struct access *a, const char *engineer, const struct access_target *t,
    int64_t now);

#endif
