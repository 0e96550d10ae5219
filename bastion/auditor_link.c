/* The network process's end of the auditor link (bastion/auditor.h): forks the auditor, queues
 * events during a poll round and sends them at its end, and hands the auditor's answers to the
 * relays waiting for them. */
#include "bastion/auditor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bastion/bastion.h"
#include "bastion/log.h"

enum {
	LINK_OUT_MAX = 1 << 20,		/* queued bytes; only a full queue waits for the auditor */
	/* Past this many bytes the auditor is not keeping up (a stalled disk): fail closed as
	 * when it cannot write, so that the rest of the queue only takes the events of what is
	 * already open. */
	LINK_OUT_HIGH = LINK_OUT_MAX / 4,
	/* Answers not yet handled: at most one ack per jump waiting, and a few states. */
	LINK_IN_MAX = (BASTION_JUMPS_MAX + 64) * AUDITOR_ACK_LEN,
	LINK_READY_TIMEOUT_MS = 60000,	/* the auditor reads the key and the log's tail */
	LINK_WAIT_MS = 1000,
};

struct auditor_link {
	int fd;
	pid_t pid;
	bool writable, dead, registered, said_dead;
	bool behind;			/* out_len past LINK_OUT_HIGH (said once each way) */
	short watched;			/* the events the loop watches the link for */
	uint64_t next_id;
	struct relay *wait_head, *wait_tail;	/* jumps waiting for their jump_open ack */
	size_t out_len, in_len;
	uint8_t out[LINK_OUT_MAX];
	uint8_t in[LINK_IN_MAX];
};

/* Reads what the auditor sent (without handling it). */
static void read_in(struct auditor_link *l)
{
	ssize_t n;

	while (l->in_len < LINK_IN_MAX) {
		n = recv(l->fd, l->in + l->in_len, LINK_IN_MAX - l->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			l->dead = true;
			return;
		}
		l->in_len += (size_t)n;
	}
}

/* Sends what the socket takes now; the rest stays queued (the loop watches for POLLOUT). */
static void send_some(struct auditor_link *l)
{
	size_t off = 0;
	ssize_t w;

	while (off < l->out_len && !l->dead) {
		w = send(l->fd, l->out + off, l->out_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno == EINTR)
			continue;
		else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
			l->dead = true;
	}
	memmove(l->out, l->out + off, l->out_len - off);
	l->out_len -= off;
}

static int on_readable(socket_t fd, int revents, void *ud)
{
	struct bastion *b = ud;

	(void)fd;
	if (revents & POLLOUT)
		send_some(b->aud);
	if (revents & ~POLLOUT)
		read_in(b->aud);
	b->dirty = true;
	return 0;
}

/* Sends everything queued, waiting for the auditor as long as it takes: only at stop, and
 * for a queue that cannot take one more message. */
static void flush(struct auditor_link *l)
{
	struct pollfd p;
	size_t off = 0;
	ssize_t w;

	while (off < l->out_len && !l->dead) {
		w = send(l->fd, l->out + off, l->out_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			l->dead = true;
			break;
		}
		/* Full: the auditor is busy (an fsync).  Take its answers meanwhile: it may be
		 * waiting for us to read them before it reads more. */
		p.fd = l->fd;
		p.events = POLLOUT | (l->in_len < LINK_IN_MAX ? POLLIN : 0);
		if (poll(&p, 1, LINK_WAIT_MS) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
			read_in(l);
	}
	l->out_len = 0;
}

/* The READY message: the auditor opened the key and the log, or says why not. */
static int wait_ready(struct auditor_link *l, char *err, size_t errlen)
{
	enum auditor_msg_type type;
	uint8_t m[AUDITOR_READY_MAX];
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	size_t got = 0, want = AUDITOR_HDR_LEN;
	uint64_t id;
	bool w;
	int status = -EPROTO;
	ssize_t n;

	while (got < want) {
		if (poll(&p, 1, LINK_READY_TIMEOUT_MS) <= 0) {
			snprintf(err, errlen, "the audit process did not start");
			return -ETIMEDOUT;
		}
		n = recv(l->fd, m + got, want - got, 0);
		if (n <= 0) {
			snprintf(err, errlen, "the audit process exited at start");
			return -EPIPE;
		}
		got += (size_t)n;
		if (got == AUDITOR_HDR_LEN) {
			want = auditor_msg_len(m);
			if (want < AUDITOR_HDR_LEN || want > sizeof(m))
				break;
		}
	}
	if (got != want || !auditor_reply_decode(m, got, &type, &id, &status, &w, err, errlen) ||
	    type != AUDITOR_MSG_READY) {
		snprintf(err, errlen, "the audit process sent a bad start message");
		return -EPROTO;
	}
	if (status < 0 && !err[0])
		snprintf(err, errlen, "audit log: %s", strerror(-status));
	return status;
}

int auditor_start(struct bastion *b, char *err, size_t errlen)
{
	struct auditor_link *l;
	int sv[2], ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return ret;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (pid == 0) {
		close(sv[0]);
		auditor_main(sv[1], &b->cfg);
	}
	close(sv[1]);
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(sv[0]);	/* the auditor sees EOF and exits */
		waitpid(pid, NULL, 0);
		return -ENOMEM;
	}
	l->fd = sv[0];
	l->pid = pid;
	l->writable = true;
	b->aud = l;
	ret = wait_ready(l, err, errlen);
	if (ret < 0)
		return ret;	/* bastion_close -> auditor_stop reaps it */
	if (fcntl(l->fd, F_SETFL, O_NONBLOCK) < 0 ||
	    ssh_event_add_fd(b->ev, l->fd, POLLIN, on_readable, b) != SSH_OK) {
		snprintf(err, errlen, "cannot watch the audit process");
		return -ENOMEM;
	}
	l->registered = true;
	l->watched = POLLIN;
	blog_debug("audit process %d started", (int)pid);
	return 0;
}

int auditor_send(struct bastion *b, enum auditor_event e, unsigned flags,
    const struct audit_event *ev, struct relay *r)
{
	struct auditor_link *l = b->aud;

	if (!l || l->dead)
		return -EPIPE;
	if (l->out_len + AUDITOR_MSG_MAX > LINK_OUT_MAX)
		send_some(l);
	if (l->out_len + AUDITOR_MSG_MAX > LINK_OUT_MAX)
		flush(l);	/* bounded memory; auditor_writable kept new work out long before */
	if (l->dead)
		return -EPIPE;
	if (flags & AUDITOR_F_ACK) {
		r->audit_id = ++l->next_id;
		r->audit_sent_ns = bastion_now_ns();
		r->audit_next = NULL;
		if (l->wait_tail)
			l->wait_tail->audit_next = r;
		else
			l->wait_head = r;
		l->wait_tail = r;
	}
	l->out_len += auditor_event_encode(l->out + l->out_len, r ? r->audit_id : 0, e, flags,
	    ev);
	return 0;
}

void auditor_forget(struct bastion *b, struct relay *r)
{
	struct auditor_link *l = b->aud;
	struct relay **pp, *prev = NULL;

	if (!l)
		return;
	for (pp = &l->wait_head; *pp; prev = *pp, pp = &(*pp)->audit_next) {
		if (*pp != r)
			continue;
		*pp = r->audit_next;
		if (l->wait_tail == r)
			l->wait_tail = prev;
		return;
	}
}

void auditor_flush(struct bastion *b)
{
	struct auditor_link *l = b->aud;
	short want;

	if (!l || l->dead)
		return;
	send_some(l);
	if (!l->behind && l->out_len > LINK_OUT_HIGH) {
		l->behind = true;
		blog_error("audit process not keeping up (%zu bytes queued for it): refusing logins "
		    "and new jumps until it takes them (open jumps go on)", l->out_len);
	} else if (l->behind && l->out_len == 0) {
		l->behind = false;
		blog_warn("audit process not keeping up: it took its queue again; logins and jumps "
		    "accepted");
	}
	/* Changed here, between rounds, never inside the event's own callbacks. */
	want = POLLIN | (l->out_len ? POLLOUT : 0);
	if (!l->registered || want == l->watched)
		return;
	ssh_event_remove_fd(b->ev, l->fd);
	if (ssh_event_add_fd(b->ev, l->fd, want, on_readable, b) != SSH_OK) {
		l->registered = false;
		l->dead = true;		/* cannot hear it any more: auditor_process stops us */
		return;
	}
	l->watched = want;
}

static void answer(struct bastion *b, uint64_t id, int status)
{
	struct auditor_link *l = b->aud;
	struct relay *r = l->wait_head;

	/* Answers come in the order asked; a forgotten relay's answer finds another head. */
	if (!r || r->audit_id != id)
		return;
	l->wait_head = r->audit_next;
	if (!l->wait_head)
		l->wait_tail = NULL;
	relay_audited(r, status);
}

void auditor_process(struct bastion *b)
{
	struct auditor_link *l = b->aud;
	enum auditor_msg_type type;
	size_t off = 0, len;
	char err[8];
	uint64_t id = 0;
	int status = 0;
	bool w = true;

	if (!l)
		return;
	while (l->in_len - off >= AUDITOR_HDR_LEN) {
		len = auditor_msg_len(l->in + off);
		if (len >= AUDITOR_HDR_LEN && len <= AUDITOR_READY_MAX && len > l->in_len - off)
			break;
		if (!auditor_reply_decode(l->in + off, len, &type, &id, &status, &w, err,
		    sizeof(err))) {
			blog_error("audit process: bad message: stopping");
			l->dead = true;
			break;
		}
		if (type == AUDITOR_MSG_ACK) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			b->stats.audit_acks++;
			b->stats.audit_last_ack_wall_ns = (uint64_t)ts.tv_sec * 1000000000ull +
			    (uint64_t)ts.tv_nsec;
			answer(b, id, status);
		}
		else if (type == AUDITOR_MSG_STATUS)
			l->writable = w;
		off += len;
	}
	memmove(l->in, l->in + off, l->in_len - off);
	l->in_len -= off;
	if (l->dead && !l->said_dead) {
		l->said_dead = true;
		if (l->registered)
			ssh_event_remove_fd(b->ev, l->fd);
		l->registered = false;
		blog_error("the audit process exited: nothing can be recorded any more; refusing "
		    "every connection and stopping");
		b->stop = true;
	}
}

void auditor_stats_get(const struct bastion *b, uint64_t now_ns, struct auditor_stats *out)
{
	const struct auditor_link *l = b->aud;
	const struct relay *r;

	memset(out, 0, sizeof(*out));
	if (!l)
		return;
	out->queued_bytes = l->out_len;
	for (r = l->wait_head; r; r = r->audit_next)
		out->pending_acks++;
	if (l->wait_head && now_ns > l->wait_head->audit_sent_ns)
		out->oldest_pending_ns = now_ns - l->wait_head->audit_sent_ns;
}

bool auditor_writable(const struct bastion *b)
{
	return b->aud && !b->aud->dead && b->aud->writable && !b->aud->behind;
}

bool auditor_dead(const struct bastion *b)
{
	return !b->aud || b->aud->dead;
}

void auditor_stop(struct bastion *b)
{
	struct auditor_link *l = b->aud;
	struct pollfd p;
	int st = 0;

	if (!l)
		return;
	flush(l);
	if (l->registered && b->ev)
		ssh_event_remove_fd(b->ev, l->fd);
	/* EOF tells the auditor to write its final checkpoint; its last answers are dropped. */
	shutdown(l->fd, SHUT_WR);
	p.fd = l->fd;
	p.events = POLLIN;
	while (!l->dead && poll(&p, 1, -1) >= 0) {
		l->in_len = 0;
		read_in(l);
	}
	close(l->fd);
	while (waitpid(l->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		blog_error("the audit process ended with status %d", st);
	free(l);
	b->aud = NULL;
}
