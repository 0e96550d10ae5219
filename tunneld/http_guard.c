/* Admission and deadlines for evhttp servers (see http_guard.h). */
#include "http_guard.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <unistd.h>

#include "gossip_serve.h"
#include "log.h"

/* One admitted connection, on the guard's list until libevent closes it or its deadline
 * passes. */
struct conn {
	struct http_guard *g;
	struct evhttp_connection *evcon;
	struct event *deadline;
	LIST_ENTRY(conn) link;
	struct sockaddr_storage from;
	struct timeval accepted;	/* event_base_gettimeofday_cached at admission */
	bool request_seen;		/* never evicted once true */
};

struct http_guard {
	struct event_base *base;
	struct evhttp *http;
	const char *who;
	int deadline;
	http_guard_admit_fn *admit;
	void *ctx;
	http_guard_admit_fn *evict_fits;	/* NULL: eviction off */
	unsigned evict_min_age_ms;
	struct evhttp_bound_socket *bound[HTTP_GUARD_MAX_LISTENERS];
	/* Accepted by libevent, not yet admitted (see on_accepted). */
	struct bufferevent *fresh[HTTP_GUARD_ACCEPT_BATCH];
	unsigned n_fresh;
	struct event *admit_ev;
	LIST_HEAD(, conn) conns;	/* admitted */
	unsigned n_conns;
	bool paused;			/* listeners off after an accept error */
	struct event *resume_ev;
	int reserve_fd;			/* given up to shed connections when out of fds */
	struct http_guard *next_instance;
};

/* libevent hands a listener's error callback the evhttp, not us: found here. */
static struct http_guard *instances;

static void listeners_enable(struct http_guard *g, bool on)
{
	for (int i = 0; i < HTTP_GUARD_MAX_LISTENERS; i++) {
		struct evconnlistener *lev;

		if (!g->bound[i])
			continue;
		lev = evhttp_bound_socket_get_listener(g->bound[i]);
		if (on)
			evconnlistener_enable(lev);
		else
			evconnlistener_disable(lev);
	}
}

/* libevent closes the connection (answered, timed out, failed, freed by us): forget it. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	LIST_REMOVE(c, link);
	c->g->n_conns--;
	event_free(c->deadline);
	free(c);
}

/* The total deadline: a request still not answered g->deadline seconds after accept is
 * dropped however steadily its bytes trickle in. */
static void on_conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char from[48];

	(void)fd;
	(void)what;
	gossip_addr_format((const struct sockaddr *)&c->from, from);
	log_debug_rl("%s: closing the connection from %s: no answer within %d s", c->g->who,
	    from, c->g->deadline);
	evhttp_connection_free(c->evcon);	/* calls on_conn_close, which frees c */
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
		    &((const struct sockaddr_in *)(const void *)b)->sin_addr, 4) == 0;
	return b->sa_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
}

/* The oldest connection that may give way to a newcomer from sa (see http_guard_set_evict):
 * from sa's address when own, else from any; NULL if none. */
static struct conn *evict_pick(struct http_guard *g, const struct sockaddr *sa, bool own)
{
	const struct timeval min_age = { g->evict_min_age_ms / 1000,
	    (suseconds_t)(g->evict_min_age_ms % 1000) * 1000 };
	struct timeval now, limit;
	struct conn *o, *oldest = NULL;

	event_base_gettimeofday_cached(g->base, &now);
	timersub(&now, &min_age, &limit);
	LIST_FOREACH(o, &g->conns, link) {
		if (o->request_seen || timercmp(&o->accepted, &limit, >) ||
		    (own && !same_addr(&o->from, sa)))
			continue;
		if (!oldest || timercmp(&o->accepted, &oldest->accepted, <))
			oldest = o;
	}
	return oldest;
}

/* Whether sa fits, if need be after closing one connection (eviction on only). */
static bool evict_for(struct http_guard *g, const struct sockaddr *sa, unsigned from_source)
{
	struct conn *v;
	char from[48];

	if (g->evict_fits(g->ctx, sa, from_source, g->n_conns))
		return true;
	v = evict_pick(g, sa, true);
	if (!v || !g->evict_fits(g->ctx, sa, from_source - 1, g->n_conns - 1)) {
		v = evict_pick(g, sa, false);
		if (!v || !g->evict_fits(g->ctx, sa, from_source - same_addr(&v->from, sa),
		    g->n_conns - 1))
			return false;
	}
	gossip_addr_format((const struct sockaddr *)&v->from, from);
	log_warn_rl("%s: closed the oldest connection without a request (from %s) to make "
	    "room for a new one", g->who, from);
	/* Safe here: admit() runs from its own event, not from a callback of v's connection;
	 * on_conn_close frees v. */
	evhttp_connection_free(v->evcon);
	return true;
}

static void admit_one(struct http_guard *g, struct bufferevent *bev)
{
	const struct timeval deadline = { g->deadline, 0 };
	struct evhttp_connection *evcon;
	const struct sockaddr *sa;
	unsigned from_source = 0;
	struct conn *c = NULL, *o;
	void *arg = NULL;
	char from[48];

	/* Our reference (on_accepted) kept bev alive; libevent clears its callbacks when it
	 * frees the connection itself (only when its own allocations fail). */
	bufferevent_getcb(bev, NULL, NULL, NULL, &arg);
	bufferevent_decref(bev);
	evcon = arg;
	if (!evcon)
		return;
	sa = evhttp_connection_get_addr(evcon);
	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
		evhttp_connection_free(evcon);
		return;
	}
	LIST_FOREACH(o, &g->conns, link)
		from_source += same_addr(&o->from, sa);
	if (!(g->evict_fits && evict_for(g, sa, from_source)) &&
	    !g->admit(g->ctx, sa, from_source, g->n_conns)) {
		/* Unread: closing now resets the connection, its bytes never reach us. */
		evhttp_connection_free(evcon);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) &&
	    (c->deadline = evtimer_new(g->base, on_conn_deadline, c)) &&
	    evtimer_add(c->deadline, &deadline) == 0) {
		c->g = g;
		c->evcon = evcon;
		event_base_gettimeofday_cached(g->base, &c->accepted);
		memcpy(&c->from, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6));
		LIST_INSERT_HEAD(&g->conns, c, link);
		g->n_conns++;
		evhttp_connection_set_closecb(evcon, on_conn_close, c);
		return;
	}
	if (c) {
		if (c->deadline)
			event_free(c->deadline);
		free(c);
	}
	gossip_addr_format(sa, from);
	log_error_rl("%s: refused %s: out of memory", g->who, from);
	evhttp_connection_free(evcon);
}

static void admit(evutil_socket_t fd, short what, void *arg)
{
	struct http_guard *g = arg;
	unsigned n = g->n_fresh;

	(void)fd;
	(void)what;
	g->n_fresh = 0;
	for (unsigned i = 0; i < n; i++)
		admit_one(g, g->fresh[i]);
	if (n >= HTTP_GUARD_ACCEPT_BATCH - 1 && !g->paused)
		listeners_enable(g, true);
}

/* evhttp's bufferevent callback: a connection was just accepted.  It runs before the socket
 * is set on the bufferevent: the bufferevent is queued and admit(), made active right then,
 * runs in the same loop pass, after the accept batch and before the loop polls again, so
 * before any byte of these connections is read.  admit_one finds the connection through the
 * bufferevent's callback argument (evhttp's own connection object, set by
 * evhttp_connection_base_bufferevent_new). */
static struct bufferevent *on_accepted(struct event_base *base, void *arg)
{
	struct http_guard *g = arg;
	struct bufferevent *bev;

	/* NULL makes evhttp create its own, unseen by admit(): only when allocation fails, and
	 * then evhttp's own attempt fails too. */
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	/* Until admit() has looked: libevent may free the connection in between. */
	bufferevent_incref(bev);
	if (g->n_fresh == 0)
		event_active(g->admit_ev, EV_TIMEOUT, 0);
	g->fresh[g->n_fresh++] = bev;
	/* Full: accept no more in this pass (libevent's accept loop stops when the listener is
	 * disabled); admit() turns them back on. */
	if (g->n_fresh >= HTTP_GUARD_ACCEPT_BATCH - 1)
		listeners_enable(g, false);
	return bev;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_guard *g = arg;

	(void)fd;
	(void)what;
	g->paused = false;
	if (g->n_fresh < HTTP_GUARD_ACCEPT_BATCH - 1)
		listeners_enable(g, true);
}

/* accept() failed with something other than EAGAIN/EINTR/ECONNABORTED: typically EMFILE or
 * ENFILE.  The listening socket stays readable, so libevent would call accept() again at once,
 * forever, at full CPU (and log each failure).  Instead: give up the reserve descriptor to
 * accept and close what is waiting (the peers see a reset rather than a hang), stop listening
 * for HTTP_GUARD_ACCEPT_PAUSE seconds, and say so once (rate-limited). */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	const struct timeval pause = { HTTP_GUARD_ACCEPT_PAUSE, 0 };
	int err = errno, fd, lfd = evconnlistener_get_fd(lev);
	struct http_guard *g;
	unsigned shed = 0;

	for (g = instances; g && g->http != arg; g = g->next_instance)
		;
	if (!g) {
		evconnlistener_disable(lev);
		return;
	}
	if (g->reserve_fd >= 0) {
		close(g->reserve_fd);
		g->reserve_fd = -1;
	}
	while (shed < HTTP_GUARD_ACCEPT_BATCH &&
	    (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		close(fd);
		shed++;
	}
	g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g->paused = true;
	listeners_enable(g, false);
	evtimer_add(g->resume_ev, &pause);
	log_rl_errno(LOG_LEVEL_WARN, err,
	    "%s: cannot accept connections (%u dropped); pausing for %d s", g->who, shed,
	    HTTP_GUARD_ACCEPT_PAUSE);
}

struct evhttp_bound_socket *http_guard_listen(struct http_guard *g, int fd)
{
	struct evhttp_bound_socket *b;
	struct evconnlistener *lev;
	int i;

	for (i = 0; i < HTTP_GUARD_MAX_LISTENERS && g->bound[i]; i++)
		;
	if (i == HTTP_GUARD_MAX_LISTENERS) {
		close(fd);
		return NULL;
	}
	b = evhttp_accept_socket_with_handle(g->http, fd);
	if (!b) {
		close(fd);
		return NULL;
	}
	lev = evhttp_bound_socket_get_listener(b);
	evconnlistener_set_error_cb(lev, on_accept_error);
	if (g->paused || g->n_fresh >= HTTP_GUARD_ACCEPT_BATCH - 1)
		evconnlistener_disable(lev);
	g->bound[i] = b;
	return b;
}

void http_guard_unlisten(struct http_guard *g, struct evhttp_bound_socket *bound)
{
	for (int i = 0; i < HTTP_GUARD_MAX_LISTENERS; i++) {
		if (g->bound[i] == bound) {
			evhttp_del_accept_socket(g->http, bound);
			g->bound[i] = NULL;
		}
	}
}

void http_guard_set_evict(struct http_guard *g, unsigned min_age_ms, http_guard_admit_fn *fits)
{
	g->evict_min_age_ms = min_age_ms;
	g->evict_fits = fits;
}

void http_guard_request_seen(struct http_guard *g, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct conn *c;

	LIST_FOREACH(c, &g->conns, link) {
		if (c->evcon == evcon) {
			c->request_seen = true;
			break;
		}
	}
}

unsigned http_guard_open(const struct http_guard *g)
{
	return g->n_conns;
}

int http_guard_new(struct http_guard **out, struct event_base *base, struct evhttp *http,
    const char *who, int deadline, http_guard_admit_fn *admit_fn, void *ctx)
{
	struct http_guard *g;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->base = base;
	g->http = http;
	g->who = who;
	g->deadline = deadline;
	g->admit = admit_fn;
	g->ctx = ctx;
	LIST_INIT(&g->conns);
	g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (g->reserve_fd < 0) {
		/* Out of fds already (EMFILE): say so, not "out of memory". */
		ret = -errno;
		free(g);
		return ret;
	}
	g->admit_ev = event_new(base, -1, 0, admit, g);
	g->resume_ev = evtimer_new(base, on_resume, g);
	if (!g->admit_ev || !g->resume_ev) {
		http_guard_free(g);
		return -ENOMEM;
	}
	evhttp_set_bevcb(http, on_accepted, g);
	g->next_instance = instances;
	instances = g;
	*out = g;
	return 0;
}

void http_guard_free(struct http_guard *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_fresh; i++)
		bufferevent_decref(g->fresh[i]);
	if (g->admit_ev)
		event_free(g->admit_ev);
	if (g->resume_ev)
		event_free(g->resume_ev);
	if (g->reserve_fd >= 0)
		close(g->reserve_fd);
	for (struct http_guard **p = &instances; *p; p = &(*p)->next_instance) {
		if (*p == g) {
			*p = g->next_instance;
			break;
		}
	}
	free(g);
}
