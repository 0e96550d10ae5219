/* The bastion's shared state: the daemon, its SSH sessions and their jumps.  One thread, one
 * libssh event (ssh_event) polling every session socket, every target socket, the listeners,
 * the roster watch and the signal fd.  libssh calls back into ssh_server.c (auth, channels),
 * jump.c (direct-tcpip) and relay.c (channel data); nothing is freed inside a callback: dead
 * sessions and relays are reaped after each poll round (bastion_reap). */
#ifndef BASTION_BASTION_H
#define BASTION_BASTION_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "bastion/accept_guard.h"
#include "bastion/access.h"
#include "bastion/admission.h"
#include "bastion/chanwin.h"
#include "bastion/config.h"
#include "bastion/metrics.h"
#include "bastion/refusal.h"

enum {
	BASTION_USER_MAX = 64,		/* SSH user names longer than this are refused */
	BASTION_TARGET_MAX = 253,	/* direct-tcpip host strings longer than this are refused */
	BASTION_RELAY_BUF = 32768,	/* channel -> target bytes held by us per jump */
	BASTION_JUMPS_MAX = 4096,	/* open jumps, all sessions */
	BASTION_SESSION_JUMPS_MAX = 256,	/* open jumps per session */
	BASTION_SESSIONS_MAX = 2048,	/* connections at once, authenticated or not */
	BASTION_TICK_MS = 250,		/* timers: grace time, connect timeouts, checkpoints */
	/* engineer -> node bytes held for one session's jumps, by libssh and by us, past which
	 * the session is closed (a client that keeps to the windows reaches it only with more
	 * than 8 jumps at full speed into nodes that do not read). */
	BASTION_SESSION_HELD_MAX = 32 << 20,
	BASTION_CLOSE_WAIT_S = 30,	/* a jump we closed waits this long for the client's close */
};

#define BASTION_EXPLAIN "warren bastion: jump only. Use: ssh -J USER@BASTION NODE\r\n"

struct bsession;

/* AUDITING: connected, waiting for the auditor to say jump_open is durable.  CLOSING: the
 * node closed, everything it sent is written to the channel, EOF and close are sent; waiting
 * for the client's close (the SSH connection is the client's to end). */
enum relay_state { RELAY_CONNECTING, RELAY_AUDITING, RELAY_OPEN, RELAY_CLOSING, RELAY_DEAD };

struct relay {
	struct relay *next;		/* in the session's list */
	struct bsession *s;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	int fd;				/* target socket, -1 once closed */
	enum relay_state state;
	short want;			/* poll events wanted on fd */
	short have;			/* poll events registered with the ssh_event */
	bool registered;
	struct access_target t;
	bool opened;			/* jump_open was audited (jump_close follows) */
	uint64_t audit_id;		/* the jump_open whose ack this relay waits for */
	uint64_t audit_sent_ns;		/* when it was queued (metrics: the audit lag) */
	struct relay *audit_next;	/* in the auditor link's queue of relays waiting */
	uint64_t t_open_ns;
	uint64_t deadline_ns;		/* connect timeout, then the close wait */
	int64_t bytes_in;		/* engineer -> target */
	int64_t bytes_out;		/* target -> engineer */
	uint8_t *buf;			/* channel -> target bytes not yet written */
	size_t len, off, cap;		/* cap: BASTION_RELAY_BUF, more while draining libssh */
	struct chanwin win;		/* the channel's receive window; win.held[0]: in libssh */
	uint8_t *obuf;			/* target -> channel bytes libssh did not take yet */
	size_t olen, ooff;
	bool writing;			/* inside ssh_channel_write (which may poll, see relay.c) */
	bool client_eof, target_eof, target_shut;
	const char *reason;		/* why it closes (static string) */
};

enum bsession_state { BSESSION_KEX, BSESSION_AUTH, BSESSION_READY, BSESSION_DEAD };

struct bsession {
	struct bsession *next, *prev;
	struct bastion *b;
	ssh_session ssh;
	bool in_event;
	bool writing;			/* out of the event while we write (bsession_write_begin) */
	struct ssh_server_callbacks_struct scb;
	struct ssh_channel_callbacks_struct ccb;	/* the "session" channel, if any */
	ssh_channel info_ch;		/* session channel: gets the explanation, then closes */
	struct chanwin info_win;	/* its window: data on it is dropped, past it closes */
	bool info_pending;
	bool info_done;			/* the explanation was sent and the channel closed */
	enum bsession_state state;
	char id[17];			/* 16 hex: ties this connection's audit lines */
	char src[INET6_ADDRSTRLEN];
	int src_port;
	struct admission_source net;	/* its source block, for admission */
	bool exempt;			/* its address is in PerSourcePenaltyExemptList */
	bool auth_tried;		/* offered a key or a password (penalty: authfail) */
	bool grace_exceeded;		/* closed at LoginGraceTime */
	uint64_t t_start_ns;
	char engineer[ROSTER_NAME_MAX + 1];	/* set once authenticated */
	char fp[51];
	uint8_t *key_blob;		/* the accepted key, re-checked on every roster change */
	size_t key_len;
	bool cert;			/* key_blob is a certificate of the roster's engineer CA */
	uint64_t cert_serial;
	int64_t cert_valid_before;	/* Unix seconds: the session closes then */
	unsigned auth_failures;
	unsigned refusals;		/* refused requests so far (refusal.h) */
	bool audit_told;		/* told the audit log cannot be written */
	struct relay *relays;
	unsigned n_relays;
	const char *reason;		/* why it is being closed */
};

struct bastion {
	struct bastion_config cfg;
	ssh_event ev;
	struct blistener {
		struct bastion *b;
		ssh_bind bind;
		int fd;
		struct accept_guard guard;	/* out of descriptors: shed and pause */
	} listeners[BASTION_LISTEN_MAX];
	size_t n_listeners;
	int reserve_fd;			/* /dev/null, given up to shed connections (accept_guard) */
	ssh_key host_key;
	struct access acc;
	struct roster_expiry_tracker expiry;	/* the roster's expiry state, as last logged */
	struct access_until until;	/* when open jumps are checked against until */
	int64_t cert_next;		/* earliest valid-before of certificate sessions, or
					 * INT64_MAX (cert_check) */
	struct auditor_link *aud;	/* bastion/auditor.h: the audit process */
	struct admission adm;
	struct refusals refusals;
	struct bastion_stats stats;	/* bastion/metrics.h */
	struct metrics_http *metrics;	/* the MetricsListen endpoint, or NULL */
	struct bsession *sessions;
	unsigned n_sessions, n_unauth, n_relays;
	int sig_fd;
	bool stop;
	bool dirty;			/* a relay's poll events or a session's state changed */
	bool acc_changed;		/* the roster file changed (inotify or SIGHUP) */
	bool reloading;			/* SIGHUP: READY=1 once the roster is re-read */
};

uint64_t bastion_now_ns(void);

/* ssh_server.c */
int bastion_open(struct bastion *b, char *err, size_t errlen);
int bastion_run(struct bastion *b);
/* Tells systemd (Type=notify) that the bastion serves: its listeners are bound, the audit
 * process is up and the network process is sandboxed.  Also after each SIGHUP reload. */
void bastion_notify_ready(const struct bastion *b);
void bastion_close(struct bastion *b);
/* Marks s for closing (disconnect at the next reap); reason is a static string. */
void bsession_kill(struct bsession *s, const char *reason);
/* Counts one refused request of an authenticated session (refusal.h).  true: the caller may
 * audit it; false: that was one too many, the session is closed and was audited once here (or
 * s is not authenticated: nothing to audit). */
bool bsession_refused(struct bsession *s);
/* Before a libssh write on s's channels (after the poll round only): s leaves the event until
 * the end of the round, so that the write's flush polls only s's socket. */
void bsession_write_begin(struct bsession *s);
/* Audits session_deny reason and closes s: the client broke flow control (window, budget). */
void bsession_flow_violation(struct bsession *s, const char *reason);

/* jump.c: a direct-tcpip open request; returns 0 if handled (accepted or refused). */
int jump_request(struct bsession *s, ssh_message msg);
/* Re-checks every open jump of an authenticated session against the current roster at now
 * (Unix seconds): a revoked one closes as "access revoked", one whose allow line's until has
 * passed as "access expired". */
void jump_recheck(struct bsession *s, int64_t now);

/* relay.c */
struct relay *relay_start(struct bsession *s, ssh_channel ch, const struct access_target *t,
    const char **why);
void relay_kill(struct relay *r, const char *reason);
/* The auditor's answer for r's jump_open: 0 (durable: the jump opens) or -errno (refused). */
void relay_audited(struct relay *r, int status);
/* After each poll round: applies wanted poll events, connect timeouts, frees dead relays. */
void relay_sync(struct bsession *s, uint64_t now_ns);
/* Engineer -> node bytes held for s's jumps (in libssh and in our buffers), for the budget. */
size_t relay_session_held(const struct bsession *s);
/* Frees every relay of s (session going away), auditing their close. */
void relay_free_all(struct bsession *s, const char *reason);

#endif
