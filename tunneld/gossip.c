/* Roster gossip over the overlay (see gossip.h). */
#include "gossip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "device.h"
#include "gossip_serve.h"
#include "http_guard.h"
#include "log.h"
#include "status_view.h"

/* One outgoing request on its own connection, on the gossip object's list until it is freed.
 * The connection is ours in every outcome: libevent frees an auto-free connection after a
 * response or a read error, but not after a refused connect (evhttp_connection_cb_cleanup
 * calls back and leaves it idle), so tunneld never sets auto-free.  The callback runs inside
 * libevent's handling of that connection, so it only marks the call done and the deadline
 * event, rearmed to fire at once, frees both on the next loop turn. */
struct call {
	struct gossip *g;
	struct evhttp_connection *conn;
	struct event *deadline;		/* the total deadline, then the deferred free */
	LIST_ENTRY(call) link;
	bool serial_probe;		/* GET /v1/serial: pull the roster if higher */
	bool done;			/* answered or failed: free on the next loop turn */
	/* evhttp_make_request runs the callback itself when connect() fails at once (no route,
	 * no source address): while starting, on_response only records that, and request()
	 * cleans up once evhttp_make_request has returned. */
	bool starting;
	bool failed_at_start;
	char addr[INET6_ADDRSTRLEN];
	char name[ROSTER_NAME_MAX + 1];	/* the node asked, for log lines */
};

struct gossip {
	struct roster_sync *rs;
	struct event_base *base;
	uint16_t port;
	struct evhttp *http;
	struct http_guard *guard;	/* admission at accept, deadlines (http_guard.h) */
	char who[IFNAMSIZ + 16];	/* "wg0: gossip", for the guard's log lines */
	struct evhttp_bound_socket *bound[2];	/* IPv4, IPv6 */
	uint8_t bound_addr[2][16];
	struct event *timer;
	LIST_HEAD(, call) calls;	/* in flight */
	unsigned inflight;
};

/* ---- listening ---- */

static int listen_on(struct gossip *g, int family, const uint8_t *addr)
{
	union wg_sockaddr sa;
	socklen_t len;
	int fd, one = 1, ret;

	memset(&sa, 0, sizeof(sa));
	if (family == AF_INET) {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(g->port);
		memcpy(&sa.in4.sin_addr, addr, 4);
		len = sizeof(sa.in4);
	} else {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(g->port);
		memcpy(&sa.in6.sin6_addr, addr, 16);
		len = sizeof(sa.in6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Only what came through the tunnel; the address may still be tentative (IPv6 DAD). */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, g->rs->dev->ifname,
	    (socklen_t)strlen(g->rs->dev->ifname)) < 0 ||
	    setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, &sa.sa, len) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	g->bound[family == AF_INET6] = http_guard_listen(g->guard, fd);	/* takes fd */
	if (!g->bound[family == AF_INET6])
		return -ENOMEM;
	memcpy(g->bound_addr[family == AF_INET6], addr, family == AF_INET ? 4 : 16);
	return 0;
}

/* Listens on our current overlay addresses, closing listeners on ones we no longer have. */
static void rebind(struct gossip *g)
{
	const struct roster_node *self = g->rs->revoked ? NULL : g->rs->self;
	const int fam[2] = { AF_INET, AF_INET6 };
	char a[INET6_ADDRSTRLEN];
	int ret;

	for (int i = 0; i < 2; i++) {
		bool want = self && (i == 0 ? self->has_addr4 : self->has_addr6);
		const uint8_t *addr = !self ? NULL : i == 0 ? self->addr4 : self->addr6;

		if (g->bound[i] && want && memcmp(g->bound_addr[i], addr, i == 0 ? 4 : 16) == 0)
			continue;
		if (g->bound[i]) {
			http_guard_unlisten(g->guard, g->bound[i]);
			g->bound[i] = NULL;
		}
		if (!want)
			continue;
		inet_ntop(fam[i], addr, a, sizeof(a));
		ret = listen_on(g, fam[i], addr);
		if (ret < 0)
			log_errno(LOG_LEVEL_ERROR, ret, "%s: gossip: cannot listen on %s port %u",
			    g->rs->dev->ifname, a, g->port);
		else
			log_info("%s: gossip: listening on %s port %u", g->rs->dev->ifname, a,
			    g->port);
	}
}

/* ---- server: admission at accept (http_guard.h carries it out) ---- */

static bool admit(void *ctx, const struct sockaddr *sa, unsigned from_source, unsigned total)
{
	struct gossip *g = ctx;
	char from[48];

	gossip_addr_format(sa, from);
	switch (gossip_admit_check(g->rs, sa, from_source, total)) {
	case GOSSIP_ADMIT:
		return true;
	case GOSSIP_REFUSE_SOURCE:
		log_warn_rl("%s: gossip: refused %s: not a roster node's overlay address",
		    g->rs->dev->ifname, from);
		break;
	case GOSSIP_REFUSE_SOURCE_BUSY:
		log_warn_rl("%s: gossip: refused %s: %d connections from it are open already",
		    g->rs->dev->ifname, from, GOSSIP_MAX_CONNS_PER_SOURCE);
		break;
	case GOSSIP_REFUSE_BUSY:
		log_warn_rl("%s: gossip: refused %s: %d connections are open already",
		    g->rs->dev->ifname, from, GOSSIP_MAX_CONNS);
		break;
	}
	return false;
}

/* ---- server: requests ---- */

static enum roster_offer_result offer(void *ctx, const char *text, size_t len,
    const char *source, char *why, size_t whylen)
{
	return roster_sync_offer(ctx, text, len, source, why, whylen);
}

/* GET /v1/status: the node's view (status_view.h), written fresh for each request. */
static void status_reply(struct gossip *g, struct evhttp_request *req)
{
	struct evbuffer *out = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	bool ok;

	f = open_memstream(&text, &len);
	if (f) {
		status_view_write(f, g->rs, (uint64_t)time(NULL));
		ok = !ferror(f);
		ok = fclose(f) == 0 && ok;
		if (ok && (out = evbuffer_new()))
			evbuffer_add(out, text, len);
	}
	free(text);
	if (!out) {
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct gossip *g = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct sockaddr *sa = conn ? evhttp_connection_get_addr(conn) : NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req), *out;
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	size_t len = evbuffer_get_length(in);
	const char *body = NULL;
	struct gossip_answer ans;

	/* evhttp read at most ROSTER_MAX_BYTES; the check is repeated where the body is used. */
	if (len <= ROSTER_MAX_BYTES)
		body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	gossip_request_handle(g->rs, offer, g->rs, sa, evhttp_request_get_command(req),
	    evhttp_request_get_uri(req), body, len, &ans);
	if (ans.code == 403) {
		char from[48];

		gossip_addr_format(sa, from);
		log_warn_rl("%s: gossip: refused %s: not a roster node's overlay address",
		    g->rs->dev->ifname, from);
	}
	/* One request per connection, so the deadline is per request. */
	evhttp_add_header(headers, "Connection", "close");
	if (ans.status) {
		status_reply(g, req);
		return;
	}
	/* The running roster's text by reference (held: an apply may replace it meanwhile), ans's
	 * own text copied. */
	out = ans.len ? evbuffer_new() : NULL;
	if (out && ans.body == g->rs->text)
		evbuffer_add_reference(out, ans.body, ans.len, roster_sync_text_release,
		    (void *)roster_sync_text_hold(g->rs));
	else if (out)
		evbuffer_add(out, ans.body, ans.len);
	if (ans.len)
		evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, ans.code, ans.reason, out);
	if (out)
		evbuffer_free(out);
}

/* ---- client ---- */


static bool request(struct gossip *g, const struct roster_node *n, enum evhttp_cmd_type cmd,
    const char *path, bool serial_probe);

static void call_free(struct call *c)
{
	LIST_REMOVE(c, link);
	if (!c->done)
		c->g->inflight--;
	event_free(c->deadline);
	evhttp_connection_free(c->conn);	/* frees a request still queued, without calling back */
	free(c);
}

/* The total deadline of an outgoing request: a peer that answers slowly but steadily is cut
 * off (evhttp's own timeout is per read).  Also the deferred free of a finished call. */
static void on_call_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	(void)fd;
	(void)what;
	if (!c->done)
		log_debug_rl("%s: gossip: node %s (%s) did not answer within %d s",
		    c->g->rs->dev->ifname, c->name, c->addr, GOSSIP_DEADLINE);
	call_free(c);
}

/* Marks c finished; its connection and c itself are freed on the next loop turn. */
static void call_done(struct call *c)
{
	static const struct timeval now = { 0, 0 };

	c->done = true;
	c->g->inflight--;
	event_del(c->deadline);
	if (evtimer_add(c->deadline, &now) < 0)
		log_error_rl("%s: gossip: cannot schedule freeing a finished request to %s",
		    c->g->rs->dev->ifname, c->addr);	/* gossip_stop frees it */
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	struct gossip *g = c->g;
	struct evbuffer *in;
	char *text = NULL, why[512], source[INET6_ADDRSTRLEN + 32];
	unsigned long long serial;
	size_t len;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (c->starting) {
		c->failed_at_start = true;
		return;
	}
	call_done(c);
	if (!req || code == 0) {
		log_debug_rl("%s: gossip: node %s (%s) did not answer", g->rs->dev->ifname,
		    c->name, c->addr);
		goto out;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (code != 200) {
		if (code != 204)
			log_debug_rl("%s: gossip: node %s (%s) answered %d", g->rs->dev->ifname,
			    c->name, c->addr, code);
		goto out;
	}
	if (len > ROSTER_MAX_BYTES || !(text = malloc(len + 1)))
		goto out;
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	if (c->serial_probe) {
		char *end;

		errno = 0;
		serial = strtoull(text, &end, 10);
		if (errno || end == text || (*end && *end != '\n'))
			goto out;
		if (g->rs->has_roster && serial > g->rs->running.serial) {
			const struct roster_node *node;
			struct sockaddr_storage ss;

			/* Pull from the same node. */
			memset(&ss, 0, sizeof(ss));
			if (strchr(c->addr, ':')) {
				ss.ss_family = AF_INET6;
				inet_pton(AF_INET6, c->addr,
				    &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr);
			} else {
				ss.ss_family = AF_INET;
				inet_pton(AF_INET, c->addr,
				    &((struct sockaddr_in *)(void *)&ss)->sin_addr);
			}
			node = gossip_source_node(g->rs, (const struct sockaddr *)&ss);
			if (node)
				request(g, node, EVHTTP_REQ_GET, "/v1/roster", false);
		}
		goto out;
	}
	snprintf(source, sizeof(source), "gossip pull from %s", c->addr);
	roster_sync_offer(g->rs, text, len, source, why, sizeof(why));
out:
	free(text);
}

/* The address to reach n at: same family as one we have. */
static bool target_addr(struct gossip *g, const struct roster_node *n, char addr[INET6_ADDRSTRLEN],
    char local[INET6_ADDRSTRLEN])
{
	const struct roster_node *self = g->rs->self;

	if (self->has_addr4 && n->has_addr4) {
		inet_ntop(AF_INET, n->addr4, addr, INET6_ADDRSTRLEN);
		inet_ntop(AF_INET, self->addr4, local, INET6_ADDRSTRLEN);
		return true;
	}
	if (self->has_addr6 && n->has_addr6) {
		inet_ntop(AF_INET6, n->addr6, addr, INET6_ADDRSTRLEN);
		inet_ntop(AF_INET6, self->addr6, local, INET6_ADDRSTRLEN);
		return true;
	}
	return false;
}

static bool request(struct gossip *g, const struct roster_node *n, enum evhttp_cmd_type cmd,
    const char *path, bool serial_probe)
{
	const struct timeval deadline = { GOSSIP_DEADLINE, 0 };
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	char local[INET6_ADDRSTRLEN];
	struct call *c;

	if (g->inflight >= GOSSIP_MAX_INFLIGHT || !g->rs->self || g->rs->revoked)
		return false;
	c = calloc(1, sizeof(*c));
	if (!c)
		return false;
	c->serial_probe = serial_probe;
	memcpy(c->name, n->name, sizeof(c->name));
	c->deadline = evtimer_new(g->base, on_call_deadline, c);
	if (!c->deadline || !target_addr(g, n, c->addr, local))
		goto fail;
	conn = evhttp_connection_base_new(g->base, NULL, c->addr, g->port);
	if (!conn)
		goto fail;
	evhttp_connection_set_timeout(conn, GOSSIP_TIMEOUT);
	evhttp_connection_set_retries(conn, 0);
	/* Answers: a serial, a short reason, or a roster. */
	evhttp_connection_set_max_body_size(conn, serial_probe ? GOSSIP_MAX_SERIAL_ANSWER :
	    cmd == EVHTTP_REQ_POST ? GOSSIP_MAX_POST_ANSWER : ROSTER_MAX_BYTES);
	evhttp_connection_set_max_headers_size(conn, GOSSIP_MAX_HEADERS);
	/* From our overlay address: the only source the other side serves. */
	evhttp_connection_set_local_address(conn, local);
	req = evhttp_request_new(on_response, c);
	if (!req)
		goto fail;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", c->addr);
	/* One request per connection, so the deadline is per request. */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (cmd == EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "text/plain; charset=utf-8");
		/* By reference: eight pushes of a large roster need not hold eight copies. */
		evbuffer_add_reference(evhttp_request_get_output_buffer(req), g->rs->text,
		    g->rs->text_len, roster_sync_text_release, (void *)roster_sync_text_hold(g->rs));
	}
	c->g = g;
	c->conn = conn;
	c->starting = true;
	if (evhttp_make_request(conn, req, cmd, path) < 0)
		goto fail;	/* req is freed by libevent on failure */
	c->starting = false;
	if (c->failed_at_start) {
		/* req was called back and freed; the connection is idle and ours to free. */
		log_debug_rl("%s: gossip: cannot connect to node %s (%s)", g->rs->dev->ifname,
		    c->name, c->addr);
		goto fail;
	}
	if (evtimer_add(c->deadline, &deadline) < 0)
		goto fail;	/* freeing conn frees req without calling back */
	LIST_INSERT_HEAD(&g->calls, c, link);
	g->inflight++;
	return true;
fail:
	if (conn)
		evhttp_connection_free(conn);
	if (c->deadline)
		event_free(c->deadline);
	free(c);
	return false;
}

/* Up to k distinct random peers (not us), into idx; returns how many. */
static size_t pick(struct gossip *g, size_t *idx, size_t k)
{
	const struct roster *r = &g->rs->running;
	size_t n = 0, i, j, t;
	size_t *all = malloc((r->n_nodes ? r->n_nodes : 1) * sizeof(*all));

	if (!all)
		return 0;
	for (i = 0; i < r->n_nodes; i++) {
		if (&r->nodes[i] != g->rs->self)
			all[n++] = i;
	}
	/* Partial Fisher-Yates. */
	for (i = 0; i < k && i < n; i++) {
		j = i + randombytes_uniform((uint32_t)(n - i));
		t = all[i], all[i] = all[j], all[j] = t;
		idx[i] = all[i];
	}
	free(all);
	return i;
}

static void announce(void *arg, struct roster_sync *rs)
{
	struct gossip *g = arg;
	size_t idx[GOSSIP_FANOUT], n;

	(void)rs;
	rebind(g);
	if (!g->rs->self || g->rs->revoked)
		return;
	n = pick(g, idx, GOSSIP_FANOUT);
	for (size_t i = 0; i < n; i++)
		request(g, &g->rs->running.nodes[idx[i]], EVHTTP_REQ_POST, "/v1/roster", false);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gossip *g = arg;
	size_t idx;

	(void)fd;
	(void)what;
	/* A listener that failed (address not there yet) is retried here. */
	rebind(g);
	if (g->rs->self && !g->rs->revoked && pick(g, &idx, 1) == 1)
		request(g, &g->rs->running.nodes[idx], EVHTTP_REQ_GET, "/v1/serial", true);
}

int gossip_start(struct gossip **out, struct roster_sync *rs, uint16_t port)
{
	const struct timeval every = { GOSSIP_INTERVAL, 0 };
	struct gossip *g;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->rs = rs;
	g->base = rs->dev->base;
	g->port = port;
	LIST_INIT(&g->calls);
	snprintf(g->who, sizeof(g->who), "%s: gossip", rs->dev->ifname);
	g->http = evhttp_new(g->base);
	if (!g->http)
		goto fail;
	ret = http_guard_new(&g->guard, g->base, g->http, g->who, GOSSIP_DEADLINE, admit, g);
	if (ret < 0) {
		gossip_stop(g);
		return ret;
	}
	/* evhttp's timeout is per read or write (idle); the whole request has GOSSIP_DEADLINE. */
	evhttp_set_timeout(g->http, GOSSIP_TIMEOUT);
	evhttp_set_max_body_size(g->http, ROSTER_MAX_BYTES);
	evhttp_set_max_headers_size(g->http, GOSSIP_MAX_HEADERS);
	evhttp_set_allowed_methods(g->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(g->http, on_request, g);
	g->timer = event_new(g->base, -1, EV_PERSIST, on_timer, g);
	if (!g->timer || event_add(g->timer, &every) < 0)
		goto fail;
	/* A node that was down asks soon after start, not a whole interval later. */
	event_active(g->timer, EV_TIMEOUT, 0);
	rs->on_accepted = announce;
	rs->on_accepted_ctx = g;
	rebind(g);
	*out = g;
	return 0;
fail:
	gossip_stop(g);
	return -ENOMEM;
}

void gossip_stop(struct gossip *g)
{
	struct call *c;

	if (!g)
		return;
	if (g->rs && g->rs->on_accepted_ctx == g) {
		g->rs->on_accepted = NULL;
		g->rs->on_accepted_ctx = NULL;
	}
	/* Abandon requests in flight and free finished ones. */
	while ((c = LIST_FIRST(&g->calls)))
		call_free(c);
	if (g->timer)
		event_free(g->timer);
	/* Frees every inbound connection, fresh or admitted (through the guard's callbacks). */
	if (g->http)
		evhttp_free(g->http);
	http_guard_free(g->guard);
	free(g);
}
