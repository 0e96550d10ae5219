/* The bastion's metrics endpoint: GET /metrics (and HEAD) on MetricsListen, answering
 * bastion_metrics_write's page, served from the network process's one ssh_event loop.
 *
 * A tiny bounded HTTP/1.0 responder, not libevent's evhttp: evhttp runs only inside an
 * event_base loop (its own epoll set and callbacks), which cannot be driven from libssh's
 * ssh_event poll without a second loop and more system calls under the seccomp filter.  This
 * one uses only what the filter allows already (accept4, read, sendto, close), and its
 * listening socket is opened before the privilege drop.
 *
 * Hostile clients: at most BMETRICS_MAX_CONNS connections; when all are open, a new one makes
 * the oldest that has not sent a whole request close (silent clients cannot hold every slot
 * and keep Prometheus out), or is closed at once itself if each has its answer already (always
 * accepted, so the backlog cannot spin the loop; out of descriptors, accept_guard.h); BMETRICS_REQUEST_MAX bytes of request line and
 * headers (more: 431), BMETRICS_DEADLINE seconds per connection from accept to the last byte
 * of the answer; one request per connection; anything but GET or HEAD of /metrics is refused
 * (405, 404, 400); a request body is never read. */
#ifndef BASTION_METRICS_HTTP_H
#define BASTION_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct bastion;
struct bastion_listen;

enum {
	BMETRICS_MAX_CONNS = 8,
	BMETRICS_REQUEST_MAX = 4096,	/* bytes: request line and headers */
	BMETRICS_DEADLINE = 5,		/* seconds from accept to the end of the answer */
};

/* Listens on la and adds the socket to b->ev; sets b->metrics.  0 or -errno, err says what. */
int metrics_http_open(struct bastion *b, const struct bastion_listen *la, char *err,
    size_t errlen);
/* After each poll round: closes answered, failed and late connections, updates poll events. */
void metrics_http_sync(struct bastion *b, uint64_t now_ns);
/* Closes everything.  No-op without an endpoint. */
void metrics_http_close(struct bastion *b);

#endif
