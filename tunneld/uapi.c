#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "uapi.h"

struct uapi_server {
	struct device *dev;
	void (*on_gone)(struct device *dev);
	int listen_fd;
	int inotify_fd;
	struct event *ev_listen;
	struct event *ev_listen_retry;	/* accept() ran out of fds: listen again later */
	struct event *ev_inotify;
	struct uapi_client *clients;
	unsigned n_clients;
	uint64_t n_accepted;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Where a connection is in its request: requests are read line by line as the bytes arrive,
 * so nothing is held or scanned twice but the current (partial) line. */
enum client_state {
	AWAIT_OP,	/* the first line: get=1 or set=1 */
	IN_GET,		/* get=1 read, waiting for the blank line */
	IN_SET,		/* set=1 read, lines go to the parser */
	IN_SKIP,	/* the request is refused: read to its blank line, answer skip_err */
};

struct uapi_client {
	struct uapi_server *server;
	struct bufferevent *bev;
	struct event *deadline;
	struct uapi_client *next;
	uint64_t serial;		/* order of arrival: the oldest is evicted when full */
	enum client_state state;
	struct uapi_framer framer;
	size_t request_bytes;		/* bytes of the current request so far */
	bool answering;			/* an answer is being written: reading is paused */
	int skip_err;
	struct config cfg;		/* IN_SET: what the lines so far set */
	struct config_errors errs;
	struct config_uapi parser;
};

/* Removes n bytes from the front of buf, wiping them first: requests carry private and
 * preshared keys, and evbuffer frees its chunks as they are. */
static void drain_wiped(struct evbuffer *buf, size_t n)
{
	struct evbuffer_iovec vec[8];
	size_t done;
	int i, got;

	while (n > 0) {
		got = evbuffer_peek(buf, (ev_ssize_t)n, NULL, vec, 8);
		if (got <= 0)
			break;
		done = 0;
		for (i = 0; i < got && i < 8 && done < n; i++) {
			size_t k = vec[i].iov_len < n - done ? vec[i].iov_len : n - done;

			sodium_memzero(vec[i].iov_base, k);
			done += k;
		}
		evbuffer_drain(buf, done);
		n -= done;
	}
}

static void client_free(struct uapi_client *c)
{
	struct uapi_server *s = c->server;
	struct uapi_client **pp;

	for (pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->n_clients--;
	if (c->deadline)
		event_free(c->deadline);
	drain_wiped(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_free(c->bev);
	config_free(&c->cfg);
	config_errors_free(&c->errs);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* The get answer holds the private and preshared keys, and evbuffer frees its chunks as they
 * are (and copies them as it grows): the answer is built in memory of our own, wiped whenever
 * it moves and after libevent has written it (evbuffer_add_reference's cleanup). */
struct secret_buf {
	char *p;
	size_t len;
	size_t cap;
	bool failed;
};

__attribute__((format(printf, 2, 3)))
static void emit_secret(void *ctx, const char *fmt, ...)
{
	struct secret_buf *b = ctx;
	size_t cap;
	char *p;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || b->failed) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		for (cap = b->cap ? b->cap : 4096; cap - b->len <= (size_t)n; cap *= 2)
			;
		p = malloc(cap);
		if (!p) {
			b->failed = true;
			return;
		}
		if (b->p) {
			memcpy(p, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void secret_free(const void *data, size_t len, void *cap)
{
	(void)len;
	sodium_memzero((void *)data, (size_t)(uintptr_t)cap);
	free((void *)data);
}

/* Queues "errno=-err" (negative, as wireguard-go answers and wg(8) expects) after body, and
 * pauses reading until the answer is written: one request at a time, so a client that sends
 * requests without reading answers cannot grow the output buffer. */
static void answer(struct uapi_client *c, int err)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "errno=%d\n\n", -err);
	c->state = AWAIT_OP;
	c->request_bytes = 0;
	c->answering = true;
	bufferevent_disable(c->bev, EV_READ);
}

/* Bytes a get answer takes per peer with one allowed IP (about 330): the buffer is sized
 * once up front, where doubling from 4 KiB copied and wiped a large roster's answer (4 MiB
 * for 10,000 peers) ten times over. */
enum { GET_BYTES_PER_PEER = 384 };

static void handle_get(struct uapi_client *c)
{
	struct secret_buf b = { 0 };
	size_t want = 4096 + c->server->dev->n_peers * (size_t)GET_BYTES_PER_PEER;

	b.p = malloc(want);
	b.cap = b.p ? want : 0;
	device_uapi_get(c->server->dev, emit_secret, &b);
	if (b.failed || (b.len && evbuffer_add_reference(bufferevent_get_output(c->bev), b.p,
	    b.len, secret_free, (void *)(uintptr_t)b.cap) < 0)) {
		if (b.p)
			secret_free(b.p, b.len, (void *)(uintptr_t)b.cap);
		answer(c, ENOMEM);
		return;
	}
	if (!b.len && b.p)	/* nothing to say (a fresh device): the buffer went unused */
		secret_free(b.p, 0, (void *)(uintptr_t)b.cap);
	answer(c, 0);
}

static void handle_set_end(struct uapi_client *c)
{
	int err = config_uapi_end(&c->parser);

	if (err) {
		for (size_t i = 0; i < c->errs.count; i++)
			log_warn_rl("%s: uapi set: %s", c->server->dev->ifname, c->errs.msgs[i]);
	} else {
		err = device_apply_uapi_set(c->server->dev, &c->cfg);
	}
	config_errors_free(&c->errs);
	config_free(&c->cfg);
	answer(c, err);
}

/* Refuses the rest of the current request: its lines are read and dropped, and the blank line
 * that ends it gets errno=-err. */
static void skip_request(struct uapi_client *c, int err)
{
	if (c->state == IN_SET) {
		config_free(&c->cfg);
		config_errors_free(&c->errs);
	}
	c->state = IN_SKIP;
	c->skip_err = err;
}

/* One line of a request (len bytes, without its '\n'; len 0 is the blank line). */
static void handle_line(struct uapi_client *c, const char *line, size_t len)
{
	switch (c->state) {
	case AWAIT_OP:
		if (len == 5 && memcmp(line, "get=1", 5) == 0) {
			c->state = IN_GET;
		} else if (len == 5 && memcmp(line, "set=1", 5) == 0) {
			config_uapi_begin(&c->parser, &c->cfg, &c->errs);
			c->state = IN_SET;
		} else if (len == 0) {
			/* Not a request this protocol knows: answer as wireguard-go does. */
			answer(c, EINVAL);
		} else {
			skip_request(c, EINVAL);
		}
		break;
	case IN_GET:
		if (len == 0)
			handle_get(c);
		else
			skip_request(c, EINVAL);
		break;
	case IN_SET:
		if (len == 0)
			handle_set_end(c);
		else
			config_uapi_feed(&c->parser, line, len);
		break;
	case IN_SKIP:
		if (len == 0)
			answer(c, c->skip_err);
		break;
	}
}

/* Counts n request bytes against the cap; a request over it is refused (EMSGSIZE) and read
 * to its end without being parsed or kept. */
static void count_request(struct uapi_client *c, size_t n)
{
	c->request_bytes += n;
	if (c->request_bytes > UAPI_MAX_REQUEST && c->state != IN_SKIP) {
		log_warn_rl("%s: uapi request larger than %u bytes: refused",
		    c->server->dev->ifname, (unsigned)UAPI_MAX_REQUEST);
		skip_request(c, EMSGSIZE);
	}
}

/* A line longer than any valid one: the parser names the error, or the request is refused. */
static void handle_long_line(struct uapi_client *c, const char *line)
{
	if (c->state == IN_SET)
		config_uapi_feed(&c->parser, line, CONFIG_UAPI_LINE_MAX);
	else if (c->state != IN_SKIP)
		skip_request(c, EINVAL);
}

enum uapi_frame uapi_frame_next(struct uapi_framer *f, struct evbuffer *in,
    char line[static CONFIG_UAPI_LINE_MAX], size_t *len, size_t *taken)
{
	struct evbuffer_ptr p;
	size_t have, n;

	*taken = 0;
	for (;;) {
		have = evbuffer_get_length(in);
		if (f->scanned >= have || evbuffer_ptr_set(in, &p, f->scanned, EVBUFFER_PTR_SET) < 0)
			return UAPI_FRAME_NONE;
		p = evbuffer_search_eol(in, &p, NULL, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			f->scanned = have;
			if (!f->in_long_line && have < CONFIG_UAPI_LINE_MAX)
				return UAPI_FRAME_NONE;	/* wait for the rest of the line */
			/* Too long to be valid: reported once, then dropped as it arrives. */
			*taken += have;
			f->scanned = 0;
			if (f->in_long_line) {
				drain_wiped(in, have);
				return UAPI_FRAME_NONE;
			}
			f->in_long_line = true;
			evbuffer_copyout(in, line, CONFIG_UAPI_LINE_MAX);
			drain_wiped(in, have);
			return UAPI_FRAME_LONG;
		}
		n = (size_t)p.pos;
		*taken += n + 1;
		f->scanned = 0;
		if (f->in_long_line) {
			f->in_long_line = false;	/* its end: reported already */
			drain_wiped(in, n + 1);
			continue;
		}
		evbuffer_copyout(in, line, n < CONFIG_UAPI_LINE_MAX ? n : CONFIG_UAPI_LINE_MAX);
		drain_wiped(in, n + 1);
		*len = n;
		return n < CONFIG_UAPI_LINE_MAX ? UAPI_FRAME_LINE : UAPI_FRAME_LONG;
	}
}

/* Takes every complete line from the input, one request at a time. */
static void client_read(struct bufferevent *bev, void *arg)
{
	struct uapi_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[CONFIG_UAPI_LINE_MAX];
	enum uapi_frame r = UAPI_FRAME_LINE;
	size_t n, taken;

	while (!c->answering && r != UAPI_FRAME_NONE) {
		r = uapi_frame_next(&c->framer, in, line, &n, &taken);
		count_request(c, taken);
		if (r == UAPI_FRAME_LONG)
			handle_long_line(c, line);
		else if (r == UAPI_FRAME_LINE)
			handle_line(c, line, n);
	}
	sodium_memzero(line, sizeof(line));
}

/* The answer is written: read the next request (it may be waiting in the input already). */
static void client_written(struct bufferevent *bev, void *arg)
{
	struct uapi_client *c = arg;

	if (!c->answering)
		return;
	c->answering = false;
	bufferevent_enable(bev, EV_READ);
	client_read(bev, c);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct uapi_client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_debug_rl("%s: uapi client idle for %d s: closed", c->server->dev->ifname,
		    UAPI_IDLE_TIMEOUT);
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		client_free(c);
}

static void client_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct uapi_client *c = arg;

	(void)fd;
	(void)what;
	log_debug_rl("%s: uapi client still connected after %d s: closed", c->server->dev->ifname,
	    UAPI_DEADLINE);
	client_free(c);
}

/* All slots are taken: the connection that has been open longest gives way.  A real request
 * takes milliseconds, so the oldest is the stuck or slow one; a newcomer is served at once,
 * while the deadlines bound what the slots can hold when there is no newcomer. */
static void evict_oldest(struct uapi_server *s)
{
	struct uapi_client *c, *oldest = s->clients;

	for (c = s->clients; c; c = c->next)
		if (c->serial < oldest->serial)
			oldest = c;
	log_debug_rl("%s: uapi: %u clients connected: closing the oldest", s->dev->ifname,
	    s->n_clients);
	client_free(oldest);
}

static void listen_retry(evutil_socket_t fd, short what, void *arg)
{
	struct uapi_server *s = arg;

	(void)fd;
	(void)what;
	event_add(s->ev_listen, NULL);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval idle = { UAPI_IDLE_TIMEOUT, 0 };
	static const struct timeval deadline = { UAPI_DEADLINE, 0 };
	static const struct timeval retry = { 1, 0 };
	struct uapi_server *s = arg;
	struct uapi_client *c;
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
			return;
		/* The connection stays queued and the socket readable: listening on as if nothing
		 * happened would spin the loop.  Our own oldest client gives its fd to the
		 * newcomer (the socket fires again at once); with none, pause for a second. */
		if (s->clients) {
			evict_oldest(s);
			return;
		}
		log_rl_errno(LOG_LEVEL_WARN, errno, "%s: uapi accept: pausing for 1 s",
		    s->dev->ifname);
		event_del(s->ev_listen);
		event_add(s->ev_listen_retry, &retry);
		return;
	}
	if (s->n_clients >= UAPI_MAX_CLIENTS)
		evict_oldest(s);
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->server = s;
	c->serial = s->n_accepted++;
	config_init(&c->cfg);
	c->bev = bufferevent_socket_new(s->dev->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(s->dev->base, client_deadline, c);
	if (!c->bev || !c->deadline || evtimer_add(c->deadline, &deadline) < 0) {
		if (c->deadline)
			event_free(c->deadline);
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(cfd);
		free(c);
		return;
	}
	s->n_clients++;
	c->next = s->clients;
	s->clients = c;
	bufferevent_setcb(c->bev, client_read, client_written, client_event, c);
	/* Reading stops while a partial line this long waits for its '\n' (bounded input). */
	bufferevent_setwatermark(c->bev, EV_READ, 0, UAPI_READ_CHUNK);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* wg-quick down removes the socket file to stop a userspace implementation. */
static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct uapi_server *s = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat st;

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (stat(s->path, &st) < 0 && errno == ENOENT) {
		s->path[0] = '\0';
		s->on_gone(s->dev);
	}
}

/* 1 if a process answers on addr, 0 if not, or a negative errno when we cannot tell: then
 * the socket file must not be removed (it may be another daemon's). */
static int socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return -errno;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

int uapi_server_start(struct uapi_server **out, struct device *dev,
    void (*on_gone)(struct device *dev))
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct uapi_server *s;
	mode_t old_umask;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("%s: cannot start the control socket: out of memory", dev->ifname);
		return -ENOMEM;
	}
	s->dev = dev;
	s->on_gone = on_gone;
	s->listen_fd = s->inotify_fd = -1;
	if (mkdir(UAPI_SOCKET_DIR, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot create %s", UAPI_SOCKET_DIR);
		goto fail;
	}
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s.sock", UAPI_SOCKET_DIR,
	    dev->ifname) >= sizeof(s->path)) {
		ret = -ENAMETOOLONG;
		log_error("control socket path %s/%s.sock is too long", UAPI_SOCKET_DIR,
		    dev->ifname);
		goto fail;
	}
	memcpy(addr.sun_path, s->path, sizeof(s->path));
	ret = socket_in_use(&addr);
	if (ret < 0) {
		log_errno(LOG_LEVEL_ERROR, ret, "cannot serve %s: socket(AF_UNIX) to check whether "
		    "another process serves it", s->path);
		goto fail;
	}
	if (ret > 0) {
		log_error("%s is served by another process already", s->path);
		ret = -EADDRINUSE;
		goto fail;
	}
	unlink(s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot serve %s: socket(AF_UNIX)", s->path);
		goto fail;
	}
	old_umask = umask(0077);
	ret = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (ret < 0 || chmod(s->path, 0600) < 0 || listen(s->listen_fd, 16) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot serve %s", s->path);
		goto fail;
	}
	s->ev_listen = event_new(dev->base, s->listen_fd, EV_READ | EV_PERSIST, on_accept, s);
	s->ev_listen_retry = evtimer_new(dev->base, listen_retry, s);
	if (!s->ev_listen || !s->ev_listen_retry || event_add(s->ev_listen, NULL) < 0) {
		ret = -ENOMEM;
		log_error("cannot serve %s: cannot add it to the event loop", s->path);
		goto fail;
	}
	/* Optional (removing the socket stops us, as wireguard-go): a failure is a warning. */
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		log_errno(LOG_LEVEL_WARN, errno, "inotify_init1 (to watch %s): removing the socket "
		    "will not stop tunneld", s->path);
	else if (inotify_add_watch(s->inotify_fd, s->path, IN_ATTRIB) < 0)
		log_errno(LOG_LEVEL_WARN, errno, "inotify_add_watch %s: removing the socket will "
		    "not stop tunneld", s->path);
	else if (!(s->ev_inotify = event_new(dev->base, s->inotify_fd, EV_READ | EV_PERSIST,
	    on_inotify, s)) || event_add(s->ev_inotify, NULL) < 0)
		log_warn("cannot add the watch on %s to the event loop: removing the socket will "
		    "not stop tunneld", s->path);
	*out = s;
	return 0;
fail:
	uapi_server_stop(s);
	return ret;
}

void uapi_server_stop(struct uapi_server *s)
{
	if (!s)
		return;
	while (s->clients)
		client_free(s->clients);
	if (s->ev_inotify)
		event_free(s->ev_inotify);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	if (s->ev_listen_retry)
		event_free(s->ev_listen_retry);
	if (s->ev_listen)
		event_free(s->ev_listen);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->path[0])
			unlink(s->path);
	}
	free(s);
}
