/* tunneld's metrics endpoint (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/prom.h"
#include "device.h"
#include "gossip_serve.h"
#include "http_guard.h"
#include "log.h"
#include "metrics_page.h"
#include "peer.h"

struct metrics {
	struct device *dev;
	const struct roster_sync *rs;
	struct evhttp *http;
	struct http_guard *guard;
	char who[IFNAMSIZ + 16];	/* "wg0: metrics" */
};

struct policy_drops {
	struct metrics_policy_drop *d;
	size_t n, cap;
	bool failed;
};

static void policy_drop_add(const char *rule, uint64_t packets, void *arg)
{
	struct policy_drops *pd = arg;

	if (pd->n == pd->cap) {
		size_t cap = pd->cap ? 2 * pd->cap : 16;
		struct metrics_policy_drop *grown = realloc(pd->d, cap * sizeof(*grown));

		if (!grown) {
			pd->failed = true;
			return;
		}
		pd->d = grown;
		pd->cap = cap;
	}
	pd->d[pd->n].rule = rule;
	pd->d[pd->n++].packets = packets;
}

/* The policy section, its drop counters read from the kernel now (firewall_policy_drops). */
static void policy_write(struct prom_writer *w, struct device *dev)
{
	struct policy_drops pd = { 0 };
	int ret = 0;

	if (dev->fw)
		ret = firewall_policy_drops(dev->fw, policy_drop_add, &pd);
	if (ret < 0)
		log_rl_errno(LOG_LEVEL_WARN, ret, "%s: cannot read the policy's counters",
		    dev->ifname);
	if (pd.failed)
		prom_writer_fail(w);
	metrics_policy_write(w, dev->policy_applied || !firewall_policy_active(&dev->policy),
	    pd.d, ret < 0 ? 0 : pd.n);
	free(pd.d);
}

/* The limits alone, silent (the guard's eviction asks it). */
static bool fits(void *ctx, const struct sockaddr *sa, unsigned from_source, unsigned total)
{
	(void)ctx;
	(void)sa;
	return from_source < METRICS_MAX_CONNS_PER_SOURCE && total < METRICS_MAX_CONNS;
}

/* Asked when eviction could not make room: the limits, and the refusal logged. */
static bool admit(void *ctx, const struct sockaddr *sa, unsigned from_source, unsigned total)
{
	struct metrics *m = ctx;
	char from[48];

	if (fits(ctx, sa, from_source, total))
		return true;
	gossip_addr_format(sa, from);
	log_warn_rl("%s: refused %s: %d connections %s are open already", m->who, from,
	    total >= METRICS_MAX_CONNS ? METRICS_MAX_CONNS : METRICS_MAX_CONNS_PER_SOURCE,
	    total >= METRICS_MAX_CONNS ? "in all" : "from it");
	return false;
}

static void reply(struct evhttp_request *req, int code, const char *reason,
    struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	/* One request per connection, so the deadline is per request. */
	evhttp_add_header(h, "Connection", "close");
	if (code == 200)
		evhttp_add_header(h, "Content-Type", PROM_CONTENT_TYPE);
	evhttp_send_reply(req, code, reason, body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = NULL;
	struct prom_writer w;

	prom_writer_init(&w);
	http_guard_request_seen(m->guard, req);
	/* The path alone; a query string (Prometheus sends none) is not an error. */
	if (!uri || strncmp(uri, "/metrics", 8) != 0 || (uri[8] != '\0' && uri[8] != '?')) {
		reply(req, 404, "Not Found", NULL);
		goto out;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
		reply(req, 400, "Bad Request", NULL);
		goto out;
	}
	metrics_page_write(&w, m->dev, m->rs, clock_now_ns());
	policy_write(&w, m->dev);
	out = evbuffer_new();
	if (prom_writer_failed(&w) || !out || evbuffer_add(out, w.buf, w.len) < 0) {
		log_error_rl("%s: cannot build the page (%zu bytes): out of memory or over %d "
		    "bytes", m->who, w.len, PROM_MAX_BYTES);
		reply(req, 500, "Internal Server Error", NULL);
		goto out;
	}
	reply(req, 200, "OK", out);
out:
	if (out)
		evbuffer_free(out);
	prom_writer_free(&w);
}

int metrics_start(struct metrics **out, struct device *dev, const struct roster_sync *rs,
    const union wg_sockaddr *addr)
{
	socklen_t len = addr->sa.sa_family == AF_INET ? sizeof(addr->in4) : sizeof(addr->in6);
	char a[48];
	struct metrics *m;
	int fd = -1, one = 1, ret;
	uint16_t port = ntohs(addr->sa.sa_family == AF_INET ? addr->in4.sin_port :
	    addr->in6.sin6_port);

	gossip_addr_format(&addr->sa, a);
	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto fail;
	}
	m->dev = dev;
	m->rs = rs;
	snprintf(m->who, sizeof(m->who), "%s: metrics", dev->ifname);
	m->http = evhttp_new(dev->base);
	if (!m->http) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = http_guard_new(&m->guard, dev->base, m->http, m->who, METRICS_DEADLINE, admit, m);
	if (ret < 0)
		goto fail;
	/* Any local user shares loopback with Prometheus: silent connections give way. */
	http_guard_set_evict(m->guard, METRICS_EVICT_MIN_AGE_MS, fits);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	/* A GET has no body: anything longer than none is refused by evhttp (413). */
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m->http, on_request, m);
	fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (addr->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, &addr->sa, len) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	if (!http_guard_listen(m->guard, fd)) {	/* takes fd */
		ret = -ENOMEM;
		goto fail;
	}
	log_info("%s: listening on %s port %u", m->who, a, port);
	*out = m;
	return 0;
fail:
	log_errno(LOG_LEVEL_ERROR, ret, "%s: metrics: cannot listen on %s port %u", dev->ifname,
	    a, port);
	metrics_stop(m);
	return ret;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	http_guard_free(m->guard);
	free(m);
}
