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
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "device.h"
#include "log.h"

/* One outgoing request, on the gossip object's list until its callback runs. */
struct call {
	struct gossip *g;
	struct evhttp_connection *conn;
	struct call *next, *prev;
	bool serial_probe;		/* GET /v1/serial: pull the roster if higher */
	char addr[INET6_ADDRSTRLEN];
};

struct gossip {
	struct roster_sync *rs;
	struct event_base *base;
	uint16_t port;
	struct evhttp *http;
	struct evhttp_bound_socket *bound[2];	/* IPv4, IPv6 */
	uint8_t bound_addr[2][16];
	struct event *timer;
	struct call *calls;		/* in flight */
	unsigned inflight;
};

/* ---- addresses ---- */

static bool node_has_addr(const struct roster_node *n, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return n->has_addr4 && memcmp(n->addr4,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4) == 0;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		/* A v4 node's address as seen on a dual-stack socket. */
		if (IN6_IS_ADDR_V4MAPPED(a))
			return n->has_addr4 && memcmp(n->addr4, a->s6_addr + 12, 4) == 0;
		return n->has_addr6 && memcmp(n->addr6, a->s6_addr, 16) == 0;
	}
	return false;
}

/* The roster node (not us) whose overlay address is sa, or NULL. */
static const struct roster_node *source_node(struct gossip *g, const struct sockaddr *sa)
{
	const struct roster *r = &g->rs->running;

	if (!g->rs->has_roster || !sa)
		return NULL;
	for (size_t i = 0; i < r->n_nodes; i++) {
		if (&r->nodes[i] != g->rs->self && node_has_addr(&r->nodes[i], sa))
			return &r->nodes[i];
	}
	return NULL;
}

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
	g->bound[family == AF_INET6] = evhttp_accept_socket_with_handle(g->http, fd);
	if (!g->bound[family == AF_INET6]) {
		close(fd);
		return -ENOMEM;
	}
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
			evhttp_del_accept_socket(g->http, g->bound[i]);
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

/* ---- server ---- */

static void reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b && text)
		evbuffer_add(b, text, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void serve_post(struct gossip *g, struct evhttp_request *req, const char *from)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char why[512], source[INET6_ADDRSTRLEN + 32];
	const char *body;

	if (len > ROSTER_MAX_BYTES) {
		reply_text(req, 413, "Payload Too Large", NULL, 0);
		return;
	}
	body = (const char *)evbuffer_pullup(in, -1);
	snprintf(source, sizeof(source), "gossip from %s", from);
	switch (roster_sync_offer(g->rs, body ? body : "", body ? len : 0, source, why,
	    sizeof(why))) {
	case ROSTER_OFFER_ACCEPTED:
	case ROSTER_OFFER_NOT_NEWER:
		evhttp_send_reply(req, 204, "No Content", NULL);
		break;
	case ROSTER_OFFER_INVALID:
		strncat(why, "\n", sizeof(why) - strlen(why) - 1);
		reply_text(req, 400, "Bad Request", why, strlen(why));
		break;
	case ROSTER_OFFER_FAILED:
		reply_text(req, 500, "Internal Server Error", NULL, 0);
		break;
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct gossip *g = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct sockaddr *sa = conn ? evhttp_connection_get_addr(conn) : NULL;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char from[INET6_ADDRSTRLEN] = "?", serial[32];
	int n;

	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, from,
		    sizeof(from));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    from, sizeof(from));
	if (!source_node(g, sa)) {
		log_warn("%s: gossip: refused %s: not a roster node's overlay address",
		    g->rs->dev->ifname, from);
		reply_text(req, 403, "Forbidden", NULL, 0);
		return;
	}
	if (g->rs->revoked || !g->rs->has_roster || !g->rs->text) {
		reply_text(req, 503, "Service Unavailable", NULL, 0);
		return;
	}
	if (cmd == EVHTTP_REQ_GET && strcmp(uri, "/v1/serial") == 0) {
		n = snprintf(serial, sizeof(serial), "%llu\n",
		    (unsigned long long)g->rs->text_serial);
		reply_text(req, 200, "OK", serial, (size_t)n);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(uri, "/v1/roster") == 0) {
		reply_text(req, 200, "OK", g->rs->text, g->rs->text_len);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(uri, "/v1/roster") == 0) {
		serve_post(g, req, from);
	} else {
		reply_text(req, 404, "Not Found", NULL, 0);
	}
}

/* ---- client ---- */

static void call_unlink(struct call *c)
{
	struct gossip *g = c->g;

	if (c->prev)
		c->prev->next = c->next;
	else
		g->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->inflight--;
}

static bool request(struct gossip *g, const struct roster_node *n, enum evhttp_cmd_type cmd,
    const char *path, bool serial_probe);

static void on_response(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	struct gossip *g = c->g;
	struct evbuffer *in;
	char *text = NULL, why[512], source[INET6_ADDRSTRLEN + 32];
	unsigned long long serial;
	size_t len;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	call_unlink(c);
	if (!req || code == 0) {
		log_debug("%s: gossip: %s did not answer", g->rs->dev->ifname, c->addr);
		goto out;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (code != 200) {
		if (code != 204)
			log_debug("%s: gossip: %s answered %d", g->rs->dev->ifname, c->addr, code);
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
			node = source_node(g, (const struct sockaddr *)&ss);
			if (node)
				request(g, node, EVHTTP_REQ_GET, "/v1/roster", false);
		}
		goto out;
	}
	snprintf(source, sizeof(source), "gossip pull from %s", c->addr);
	roster_sync_offer(g->rs, text, len, source, why, sizeof(why));
out:
	free(text);
	free(c);
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
	if (!target_addr(g, n, c->addr, local))
		goto fail;
	conn = evhttp_connection_base_new(g->base, NULL, c->addr, g->port);
	if (!conn)
		goto fail;
	evhttp_connection_set_timeout(conn, GOSSIP_TIMEOUT);
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_max_body_size(conn, ROSTER_MAX_BYTES);
	evhttp_connection_set_max_headers_size(conn, GOSSIP_MAX_HEADERS);
	/* From our overlay address: the only source the other side serves. */
	evhttp_connection_set_local_address(conn, local);
	req = evhttp_request_new(on_response, c);
	if (!req)
		goto fail;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", c->addr);
	/* One request per connection: libevent frees an auto-free connection only when it
	 * closes after the response, never while it idles kept alive. */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (cmd == EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "text/plain; charset=utf-8");
		evbuffer_add(evhttp_request_get_output_buffer(req), g->rs->text, g->rs->text_len);
	}
	if (evhttp_make_request(conn, req, cmd, path) < 0)
		goto fail;	/* req is freed by libevent on failure */
	evhttp_connection_free_on_completion(conn);
	c->g = g;
	c->conn = conn;
	c->next = g->calls;
	if (g->calls)
		g->calls->prev = c;
	g->calls = c;
	g->inflight++;
	return true;
fail:
	if (conn)
		evhttp_connection_free(conn);
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

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->rs = rs;
	g->base = rs->dev->base;
	g->port = port;
	g->http = evhttp_new(g->base);
	if (!g->http)
		goto fail;
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
	struct call *c, *next;

	if (!g)
		return;
	if (g->rs && g->rs->on_accepted_ctx == g) {
		g->rs->on_accepted = NULL;
		g->rs->on_accepted_ctx = NULL;
	}
	/* Abandon requests in flight: freeing a connection frees its queued request without
	 * calling back. */
	for (c = g->calls; c; c = next) {
		next = c->next;
		evhttp_connection_free(c->conn);
		free(c);
	}
	if (g->timer)
		event_free(g->timer);
	if (g->http)
		evhttp_free(g->http);
	free(g);
}
