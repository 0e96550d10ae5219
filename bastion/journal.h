/* Audit hooks: one audit line per decision, built from a session (and jump), sent to the
 * auditor process (bastion/auditor.h), which writes it.  jump_open waits for the auditor's
 * answer (relay_audited); a failure refuses the jump. */
#ifndef BASTION_JOURNAL_H
#define BASTION_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

struct bastion;
struct bsession;
struct relay;
struct access_target;

/* start, stop, config_reload (serial -1: none, reason NULL: none). */
void journal_daemon(struct bastion *b, const char *event, int64_t serial, const char *reason);
/* auth_accept, auth_reject, session_deny: user is the engineer (or the claimed user name). */
void journal_session(struct bsession *s, const char *event, const char *user, const char *fp,
    const char *reason);
/* cert_accept: a certificate accepted (its serial; fingerprint: the certified key's). */
void journal_cert_accept(struct bsession *s, uint64_t serial);
/* jump_deny: target is the string asked for; t NULL if it names no node. */
void journal_jump_deny(struct bsession *s, const char *target, const struct access_target *t,
    int port, const char *reason);
/* jump_open: queued with a request for an ack once durable (relay_audited(r) follows).
 * 0 or -errno (the auditor is gone). */
int journal_jump_open(struct relay *r);
void journal_jump_close(struct relay *r, uint64_t now_ns);

#endif
