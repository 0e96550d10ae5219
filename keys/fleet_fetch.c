/* GET /v1/status from every node, in parallel with a bound and a deadline each (see fleet.h).
 * Plain non-blocking sockets and poll(2): the keys tool has no event loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keys/fleet.h"

struct fetch {
	struct fleet_node *node;
	int fd;
	bool sent;
	int64_t deadline_ms;
	char *buf;			/* FLEET_ANSWER_MAX + 1 bytes */
	size_t peers_max;		/* the roster's node count */
	size_t len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fail(struct fetch *f, const char *why, int err)
{
	if (err)
		snprintf(f->node->error, sizeof(f->node->error), "%s: %s", why, strerror(err));
	else
		snprintf(f->node->error, sizeof(f->node->error), "%s", why);
	f->node->reachable = false;
}

static void finish(struct fetch *f)
{
	close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
}

/* Starts the connection; false (with the node's error set) if it cannot even begin. */
static bool start(struct fetch *f, uint16_t port, int timeout_ms)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	const struct roster_node *rn = f->node->rn;
	socklen_t sl;

	if (rn->has_addr4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, rn->addr4, 4);
		sl = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, rn->addr6, 16);
		sl = sizeof(*s6);
	}
	f->buf = malloc(FLEET_ANSWER_MAX + 1);
	if (!f->buf) {
		fail(f, "out of memory", 0);
		return false;
	}
	f->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0) {
		fail(f, "socket", errno);
		free(f->buf);
		f->buf = NULL;
		return false;
	}
	f->deadline_ms = now_ms() + timeout_ms;
	if (connect(f->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		fail(f, "connect", errno);
		finish(f);
		return false;
	}
	return true;
}

/* The answer is complete (the server closed): checks the status line and parses the body. */
static void answer(struct fetch *f)
{
	char *body, *eol;
	int code;

	f->buf[f->len] = '\0';
	eol = memchr(f->buf, '\n', f->len);
	if (!eol || (strncmp(f->buf, "HTTP/1.0 ", 9) != 0 && strncmp(f->buf, "HTTP/1.1 ", 9) != 0)) {
		fail(f, "not an HTTP answer", 0);
		return;
	}
	code = 0;
	for (int i = 9; i < 12; i++) {
		if (f->buf[i] < '0' || f->buf[i] > '9') {
			fail(f, "not an HTTP answer", 0);
			return;
		}
		code = code * 10 + (f->buf[i] - '0');
	}
	if (code != 200) {
		snprintf(f->node->error, sizeof(f->node->error), "answered HTTP %d%s", code,
		    code == 404 ? " (tunneld without /v1/status)" :
		    code == 403 ? " (we are not a roster node to it)" :
		    code == 503 ? " (revoked, or no roster applied)" : "");
		return;
	}
	body = memmem(f->buf, f->len, "\r\n\r\n", 4);
	if (!body) {
		fail(f, "HTTP answer without a body", 0);
		return;
	}
	body += 4;
	/* Connection: close, so the body runs to the end; a chunked answer is not ours. */
	if (memmem(f->buf, (size_t)(body - f->buf), "chunked", 7)) {
		fail(f, "chunked HTTP answer", 0);
		return;
	}
	f->node->reachable = fleet_view_parse(f->node, body, f->len - (size_t)(body - f->buf),
	    f->peers_max);
}

/* Progress on f after poll said revents. */
static void step(struct fetch *f, short revents, char *req, size_t req_len)
{
	ssize_t n;
	int err = 0;
	socklen_t el = sizeof(err);

	if (!f->sent) {
		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			fail(f, "connect", err);
			finish(f);
			return;
		}
		if (!(revents & POLLOUT))
			return;
		/* One small request: the socket buffer takes it whole or the node is broken. */
		n = send(f->fd, req, req_len, MSG_NOSIGNAL);
		if (n != (ssize_t)req_len) {
			fail(f, "send", n < 0 ? errno : EMSGSIZE);
			finish(f);
			return;
		}
		f->sent = true;
		return;
	}
	n = read(f->fd, f->buf + f->len, FLEET_ANSWER_MAX + 1 - f->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		fail(f, "read", errno);
	} else if (n == 0) {
		answer(f);
	} else {
		f->len += (size_t)n;
		if (f->len <= FLEET_ANSWER_MAX)
			return;
		fail(f, "answer too large", 0);
	}
	finish(f);
}

void fleet_fetch_all(struct fleet_node *nodes, size_t n, uint16_t port, int timeout_ms)
{
	struct fetch act[FLEET_PARALLEL];
	struct pollfd pfd[FLEET_PARALLEL];
	size_t next = 0, n_act = 0, i;
	char req[128];
	int req_len;
	int64_t t, wait;

	req_len = snprintf(req, sizeof(req),
	    "GET /v1/status HTTP/1.0\r\nHost: warren\r\nConnection: close\r\n\r\n");
	for (;;) {
		/* Fill the free slots. */
		while (n_act < FLEET_PARALLEL && next < n) {
			struct fleet_node *fn = &nodes[next++];

			fn->reachable = false;
			if (fn->self)
				continue;
			if (!fn->rn->has_addr4 && !fn->rn->has_addr6) {
				snprintf(fn->error, sizeof(fn->error), "no overlay address");
				continue;
			}
			act[n_act] = (struct fetch){ .node = fn, .fd = -1, .peers_max = n };
			if (start(&act[n_act], port, timeout_ms))
				n_act++;
		}
		if (!n_act)
			break;
		t = now_ms();
		wait = timeout_ms;
		for (i = 0; i < n_act; i++) {
			pfd[i].fd = act[i].fd;
			pfd[i].events = act[i].sent ? POLLIN : POLLOUT;
			pfd[i].revents = 0;
			if (act[i].deadline_ms - t < wait)
				wait = act[i].deadline_ms - t;
		}
		if (poll(pfd, n_act, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR)
			wait = 0;
		t = now_ms();
		for (i = 0; i < n_act; i++) {
			if (pfd[i].revents)
				step(&act[i], pfd[i].revents, req, (size_t)req_len);
			if (act[i].fd >= 0 && t >= act[i].deadline_ms) {
				fail(&act[i], act[i].sent ? "no answer within the timeout" :
				    "no connection within the timeout", 0);
				finish(&act[i]);
			}
		}
		/* Compact: finished slots leave. */
		for (i = 0; i < n_act;) {
			if (act[i].fd < 0)
				act[i] = act[--n_act];
			else
				i++;
		}
	}
}
