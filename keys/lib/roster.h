/* The signed roster: warren's whitelist.  One canonical text file naming the network, every
 * node (WireGuard public key, overlay addresses, routed subnets, endpoints, groups), every
 * engineer (SSH keys, what they may reach), a serial, the admin key chain and an Ed25519
 * signature.  The format is specified in docs/roster.md.
 *
 * Canonical: there is exactly one way to write a given roster (roster_serialize); the parser
 * refuses any other spelling, so a signature covers exactly what every node sees. */
#ifndef KEYS_ROSTER_H
#define KEYS_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"

enum {
	ROSTER_VERSION = 1,
	ROSTER_NAME_MAX = 63,		/* node, group, engineer and network names */
	ROSTER_SIG_LEN = 64,		/* Ed25519 */
	ROSTER_ADMIN_SECRET_LEN = 64,	/* Ed25519 secret key (seed || public) */
	/* Refuse larger files outright: a 10,000-node roster with 200 engineers weighs about
	 * 2 MB (tests/bench/roster_gen.c: 1.67 MB for its 10,000 lean nodes), so 8 MiB leaves
	 * room for growth while bounding what a peer can make a node buffer and hash
	 * (docs/roster.md, "Size"). */
	ROSTER_MAX_BYTES = 8 << 20,
	ROSTER_LINE_MAX = 16384,	/* longest line (an ssh-rsa 16384-bit key is ~2.8 KiB) */
	ROSTER_SSH_BLOB_MAX = 8192,	/* largest decoded SSH key blob */
	ROSTER_ERRORS_MAX = 1000,	/* messages kept per parse; one more says "too many errors" */
};

struct roster_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; 4 bytes used for AF_INET */
	uint8_t cidr;
};

struct roster_endpoint {
	char host[256];		/* IPv4 literal, IPv6 literal (stored bare, written in brackets in
				 * the file: "[fd00::1]:51820"), or a lowercase DNS name */
	uint16_t port;
};

struct roster_node {
	char name[ROSTER_NAME_MAX + 1];
	uint8_t key[KEY_LEN];		/* WireGuard (X25519) public key */
	bool has_addr4;
	uint8_t addr4[4];		/* overlay address inside the network's cidr */
	bool has_addr6;
	uint8_t addr6[16];		/* inside cidr6 */
	struct roster_prefix *subnets;	/* routed through this node */
	size_t n_subnets;
	struct roster_endpoint *endpoints;	/* in preference order */
	size_t n_endpoints;
	char (*groups)[ROSTER_NAME_MAX + 1];
	size_t n_groups;
	unsigned line;			/* where it was parsed, for messages; 0 if built */
};

/* An SSH public key in OpenSSH authorized_keys form: "type base64 [comment]". */
struct roster_ssh_key {
	char *type;		/* ssh-ed25519, ecdsa-sha2-nistp256, rsa-sha2-..., ssh-rsa, ... */
	uint8_t *blob;		/* the decoded key blob */
	size_t blob_len;
	char *comment;		/* may be "" */
};

/* What an engineer may reach: a node name, "group:NAME", "*" (every node), or a prefix (the
 * hosts inside it: in some node's routed subnets, or nodes by overlay address), and a port
 * range (1..65535; 0..0 never appears: "*" ports is 1-65535). */
struct roster_allow {
	char target[ROSTER_NAME_MAX + 7];	/* as written; a prefix in canonical form */
	uint16_t port_lo;
	uint16_t port_hi;
	bool is_prefix;				/* target is a prefix, parsed into prefix */
	struct roster_prefix prefix;
	bool has_until;			/* "until TIME": grants nothing from then on */
	int64_t until;			/* Unix seconds, UTC */
};

/* "NAME#" and 8-32 of [a-z0-9]: the principal her certificates carry (never a valid name). */
enum { ROSTER_CERT_TOKEN_MIN = 8, ROSTER_CERT_TOKEN_MAX = 32,
	ROSTER_CERT_PRINCIPAL_MAX = ROSTER_NAME_MAX + 1 + ROSTER_CERT_TOKEN_MAX };

/* Node-to-node policy (docs/roster.md, "Policy"): "policy allow|deny FROM -> TO PROTO[/PORTS]".
 * FROM and TO are targets as an allow line's (a node, group:NAME, *, or a prefix inside a node's
 * subnet or the overlay); each node enforces the rules whose TO covers it on what it receives.
 * A deny that matches wins over an allow; what no rule matches follows the default (allow,
 * unless "policy default deny"). */
enum roster_policy_proto {
	ROSTER_POLICY_ANY = 0,
	ROSTER_POLICY_ICMP = 1,		/* ICMP and ICMPv6 */
	ROSTER_POLICY_TCP = 6,
	ROSTER_POLICY_UDP = 17,
};
struct roster_policy_rule {
	bool deny;
	struct roster_allow from, to;	/* their targets only (ports, until unused) */
	uint8_t proto;			/* enum roster_policy_proto */
	uint16_t port_lo, port_hi;	/* TCP/UDP: the ports, 1-65535 for all; else 0 */
	unsigned line;			/* where it was parsed; 0 if built */
};

struct roster_engineer {
	char name[ROSTER_NAME_MAX + 1];
	struct roster_ssh_key *ssh_keys;
	size_t n_ssh_keys;
	/* The one principal her certificates must carry, "" for none (no certificate is accepted
	 * for her).  A new random one whenever she is added again or her certificates are
	 * revoked: certificates signed before name the old one and grant nothing. */
	char cert_principal[ROSTER_CERT_PRINCIPAL_MAX + 1];
	struct roster_allow *allows;
	size_t n_allows;
	unsigned line;
};

/* The old admin key signs the new one: nodes that pinned old follow to new. */
struct roster_endorsement {
	uint8_t old_key[KEY_LEN];
	uint8_t new_key[KEY_LEN];
	uint8_t sig[ROSTER_SIG_LEN];
};

struct roster {
	unsigned version;
	char network[ROSTER_NAME_MAX + 1];
	struct roster_prefix cidr4;
	bool has_cidr6;
	struct roster_prefix cidr6;
	uint64_t serial;
	int64_t issued;				/* Unix seconds, UTC */
	bool has_expires;
	int64_t expires;			/* Unix seconds, UTC, after issued */
	uint8_t admin_key[KEY_LEN];		/* the Ed25519 key that signs this roster */
	struct roster_endorsement *endorsements;	/* chain order, oldest first */
	size_t n_endorsements;
	bool has_engineer_ca;
	uint8_t engineer_ca[KEY_LEN];		/* Ed25519: signs engineers' SSH certificates */
	bool policy_default_deny;		/* "policy default deny": what no rule allows */
	struct roster_policy_rule *policy;	/* canonical order (roster_policy_cmp) */
	size_t n_policy;
	struct roster_node *nodes;		/* sorted by name */
	size_t n_nodes;
	struct roster_engineer *engineers;	/* sorted by name */
	size_t n_engineers;
	bool has_signature;
	uint8_t signature[ROSTER_SIG_LEN];
};

/* Every array in these structs is malloc'd and owned by the roster: roster_free frees them all
 * (so code that builds a roster by hand allocates with malloc/realloc, or uses the helpers
 * below).  Messages, each complete: "FILE:LINE: message". */
struct roster_errors {
	char **msgs;
	size_t count;
};

void roster_init(struct roster *r);
void roster_free(struct roster *r);
void roster_errors_free(struct roster_errors *errs);

/* Parses a roster (body, then optionally the signature line).  Checks syntax, canonical form,
 * and meaning: unknown fields, duplicate names, duplicate keys, addresses outside the
 * network's CIDRs or used twice, subnets overlapping each other or the overlay, allow targets
 * naming no node or group, ...  All errors are collected as "FILE:LINE: message"; true only if
 * there were none (out is left empty otherwise).  Does not verify the signature. */
bool roster_parse(const char *text, size_t len, const char *filename, struct roster *out,
    struct roster_errors *errs);
/* Reads and parses a file (at most ROSTER_MAX_BYTES). */
bool roster_load(const char *path, struct roster *out, struct roster_errors *errs);
/* The canonical text, with or without the signature line.  Returns a malloc'd NUL-terminated
 * string (length in *len), or NULL on allocation failure.  Sorts nodes and engineers first. */
char *roster_serialize(struct roster *r, bool with_signature, size_t *len);
/* Writes the canonical signed text atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory.  mode is the new file's permission bits.  0 or -errno. */
int roster_save(struct roster *r, const char *path, unsigned mode);

/* Signs the roster with the admin secret key: sets admin_key and signature over
 * "warren roster signature\n" || be32 version || SHA-512(body). */
void roster_sign(struct roster *r, const uint8_t admin_secret[ROSTER_ADMIN_SECRET_LEN]);
/* Appends an endorsement of new_key by the holder of old_secret (bound to the network name). */
bool roster_endorse(struct roster *r, const uint8_t old_secret[ROSTER_ADMIN_SECRET_LEN],
    const uint8_t new_key[KEY_LEN]);
/* Verifies the signature, and that admin_key is pinned or reached from pinned through a
 * valid endorsement chain.  On success *trusted receives the key now to pin (admin_key).
 * Returns false with why filled ("bad signature", "admin key not endorsed by the pinned
 * key", ...). */
bool roster_verify(const struct roster *r, const uint8_t pinned[KEY_LEN], uint8_t trusted[KEY_LEN],
    char *why, size_t whylen);

/* Reads only what the signature check needs from a signed roster text, without parsing the
 * rest: the header lines (version, network, serial, admin, endorse: into hdr, which the caller
 * frees with roster_free) and the last line, the signature (hdr->signature).  *body_len is
 * the length of the signed body (everything before the signature line).  Cost: the header
 * lines plus one scan for the last line.  false with why ("FILE:LINE: message", or "not
 * signed") if the text is not a signed roster as far as these lines tell. */
bool roster_header_scan(const char *text, size_t len, const char *filename, struct roster *hdr,
    size_t *body_len, char *why, size_t whylen);
/* Verifies the signature of hdr (from roster_header_scan) over the raw body bytes and the
 * admin key's chain from pinned, as roster_verify does, before any full parse: one SHA-512
 * of the body and a few Ed25519 checks.  trusted as roster_verify. */
bool roster_verify_raw(const struct roster *hdr, const char *body, size_t body_len,
    const uint8_t pinned[KEY_LEN], uint8_t trusted[KEY_LEN], char *why, size_t whylen);
/* A time as the roster writes it, "2026-12-21T23:00:00Z" (UTC, a date that exists, year
 * 1970-9999): *t in Unix seconds; false for any other spelling. */
enum { ROSTER_TIME_TEXT_LEN = 20 };
bool roster_time_from_text(int64_t *t, const char *s);
/* And back: t as the roster writes it; "never" past year 9999 (a certificate valid forever). */
void roster_time_text(char out[ROSTER_TIME_TEXT_LEN + 1], int64_t t);

/* A roster's expiry as its holder sees it at now (Unix seconds, the holder's wall clock):
 * no expires line, valid, inside the warning margin (margin seconds before expires, but at
 * most a quarter of expires - issued), or expired (now >= expires).  Expired means: tunnels
 * stay (machines fail open), engineer access is refused (humans fail closed); docs/roster.md,
 * "Expiry". */
enum roster_expiry {
	ROSTER_EXPIRY_NONE,
	ROSTER_EXPIRY_VALID,
	ROSTER_EXPIRY_SOON,
	ROSTER_EXPIRY_EXPIRED,
};
enum roster_expiry roster_expiry_at(const struct roster *r, int64_t now, int64_t margin);
/* Formats the expiry for a log line or an error: "expired at 2026-12-01T18:00:00Z" or
 * "expires at 2026-12-01T18:00:00Z (in 3h12m)"; "" without an expires line.  out holds at
 * least ROSTER_EXPIRY_TEXT_MAX bytes. */
enum { ROSTER_EXPIRY_TEXT_MAX = 64 };
void roster_expiry_text(char *out, const struct roster *r, int64_t now);
/* Remembers the last state (and serial) a daemon logged.  roster_expiry_track sets *state to
 * r's state at now and returns true if it differs from the last call's, or the serial does,
 * or on the first call: the holder then logs it once.  A clock set back can return a roster
 * from EXPIRED to VALID; that is a change too. */
struct roster_expiry_tracker {
	bool seen;
	uint64_t serial;
	enum roster_expiry state;
};
bool roster_expiry_track(struct roster_expiry_tracker *t, const struct roster *r, int64_t now,
    int64_t margin, enum roster_expiry *state);

/* Whether text may be a signed roster whose writer has not finished: empty, or a prefix of
 * a roster ("warren-roster ...") that does not yet end in a complete signature line. */
bool roster_text_unfinished(const char *text, size_t len);
/* Writes text atomically as roster_save does (temp file, fsync, rename, fsync of the
 * directory).  0 or -errno. */
int roster_text_save(const char *text, size_t len, const char *path, unsigned mode);

/* Lookups (borrowed pointers, valid until the roster changes). */
struct roster_node *roster_node_find(const struct roster *r, const char *name);
struct roster_node *roster_node_find_key(const struct roster *r, const uint8_t key[KEY_LEN]);
struct roster_engineer *roster_engineer_find(const struct roster *r, const char *name);
/* The lowest free address of the family inside the network's CIDR (skipping the network and,
 * for IPv4, broadcast addresses).  false if full or the family has no CIDR. */
bool roster_allocate_address(const struct roster *r, int family, uint8_t out[16]);
/* The same, also skipping the n_avoid addresses of avoid (each of family, in the first 4 or
 * 16 bytes as roster_address_parse gives them; any order; borrowed): addresses held back
 * after a revoke.  false if full or out of memory. */
bool roster_allocate_address_avoiding(const struct roster *r, int family,
    const uint8_t (*avoid)[16], size_t n_avoid, uint8_t out[16]);
/* Whether an engineer name is a system account on every node (root, daemon, sshd, systemd-*,
 * tunneld, bastion, ...): the engineer would log in as that account (roster_reserved.c). */
bool roster_engineer_name_reserved(const char *name);
/* Whether engineer e may reach node n on port at now (Unix seconds) (by name, group, "*", or
 * a prefix holding one of n's overlay addresses).  An allow line with "until T" counts only
 * while now < T; now = INT64_MIN ignores every until (what the lines grant at all). */
bool roster_engineer_allows(const struct roster *r, const struct roster_engineer *e,
    const struct roster_node *n, uint16_t port, int64_t now);
/* Whether engineer e may reach address addr (family AF_INET/AF_INET6, network order) on port
 * through a prefix allow line: what the bastion asks for a host inside a node's subnet.  Node
 * names, groups and "*" never cover such hosts. */
bool roster_engineer_allows_address(const struct roster_engineer *e, int family, int64_t now,
    const uint8_t *addr, uint16_t port);
/* The node whose routed subnets hold addr, or NULL.  Borrowed pointer. */
const struct roster_node *roster_subnet_router(const struct roster *r, int family,
    const uint8_t *addr);
/* Whether an allow target names something in r: a node, a group some node is in, "*", or a
 * prefix inside one node's subnet or inside the overlay cidr/cidr6. */
bool roster_allow_target_exists(const struct roster *r, const struct roster_allow *a);

/* What changes from old to new, node by node (both sorted by name). */
enum roster_change { ROSTER_NODE_ADDED, ROSTER_NODE_REMOVED, ROSTER_NODE_KEY_CHANGED,
	ROSTER_NODE_CHANGED };
typedef void roster_diff_fn(void *ctx, enum roster_change what, const struct roster_node *old_node,
    const struct roster_node *new_node);
void roster_diff_nodes(const struct roster *old_r, const struct roster *new_r, roster_diff_fn *fn,
    void *ctx);

/* --- Additions (issue 3, part 1): helpers for the CLI and tunneld. --- */

/* Whether candidate may replace running: same network (running may be NULL: first roster,
 * anything goes) and a strictly greater serial (no rollback, no replay).  Does not verify. */
bool roster_is_newer(const struct roster *running, const struct roster *candidate, char *why,
    size_t whylen);

/* Appends a zeroed node/engineer called name (line 0) and returns it, or NULL (bad name,
 * duplicate name, or no memory).  Pointers into the arrays are invalidated.  The arrays are
 * left unsorted: roster_serialize sorts them. */
struct roster_node *roster_node_add(struct roster *r, const char *name);
struct roster_engineer *roster_engineer_add(struct roster *r, const char *name);
/* Removes (and frees) the node/engineer called name; false if there is none. */
bool roster_node_remove(struct roster *r, const char *name);
bool roster_engineer_remove(struct roster *r, const char *name);
/* Sorts nodes, engineers and every list whose canonical order is sorted (subnets, groups,
 * allows).  roster_serialize calls it. */
void roster_sort(struct roster *r);

/* Single-token parsers shared with the CLI: exactly the spellings the roster accepts
 * (canonical: lowercase, no leading zeros, host bits clear, RFC 5952 IPv6). */
bool roster_name_valid(const char *name);
/* "100.64.0.0/16" or "fd00::/48"; host bits must be clear. */
bool roster_prefix_parse(struct roster_prefix *p, const char *s);
/* Bare IPv4 or IPv6 address: family AF_INET/AF_INET6, addr in network order (16 bytes). */
bool roster_address_parse(int *family, uint8_t addr[16], const char *s);
/* "host:port", "[v6]:port"; port 1..65535. */
bool roster_endpoint_parse(struct roster_endpoint *e, const char *s);
/* "TARGET" or "TARGET:PORTS" as on the CLI (PORTS: N, N-M or *; none = all ports).  TARGET is
 * a name, "group:NAME", "*" or a prefix in canonical form ("100.100.1.0/24:22",
 * "fd00:1::/64:22": the ports follow the prefix length).  Whether the target exists (and a
 * prefix lies inside a subnet or the overlay) is checked by roster_parse. */
bool roster_allow_parse(struct roster_allow *a, const char *spec);
/* Formats addr of family (bare) into out (at least 46 bytes). */
void roster_address_format(char *out, size_t outlen, int family, const uint8_t *addr);
/* "100.64.0.0/16". */
void roster_prefix_format(char *out, size_t outlen, const struct roster_prefix *p);

/* SSH public key in authorized_keys form "type base64 [comment]": the type must be known and
 * the blob's first string must name it (rsa-sha2-256/512 name an "ssh-rsa" blob).  On failure
 * why says what is wrong.  k is owned by the caller: roster_ssh_key_free. */
bool roster_ssh_key_parse(struct roster_ssh_key *k, const char *line, char *why, size_t whylen);
void roster_ssh_key_free(struct roster_ssh_key *k);
/* OpenSSH's fingerprint: "SHA256:" + unpadded base64 of SHA-256(blob), as ssh-keygen -l. */
void roster_ssh_key_fingerprint(const struct roster_ssh_key *k, char out[51]);
/* A policy rule from its text after "policy " ("allow group:web -> group:db tcp/5432"); false
 * with why.  Targets are checked against a roster by roster_policy_targets_exist. */
bool roster_policy_rule_parse(struct roster_policy_rule *rule, const char *text, char *why,
    size_t whylen);
/* Its canonical text after "policy " (out: at least ROSTER_POLICY_TEXT_MAX bytes). */
enum { ROSTER_POLICY_TEXT_MAX = 2 * (ROSTER_NAME_MAX + 7) + 40 };
void roster_policy_rule_format(char *out, const struct roster_policy_rule *rule);
/* What r's policy says of a packet from node from to node to (proto: enum
 * roster_policy_proto, not ANY; port: the destination port, 0 for ICMP): a matching deny rule
 * wins, else a matching allow rule, else the default.  *matched is the deciding rule, or NULL
 * when the default decided. */
bool roster_policy_allows(const struct roster *r, const struct roster_node *from,
    const struct roster_node *to, uint8_t proto, uint16_t port,
    const struct roster_policy_rule **matched);
/* The same for a host inside a node's subnet (family, addr): only rules whose TO is "*" or a
 * prefix holding it cover it. */
bool roster_policy_allows_host(const struct roster *r, const struct roster_node *from,
    int family, const uint8_t *addr, uint8_t proto, uint16_t port,
    const struct roster_policy_rule **matched);
/* Whether target a (an allow line's or a policy rule's) covers node n: its name, a group it
 * is in, "*", or a prefix holding one of its overlay addresses. */
bool roster_target_matches(const struct roster_allow *a, const struct roster_node *n);
/* Canonical order: deny before allow, then from, to, protocol, ports. */
int roster_policy_cmp(const struct roster_policy_rule *a, const struct roster_policy_rule *b);

/* Whether p is NAME#TOKEN for engineer name (TOKEN: ROSTER_CERT_TOKEN_MIN..MAX of [a-z0-9]). */
bool roster_cert_principal_valid(const char *name, const char *p);
/* Gives e a new random cert principal, NAME# and 12 random [a-z0-9] (libsodium). */
void roster_cert_principal_new(struct roster_engineer *e);

/* Admin (Ed25519) key files: base64 of the 64-byte secret key, 0600, refused if group or
 * others may read them.  0 or -errno, err says why. */
int roster_admin_key_generate(uint8_t secret[ROSTER_ADMIN_SECRET_LEN], uint8_t pub[KEY_LEN]);
int roster_admin_key_read(const char *path, uint8_t secret[ROSTER_ADMIN_SECRET_LEN], char *err,
    size_t errlen);
int roster_admin_key_write(const char *path, const uint8_t secret[ROSTER_ADMIN_SECRET_LEN]);

#endif
