/* Audit hooks: one audit line per decision, built from a session (and jump), written with
 * keys/lib/audit.h.  A failing audit write is logged; for jump_open it refuses the jump. */
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
/* jump_deny: target is the string asked for; t NULL if it names no node. */
void journal_jump_deny(struct bsession *s, const char *target, const struct access_target *t,
    int port, const char *reason);
/* jump_open (durable: fsync before the jump carries data).  0 or -errno. */
int journal_jump_open(struct relay *r);
void journal_jump_close(struct relay *r, uint64_t now_ns);

#endif
