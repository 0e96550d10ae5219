/* Jumps: a direct-tcpip open request (what ssh -J and ssh -W send) is checked against the
 * roster -- the target must be a node (by name or overlay address) that the engineer may reach
 * on that port, or a host inside a node's routed subnet that a prefix allow line covers -- then
 * accepted and connected to that address over the overlay. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bastion/auditor.h"
#include "bastion/bastion.h"
#include "bastion/journal.h"
#include "bastion/log.h"

int jump_request(struct bsession *s, ssh_message msg)
{
	struct bastion *b = s->b;
	const char *host = ssh_message_channel_request_open_destination(msg);
	int port = ssh_message_channel_request_open_destination_port(msg);
	struct access_target t;
	const char *reason = NULL, *why = NULL;
	char shown[BASTION_TARGET_MAX + 1];
	bool resolved = false;
	ssh_channel ch;

	if (s->state != BSESSION_READY)
		return 1;
	if (!auditor_writable(b))
		reason = "audit log unavailable";	/* fail closed: it could not be recorded */
	else if (access_expired(&b->acc, (int64_t)time(NULL)))
		reason = "roster expired";	/* fail closed: it may hide a revocation */
	else if (!host || strnlen(host, BASTION_TARGET_MAX + 1) > BASTION_TARGET_MAX) {
		reason = "bad target";
		host = NULL;
	} else if (port < 1 || port > 65535)
		reason = "bad port";
	else if (!(resolved = access_target_resolve(&b->acc, host, (uint16_t)port, &t)))
		reason = "unknown target";
	else if (!access_allows(&b->acc, s->engineer, &t, (int64_t)time(NULL)))
		reason = access_allows(&b->acc, s->engineer, &t, INT64_MIN) ? "access expired" :
		    "not allowed";
	else if (s->n_relays >= BASTION_SESSION_JUMPS_MAX || b->n_relays >= BASTION_JUMPS_MAX)
		reason = "too many jumps";
	snprintf(shown, sizeof(shown), "%s", host ? host : "");
	if (reason) {
		b->stats.jumps[bastion_jump_result_of(reason)]++;
		/* Past the refusal limits the session closes instead (audited once). */
		if (!bsession_refused(s))
			return 1;
		journal_jump_deny(s, host, resolved ? &t : NULL, port, reason);
		blog_info_rl("session %s: jump denied: %s to %.100s port %d: %s", s->id,
		    s->engineer, shown, port, reason);
		return 1;	/* open failure: administratively prohibited, nothing more */
	}
	ch = ssh_message_channel_request_open_reply_accept(msg);
	if (!ch)
		return 0;
	if (!relay_start(s, ch, &t, &why)) {
		b->stats.jumps[bastion_jump_result_of(why)]++;
		if (bsession_refused(s))
			journal_jump_deny(s, host, &t, port, why);
		ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	return 0;
}

void jump_recheck(struct bsession *s, int64_t now)
{
	struct relay *r;

	for (r = s->relays; r; r = r->next) {
		if (r->state == RELAY_DEAD || access_allows(&s->b->acc, s->engineer, &r->t, now))
			continue;
		/* Granted at all, but not now: its allow line's until has passed. */
		relay_kill(r, access_allows(&s->b->acc, s->engineer, &r->t, INT64_MIN) ?
		    "access expired" : "access revoked");
	}
}
