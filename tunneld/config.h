/* Interface configuration, as parsed from a wg-quick style file (tunneld -c FILE) or from a
 * UAPI `set=1` request.  Both produce the same struct; the device applies it. */
#ifndef TUNNELD_CONFIG_H
#define TUNNELD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/engine.h"

/* Defaults of roster mode: gossip over the overlay when GossipPort is not given; warn a week
 * before the roster expires when RosterExpiryWarning is not. */
enum {
	CONFIG_DEFAULT_GOSSIP_PORT = 7946,
	CONFIG_DEFAULT_ROSTER_EXPIRY_WARNING = 7 * 86400,
	CONFIG_ROSTER_EXPIRY_WARNING_MAX = 365 * 86400,
};

struct config_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; 4 bytes used for AF_INET; host bits cleared for
				 * AllowedIPs, kept for Address */
	uint8_t cidr;
};

struct config_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[WG_KEY_LEN];	/* all zeros with has_preshared_key = remove it */
	bool has_endpoint;
	union wg_sockaddr endpoint;		/* resolved */
	char endpoint_host[256];		/* as written, for re-resolution ("" for UAPI) */
	char endpoint_port[8];
	/* endpoint_host is a name the device resolves in the background (resolver.h: DNS never
	 * stalls the event loop, at start or on reload); has_endpoint is false meanwhile. */
	bool endpoint_unresolved;
	bool has_persistent_keepalive;
	uint16_t persistent_keepalive;		/* seconds, 0 = off */
	struct config_prefix *allowed_ips;
	size_t n_allowed_ips;
	bool replace_allowed_ips;		/* file: always true; UAPI: replace_allowed_ips=true */
	bool remove;				/* UAPI remove=true */
	bool update_only;			/* UAPI update_only=true */
	unsigned line;				/* file line of [Peer], for messages */
	char name[64];				/* the roster's node name, for log lines; ""
						 * in config mode (peer_log.h) */
};

struct config {
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN];	/* all zeros with has_private_key = remove it */
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;			/* file: always true; UAPI: replace_peers=true */
	/* File only (the UAPI does not carry these). */
	struct config_prefix *addresses;
	size_t n_addresses;
	bool has_mtu;
	unsigned mtu;
	struct config_peer *peers;
	size_t n_peers;
	/* Roster mode (file only): peers and addresses come from the signed roster. */
	char private_key_file[4096];		/* PrivateKeyFile as resolved; "" if inline */
	char roster_path[4096];			/* Roster; "" = not roster mode */
	bool has_admin_key;
	uint8_t admin_key[WG_KEY_LEN];		/* AdminKey: the pinned Ed25519 trust anchor */
	bool has_gossip_port;
	uint16_t gossip_port;			/* GossipPort; 0 = off; default 7946 */
	bool has_roster_expiry_warning;
	uint64_t roster_expiry_warning;		/* RosterExpiryWarning, seconds; 0 = never */
	char user[33];				/* User to run as once up; "" = stay */
	/* MetricsListen (file only): the Prometheus endpoint's address; off when not given. */
	bool has_metrics_listen;
	union wg_sockaddr metrics_listen;
	/* OverlayFirewall = off (file only): no nftables table guarding our addresses. */
	bool no_overlay_firewall;
	/* Offload = off (file only, read at start): no TUN segmentation offloads. */
	bool no_offload;
};

/* Error messages collected while parsing, each complete ("wg0.conf:12: ..."). */
struct config_errors {
	char **msgs;
	size_t count;
};

/* Appends family/addr/cidr (4 or 16 bytes of addr) to the array *v of *n, grown by one.  false
 * when out of memory (the array is kept). */
bool config_prefix_add(struct config_prefix **v, size_t *n, int family, const uint8_t *addr,
    uint8_t cidr);

void config_init(struct config *c);
/* Frees everything and wipes the keys. */
void config_free(struct config *c);
void config_errors_free(struct config_errors *errs);

/* Parses a wg-quick style file.  [Interface]: PrivateKey, PrivateKeyFile (0600, refused if group
 * or others may read it), ListenPort, FwMark, Address (repeatable, comma lists, v4 and v6), MTU,
 * User (the account to run as once up, see privilege.h; only its shape is checked here);
 * OverlayFirewall (on, the default, or off); Offload (auto, the default, or off);
 * wg-quick-only keys (DNS, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig) are accepted and
 * ignored with a warning in warn (may be NULL).  Roster mode: Roster (path, relative to the
 * file's directory), AdminKey (Ed25519, base64) and GossipPort (default 7946, 0 = off);
 * then PrivateKeyFile is
 * required, and [Peer] sections and Address are errors.  [Peer]: PublicKey,
 * PresharedKey, PresharedKeyFile, AllowedIPs, Endpoint (address:port, [v6]:port or
 * name:port; names are only checked here and looked up later by the device, off the event
 * loop), PersistentKeepalive.  Keys are case-insensitive, '#' starts a comment.  Every error is
 * collected as "FILE:LINE: message" quoting the bad token; returns true only if there were none,
 * and leaves out empty (config_init) otherwise. */
bool config_parse_file(const char *path, struct config *out, struct config_errors *errs,
    struct config_errors *warn);

/* The UAPI set parser, fed one line at a time as the bytes arrive, so that a request is never
 * held or rescanned whole.  Lines are at most CONFIG_UAPI_LINE_MAX - 1 bytes. */
enum { CONFIG_UAPI_LINE_MAX = 512 };
struct config_uapi {
	struct config *c;		/* borrowed: the config being filled */
	struct config_errors *errs;	/* borrowed */
	unsigned line;			/* lines fed so far, for messages ("line N: ...") */
	const char *key;
	int err;			/* the first error (positive errno), 0 if none */
};
/* Starts a request: out is initialized (config_init) and filled by the lines fed. */
void config_uapi_begin(struct config_uapi *u, struct config *out, struct config_errors *errs);
/* Parses one line of len bytes, without its '\n' (the blank line that ends a request is not
 * fed).  After the first error, later lines are counted and ignored.  Returns u->err. */
int config_uapi_feed(struct config_uapi *u, const char *line, size_t len);
/* Ends the request.  Returns 0, or the first error as a positive errno with out emptied. */
int config_uapi_end(struct config_uapi *u);

/* Parses the body of a UAPI set request (the lines after "set=1", up to but excluding the
 * blank line).  Keys are hex, as the UAPI defines.  Returns 0 or a positive errno value to
 * report as "errno=N" (EINVAL for a malformed line or an unknown key, as wireguard-go), with the reason
 * in errs. */
int config_parse_uapi_set(const char *body, size_t len, struct config *out,
    struct config_errors *errs);

/* Converts a numeric host (IPv4 or IPv6 literal, no brackets) and a numeric port into ep,
 * without any lookup.  Returns 0 or a negative errno; err gets the reason. */
int config_resolve_endpoint(const char *host, const char *port, union wg_sockaddr *ep,
    char *err, size_t errlen);
/* Looks host (a name or a literal) up with getaddrinfo: blocks for as long as DNS takes, so it
 * is called only from the resolver's worker threads (resolver.h), never on the event loop.
 * Returns 0 or a negative errno; err gets the resolver's message. */
int config_lookup_endpoint(const char *host, const char *port, union wg_sockaddr *ep,
    char *err, size_t errlen);
/* true if host is syntactically a host name (RFC 1123 labels; not an address). */
bool config_host_name_valid(const char *host);

#endif
