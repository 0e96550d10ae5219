/* The bastion's metrics endpoint (see metrics_http.h). */
#include "bastion/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bastion/bastion.h"
#include "bastion/log.h"
#include "bastion/metrics.h"
#include "common/prom.h"

/* One slot more than the bound: a connection evicted in on_listen is closed only at the next
 * sync (never change the event inside a callback), and the newcomer takes the spare slot. */
#define MCONN_SLOTS (BMETRICS_MAX_CONNS + 1)

struct mconn {
	struct metrics_http *m;
	int fd;				/* -1: free slot */
	short have;			/* events registered with the ssh_event; 0: none */
	bool done;			/* answered (or failed): close at the next sync */
	uint64_t deadline_ns;
	char in[BMETRICS_REQUEST_MAX];
	size_t in_len;
	char *out;			/* the answer, malloc'd */
	size_t out_len, out_off;
};

struct metrics_http {
	struct bastion *b;
	int fd;
	struct accept_guard guard;	/* out of descriptors: shed and pause */
	struct mconn conns[MCONN_SLOTS];
};

static void answer(struct mconn *c, int code, const char *reason, const char *body,
    size_t len, bool head)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", code, reason,
	    code == 200 ? PROM_CONTENT_TYPE : "text/plain; charset=utf-8", len);
	if (head)
		len = 0;
	c->out = malloc((size_t)n + len);
	if (!c->out) {
		c->done = true;
		return;
	}
	memcpy(c->out, hdr, (size_t)n);
	if (len)
		memcpy(c->out + n, body, len);
	c->out_len = (size_t)n + len;
	c->out_off = 0;
}

static void error_answer(struct mconn *c, int code, const char *reason)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);

	answer(c, code, reason, body, (size_t)n, false);
}

/* The request line of a complete request: "METHOD TARGET HTTP/1.x". */
static void handle(struct mconn *c)
{
	const char *line = c->in, *sp1, *sp2, *eol;
	struct prom_writer w;
	bool head;

	eol = memchr(line, '\n', c->in_len);
	sp1 = memchr(line, ' ', (size_t)(eol - line));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		error_answer(c, 400, "Bad Request");
		return;
	}
	head = sp1 - line == 4 && memcmp(line, "HEAD", 4) == 0;
	if (!head && !(sp1 - line == 3 && memcmp(line, "GET", 3) == 0)) {
		error_answer(c, 405, "Method Not Allowed");
		return;
	}
	/* The path alone; a query string (Prometheus sends none) is not an error. */
	if (sp2 - sp1 - 1 < 8 || memcmp(sp1 + 1, "/metrics", 8) != 0 ||
	    (sp2 - sp1 - 1 > 8 && sp1[9] != '?')) {
		error_answer(c, 404, "Not Found");
		return;
	}
	prom_writer_init(&w);
	bastion_metrics_write(&w, c->m->b, bastion_now_ns());
	if (prom_writer_failed(&w))
		error_answer(c, 500, "Internal Server Error");
	else
		answer(c, 200, "OK", w.buf, w.len, head);
	prom_writer_free(&w);
}

static void send_some(struct mconn *c)
{
	ssize_t n;

	while (c->out && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* POLLOUT at the next sync */
		if (n <= 0) {
			c->done = true;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out)
		c->done = true;
}

/* Whether the headers ended: a blank line (CRLF CRLF, or bare LF LF as HTTP/1.0 clients may
 * send). */
static bool headers_end(const char *p, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (p[i] == '\n' && (p[i - 1] == '\n' ||
		    (i >= 3 && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')))
			return true;
	}
	return false;
}

static int on_conn(socket_t fd, int revents, void *ud)
{
	struct mconn *c = ud;
	ssize_t n;

	(void)fd;
	if (c->done)
		return 0;
	if (c->out) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			send_some(c);
		return 0;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return 0;
	n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		c->done = true;		/* closed before a whole request */
		return 0;
	}
	c->in_len += (size_t)n;
	if (headers_end(c->in, c->in_len))
		handle(c);
	else if (c->in_len == sizeof(c->in))
		error_answer(c, 431, "Request Header Fields Too Large");
	else
		return 0;
	send_some(c);
	return 0;
}

static void conn_close(struct metrics_http *m, struct mconn *c)
{
	if (c->have)
		ssh_event_remove_fd(m->b->ev, c->fd);
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->have = 0;
	c->done = false;
	c->in_len = 0;
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

static int on_listen(socket_t fd, int revents, void *ud)
{
	struct metrics_http *m = ud;
	struct mconn *c = NULL, *oldest = NULL;
	unsigned live = 0;
	int cfd;

	(void)fd;
	if (!(revents & POLLIN))
		return 0;
	cfd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		accept_guard_failed(m->b, &m->guard, errno);
		return 0;
	}
	for (size_t i = 0; i < MCONN_SLOTS; i++) {
		struct mconn *o = &m->conns[i];

		if (o->fd < 0) {
			c = c ? c : o;
			continue;
		}
		if (o->done)
			continue;
		live++;
		if (!o->out && (!oldest || o->deadline_ns < oldest->deadline_ns))
			oldest = o;
	}
	/* Full: the oldest connection still without a whole request makes room, so that
	 * silent clients (any local user on loopback) cannot keep Prometheus out by holding
	 * every slot; one that has its answer already is never cut. */
	if (live >= BMETRICS_MAX_CONNS && oldest) {
		blog_warn_rl("metrics: %d connections are open: closed the oldest one, which had "
		    "sent no request", BMETRICS_MAX_CONNS);
		oldest->done = true;
		live--;
	}
	if (live >= BMETRICS_MAX_CONNS || !c) {
		/* Full of answers being sent: the client sees a close; accepted so that the
		 * backlog does not keep the listener readable. */
		blog_warn_rl("metrics: refused a connection: %d are open already",
		    BMETRICS_MAX_CONNS);
		close(cfd);
		return 0;
	}
	c->fd = cfd;
	c->deadline_ns = bastion_now_ns() + BMETRICS_DEADLINE * 1000000000ull;
	/* Registered at the next sync: never change the event inside its own callback. */
	m->b->dirty = true;
	return 0;
}

void metrics_http_sync(struct bastion *b, uint64_t now_ns)
{
	struct metrics_http *m = b->metrics;
	short want;

	if (!m)
		return;
	accept_guard_sync(b, &m->guard, now_ns);
	for (size_t i = 0; i < MCONN_SLOTS; i++) {
		struct mconn *c = &m->conns[i];

		if (c->fd < 0)
			continue;
		if (c->done || now_ns >= c->deadline_ns) {
			if (!c->done)
				blog_debug("metrics: closing a connection: no answer within %d s",
				    BMETRICS_DEADLINE);
			conn_close(m, c);
			continue;
		}
		want = c->out ? POLLOUT : POLLIN;
		if (c->have == want)
			continue;
		if (c->have)
			ssh_event_remove_fd(b->ev, c->fd);
		c->have = 0;
		if (ssh_event_add_fd(b->ev, c->fd, want, on_conn, c) != SSH_OK) {
			conn_close(m, c);
			continue;
		}
		c->have = want;
	}
}

int metrics_http_open(struct bastion *b, const struct bastion_listen *la, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct metrics_http *m;
	socklen_t sl;
	int one = 1, ret;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, la->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(la->port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, la->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(la->port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "MetricsListen: bad address %.64s", la->host);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->b = b;
	for (size_t i = 0; i < MCONN_SLOTS; i++) {
		m->conns[i].m = m;
		m->conns[i].fd = -1;
	}
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	    setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(m->fd, (struct sockaddr *)&ss, sl) < 0 || listen(m->fd, 16) < 0) {
		ret = -errno;
		snprintf(err, errlen, "metrics: listen on %s port %u: %s", la->host, la->port,
		    strerror(errno));
		goto fail;
	}
	if (ssh_event_add_fd(b->ev, m->fd, POLLIN, on_listen, m) != SSH_OK) {
		ret = -ENOMEM;
		snprintf(err, errlen, "metrics: cannot add the listener to the event loop");
		goto fail;
	}
	m->guard = (struct accept_guard){ .fd = m->fd, .cb = on_listen, .ud = m, .who = "metrics",
	    .polled = true };
	b->metrics = m;
	blog_info("metrics: listening on %s port %u", la->host, la->port);
	return 0;
fail:
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	return ret;
}

void metrics_http_close(struct bastion *b)
{
	struct metrics_http *m = b->metrics;

	if (!m)
		return;
	for (size_t i = 0; i < MCONN_SLOTS; i++)
		if (m->conns[i].fd >= 0)
			conn_close(m, &m->conns[i]);
	if (m->guard.polled)
		ssh_event_remove_fd(b->ev, m->fd);
	close(m->fd);
	free(m);
	b->metrics = NULL;
}
