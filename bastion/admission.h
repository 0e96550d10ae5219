/* Admission of new connections, as OpenSSH's sshd does it: MaxStartups begin:rate:full (random
 * early drop of unauthenticated connections), PerSourceMaxStartups (unauthenticated connections
 * at once from one source, an address block of PerSourceNetBlockSize: IPv4 /32, IPv6 /64 by
 * default) and PerSourcePenalties (a source whose connections end without authenticating is
 * refused for a time that grows with each of them).
 *
 * Penalties live in a fixed table (no allocation per connection), indexed with a random-keyed
 * SipHash so that a client cannot aim collisions at another source's entry; a full bucket gives
 * up the entry that expires first, which only ever forgives. */
#ifndef BASTION_ADMISSION_H
#define BASTION_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bastion/config.h"

enum {
	ADMISSION_BUCKETS = 1024,
	ADMISSION_WAYS = 8,		/* entries per bucket: 8192 sources penalised at once */
	ADMISSION_LOG_INTERVAL_S = 1,	/* refusals are logged at most this often */
};

/* A connection's source: family 4 or 6 and its address, masked to PerSourceNetBlockSize. */
struct admission_source {
	uint8_t family;
	uint8_t addr[16];		/* v4 in the first 4 bytes */
};

enum admission_outcome {
	ADMISSION_AUTHENTICATED,	/* costs nothing: a success refunds its probes */
	ADMISSION_AUTHFAIL,
	ADMISSION_NOAUTH,
	ADMISSION_GRACE_EXCEEDED,
};

struct admission_penalty {
	struct admission_source src;
	uint64_t expiry_ns;		/* 0: free */
	bool active;			/* reached PerSourcePenalties min: refused until expiry */
};

struct admission {
	const struct bastion_config *cfg;	/* borrowed, outlives this */
	uint8_t key[16];			/* SipHash key, random per process */
	struct admission_penalty table[ADMISSION_BUCKETS][ADMISSION_WAYS];
	uint64_t log_next_ns;
	unsigned long suppressed;		/* refusals not logged since the last line */
};

void admission_init(struct admission *a, const struct bastion_config *cfg);

/* The source of a peer address (AF_INET, AF_INET6; an IPv4-mapped IPv6 address is IPv4),
 * masked to PerSourceNetBlockSize.  false for any other family. */
bool admission_source_of(const struct admission *a, const struct sockaddr *sa,
    struct admission_source *out);

/* Whether the peer address sa (an IPv4-mapped IPv6 address as IPv4) is in
 * PerSourcePenaltyExemptList: its connections earn no penalty (the caller then does not call
 * admission_done).  Checked on the address itself, as sshd does, not on its source block. */
bool admission_exempt(const struct admission *a, const struct sockaddr *sa);

/* Whether a new connection from src may start.  unauth: unauthenticated connections open now;
 * unauth_src: those of them from src.  Returns NULL to admit, else why it is refused (a
 * static string naming the limit: "PerSourcePenalties", "PerSourceMaxStartups",
 * "MaxStartups").  rnd100: a uniform random number in 0..99 (for the early drop). */
const char *admission_check(struct admission *a, const struct admission_source *src,
    unsigned unauth, unsigned unauth_src, uint64_t now_ns, unsigned rnd100);

/* Records how a connection from src ended (the penalty it earns, if any; never called for an
 * exempt peer, admission_exempt). */
void admission_done(struct admission *a, const struct admission_source *src,
    enum admission_outcome outcome, uint64_t now_ns);

/* Seconds src is still refused for (0: not penalised). */
unsigned admission_penalty_left(struct admission *a, const struct admission_source *src,
    uint64_t now_ns);

/* Whether a refusal may be logged now (at most one line per ADMISSION_LOG_INTERVAL_S); if
 * so, *suppressed is the number of refusals not logged since the previous line. */
bool admission_log_due(struct admission *a, uint64_t now_ns, unsigned long *suppressed);

#endif
