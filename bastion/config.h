/* The bastion's config file: "Key = value" lines, '#' comments, as tunneld's.  Every error is
 * collected as "FILE:LINE: message" before failing. */
#ifndef BASTION_CONFIG_H
#define BASTION_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/key.h"

enum {
	BASTION_LISTEN_MAX = 8,		/* ListenAddress lines */
	BASTION_CONFIG_ERRORS_MAX = 32,	/* messages kept; the rest are counted */
	BASTION_CONFIG_MAX_BYTES = 1 << 20,
	BASTION_EXEMPT_MAX = 32,	/* PerSourcePenaltyExemptList entries */
	BASTION_ROSTER_EXPIRY_WARNING_DEFAULT = 7 * 86400,
	BASTION_ROSTER_EXPIRY_WARNING_MAX = 365 * 86400,
	/* The default ListenAddress port: ssh's, what `keys ssh-config` and `ssh -J HOST`
	 * assume (bastion.service keeps CAP_NET_BIND_SERVICE for it). */
	BASTION_PORT_DEFAULT = 22,
};

/* An address block: family 4 or 6, the address (v4 in the first 4 bytes), its prefix length. */
struct bastion_net {
	uint8_t family;
	uint8_t addr[16];
	uint8_t bits;
};

/* PerSourcePenalties (as OpenSSH 9.8's): seconds added to a source's penalty for each of its
 * connections that ends without authenticating; the source is refused once its penalty reaches
 * min, for as long as it lasts, never more than max. */
struct bastion_penalties {
	bool enabled;
	unsigned authfail;		/* tried to authenticate, never succeeded */
	unsigned noauth;		/* closed without trying */
	unsigned grace_exceeded;	/* still unauthenticated at LoginGraceTime */
	unsigned min, max;
	struct bastion_net exempt[BASTION_EXEMPT_MAX];	/* PerSourcePenaltyExemptList */
	size_t n_exempt;
};

struct bastion_listen {
	char host[64];			/* numeric IPv4 or IPv6 (bare) */
	uint16_t port;
};

struct bastion_config {
	struct bastion_listen listen[BASTION_LISTEN_MAX];
	size_t n_listen;
	char host_key_file[PATH_MAX];
	char roster[PATH_MAX];
	bool has_admin_key;
	uint8_t admin_key[KEY_LEN];	/* Ed25519 public key pinned for the roster */
	char audit_log[PATH_MAX];
	char audit_key_file[PATH_MAX];
	char user[33];			/* User: the network process runs as this user */
	bool audit_syslog;
	unsigned connect_timeout;	/* seconds */
	unsigned login_grace_time;	/* seconds */
	/* RosterExpiryWarning: warn this many seconds before the roster expires; 0: never. */
	uint64_t roster_expiry_warning;
	/* MaxStartups begin:rate:full: past begin unauthenticated connections, a new one is
	 * refused with probability rate% rising linearly to 100% at full. */
	unsigned max_startups_begin;
	unsigned max_startups_rate;	/* percent */
	unsigned max_startups;		/* full */
	unsigned per_source_max_startups;	/* 0: none */
	unsigned per_source_v4_bits, per_source_v6_bits;	/* PerSourceNetBlockSize */
	struct bastion_penalties penalties;
	unsigned max_auth_tries;	/* per connection */
	/* MetricsListen: the Prometheus endpoint (bastion/metrics_http.h); off when not given.
	 * A bare port means 127.0.0.1. */
	bool has_metrics_listen;
	struct bastion_listen metrics_listen;
};

struct bastion_config_errors {
	char msgs[BASTION_CONFIG_ERRORS_MAX][256];
	size_t count;			/* may exceed BASTION_CONFIG_ERRORS_MAX: only that many kept */
};

/* Defaults for every key (ListenAddress 0.0.0.0:22 is added only if none is given). */
void bastion_config_defaults(struct bastion_config *c);
/* Parses text (len bytes, named filename in messages) over c's current values.  true if no
 * error; AdminKey is required. */
bool bastion_config_parse(struct bastion_config *c, const char *text, size_t len,
    const char *filename, struct bastion_config_errors *errs);
/* Reads path (at most BASTION_CONFIG_MAX_BYTES) and parses it over the defaults. */
bool bastion_config_load(struct bastion_config *c, const char *path,
    struct bastion_config_errors *errs);

#endif
