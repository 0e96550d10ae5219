/* The SSH side: listeners, sessions, public-key authentication against the roster, the one
 * event loop, and the refusal of everything that is not a jump.  libssh runs non-blocking: every
 * socket is in one ssh_event; nothing is freed inside a libssh callback (bastion_reap does it
 * after the poll round). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bastion/auditor.h"
#include "bastion/bastion.h"
#include "bastion/journal.h"
#include "bastion/log.h"
#include "bastion/metrics_http.h"
#include "bastion/sandbox.h"
#include "bastion/statedir.h"
#include "common/notify.h"
#include "keys/lib/audit.h"
#include "keys/lib/key.h"

#define KEX_ALGOS "curve25519-sha256,curve25519-sha256@libssh.org"
#define CIPHERS "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com"
#define MACS "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com"
/* Certificates of the roster's engineer CA (access_cert_match), then plain keys. */
#define USER_KEY_ALGOS "ssh-ed25519-cert-v01@openssh.com," \
	"ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com," \
	"ecdsa-sha2-nistp521-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com," \
	"rsa-sha2-256-cert-v01@openssh.com," \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," \
	"ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256"

uint64_t bastion_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bsession_kill(struct bsession *s, const char *reason)
{
	if (s->state == BSESSION_DEAD)
		return;
	if (s->state != BSESSION_READY) {
		/* Never authenticated: the source earns its penalty (PerSourcePenalties). */
		s->b->n_unauth--;
		if (!s->exempt)
			admission_done(&s->b->adm, &s->net, s->grace_exceeded ?
			    ADMISSION_GRACE_EXCEEDED : s->auth_tried ? ADMISSION_AUTHFAIL :
			    ADMISSION_NOAUTH, bastion_now_ns());
	}
	s->state = BSESSION_DEAD;
	s->reason = reason;
	s->b->dirty = true;
}

bool bsession_refused(struct bsession *s)
{
	const char *why;

	if (s->state != BSESSION_READY)
		return false;
	s->b->stats.requests_refused++;
	why = refusals_take(&s->b->refusals, s->engineer, &s->refusals, bastion_now_ns());
	if (!why)
		return true;
	s->b->stats.sessions_closed_refusals++;
	journal_session(s, "session_deny", NULL, NULL, why);
	blog_info("session %s: %s from %s port %d: closing: %s", s->id, s->engineer, s->src,
	    s->src_port, why);
	bsession_kill(s, why);
	return false;
}

/* Every libssh channel write flushes, and a flush the socket cannot take at once polls: the
 * whole ssh_event if the session is in it, and there any other connection that closed makes
 * libssh mark this session failed (ssh_handle_packets sets SSH_SESSION_STATE_ERROR when the
 * poll reports a closed socket, whichever it is): under load, jumps lost what the node had
 * sent.  So a session leaves the event while we write to it, polling only its own socket. */
void bsession_write_begin(struct bsession *s)
{
	if (!s->in_event)
		return;
	ssh_event_remove_session(s->b->ev, s->ssh);
	s->in_event = false;
	s->writing = true;
}

static void write_end(struct bsession *s)
{
	if (!s->writing)
		return;
	s->writing = false;
	if (ssh_event_add_session(s->b->ev, s->ssh) == SSH_OK)
		s->in_event = true;
	else
		bsession_kill(s, "out of memory");
}

void bsession_flow_violation(struct bsession *s, const char *reason)
{
	if (s->state == BSESSION_DEAD)
		return;
	journal_session(s, "session_deny", NULL, NULL, reason);
	blog_info("session %s: %s from %s port %d: %s: closing", s->id,
	    s->state == BSESSION_READY ? s->engineer : "-", s->src, s->src_port, reason);
	bsession_kill(s, reason);
}

/* "SHA256:..." of a key blob, as ssh-keygen -l prints it. */
static void blob_fingerprint(const uint8_t *blob, size_t len, char fp[51])
{
	struct roster_ssh_key k = { .blob = (uint8_t *)blob, .blob_len = len };

	roster_ssh_key_fingerprint(&k, fp);
}

/* A bounded, printable copy of a client-chosen user name for logs. */
static void user_copy(char *dst, size_t dstlen, const char *user)
{
	size_t i;

	for (i = 0; user[i] && i + 1 < dstlen && i < BASTION_USER_MAX; i++)
		dst[i] = (user[i] > 0x20 && user[i] < 0x7f) ? user[i] : '?';
	dst[i] = '\0';
}

/* One refused authentication attempt (a key offered or signed, a password): audited, counted
 * against MaxAuthTries.  The source is charged only when the connection ends without
 * authenticating (bsession_kill), so the keys an agent offers before the right one cost
 * nothing once it succeeds. */
static void audit_unavailable(struct bsession *s);

static void auth_failed(struct bsession *s, const char *user, const char *fp, const char *why)
{
	struct bastion *b = s->b;
	char shown[BASTION_USER_MAX + 1];

	user_copy(shown, sizeof(shown), user ? user : "");
	b->stats.auth[bastion_auth_result_of(why)]++;
	/* While the log cannot take lines (full, or the auditor behind) every login is refused
	 * anyway: an unauthenticated client must not be able to keep adding to the queue. */
	if (auditor_writable(b))
		journal_session(s, "auth_reject", user, fp, why);
	else
		audit_unavailable(s);
	blog_info("session %s: rejected %s for %s from %s port %d: %s", s->id, fp ? fp : "-",
	    shown, s->src, s->src_port, why);
	s->auth_tried = true;
	s->auth_failures++;
	if (s->auth_failures >= b->cfg.max_auth_tries)
		bsession_kill(s, "too many authentication failures");
}

/* Fail closed: no login that the audit log cannot record.  The client is told once (a
 * userauth banner, which OpenSSH prints), the operator by the auditor's one log line. */
static void audit_unavailable(struct bsession *s)
{
	static const char msg[] = "warren bastion: the audit log cannot be written; logins are "
	    "refused until it can. Tell the bastion's operator.\r\n";
	ssh_string banner;

	if (s->audit_told)
		return;
	s->audit_told = true;
	banner = ssh_string_from_char(msg);
	if (banner)
		ssh_send_issue_banner(s->ssh, banner);
	ssh_string_free(banner);
}

static int on_auth_pubkey(ssh_session ss, const char *user, struct ssh_key_struct *key,
    char state, void *ud)
{
	struct bsession *s = ud;
	const struct roster_engineer *e = NULL;
	static uint8_t bl[ROSTER_SSH_BLOB_MAX];
	char *b64 = NULL;
	char fp[51] = "", why[SSH_CERT_WHY_MAX + 32], cert_why[SSH_CERT_WHY_MAX];
	struct ssh_cert cert;
	bool is_cert;
	size_t blen;
	int ret = SSH_AUTH_DENIED;

	(void)ss;
	if (s->state == BSESSION_DEAD || s->state == BSESSION_READY)
		return SSH_AUTH_DENIED;
	if (!auditor_writable(s->b)) {
		s->b->stats.auth[BAUTH_AUDIT_UNAVAILABLE]++;
		audit_unavailable(s);
		return SSH_AUTH_DENIED;
	}
	/* The key blob, as the roster stores it (libssh exports it only as base64). */
	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || !b64)
		return SSH_AUTH_DENIED;
	if (sodium_base642bin(bl, sizeof(bl), b64, strlen(b64), NULL, &blen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	/* A certificate is named by the key it certifies, as sshd and ssh-keygen -l do. */
	is_cert = ssh_cert_is_cert(bl, blen);
	if (!is_cert)
		blob_fingerprint(bl, blen, fp);
	else if (ssh_cert_parse(&cert, bl, blen, cert_why, sizeof(cert_why)))
		ssh_cert_key_fingerprint(&cert, fp);
	if (strnlen(user, BASTION_USER_MAX + 1) > BASTION_USER_MAX) {
		auth_failed(s, user, fp[0] ? fp : NULL, "user name too long");
		goto out;
	}
	if (is_cert) {
		e = access_cert_match(&s->b->acc, user, bl, blen, (int64_t)time(NULL), &cert, fp,
		    why, sizeof(why));
		if (!e) {
			auth_failed(s, user, fp[0] ? fp : NULL, why);
			goto out;
		}
	} else {
		e = access_engineer_match(&s->b->acc, user, bl, blen, fp);
		if (!e) {
			auth_failed(s, user, fp, roster_engineer_find(&s->b->acc.r, user) &&
			    s->b->acc.has_roster ? "key not in roster" : "unknown engineer");
			goto out;
		}
	}
	if (state == SSH_PUBLICKEY_STATE_NONE) {
		ret = SSH_AUTH_SUCCESS;		/* "this key would do": the client signs next */
		goto out;
	}
	if (state != SSH_PUBLICKEY_STATE_VALID) {
		auth_failed(s, user, fp, "bad signature");
		goto out;
	}
	s->key_blob = malloc(blen);
	if (!s->key_blob)
		goto out;
	memcpy(s->key_blob, bl, blen);
	s->key_len = blen;
	snprintf(s->engineer, sizeof(s->engineer), "%s", e->name);
	memcpy(s->fp, fp, sizeof(s->fp));
	s->state = BSESSION_READY;
	s->b->n_unauth--;
	s->b->stats.auth[BAUTH_ACCEPTED]++;
	if (is_cert) {
		char until[32];

		s->cert = true;
		s->cert_serial = cert.serial;
		s->cert_valid_before = cert.valid_before > (uint64_t)INT64_MAX ? INT64_MAX :
		    (int64_t)cert.valid_before;
		if (s->cert_valid_before < s->b->cert_next)
			s->b->cert_next = s->cert_valid_before;
		/* The fingerprint is the certified key's, as for a key; the serial says which
		 * certificate (keys engineer cert logs each one it signs). */
		journal_cert_accept(s, s->cert_serial);
		roster_time_text(until, s->cert_valid_before);
		blog_info("session %s: accepted certificate serial %llu for %s from %s port %d %s, "
		    "valid until %s", s->id, (unsigned long long)s->cert_serial, s->engineer, s->src,
		    s->src_port, s->fp, until);
	} else {
		journal_session(s, "auth_accept", NULL, NULL, NULL);
		blog_info("session %s: accepted publickey for %s from %s port %d %s", s->id,
		    s->engineer, s->src, s->src_port, s->fp);
	}
	ret = SSH_AUTH_SUCCESS;
out:
	ssh_string_free_char(b64);
	return ret;
}

static int on_auth_password(ssh_session ss, const char *user, const char *password, void *ud)
{
	(void)ss;
	(void)password;
	auth_failed(ud, user, NULL, "password refused");
	return SSH_AUTH_DENIED;
}

/* Data on the session channel: nobody reads it, so it is dropped as it comes; the window is
 * still ours to enforce (libssh re-opens it as it empties). */
static int on_info_data(ssh_session ss, ssh_channel ch, void *data, uint32_t len, int is_stderr,
    void *ud)
{
	struct bsession *s = ud;

	(void)ss;
	(void)ch;
	(void)data;
	if (!chanwin_recv(&s->info_win, len, is_stderr))
		bsession_flow_violation(s, "channel window exceeded");
	chanwin_left(&s->info_win, 0, is_stderr);
	return (int)len;
}

/* A "session" channel: one at a time (ssh bastion, also through a ControlMaster connection,
 * which opens one per command); a finished one makes room. */
static bool info_open(struct bsession *s, ssh_message msg)
{
	if (s->info_ch) {
		if (ssh_channel_is_open(s->info_ch) && !s->info_done)
			return false;
		ssh_remove_channel_callbacks(s->info_ch, &s->ccb);
		ssh_channel_free(s->info_ch);
		s->info_ch = NULL;
	}
	s->info_ch = ssh_message_channel_request_open_reply_accept(msg);
	if (!s->info_ch)
		return true;
	s->info_done = false;
	chanwin_init(&s->info_win);
	ssh_callbacks_init(&s->ccb);
	s->ccb.userdata = s;
	s->ccb.channel_data_function = on_info_data;
	ssh_set_channel_callbacks(s->info_ch, &s->ccb);
	return true;
}

/* Everything on a "session" channel is refused; "ssh bastion" gets one line of help. */
static int session_channel_request(struct bsession *s, ssh_message msg)
{
	int sub = ssh_message_subtype(msg);
	const char *why = NULL;

	switch (sub) {
	case SSH_CHANNEL_REQUEST_PTY:
	case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
		ssh_message_channel_request_reply_success(msg);
		return 0;	/* harmless, and spares the client a warning */
	case SSH_CHANNEL_REQUEST_ENV:
		bsession_refused(s);	/* refused without a word, but counted */
		return 1;
	case SSH_CHANNEL_REQUEST_SHELL:
		if (!bsession_refused(s))
			return 1;
		ssh_message_channel_request_reply_success(msg);
		journal_session(s, "session_deny", NULL, NULL, "shell");
		s->info_pending = true;
		s->b->dirty = true;
		return 0;
	case SSH_CHANNEL_REQUEST_EXEC:
		why = "exec";
		break;
	case SSH_CHANNEL_REQUEST_SUBSYSTEM:
		why = "subsystem";
		break;
	case SSH_CHANNEL_REQUEST_X11:
		why = "x11 forwarding";
		break;
	default:
		why = "channel request";
		break;
	}
	if (!bsession_refused(s))
		return 1;
	journal_session(s, "session_deny", NULL, NULL, why);
	if (sub == SSH_CHANNEL_REQUEST_EXEC || sub == SSH_CHANNEL_REQUEST_SUBSYSTEM) {
		s->info_pending = true;
		s->b->dirty = true;
	}
	return 1;
}

static int on_message(ssh_session ss, ssh_message msg, void *ud)
{
	struct bsession *s = ud;
	int type = ssh_message_type(msg), sub = ssh_message_subtype(msg);

	(void)ss;
	if (s->state == BSESSION_DEAD)
		return 1;
	switch (type) {
	case SSH_REQUEST_AUTH:
		if (sub == SSH_AUTH_METHOD_INTERACTIVE)
			auth_failed(s, ssh_message_auth_user(msg), NULL,
			    "keyboard-interactive refused");
		ssh_message_auth_set_methods(msg, SSH_AUTH_METHOD_PUBLICKEY);
		return 1;
	case SSH_REQUEST_CHANNEL_OPEN:
		if (s->state != BSESSION_READY)
			return 1;
		if (sub == SSH_CHANNEL_DIRECT_TCPIP)
			return jump_request(s, msg);
		if (sub == SSH_CHANNEL_SESSION && info_open(s, msg))
			return 0;
		if (bsession_refused(s))
			journal_session(s, "session_deny", NULL, NULL, sub == SSH_CHANNEL_SESSION ?
			    "second session channel" : "channel type");
		return 1;
	case SSH_REQUEST_CHANNEL:
		if (s->state != BSESSION_READY)
			return 1;
		return session_channel_request(s, msg);
	case SSH_REQUEST_GLOBAL:
		/* Forwarding requests are refused and counted; keepalives and the requests that
		 * want no reply (OpenSSH's no-more-sessions) are a client's normal traffic. */
		if (s->state == BSESSION_READY && (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD ||
		    sub == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD) && bsession_refused(s))
			journal_session(s, "session_deny", NULL, NULL, "remote forwarding");
		return 1;
	default:
		return 1;	/* service requests and the rest: libssh's default reply */
	}
}

/* After a shell/exec request on the session channel: the help line, then close. */
static void explain(struct bsession *s)
{
	ssh_channel ch = s->info_ch;

	s->info_pending = false;
	if (!ch || !ssh_channel_is_open(ch) || s->info_done)
		return;
	s->info_done = true;
	bsession_write_begin(s);
	ssh_channel_write(ch, BASTION_EXPLAIN, (uint32_t)strlen(BASTION_EXPLAIN));
	ssh_channel_request_send_exit_status(ch, 1);
	ssh_channel_send_eof(ch);
	ssh_channel_close(ch);
}

static void peer_addr(struct bsession *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	strcpy(s->src, "?");
	memset(&s->net, 0, sizeof(s->net));
	if (getpeername(ssh_get_fd(s->ssh), (struct sockaddr *)&ss, &sl) < 0)
		return;
	admission_source_of(&s->b->adm, (struct sockaddr *)&ss, &s->net);
	s->exempt = admission_exempt(&s->b->adm, (struct sockaddr *)&ss);
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, s->src, sizeof(s->src));
		s->src_port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, s->src, sizeof(s->src));
		s->src_port = ntohs(sin6->sin6_port);
	}
}

/* Whether a new connection may start; logs a refusal (at most once a second, counting the
 * rest: a flood of refused connections must not flood the log). */
static bool admit(struct bastion *b, struct bsession *s)
{
	const struct bsession *o;
	unsigned same = 0, left;
	unsigned long skipped;
	const char *why = NULL;

	/* A session killed before it authenticated keeps its socket open until reap() frees it
	 * after this poll round: it still counts, or for that moment one source would hold one
	 * connection more than PerSourceMaxStartups (CI saw 17 of 16). */
	for (o = b->sessions; o; o = o->next)
		if ((o->state == BSESSION_KEX || o->state == BSESSION_AUTH ||
		    (o->state == BSESSION_DEAD && !o->key_blob)) &&
		    memcmp(&o->net, &s->net, sizeof(s->net)) == 0)
			same++;
	if (b->n_sessions >= BASTION_SESSIONS_MAX)
		why = "too many connections";
	else
		why = admission_check(&b->adm, &s->net, b->n_unauth, same, s->t_start_ns,
		    randombytes_uniform(100));
	if (!why)
		return true;
	b->stats.admission_refused[bastion_admission_result_of(why)]++;
	if (admission_log_due(&b->adm, s->t_start_ns, &skipped)) {
		left = admission_penalty_left(&b->adm, &s->net, s->t_start_ns);
		if (strcmp(why, "PerSourcePenalties") == 0)
			blog_warn("refused connection from %s port %d: PerSourcePenalties "
			    "(%u s left); %lu more refused in the last second", s->src, s->src_port,
			    left, skipped);
		else
			blog_warn("refused connection from %s port %d: %s (%u unauthenticated, %u "
			    "from this source); %lu more refused in the last second", s->src,
			    s->src_port, why, b->n_unauth, same, skipped);
	}
	return false;
}

static void session_free(struct bsession *s)
{
	struct bastion *b = s->b;

	relay_free_all(s, s->reason ? s->reason : "session closed");
	if (s->info_ch) {
		ssh_remove_channel_callbacks(s->info_ch, &s->ccb);
		ssh_channel_free(s->info_ch);
	}
	if (s->in_event)
		ssh_event_remove_session(b->ev, s->ssh);
	ssh_disconnect(s->ssh);
	ssh_free(s->ssh);
	if (s->next)
		s->next->prev = s->prev;
	if (s->prev)
		s->prev->next = s->next;
	else
		b->sessions = s->next;
	b->n_sessions--;
	free(s->key_blob);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static int on_listen(socket_t fd, int revents, void *ud)
{
	struct blistener *l = ud;
	struct bastion *b = l->b;
	struct bsession *s;
	ssh_session ss;
	uint8_t rnd[8];
	int cfd;

	(void)fd;
	if (!(revents & POLLIN))
		return 0;
	ss = ssh_new();
	if (!ss)
		return 0;
	/* Our own accept(), so that its errno is ours to judge; libssh takes the socket. */
	cfd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		b->stats.admission_refused[BADMIT_OUT_OF_DESCRIPTORS] +=
		    accept_guard_failed(b, &l->guard, errno);
		ssh_free(ss);
		return 0;
	}
	if (ssh_bind_accept_fd(l->bind, ss, cfd) != SSH_OK) {
		blog_info_rl("accept failed: %s", ssh_get_error(l->bind));
		close(cfd);
		ssh_free(ss);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		blog_warn_rl("out of memory for a new connection: closed");
		ssh_free(ss);
		return 0;
	}
	s->b = b;
	s->ssh = ss;
	s->t_start_ns = bastion_now_ns();
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(s->id, sizeof(s->id), rnd, sizeof(rnd));
	peer_addr(s);
	if (!admit(b, s)) {
		ssh_free(ss);
		free(s);
		return 0;
	}
	s->state = BSESSION_KEX;
	s->next = b->sessions;
	if (s->next)
		s->next->prev = s;
	b->sessions = s;
	b->n_sessions++;
	b->n_unauth++;
	b->stats.connections++;
	ssh_set_blocking(ss, 0);
	ssh_callbacks_init(&s->scb);
	s->scb.userdata = s;
	s->scb.auth_pubkey_function = on_auth_pubkey;
	s->scb.auth_password_function = on_auth_password;
	ssh_set_server_callbacks(ss, &s->scb);
	ssh_set_auth_methods(ss, SSH_AUTH_METHOD_PUBLICKEY);
	ssh_set_message_callback(ss, on_message, s);
	/* Non-blocking: sends our banner and returns; the key exchange goes on in the event. */
	if (ssh_handle_key_exchange(ss) == SSH_ERROR ||
	    ssh_event_add_session(b->ev, ss) != SSH_OK) {
		blog_info_rl("session %s: from %s port %d: key exchange failed: %s", s->id, s->src,
		    s->src_port, ssh_get_error(ss));
		bsession_kill(s, "key exchange failed");
		return 0;
	}
	s->in_event = true;
	blog_debug("session %s: connection from %s port %d", s->id, s->src, s->src_port);
	return 0;
}

/* Whether an authenticated session's credential still admits it under the roster now in use:
 * its key still the engineer's, or its certificate still from the roster's engineer CA (the
 * engineer still listed).  The certificate's own validity is cert_check's business. */
static bool session_still_admitted(struct bastion *b, struct bsession *s, char fp[51])
{
	struct ssh_cert cert;
	char why[SSH_CERT_WHY_MAX + 32];

	if (!s->cert)
		return access_engineer_match(&b->acc, s->engineer, s->key_blob, s->key_len, fp);
	return access_cert_match(&b->acc, s->engineer, s->key_blob, s->key_len,
	    s->cert_valid_before - 1, &cert, fp, why, sizeof(why)) != NULL;
}

static void roster_changed(struct bastion *b)
{
	struct bsession *s;
	char why[256], fp[51];

	if (!access_reload(&b->acc, why, sizeof(why))) {
		if (why[0])
			blog_warn("roster %s refused (keeping serial %llu): %s", b->acc.path,
			    (unsigned long long)b->acc.r.serial, why);
		return;
	}
	blog_info("roster serial %llu applied", (unsigned long long)b->acc.r.serial);
	journal_daemon(b, "config_reload", (int64_t)b->acc.r.serial, NULL);
	for (s = b->sessions; s; s = s->next) {
		if (s->state != BSESSION_READY)
			continue;
		if (!session_still_admitted(b, s, fp)) {
			blog_info("session %s: %s no longer in the roster with this %s: closing",
			    s->id, s->engineer, s->cert ? "certificate's CA" : "key");
			journal_session(s, "session_deny", NULL, NULL, "access revoked");
			bsession_kill(s, "access revoked");
			continue;
		}
		jump_recheck(s, (int64_t)time(NULL));
	}
	access_until_reset(&b->until);
}

/* At a certificate's valid-before its session closes ("certificate expired"), jumps and all:
 * a certificate grants a window of time, not a connection that outlives it.  cert_next is
 * the earliest valid-before of the open certificate sessions. */
static void cert_check(struct bastion *b)
{
	int64_t now = (int64_t)time(NULL), next = INT64_MAX;
	struct bsession *s;

	if (now < b->cert_next)
		return;
	for (s = b->sessions; s; s = s->next) {
		if (s->state != BSESSION_READY || !s->cert)
			continue;
		if (now >= s->cert_valid_before) {
			blog_info("session %s: %s's certificate serial %llu expired: closing", s->id,
			    s->engineer, (unsigned long long)s->cert_serial);
			journal_session(s, "session_deny", NULL, NULL, "certificate expired");
			bsession_kill(s, "certificate expired");
		} else if (s->cert_valid_before < next) {
			next = s->cert_valid_before;
		}
	}
	b->cert_next = next;
}

/* When an allow line's until passes, the jumps it carried close ("access expired"). */
static void until_check(struct bastion *b)
{
	int64_t now = (int64_t)time(NULL);
	struct bsession *s;

	if (!access_until_due(&b->until, &b->acc, now))
		return;
	for (s = b->sessions; s; s = s->next)
		if (s->state == BSESSION_READY)
			jump_recheck(s, now);
}

static int on_inotify(socket_t fd, int revents, void *ud)
{
	struct bastion *b = ud;

	(void)fd;
	(void)revents;
	if (access_watch_drain(&b->acc))
		b->dirty = true, b->acc_changed = true;
	return 0;
}

static int on_signal(socket_t fd, int revents, void *ud)
{
	struct bastion *b = ud;
	struct signalfd_siginfo si;

	(void)revents;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (!b->reloading)
				notify_reloading("re-reading the roster");
			b->acc_changed = b->reloading = true;
		} else {
			if (!b->stop)
				notify_stopping("stopping");
			b->stop = true;
		}
	}
	return 0;
}

/* Reads (or, when missing, creates) the host key into b->host_key.  Read with
 * key_secret_file_read: not blocking, so a FIFO or device in its place is refused with its name
 * instead of hanging start-up; libssh then gets the key, never the path (it would open the file
 * again, blocking, at ssh_bind_listen). */
static int host_key_ensure(struct bastion *b, char *err, size_t errlen)
{
	enum { HOST_KEY_FILE_MAX = 16384 };	/* an OpenSSH RSA-8192 key is under 7 KiB */
	const char *path = b->cfg.host_key_file;
	ssh_key key = NULL, pub = NULL;
	unsigned char *hash = NULL;
	char *text = NULL;
	size_t hlen = 0, len = 0;
	char *fp = NULL;
	mode_t old;
	int ret;

	text = malloc(HOST_KEY_FILE_MAX + 1);
	if (!text)
		return -ENOMEM;
	ret = key_secret_file_read(path, "host key", true, text, HOST_KEY_FILE_MAX + 1, &len, err,
	    errlen);
	if (ret == 0) {
		if (len > HOST_KEY_FILE_MAX) {
			snprintf(err, errlen, "%.200s: larger than %d bytes", path, HOST_KEY_FILE_MAX);
			ret = -EFBIG;
			goto out;
		}
		text[len] = '\0';
		if (ssh_pki_import_privkey_base64(text, NULL, NULL, NULL, &key) != SSH_OK) {
			snprintf(err, errlen, "%.200s: cannot read the host key", path);
			ret = -EINVAL;
			goto out;
		}
	} else if (ret == -ENOENT) {
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
			snprintf(err, errlen, "cannot generate a host key");
			ret = -EIO;
			goto out;
		}
		old = umask(077);
		ret = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
		umask(old);
		if (ret != SSH_OK) {
			snprintf(err, errlen, "%.200s: cannot write the host key", path);
			ret = -EIO;
			goto out;
		}
		chmod(path, 0600);
		blog_info("created host key %s", path);
	} else {
		goto out;	/* err names the file and what is wrong */
	}
	if (ssh_key_type(key) != SSH_KEYTYPE_ED25519) {
		snprintf(err, errlen, "%.200s: not an Ed25519 key (the only host key type offered)",
		    path);
		ret = -EINVAL;
		goto out;
	}
	if (ssh_pki_export_privkey_to_pubkey(key, &pub) == SSH_OK &&
	    ssh_get_publickey_hash(pub, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
		blog_info("host key %s ED25519", fp ? fp : "?");
	}
	b->host_key = key;
	key = NULL;
	ret = 0;
out:
	if (text) {
		sodium_memzero(text, HOST_KEY_FILE_MAX + 1);
		free(text);
	}
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(pub);
	ssh_key_free(key);
	return ret;
}

static int listen_one(struct bastion *b, const struct bastion_listen *la, char *err,
    size_t errlen)
{
	struct blistener *l = &b->listeners[b->n_listeners];
	unsigned port = la->port;
	int verbosity = blog_level() >= BLOG_DEBUG ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG;
	bool no = false;
	ssh_bind bind = ssh_bind_new();
	ssh_key key = ssh_key_dup(b->host_key);	/* the bind owns (and frees) its copy */

	if (!bind || !key) {
		ssh_bind_free(bind);
		ssh_key_free(key);
		return -ENOMEM;
	}
	if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) < 0) {
		snprintf(err, errlen, "libssh host key: %s", ssh_get_error(bind));
		ssh_key_free(key);	/* not taken on failure */
		ssh_bind_free(bind);
		return -EINVAL;
	}
	if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDADDR, la->host) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDPORT, &port) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_KEY_EXCHANGE, KEX_ALGOS) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_CIPHERS_C_S, CIPHERS) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_CIPHERS_S_C, CIPHERS) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HMAC_C_S, MACS) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HMAC_S_C, MACS) < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, "ssh-ed25519") < 0 ||
	    ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
	    USER_KEY_ALGOS) < 0) {
		snprintf(err, errlen, "libssh options: %s", ssh_get_error(bind));
		ssh_bind_free(bind);
		return -EINVAL;
	}
	if (ssh_bind_listen(bind) < 0) {
		snprintf(err, errlen, "listen on %s port %u: %s", la->host, port,
		    ssh_get_error(bind));
		ssh_bind_free(bind);
		return -EADDRNOTAVAIL;
	}
	ssh_bind_set_blocking(bind, 0);
	l->b = b;
	l->bind = bind;
	l->fd = ssh_bind_get_fd(bind);
	/* We accept() ourselves (on_listen), and may drain the queue: never block on it
	 * (ssh_bind_set_blocking only sets libssh's own flag). */
	l->guard = (struct accept_guard){ .fd = l->fd, .cb = on_listen, .ud = l, .who = "SSH",
	    .polled = true };
	if (fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    ssh_event_add_fd(b->ev, l->fd, POLLIN, on_listen, l) != SSH_OK) {
		ssh_bind_free(bind);
		return -ENOMEM;
	}
	b->n_listeners++;
	blog_info("listening on %s port %u", la->host, port);
	return 0;
}

/* After the drop the roster is re-read as User: say now if it cannot be. */
static void roster_check_readable(struct bastion *b)
{
	/* Not blocking: a FIFO in its place must not hang start-up (roster_load refuses it). */
	int fd = open(b->cfg.roster, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 && errno != ENOENT)
		blog_warn("%s: not readable as user %s (%s): roster changes are refused until it is",
		    b->cfg.roster, b->cfg.user, strerror(errno));
	if (fd >= 0)
		close(fd);
	blog_info("running as user %s (uid %u, gid %u): no capabilities, seccomp filter on",
	    b->cfg.user, (unsigned)getuid(), (unsigned)getgid());
}

int bastion_open(struct bastion *b, char *err, size_t errlen)
{
	char why[256];
	sigset_t set;
	size_t i;
	int ret;

	b->sig_fd = -1;
	b->acc.inotify_fd = -1;
	b->reserve_fd = -1;
	admission_init(&b->adm, &b->cfg);
	refusals_init(&b->refusals);
	b->ev = ssh_event_new();
	if (!b->ev)
		return -ENOMEM;
	/* Outside bastion.service nobody made our directories: make the missing ones. */
	ret = statedir_ensure(b->cfg.audit_log, err, errlen);
	if (ret == 0)
		ret = statedir_ensure(b->cfg.audit_key_file, err, errlen);
	if (ret == 0)
		ret = statedir_ensure(b->cfg.host_key_file, err, errlen);
	if (ret < 0)
		return ret;
	/* First, while nothing else is open: the auditor process holds the audit key and the
	 * log, and inherits no listener, host key or roster watch.  Anything that drops the
	 * network process's privileges comes right after this. */
	ret = auditor_start(b, err, errlen);
	if (ret < 0)
		return ret;
	b->cert_next = INT64_MAX;
	/* Kept to be given up when accept() runs out of descriptors (accept_guard.h). */
	b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ret = access_open(&b->acc, b->cfg.roster, b->cfg.admin_key);
	if (ret < 0) {
		snprintf(err, errlen, "%s: cannot watch: %s", b->cfg.roster, strerror(-ret));
		return ret;
	}
	if (!access_reload(&b->acc, why, sizeof(why)))
		blog_warn("no verified roster yet (%s): every login is refused until one arrives",
		    why[0] ? why : "none");
	else
		blog_info("roster serial %llu", (unsigned long long)b->acc.r.serial);
	ret = host_key_ensure(b, err, errlen);
	if (ret < 0)
		goto out;
	for (i = 0; i < b->cfg.n_listen; i++) {
		ret = listen_one(b, &b->cfg.listen[i], err, errlen);
		if (ret < 0)
			goto out;
	}
	/* Before the drop, like the SSH listeners. */
	if (b->cfg.has_metrics_listen) {
		ret = metrics_http_open(b, &b->cfg.metrics_listen, err, errlen);
		if (ret < 0)
			goto out;
	}
	if (ssh_event_add_fd(b->ev, b->acc.inotify_fd, POLLIN, on_inotify, b) != SSH_OK) {
		ret = -ENOMEM;
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	b->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->sig_fd < 0 || ssh_event_add_fd(b->ev, b->sig_fd, POLLIN, on_signal, b) != SSH_OK) {
		ret = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto out;
	}
	/* Everything privileged is open: the rest runs as User, sandboxed (sandbox.h). */
	ret = sandbox_enter(b->cfg.user, err, errlen);
	if (ret < 0)
		goto out;
	roster_check_readable(b);
	journal_daemon(b, "start", b->acc.has_roster ? (int64_t)b->acc.r.serial : -1, NULL);
	auditor_flush(b);
	ret = 0;
out:
	return ret;
}

/* After each poll round: dead and closed sessions, relays' poll events, pending help lines. */
static void reap(struct bastion *b, uint64_t now)
{
	struct bsession *s, *next;
	int st;

	for (s = b->sessions; s; s = next) {
		next = s->next;
		if (s->state != BSESSION_DEAD) {
			st = ssh_get_status(s->ssh);
			if (st & (SSH_CLOSED | SSH_CLOSED_ERROR))
				bsession_kill(s, "connection closed");
		}
		if (s->state == BSESSION_DEAD) {
			blog_debug("session %s: closed (%s)", s->id, s->reason);
			session_free(s);
			continue;
		}
		if (s->info_pending)
			explain(s);
		relay_sync(s, now);
		write_end(s);
	}
}

static void status_format(const struct bastion *b, char *status, size_t len);

/* Logs the roster's expiry state when it changed (a new roster, the warning margin reached,
 * expired, or a clock set back), and shows it in the STATUS= line.  Expired: new jumps are
 * refused (jump.c). */
static void expiry_check(struct bastion *b)
{
	char text[ROSTER_EXPIRY_TEXT_MAX], status[256];
	enum roster_expiry st;
	int64_t now = (int64_t)time(NULL);

	if (!b->acc.has_roster || !roster_expiry_track(&b->expiry, &b->acc.r, now,
	    (int64_t)b->cfg.roster_expiry_warning, &st))
		return;
	roster_expiry_text(text, &b->acc.r, now);
	switch (st) {
	case ROSTER_EXPIRY_EXPIRED:
		blog_warn("roster serial %llu %s: every new jump is refused until a newer roster "
		    "arrives (keys publish --renew; keys push)",
		    (unsigned long long)b->acc.r.serial, text);
		break;
	case ROSTER_EXPIRY_SOON:
		blog_warn("roster serial %llu %s: publish a newer one before then (keys publish "
		    "--renew; keys push)", (unsigned long long)b->acc.r.serial, text);
		break;
	case ROSTER_EXPIRY_VALID:
		blog_info("roster serial %llu %s", (unsigned long long)b->acc.r.serial, text);
		break;
	case ROSTER_EXPIRY_NONE:
		break;
	}
	status_format(b, status, sizeof(status));
	notify_status("%s", status);
}

static void tick(struct bastion *b, uint64_t now)
{
	uint64_t grace = (uint64_t)b->cfg.login_grace_time * 1000000000ull;
	struct bsession *s;

	expiry_check(b);
	until_check(b);
	cert_check(b);
	for (s = b->sessions; s; s = s->next)
		if (s->state != BSESSION_READY && s->state != BSESSION_DEAD &&
		    now - s->t_start_ns > grace) {
			blog_info("session %s: from %s port %d: login grace time exceeded",
			    s->id, s->src, s->src_port);
			s->grace_exceeded = true;
			bsession_kill(s, "login grace time exceeded");
		}
}

/* The STATUS= line: where it listens, which roster serial it enforces. */
static void status_format(const struct bastion *b, char *status, size_t len)
{
	if (b->acc.has_roster)
		snprintf(status, len, "listening on %s port %u (%zu addresses); roster serial %llu%s",
		    b->cfg.listen[0].host, b->cfg.listen[0].port, b->n_listeners,
		    (unsigned long long)b->acc.r.serial,
		    access_expired(&b->acc, (int64_t)time(NULL)) ? " (expired: jumps refused)" : "");
	else
		snprintf(status, len, "listening on %s port %u (%zu addresses); no verified roster "
		    "yet: every login is refused", b->cfg.listen[0].host, b->cfg.listen[0].port,
		    b->n_listeners);
}

void bastion_notify_ready(const struct bastion *b)
{
	char status[256];

	status_format(b, status, sizeof(status));
	notify_ready(status);
}

int bastion_run(struct bastion *b)
{
	uint64_t now, next_tick = 0;

	while (!b->stop) {
		ssh_event_dopoll(b->ev, BASTION_TICK_MS);
		now = bastion_now_ns();
		auditor_process(b);		/* acks open jumps; a dead auditor stops us */
		if (b->acc_changed) {
			char status[256];

			b->acc_changed = false;
			roster_changed(b);
			/* The serial enforced now, however the change came (inotify or SIGHUP). */
			status_format(b, status, sizeof(status));
			notify_status("%s", status);
		}
		if (b->reloading) {
			b->reloading = false;
			bastion_notify_ready(b);
		}
		reap(b, now);
		for (size_t i = 0; i < b->n_listeners; i++)
			accept_guard_sync(b, &b->listeners[i].guard, now);
		metrics_http_sync(b, now);
		if (now >= next_tick) {
			tick(b, now);
			next_tick = now + BASTION_TICK_MS * 1000000ull;
		}
		auditor_flush(b);		/* this round's events: one batch, one fsync */
	}
	blog_info("stopping");
	return auditor_dead(b) ? -EPIPE : 0;
}

void bastion_close(struct bastion *b)
{
	size_t i;

	while (b->sessions) {
		bsession_kill(b->sessions, "bastion stopping");
		session_free(b->sessions);
	}
	if (b->ev)
		metrics_http_close(b);
	for (i = 0; i < b->n_listeners; i++) {
		if (b->listeners[i].guard.polled)
			ssh_event_remove_fd(b->ev, b->listeners[i].fd);
		ssh_bind_free(b->listeners[i].bind);
	}
	if (!auditor_dead(b))
		journal_daemon(b, "stop", -1, "signal");
	auditor_stop(b);	/* waits for its final checkpoint */
	if (b->acc.inotify_fd >= 0 && b->ev)
		ssh_event_remove_fd(b->ev, b->acc.inotify_fd);
	if (b->sig_fd >= 0) {
		if (b->ev)
			ssh_event_remove_fd(b->ev, b->sig_fd);
		close(b->sig_fd);
	}
	if (b->reserve_fd >= 0)
		close(b->reserve_fd);
	b->reserve_fd = -1;
	access_close(&b->acc);
	ssh_key_free(b->host_key);
	b->host_key = NULL;
	if (b->ev)
		ssh_event_free(b->ev);
	b->ev = NULL;
}
