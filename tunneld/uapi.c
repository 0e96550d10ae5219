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

#include "log.h"
#include "uapi.h"

struct uapi_server {
	struct device *dev;
	void (*on_gone)(struct device *dev);
	int listen_fd;
	int inotify_fd;
	struct event *ev_listen;
	struct event *ev_inotify;
	struct uapi_client *clients;
	unsigned n_clients;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct uapi_client {
	struct uapi_server *server;
	struct bufferevent *bev;
	struct uapi_client *next;
};

static void client_free(struct uapi_client *c)
{
	struct uapi_client **pp;

	for (pp = &c->server->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->server->n_clients--;
	bufferevent_free(c->bev);
	free(c);
}

__attribute__((format(printf, 2, 3)))
static void emit_evbuffer(void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(ctx, fmt, ap);
	va_end(ap);
}

static void handle_get(struct uapi_client *c, struct evbuffer *out)
{
	device_uapi_get(c->server->dev, emit_evbuffer, out);
	evbuffer_add_printf(out, "errno=0\n\n");
}

static void handle_set(struct uapi_client *c, const char *body, size_t len, struct evbuffer *out)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	int err;

	config_init(&cfg);
	err = config_parse_uapi_set(body, len, &cfg, &errs);
	if (err) {
		for (size_t i = 0; i < errs.count; i++)
			log_warn("%s: uapi set: %s", c->server->dev->ifname, errs.msgs[i]);
	} else {
		err = device_apply_uapi_set(c->server->dev, &cfg);
	}
	config_errors_free(&errs);
	config_free(&cfg);
	/* Negative, as wireguard-go answers and wg(8) expects. */
	evbuffer_add_printf(out, "errno=%d\n\n", -err);
}

/* Handles every complete request (terminated by an empty line) in the input buffer. */
static void client_read(struct bufferevent *bev, void *arg)
{
	struct uapi_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	struct evbuffer_ptr end;
	size_t len;
	char *req;

	for (;;) {
		end = evbuffer_search(in, "\n\n", 2, NULL);
		if (end.pos < 0) {
			if (evbuffer_get_length(in) > UAPI_MAX_REQUEST) {
				log_warn("%s: uapi request too large, closing",
				    c->server->dev->ifname);
				client_free(c);
			}
			return;
		}
		len = (size_t)end.pos + 2;
		req = (char *)evbuffer_pullup(in, (ssize_t)len);
		if (!req) {
			client_free(c);
			return;
		}
		if (len >= 7 && memcmp(req, "get=1\n\n", 7) == 0 && len == 7) {
			handle_get(c, out);
		} else if (len >= 6 && memcmp(req, "set=1\n", 6) == 0) {
			/* The body excludes the terminating empty line. */
			handle_set(c, req + 6, len - 7, out);
		} else {
			/* Not a request this protocol knows: answer as wireguard-go does. */
			evbuffer_add_printf(out, "errno=%d\n\n", -EINVAL);
		}
		/* The request may hold keys: wipe it before releasing. */
		memset(req, 0, len);
		evbuffer_drain(in, len);
	}
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct uapi_server *s = arg;
	struct uapi_client *c;
	int cfd;

	(void)what;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (s->n_clients >= UAPI_MAX_CLIENTS) {
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->server = s;
	c->bev = bufferevent_socket_new(s->dev->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(cfd);
		free(c);
		return;
	}
	s->n_clients++;
	c->next = s->clients;
	s->clients = c;
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
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

/* true if a live process answers on path. */
static bool socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
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
	if (!s)
		return -ENOMEM;
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
		goto fail;
	}
	memcpy(addr.sun_path, s->path, sizeof(s->path));
	if (socket_in_use(&addr)) {
		log_error("%s is served by another process already", s->path);
		ret = -EADDRINUSE;
		goto fail;
	}
	unlink(s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		ret = -errno;
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
	if (!s->ev_listen || event_add(s->ev_listen, NULL) < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd >= 0 && inotify_add_watch(s->inotify_fd, s->path, IN_ATTRIB) >= 0) {
		s->ev_inotify = event_new(dev->base, s->inotify_fd, EV_READ | EV_PERSIST,
		    on_inotify, s);
		if (s->ev_inotify)
			event_add(s->ev_inotify, NULL);
	}
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
	if (s->ev_listen)
		event_free(s->ev_listen);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->path[0])
			unlink(s->path);
	}
	free(s);
}
