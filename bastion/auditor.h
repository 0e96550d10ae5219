/* The auditor: a small process of its own that alone holds the audit signing key and the
 * audit log's file descriptor, forked by auditor_start() from bastion_open() before anything
 * else is opened (so it inherits no listener, host key or roster watch), and before the
 * network process drops its privileges (that is done right after auditor_start returns).
 * The network process reaches it over a socketpair with typed, length-prefixed messages
 * (bastion/auditor_proto.h): it may ask for events to be appended, nothing else.
 *
 * Network side: events are queued during a poll round and sent at its end (auditor_flush);
 * the auditor appends all it has read, fsyncs once for all that asked (group commit), then
 * acknowledges.  A jump is opened to the engineer only once its jump_open line is durable
 * (relay_audited).  If the auditor dies, the network process stops (auditor_dead); if the
 * network process dies or stops, the auditor writes a final checkpoint and exits. */
#ifndef BASTION_AUDITOR_H
#define BASTION_AUDITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "bastion/auditor_proto.h"

struct bastion;
struct bastion_config;
struct relay;

/* Forks the auditor (which reads or creates the audit key and opens the log) and waits for
 * it to say it is ready.  Sets b->aud.  0 or -errno with err naming what failed. */
int auditor_start(struct bastion *b, char *err, size_t errlen);
/* Queues one event (sent at the end of the poll round).  flags: AUDITOR_F_*.  With
 * AUDITOR_F_ACK, r (not NULL) waits for the answer: relay_audited(r, status) is called when
 * it comes (from auditor_process, never inside a libssh callback).  0, or -EPIPE if the
 * auditor is gone. */
int auditor_send(struct bastion *b, enum auditor_event e, unsigned flags,
    const struct audit_event *ev, struct relay *r);
/* A relay going away before its answer came: forget it (the answer is then ignored). */
void auditor_forget(struct bastion *b, struct relay *r);
/* End of a poll round: sends what the socket takes of the queue, never waiting (the rest goes
 * when the link is writable; only a queue of LINK_OUT_MAX bytes makes auditor_send wait).
 * Past LINK_OUT_HIGH queued bytes the auditor is "not keeping up" (one log line each way)
 * and auditor_writable() is false until the queue is empty. */
void auditor_flush(struct bastion *b);
/* Start of a round's bookkeeping: handles the answers read so far (acks, log state). */
void auditor_process(struct bastion *b);
/* false while the auditor reports that the log cannot be written (disk full), or while it is
 * not keeping up (above): logins and new jumps are refused meanwhile. */
bool auditor_writable(const struct bastion *b);
/* The link's backlog, for metrics: bytes queued and not yet sent, jumps waiting for their
 * ack and how long the oldest has waited (ns; 0 when none). */
struct auditor_stats {
	size_t queued_bytes;
	unsigned pending_acks;
	uint64_t oldest_pending_ns;
};
void auditor_stats_get(const struct bastion *b, uint64_t now_ns, struct auditor_stats *out);
/* true once the auditor has gone (the bastion must stop). */
bool auditor_dead(const struct bastion *b);
/* Sends what is left, closes the link and waits for the auditor's final checkpoint and
 * exit.  NULL link is fine. */
void auditor_stop(struct bastion *b);

/* The auditor process itself (auditor.c): serves fd until it closes; never returns. */
void auditor_main(int fd, const struct bastion_config *cfg) __attribute__((noreturn));

#endif
