/* tunneld's Prometheus endpoint: GET /metrics over HTTP (libevent evhttp) on MetricsListen,
 * answering metrics_page_write's page (docs/tunneld.md, "Metrics").  Off unless configured.
 *
 * Hostile clients (the address may be reachable by others): http_guard.h admits at most
 * METRICS_MAX_CONNS connections (METRICS_MAX_CONNS_PER_SOURCE from one address) and gives each
 * METRICS_DEADLINE seconds in all and METRICS_TIMEOUT seconds without progress; headers are
 * bounded by METRICS_MAX_HEADERS, a request body is refused, only GET and HEAD are served.
 * Over a connection limit, the oldest connection without a whole request that is
 * METRICS_EVICT_MIN_AGE_MS old gives way (http_guard_set_evict).
 * The listening socket is opened at start, before privileges are dropped. */
#ifndef TUNNELD_METRICS_H
#define TUNNELD_METRICS_H

#include "wg/engine.h"

struct device;
struct metrics;
struct roster_sync;

enum {
	METRICS_MAX_CONNS = 16,		/* connections at once, all sources */
	METRICS_MAX_CONNS_PER_SOURCE = 4,	/* connections at once from one address */
	METRICS_TIMEOUT = 5,		/* seconds without progress, per connection */
	METRICS_EVICT_MIN_AGE_MS = 200,	/* a newcomer may close a connection without a request
					 * this old (ms) when the limits are reached */
	METRICS_DEADLINE = 10,		/* seconds from accept to the last byte of the answer */
	METRICS_MAX_HEADERS = 8192,	/* bytes of request headers */
};

/* Listens on addr (IPv4 or IPv6, port set) and serves dev, and rs in roster mode (NULL
 * otherwise).  0 or a negative errno, logged here. */
int metrics_start(struct metrics **out, struct device *dev, const struct roster_sync *rs,
    const union wg_sockaddr *addr);
/* Closes the listener and every connection.  NULL is a no-op. */
void metrics_stop(struct metrics *m);

#endif
