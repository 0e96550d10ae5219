/* The bastion's counters and page (see metrics.h). */
#include "bastion/metrics.h"

#include <string.h>
#include <time.h>

#include "bastion/auditor.h"
#include "bastion/bastion.h"

/* The code's reason (matched as a prefix: "connect failed: ..." carries errno text) and the
 * label value. */
struct reason {
	const char *why;
	const char *label;
};

static const struct reason auth_reasons[BAUTH_N] = {
	[BAUTH_ACCEPTED] = { NULL, "accepted" },
	[BAUTH_UNKNOWN_ENGINEER] = { "unknown engineer", "unknown_engineer" },
	[BAUTH_KEY_NOT_IN_ROSTER] = { "key not in roster", "key_not_in_roster" },
	[BAUTH_BAD_SIGNATURE] = { "bad signature", "bad_signature" },
	[BAUTH_CERT_EXPIRED] = { "certificate expired", "certificate_expired" },
	[BAUTH_CERT_REFUSED] = { "certificate refused", "certificate_refused" },
	[BAUTH_PASSWORD] = { "password refused", "password" },
	[BAUTH_USER_TOO_LONG] = { "user name too long", "user_name_too_long" },
	[BAUTH_AUDIT_UNAVAILABLE] = { "audit log unavailable", "audit_unavailable" },
	[BAUTH_OTHER] = { NULL, "other" },
};

static const struct reason jump_reasons[BJUMP_N] = {
	[BJUMP_OPENED] = { NULL, "opened" },
	[BJUMP_AUDIT_UNAVAILABLE] = { "audit log unavailable", "audit_unavailable" },
	[BJUMP_ROSTER_EXPIRED] = { "roster expired", "roster_expired" },
	[BJUMP_BAD_TARGET] = { "bad target", "bad_target" },
	[BJUMP_BAD_PORT] = { "bad port", "bad_port" },
	[BJUMP_UNKNOWN_TARGET] = { "unknown target", "unknown_target" },
	[BJUMP_NOT_ALLOWED] = { "not allowed", "not_allowed" },
	[BJUMP_ACCESS_EXPIRED] = { "access expired", "access_expired" },
	[BJUMP_TOO_MANY] = { "too many jumps", "too_many_jumps" },
	[BJUMP_CONNECT_FAILED] = { "connect failed", "connect_failed" },
	[BJUMP_CONNECT_TIMEOUT] = { "connect timed out", "connect_timeout" },
	[BJUMP_AUDIT_FAILED] = { "audit log write failed", "audit_write_failed" },
	[BJUMP_OTHER] = { NULL, "other" },
};

static const struct reason admission_reasons[BADMIT_N] = {
	[BADMIT_TOO_MANY_CONNECTIONS] = { "too many connections", "max_connections" },
	[BADMIT_MAX_STARTUPS] = { "MaxStartups", "max_startups" },
	[BADMIT_PER_SOURCE_MAX_STARTUPS] = { "PerSourceMaxStartups", "per_source_max_startups" },
	[BADMIT_PER_SOURCE_PENALTIES] = { "PerSourcePenalties", "per_source_penalties" },
	[BADMIT_OUT_OF_DESCRIPTORS] = { "out of descriptors", "out_of_descriptors" },
	[BADMIT_OTHER] = { NULL, "other" },
};

static unsigned lookup(const struct reason *t, unsigned n, unsigned other, const char *why)
{
	for (unsigned i = 0; why && i < n; i++) {
		if (t[i].why && strncmp(why, t[i].why, strlen(t[i].why)) == 0)
			return i;
	}
	return other;
}

enum bastion_auth_result bastion_auth_result_of(const char *why)
{
	return lookup(auth_reasons, BAUTH_N, BAUTH_OTHER, why);
}

enum bastion_jump_result bastion_jump_result_of(const char *why)
{
	return lookup(jump_reasons, BJUMP_N, BJUMP_OTHER, why);
}

enum bastion_admission_result bastion_admission_result_of(const char *why)
{
	return lookup(admission_reasons, BADMIT_N, BADMIT_OTHER, why);
}

static void one(struct prom_writer *w, const char *name, const char *type, const char *help,
    uint64_t v)
{
	prom_family(w, name, type, help);
	prom_sample_u64(w, name, NULL, 0, v);
}

/* A family whose samples carry result (accepted/opened, or refused) and reason. */
static void by_reason(struct prom_writer *w, const char *name, const char *help,
    const struct reason *t, unsigned n, unsigned ok, const uint64_t *v)
{
	struct prom_label l[2] = { { "result", NULL }, { "reason", NULL } };

	prom_family(w, name, "counter", help);
	for (unsigned i = 0; i < n; i++) {
		l[0].value = i == ok ? t[i].label : "refused";
		l[1].value = i == ok ? "none" : t[i].label;
		prom_sample_u64(w, name, l, 2, v[i]);
	}
}

void bastion_metrics_write(struct prom_writer *w, const struct bastion *b, uint64_t now_ns)
{
	const struct bastion_stats *st = &b->stats;
	const struct prom_label version = { "version", WARREN_VERSION };
	struct prom_label l = { "reason", NULL };
	struct auditor_stats as;

	prom_family(w, "bastion_build_info", "gauge", "Always 1; the label gives the version.");
	prom_sample_u64(w, "bastion_build_info", &version, 1, 1);
	one(w, "bastion_sessions", "gauge", "SSH connections open, authenticated or not.",
	    b->n_sessions);
	one(w, "bastion_sessions_unauthenticated", "gauge",
	    "SSH connections open that have not authenticated yet (MaxStartups counts these).",
	    b->n_unauth);
	one(w, "bastion_jumps_open", "gauge", "Jumps open now (connecting, auditing or relaying).",
	    b->n_relays);
	one(w, "bastion_connections_total", "counter", "SSH connections accepted and admitted.",
	    st->connections);
	prom_family(w, "bastion_connections_refused_total", "counter",
	    "Connections refused at accept, by reason (MaxStartups, PerSourcePenalties, ...).");
	for (unsigned i = 0; i < BADMIT_N; i++) {
		l.value = admission_reasons[i].label;
		prom_sample_u64(w, "bastion_connections_refused_total", &l, 1,
		    st->admission_refused[i]);
	}
	by_reason(w, "bastion_auth_attempts_total",
	    "Authentication attempts (keys offered or signed, passwords), by result and reason.",
	    auth_reasons, BAUTH_N, BAUTH_ACCEPTED, st->auth);
	by_reason(w, "bastion_jumps_total", "Jump requests (direct-tcpip), by result and reason.",
	    jump_reasons, BJUMP_N, BJUMP_OPENED, st->jumps);
	one(w, "bastion_requests_refused_total", "counter",
	    "Requests refused to authenticated sessions (jumps denied, shells, forwards, ...).",
	    st->requests_refused);
	one(w, "bastion_sessions_closed_refusals_total", "counter",
	    "Sessions closed for too many refused requests.", st->sessions_closed_refusals);
	prom_family(w, "bastion_relayed_bytes_total", "counter",
	    "Bytes relayed through jumps, by direction.");
	l.name = "direction";
	l.value = "to_node";
	prom_sample_u64(w, "bastion_relayed_bytes_total", &l, 1, st->bytes_to_node);
	l.value = "to_engineer";
	prom_sample_u64(w, "bastion_relayed_bytes_total", &l, 1, st->bytes_to_engineer);

	auditor_stats_get(b, now_ns, &as);
	one(w, "bastion_audit_queued_bytes", "gauge",
	    "Audit events queued for the audit process, not yet sent to it (bytes).",
	    as.queued_bytes);
	one(w, "bastion_audit_pending_acks", "gauge",
	    "Jumps waiting for their jump_open line to be durable.", as.pending_acks);
	prom_family(w, "bastion_audit_oldest_pending_seconds", "gauge",
	    "How long the oldest jump waiting for a durable ack has waited; 0: none waits.");
	prom_sample_double(w, "bastion_audit_oldest_pending_seconds", NULL, 0,
	    (double)as.oldest_pending_ns / 1e9);
	one(w, "bastion_audit_acks_total", "counter",
	    "Durable acknowledgements (or failures) received from the audit process.",
	    st->audit_acks);
	prom_family(w, "bastion_audit_last_ack_timestamp_seconds", "gauge",
	    "When the latest ack came, seconds since the epoch; 0: none yet.");
	prom_sample_double(w, "bastion_audit_last_ack_timestamp_seconds", NULL, 0,
	    (double)st->audit_last_ack_wall_ns / 1e9);
	one(w, "bastion_audit_writable", "gauge",
	    "1 while the audit log takes lines; 0: logins and jumps are refused (disk full, "
	    "audit process behind or gone).", auditor_writable(b) ? 1 : 0);
	one(w, "bastion_roster_serial", "gauge", "Serial of the roster in use; 0: none.",
	    b->acc.has_roster ? b->acc.r.serial : 0);
	prom_family(w, "bastion_roster_expiry_timestamp_seconds", "gauge",
	    "When the roster in use expires, seconds since the epoch; 0: it never does, or none.");
	prom_sample_double(w, "bastion_roster_expiry_timestamp_seconds", NULL, 0,
	    b->acc.has_roster && b->acc.r.has_expires ? (double)b->acc.r.expires : 0);
	one(w, "bastion_roster_expired", "gauge",
	    "1 if the roster in use has expired: every new jump is refused until a newer one "
	    "arrives.", access_expired(&b->acc, (int64_t)time(NULL)) ? 1 : 0);
}
