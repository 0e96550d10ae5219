/* The bastion's counters and its Prometheus page (docs/bastion.md, "Metrics").
 *
 * Counted where the decision is made (ssh_server.c, jump.c, relay.c), plain increments: the
 * network process is one thread, which also serves the page (metrics_http.c).  Label values
 * come from fixed tables: a reason string the tables do not know counts as "other", so the
 * number of series stays bounded whatever the code or a client does. */
#ifndef BASTION_METRICS_H
#define BASTION_METRICS_H

#include <stdint.h>

#include "common/prom.h"

struct bastion;

enum bastion_auth_result {
	BAUTH_ACCEPTED,
	BAUTH_UNKNOWN_ENGINEER,
	BAUTH_KEY_NOT_IN_ROSTER,
	BAUTH_BAD_SIGNATURE,
	BAUTH_CERT_EXPIRED,
	BAUTH_CERT_REFUSED,
	BAUTH_PASSWORD,
	BAUTH_USER_TOO_LONG,
	BAUTH_AUDIT_UNAVAILABLE,
	BAUTH_OTHER,
	BAUTH_N,
};

enum bastion_jump_result {
	BJUMP_OPENED,
	BJUMP_AUDIT_UNAVAILABLE,
	BJUMP_ROSTER_EXPIRED,
	BJUMP_BAD_TARGET,
	BJUMP_BAD_PORT,
	BJUMP_UNKNOWN_TARGET,
	BJUMP_NOT_ALLOWED,
	BJUMP_ACCESS_EXPIRED,
	BJUMP_TOO_MANY,
	BJUMP_CONNECT_FAILED,
	BJUMP_CONNECT_TIMEOUT,
	BJUMP_AUDIT_FAILED,
	BJUMP_OTHER,
	BJUMP_N,
};

enum bastion_admission_result {
	BADMIT_TOO_MANY_CONNECTIONS,
	BADMIT_MAX_STARTUPS,
	BADMIT_PER_SOURCE_MAX_STARTUPS,
	BADMIT_PER_SOURCE_PENALTIES,
	BADMIT_OUT_OF_DESCRIPTORS,
	BADMIT_OTHER,
	BADMIT_N,
};

struct bastion_stats {
	uint64_t connections;		/* accepted and admitted */
	uint64_t admission_refused[BADMIT_N];
	uint64_t auth[BAUTH_N];
	uint64_t jumps[BJUMP_N];
	uint64_t requests_refused;	/* refused requests of authenticated sessions */
	uint64_t sessions_closed_refusals;	/* closed past a refusal limit (refusal.h) */
	uint64_t bytes_to_node;		/* engineer -> node, written to the node's socket */
	uint64_t bytes_to_engineer;	/* node -> engineer, taken by the SSH channel */
	uint64_t audit_acks;		/* jump_open lines acknowledged durable (or failed) */
	uint64_t audit_last_ack_wall_ns;	/* CLOCK_REALTIME of the latest; 0: none */
};

/* The counter for a refusal reason as the code words it (auth_failed's why, jump.c's
 * reason, admission_check's answer); *_OTHER for one the table does not know. */
enum bastion_auth_result bastion_auth_result_of(const char *why);
enum bastion_jump_result bastion_jump_result_of(const char *why);
enum bastion_admission_result bastion_admission_result_of(const char *why);

/* Writes the bastion's page to w.  now_ns is CLOCK_MONOTONIC. */
void bastion_metrics_write(struct prom_writer *w, const struct bastion *b, uint64_t now_ns);

#endif
