/* Relay: bytes both ways between a direct-tcpip channel and its target socket, with flow
 * control on both sides.
 *
 * engineer -> target: libssh hands us channel data (on_data); what the target socket does not
 * take at once goes to our buffer (32 KiB); what does not fit is left in libssh, which then
 * does not re-open the SSH window, so the engineer's client stops sending.  libssh 0.10 keeps
 * data sent past the window and re-opens the window after any read that leaves it below half,
 * however much it still holds; so we keep our own copy of the window (chanwin.c) and close the
 * connection of a client that sends past it, and when a read would re-open the window we take
 * everything libssh holds at once.  libssh then holds at most CHANWIN_HELD_MAX per jump and we
 * as much again; a session's total is capped at BASTION_SESSION_HELD_MAX.
 * target -> engineer: we read the target only while the SSH channel window is open, and never
 * more than the window, into obuf; relay_sync writes obuf to the channel after the poll round
 * (every libssh write flushes, and the flush polls the whole ssh_event: inside a poll callback
 * that re-entered the callbacks, and crashed libssh under load).  The target is not read
 * again until obuf is on the channel.
 * End: when the target closes, everything it sent reaches the channel, then EOF and close; the
 * client closes its side and ends the SSH connection itself. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bastion/auditor.h"
#include "bastion/bastion.h"
#include "bastion/journal.h"
#include "bastion/log.h"

static void want(struct relay *r, short ev, bool on)
{
	short w = on ? (short)(r->want | ev) : (short)(r->want & ~ev);

	if (w != r->want) {
		r->want = w;
		r->s->b->dirty = true;
	}
}

void relay_kill(struct relay *r, const char *reason)
{
	if (r->state == RELAY_DEAD)
		return;
	if (!r->reason)
		r->reason = reason;
	r->state = RELAY_DEAD;
	r->want = 0;
	r->s->b->dirty = true;
}

/* Writes our buffer, then whatever libssh still holds, to the target. */
static void flush_to_target(struct relay *r)
{
	size_t want_n;
	uint32_t held;
	uint8_t *nb;
	ssize_t w;
	int n;

	for (;;) {
		if (r->len > r->off) {
			w = send(r->fd, r->buf + r->off, r->len - r->off, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				relay_kill(r, "target write error");
				return;
			}
			r->off += (size_t)w;
			r->bytes_in += w;
			r->s->b->stats.bytes_to_node += (uint64_t)w;
			continue;
		}
		r->off = r->len = 0;
		held = r->win.held[0];
		if (held == 0)
			break;
		/* A read below half a window makes libssh re-open it: then take all it holds, so
		 * that what it may hold stays one window (see the top of this file). */
		want_n = held;
		if (!chanwin_read_reopens(&r->win) && want_n > BASTION_RELAY_BUF)
			want_n = BASTION_RELAY_BUF;
		if (want_n > r->cap) {
			nb = realloc(r->buf, want_n);
			if (!nb) {
				relay_kill(r, "out of memory");
				return;
			}
			r->buf = nb;
			r->cap = want_n;
		}
		/* libssh holds data for us, so this read never polls (no re-entry). */
		n = ssh_channel_read_nonblocking(r->ch, r->buf, (uint32_t)want_n, 0);
		if (n <= 0) {
			relay_kill(r, "channel read error");
			return;
		}
		chanwin_read(&r->win, (uint32_t)n);
		r->len = (size_t)n;
	}
	if (r->len == 0 && r->cap > BASTION_RELAY_BUF) {
		/* Drained: give the large buffer back (shrinking in place cannot fail). */
		nb = realloc(r->buf, BASTION_RELAY_BUF);
		if (nb)
			r->buf = nb;
		r->cap = BASTION_RELAY_BUF;
	}
	want(r, POLLOUT, r->len > r->off);
	if (r->len == r->off && r->win.held[0] == 0 && r->client_eof && !r->target_shut) {
		shutdown(r->fd, SHUT_WR);
		r->target_shut = true;
	}
}

/* Target -> channel bytes libssh has not taken yet; true once there are none. */
static bool flush_to_channel(struct relay *r)
{
	int w;

	if (r->writing)
		return false;
	while (r->olen > r->ooff) {
		/* ssh_channel_write flushes, and the flush polls the whole ssh_event: our on_fd
		 * may run inside it, and must not send these bytes a second time. */
		r->writing = true;
		w = ssh_channel_write(r->ch, r->obuf + r->ooff, (uint32_t)(r->olen - r->ooff));
		r->writing = false;
		if (w == SSH_ERROR) {
			blog_debug("session %s: channel write: %s", r->s->id, ssh_get_error(r->s->ssh));
			relay_kill(r, "channel write error");
			return false;
		}
		if (w == 0)
			return false;	/* key re-exchange or no window: again after the next poll */
		r->ooff += (size_t)w;
		r->bytes_out += w;
		r->s->b->stats.bytes_to_engineer += (uint64_t)w;
	}
	r->olen = r->ooff = 0;
	return true;
}

/* The node closed and all it sent is on the channel: EOF, close, and wait for the client. */
static void finish(struct relay *r)
{
	if (r->state != RELAY_OPEN || !r->target_eof || !flush_to_channel(r))
		return;
	ssh_channel_send_eof(r->ch);
	ssh_channel_close(r->ch);
	r->state = RELAY_CLOSING;
	r->deadline_ns = bastion_now_ns() + BASTION_CLOSE_WAIT_S * 1000000000ull;
	want(r, POLLIN | POLLOUT, false);
	r->s->b->dirty = true;
}

/* Reads the target into obuf; relay_sync writes it to the channel (see the top of this file:
 * no libssh write from inside a poll callback). */
static void from_target(struct relay *r)
{
	uint32_t win = ssh_channel_window_size(r->ch);
	ssize_t n;

	if (r->olen > r->ooff || win == 0) {
		want(r, POLLIN, false);	/* relay_sync re-arms once obuf is empty and the window open */
		return;
	}
	n = recv(r->fd, r->obuf, win < BASTION_RELAY_BUF ? win : BASTION_RELAY_BUF, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			relay_kill(r, "target read error");
		return;
	}
	want(r, POLLIN, false);
	if (n == 0) {
		/* The node closed: so does the jump (as sshd's direct-tcpip does), once all it
		 * sent is on the channel. */
		r->target_eof = true;
		if (!r->reason)
			r->reason = "closed by target";
		return;
	}
	r->olen = (size_t)n;
	r->ooff = 0;
}

static void connected(struct relay *r)
{
	int err = 0;
	socklen_t el = sizeof(err);
	char why[160];

	if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err) {
		snprintf(why, sizeof(why), "connect failed: %s", strerror(err));
		r->s->b->stats.jumps[BJUMP_CONNECT_FAILED]++;
		journal_jump_deny(r->s, r->t.name, &r->t, r->t.port, why);
		blog_info("session %s: %s to %s:%u: %s", r->s->id, r->s->engineer, r->t.name,
		    r->t.port, why);
		relay_kill(r, "connect failed");
		return;
	}
	/* Durable before a byte goes either way: the auditor's ack opens it (relay_audited);
	 * meanwhile the engineer's bytes wait in libssh, the node's in its socket. */
	if (journal_jump_open(r) < 0) {
		r->s->b->stats.jumps[BJUMP_AUDIT_FAILED]++;
		relay_kill(r, "audit log write failed");
		return;
	}
	r->opened = true;
	r->state = RELAY_AUDITING;
	want(r, POLLOUT, false);
}

void relay_audited(struct relay *r, int status)
{
	if (r->state != RELAY_AUDITING)
		return;
	if (status < 0) {
		r->opened = false;	/* no jump_open line: no jump_close either */
		r->s->b->stats.jumps[BJUMP_AUDIT_FAILED]++;
		journal_jump_deny(r->s, r->t.name, &r->t, r->t.port, "audit log write failed");
		blog_info("session %s: %s to %s port %u: refused: the audit log cannot record it",
		    r->s->id, r->s->engineer, r->t.name, r->t.port);
		relay_kill(r, "audit log write failed");
		return;
	}
	r->state = RELAY_OPEN;
	r->s->b->stats.jumps[BJUMP_OPENED]++;
	r->t_open_ns = bastion_now_ns();
	blog_info("session %s: jump open: %s to %s (%s) port %u", r->s->id, r->s->engineer,
	    r->t.name, r->t.addr_str, r->t.port);
	want(r, POLLIN, true);
	want(r, POLLOUT, false);
	flush_to_target(r);
}

static int on_fd(socket_t fd, int revents, void *ud)
{
	struct relay *r = ud;

	(void)fd;
	if (r->writing)
		return 0;	/* inside our own ssh_channel_write: poll again next round */
	if (r->state == RELAY_CONNECTING) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			connected(r);
		return 0;
	}
	if (r->state != RELAY_OPEN)
		return 0;
	if (revents & POLLOUT)
		flush_to_target(r);
	if (r->state == RELAY_OPEN && (revents & (POLLIN | POLLHUP | POLLERR)))
		from_target(r);
	return 0;
}

static int on_data(ssh_session ss, ssh_channel ch, void *data, uint32_t len, int is_stderr,
    void *ud)
{
	struct relay *r = ud;
	uint32_t used = 0, take;
	size_t room;
	ssize_t w;

	(void)ss;
	(void)ch;
	if (!chanwin_recv(&r->win, len, is_stderr)) {
		bsession_flow_violation(r->s, "channel window exceeded");
		used = len;
		goto out;
	}
	if (is_stderr || r->state == RELAY_DEAD || r->state == RELAY_CLOSING ||
	    r->s->state == BSESSION_DEAD) {
		used = len;	/* nothing to do with it: drop */
		goto out;
	}
	if (r->state == RELAY_CONNECTING || r->state == RELAY_AUDITING)
		goto out;	/* held by libssh until open */
	if (r->len == r->off) {	/* data starts with the oldest byte libssh holds */
		w = send(r->fd, data, len, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			relay_kill(r, "target write error");
			used = len;
			goto out;
		}
		if (w > 0) {
			used = (uint32_t)w;
			r->bytes_in += w;
			r->s->b->stats.bytes_to_node += (uint64_t)w;
		}
	}
	if (r->off > 0 && r->off == r->len)
		r->off = r->len = 0;
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	/* Only the first BASTION_RELAY_BUF: a larger buffer is for draining libssh. */
	room = r->len < BASTION_RELAY_BUF ? BASTION_RELAY_BUF - r->len : 0;
	take = len - used;
	if (take > room)
		take = (uint32_t)room;
	memcpy(r->buf + r->len, (const uint8_t *)data + used, take);
	r->len += take;
	used += take;
	want(r, POLLOUT, r->len > r->off);
out:
	chanwin_left(&r->win, len - used, is_stderr);
	if (!is_stderr && r->s->state != BSESSION_DEAD &&
	    r->win.held[0] > 0 && relay_session_held(r->s) > BASTION_SESSION_HELD_MAX)
		bsession_flow_violation(r->s, "jump buffers over budget");
	return (int)used;
}

static void on_eof(ssh_session ss, ssh_channel ch, void *ud)
{
	struct relay *r = ud;

	(void)ss;
	(void)ch;
	r->client_eof = true;
	if (r->state == RELAY_OPEN)
		flush_to_target(r);
}

static void on_close(ssh_session ss, ssh_channel ch, void *ud)
{
	(void)ss;
	(void)ch;
	relay_kill(ud, "closed by engineer");
}

struct relay *relay_start(struct bsession *s, ssh_channel ch, const struct access_target *t,
    const char **why)
{
	struct relay *r;
	struct sockaddr_storage ss;
	socklen_t sl;

	r = calloc(1, sizeof(*r));
	if (!r || !(r->buf = malloc(BASTION_RELAY_BUF)) || !(r->obuf = malloc(BASTION_RELAY_BUF))) {
		if (r)
			free(r->buf);
		free(r);
		*why = "out of memory";
		return NULL;
	}
	r->cap = BASTION_RELAY_BUF;
	chanwin_init(&r->win);
	r->s = s;
	r->ch = ch;
	r->t = *t;
	memset(&ss, 0, sizeof(ss));
	if (t->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(t->port);
		memcpy(&sin->sin_addr, t->addr, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(t->port);
		memcpy(&sin6->sin6_addr, t->addr, 16);
		sl = sizeof(*sin6);
	}
	r->fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		*why = "no socket";
		goto fail;
	}
	if (connect(r->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		*why = "connect failed";
		goto fail;
	}
	r->state = RELAY_CONNECTING;
	r->want = POLLOUT;		/* writable = connected (or failed) */
	r->t_open_ns = bastion_now_ns();
	r->deadline_ns = r->t_open_ns + (uint64_t)s->b->cfg.connect_timeout * 1000000000ull;
	ssh_callbacks_init(&r->cb);
	r->cb.userdata = r;
	r->cb.channel_data_function = on_data;
	r->cb.channel_eof_function = on_eof;
	r->cb.channel_close_function = on_close;
	ssh_set_channel_callbacks(ch, &r->cb);
	r->next = s->relays;
	s->relays = r;
	s->n_relays++;
	s->b->n_relays++;
	s->b->dirty = true;
	return r;
fail:
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r->obuf);
	free(r);
	return NULL;
}

static void relay_free(struct relay *r, uint64_t now_ns)
{
	struct bastion *b = r->s->b;

	if (r->registered)
		ssh_event_remove_fd(b->ev, r->fd);
	r->registered = false;
	auditor_forget(b, r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->opened) {
		journal_jump_close(r, now_ns);
		blog_info("session %s: jump closed: %s to %s port %u (%s), %lld bytes in, %lld out",
		    r->s->id, r->s->engineer, r->t.name, r->t.port, r->reason,
		    (long long)r->bytes_in, (long long)r->bytes_out);
	}
	if (r->ch) {
		ssh_remove_channel_callbacks(r->ch, &r->cb);
		if (ssh_channel_is_open(r->ch))
			ssh_channel_close(r->ch);
		ssh_channel_free(r->ch);
	}
	r->s->n_relays--;
	b->n_relays--;
	free(r->buf);
	free(r->obuf);
	free(r);
}

void relay_sync(struct bsession *s, uint64_t now_ns)
{
	struct bastion *b = s->b;
	struct relay **pp = &s->relays, *r;

	while ((r = *pp)) {
		if (r->state == RELAY_CONNECTING && now_ns >= r->deadline_ns) {
			b->stats.jumps[BJUMP_CONNECT_TIMEOUT]++;
			journal_jump_deny(s, r->t.name, &r->t, r->t.port, "connect timed out");
			relay_kill(r, "connect timed out");
		}
		if (r->state == RELAY_CLOSING && now_ns >= r->deadline_ns)
			relay_kill(r, r->reason ? r->reason : "closed by target");
		/* libssh writes here, outside the poll: they flush, and a flush polls every fd
		 * of the ssh_event, which must not run inside one of its own callbacks. */
		if (r->state == RELAY_OPEN && (r->olen > r->ooff || r->target_eof))
			bsession_write_begin(s);
		if (r->state == RELAY_OPEN && r->olen > r->ooff)
			flush_to_channel(r);
		if (r->state == RELAY_OPEN && r->target_eof)
			finish(r);
		if (r->state == RELAY_OPEN && !r->target_eof && !(r->want & POLLIN) &&
		    r->olen == r->ooff && ssh_channel_window_size(r->ch) > 0)
			want(r, POLLIN, true);	/* the engineer's window opened again */
		if (r->state == RELAY_DEAD) {
			*pp = r->next;
			bsession_write_begin(s);	/* the channel close flushes */
			relay_free(r, now_ns);
			continue;
		}
		if (r->registered && r->have != r->want) {
			ssh_event_remove_fd(b->ev, r->fd);
			r->registered = false;
		}
		if (!r->registered && r->want) {
			if (ssh_event_add_fd(b->ev, r->fd, r->want, on_fd, r) == SSH_OK) {
				r->registered = true;
				r->have = r->want;
			}
		}
		pp = &r->next;
	}
}

size_t relay_session_held(const struct bsession *s)
{
	const struct relay *r;
	size_t n = 0;

	for (r = s->relays; r; r = r->next)
		n += r->win.held[0] + r->cap;
	return n;
}

void relay_free_all(struct bsession *s, const char *reason)
{
	struct relay *r;
	uint64_t now = bastion_now_ns();

	while ((r = s->relays)) {
		s->relays = r->next;
		if (!r->reason)
			r->reason = reason;
		relay_free(r, now);
	}
}
