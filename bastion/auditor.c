/* The auditor process: holds the audit key and the log, appends what the network process
 * asks for after checking every byte of it (bastion/auditor_proto.h), group-commits the
 * fsyncs of what it read in one go, signs checkpoints on its own timer, and keeps the log
 * fail-closed when it cannot be written (docs/audit.md, "When the log cannot be written"). */
#include "bastion/auditor.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bastion/config.h"
#include "bastion/log.h"
#include "keys/lib/key.h"
#include "keys/lib/roster.h"

enum {
	AUDITOR_IN_MAX = 65536,		/* bytes read per batch (plus one partial message) */
	/* the most messages one batch can hold (the shortest is 70 bytes) */
	AUDITOR_BATCH_MAX = (AUDITOR_IN_MAX + AUDITOR_MSG_MAX) /
	    (AUDITOR_HDR_LEN + 8 + 2 * AUDITOR_STRINGS + 40) + 1,
	AUDITOR_TICK_MS = 1000,		/* checkpoint timer; retry of an unwritable log */
	LOCK_TRIES = 100, LOCK_WAIT_US = 50000,	/* 5 s for a previous auditor to finish */
	ANSWER_TIMEOUT_MS = 10000,	/* the network process must take its answers */
};

struct auditor {
	int fd;
	const struct bastion_config *cfg;
	struct audit_log *log;
	bool writable;			/* false from a failed write until a retry succeeds */
	uint64_t lost;			/* events not written meanwhile */
	bool stopped;			/* the network process sent its "stop" */
	bool violated;			/* it sent something malformed: stop serving it */
	uint64_t n_events, n_batches, n_syncs;	/* for the debug line at exit */
	uint64_t batch_written;		/* event lines appended in this batch */
	uint8_t in[AUDITOR_IN_MAX + AUDITOR_MSG_MAX];
	size_t in_len;
	uint64_t ack_id[AUDITOR_BATCH_MAX];
	int ack_status[AUDITOR_BATCH_MAX];
	size_t n_acks;
	struct auditor_event_msg msg;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The network process reads its answers in its event loop; one that stops reading for
 * ANSWER_TIMEOUT_MS could otherwise stall the auditor (and its checkpoint timer): it is then
 * treated as a violation. */
static int send_all(int fd, const uint8_t *p, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (poll(&pfd, 1, ANSWER_TIMEOUT_MS) == 0)
				return -ETIMEDOUT;
			continue;
		}
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void send_status(struct auditor *a)
{
	uint8_t m[AUDITOR_STATUS_LEN];

	send_all(a->fd, m, auditor_status_encode(m, a->writable));
}

/* One operational line when the log stops being writable, one when it is again. */
static void log_down(struct auditor *a, int err)
{
	if (!a->writable)
		return;
	a->writable = false;
	blog_errno(BLOG_ERROR, err, "audit log %s: cannot write, refusing logins and new jumps "
	    "until it can (open jumps go on; their events are counted as lost)", a->cfg->audit_log);
	send_status(a);
}

/* While the log is down: write the "lost" line (it also proves the disk takes lines again). */
static void retry(struct auditor *a)
{
	int ret;

	ret = a->lost ? audit_log_lost(a->log, a->lost) :
	    audit_log_checkpoint(a->log, 0, true);
	if (ret < 0)
		return;
	blog_warn("audit log %s: writable again; %llu events could not be recorded (a \"lost\" "
	    "line says so)", a->cfg->audit_log, (unsigned long long)a->lost);
	a->lost = 0;
	a->writable = true;
	send_status(a);
}

static void ack(struct auditor *a, uint64_t id, int status)
{
	a->ack_id[a->n_acks] = id;
	a->ack_status[a->n_acks++] = status;
}

/* One message from the network process: checked, then appended (without fsync). */
static void handle(struct auditor *a, const uint8_t *p, size_t len, bool *sync)
{
	struct auditor_event_msg *m = &a->msg;
	char why[128];
	int ret = -EIO;

	if (!auditor_event_decode(p, len, m, why, sizeof(why))) {
		blog_error("audit: protocol violation by the network process (%s): stopping", why);
		a->violated = true;
		return;
	}
	if (m->event == AUDITOR_EV_STOP)
		a->stopped = true;
	a->n_events++;
	if (a->writable) {
		ret = audit_log_append(a->log, auditor_event_name(m->event), &m->ev, false);
		if (ret < 0)
			log_down(a, ret);
	}
	if (ret < 0)
		a->lost++;
	else
		a->batch_written++;
	if (ret >= 0 && (m->flags & AUDITOR_F_DURABLE))
		*sync = true;
	if (m->flags & AUDITOR_F_ACK)
		ack(a, m->id, ret);
}

/* Everything readable now is one batch: appended, then one fsync, then the acks. */
static int batch(struct auditor *a)
{
	uint8_t out[AUDITOR_ACK_LEN];
	struct audit_mark mark;
	bool sync = false;
	size_t off = 0, mlen, i;
	ssize_t n;
	int ret;

	n = recv(a->fd, a->in + a->in_len, AUDITOR_IN_MAX, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	a->in_len += (size_t)n;
	a->n_batches++;
	audit_log_mark(a->log, &mark);
	a->n_acks = 0;
	a->batch_written = 0;
	while (!a->violated && a->in_len - off >= AUDITOR_HDR_LEN) {
		mlen = auditor_msg_len(a->in + off);
		if (mlen < AUDITOR_HDR_LEN || mlen > AUDITOR_MSG_MAX) {
			blog_error("audit: protocol violation by the network process (message "
			    "length %zu): stopping", mlen);
			a->violated = true;
			break;
		}
		if (a->in_len - off < mlen)
			break;
		handle(a, a->in + off, mlen, &sync);
		off += mlen;
	}
	memmove(a->in, a->in + off, a->in_len - off);
	a->in_len -= off;
	/* Even if a later line of the batch failed: the earlier ones were written and must be
	 * on disk before they are acknowledged. */
	if (sync)
		a->n_syncs++;
	if (sync && (ret = audit_log_sync(a->log)) < 0) {
		/* Not durable: no line of this batch may stay while its sender hears "failed". */
		a->lost += a->batch_written;
		audit_log_rollback(a->log, &mark);
		log_down(a, ret);
		for (i = 0; i < a->n_acks; i++)
			a->ack_status[i] = ret;
	}
	for (i = 0; i < a->n_acks; i++) {
		ret = send_all(a->fd, out, auditor_ack_encode(out, a->ack_id[i], a->ack_status[i]));
		if (ret == -ETIMEDOUT) {
			blog_error("audit: the network process does not read its answers: stopping");
			a->violated = true;
		}
		if (ret < 0)
			return ret;
	}
	return a->violated ? -EPROTO : 0;
}

/* The audit key: created 0600 on first start (public half next to it, for `keys audit
 * verify --key`), same file format as the admin key. */
static int key_load(const struct bastion_config *cfg, uint8_t secret[ROSTER_ADMIN_SECRET_LEN],
    char *err, size_t errlen)
{
	char pubpath[PATH_MAX + 8];
	uint8_t pub[KEY_LEN];
	int ret;

	ret = roster_admin_key_read(cfg->audit_key_file, secret, err, errlen);
	if (ret != -ENOENT)
		return ret;
	ret = roster_admin_key_generate(secret, pub);
	if (ret == 0)
		ret = roster_admin_key_write(cfg->audit_key_file, secret);
	if (ret < 0) {
		snprintf(err, errlen, "%.200s: cannot create: %s", cfg->audit_key_file,
		    strerror(-ret));
		return ret;
	}
	snprintf(pubpath, sizeof(pubpath), "%s.pub", cfg->audit_key_file);
	if (key_file_write(pubpath, pub, true) < 0)
		blog_warn("cannot write %s", pubpath);
	else
		chmod(pubpath, 0644);
	blog_info("created audit key %s", cfg->audit_key_file);
	return 0;
}

static int open_log(struct auditor *a, char *err, size_t errlen)
{
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN];
	int ret, tries;

	ret = key_load(a->cfg, secret, err, errlen);
	if (ret < 0)
		goto out;
	/* The auditor of a network process that was just killed may still be writing its final
	 * checkpoint (it holds the lock until then): wait for it, a little. */
	for (tries = 0;; tries++) {
		ret = audit_log_open(&a->log, a->cfg->audit_log, secret, a->cfg->audit_syslog, err,
		    errlen);
		if (ret != -EWOULDBLOCK || tries == LOCK_TRIES)
			break;
		usleep(LOCK_WAIT_US);
	}
	if (ret < 0)
		goto out;
	if (audit_log_torn_bytes(a->log))
		blog_warn("audit log %s: cut %zu bytes of a torn final line", a->cfg->audit_log,
		    audit_log_torn_bytes(a->log));
	if (audit_log_recovered_lines(a->log))
		blog_warn("audit log %s: %llu lines after the last checkpoint were not written by "
		    "this bastion's last run or not signed (crash, or appended while stopped): "
		    "marked \"recovered\", not signed as ours", a->cfg->audit_log,
		    (unsigned long long)audit_log_recovered_lines(a->log));
out:
	sodium_memzero(secret, sizeof(secret));
	return ret;
}

void auditor_main(int fd, const struct bastion_config *cfg)
{
	static struct auditor a;
	uint8_t ready[AUDITOR_READY_MAX];
	struct audit_event ev;
	struct pollfd pfd;
	char err[256] = "";
	int ret;

	/* Only the link and stdio: nothing of the network process stays open here. */
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			exit(1);
		fd = 3;
	}
	close_range(4, ~0u, 0);
	/* Stopped by the network process closing the link (after its "stop" line), never by
	 * the signals meant for it. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "bastion-audit", 0, 0, 0);
	a.fd = fd;
	a.cfg = cfg;
	a.writable = true;
	ret = open_log(&a, err, sizeof(err));
	if (send_all(fd, ready, auditor_ready_encode(ready, ret, err)) < 0 || ret < 0)
		exit(1);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, AUDITOR_TICK_MS) < 0 && errno != EINTR)
			break;
		if (pfd.revents && batch(&a) < 0)
			break;
		if (!a.writable)
			retry(&a);
		else if ((ret = audit_log_checkpoint(a.log, mono_ns(), false)) < 0)
			log_down(&a, ret);
	}
	if (!a.stopped) {
		audit_event_init(&ev);
		ev.reason = a.violated ? "protocol violation by the network process" :
		    "network process exited";
		blog_warn("audit: %s", ev.reason);
		if (a.writable && audit_log_append(a.log, "stop", &ev, true) < 0)
			a.lost++;
	}
	if (!a.writable)
		retry(&a);
	blog_debug("audit process: %llu events in %llu reads, %llu group fsyncs",
	    (unsigned long long)a.n_events, (unsigned long long)a.n_batches,
	    (unsigned long long)a.n_syncs);
	audit_log_close(a.log);		/* the final checkpoint */
	close(fd);
	exit(0);
}
