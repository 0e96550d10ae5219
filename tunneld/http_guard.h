/* Admission and deadlines for an evhttp server facing hostile clients, shared by the gossip
 * service (gossip.c) and the metrics endpoint (metrics.c).
 *
 * libevent 2.1's evhttp accepts by itself and has no hook that sees a new socket before it
 * reads.  The guard installs evhttp's bufferevent callback, which runs inside the accept: each
 * new connection is queued, and a deferred event that runs in the same loop pass, before the
 * loop polls again, asks the owner's admit function whether it may stay.  Refused connections
 * are freed unread (the peer sees a reset).  Admitted ones get a total deadline (evhttp's own
 * timeout is per read, so a client trickling bytes would never time out) and are counted per
 * source address.  When accept() fails (out of descriptors), a reserve descriptor is given up
 * to shed what is waiting and listening pauses HTTP_GUARD_ACCEPT_PAUSE seconds instead of
 * spinning.  Size and method limits stay the owner's (evhttp_set_max_*). */
#ifndef TUNNELD_HTTP_GUARD_H
#define TUNNELD_HTTP_GUARD_H

#include <stdbool.h>
#include <sys/socket.h>

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct http_guard;

enum {
	HTTP_GUARD_ACCEPT_PAUSE = 1,	/* seconds without accepting after accept() failed */
	HTTP_GUARD_ACCEPT_BATCH = 256,	/* connections accepted in one loop pass, at most */
	HTTP_GUARD_MAX_LISTENERS = 2,	/* bound sockets per guard (IPv4 and IPv6) */
};

/* Whether a connection from sa may stay, given from_source admitted connections already open
 * from that address and total in all.  Logs its own refusal (rate-limited). */
typedef bool http_guard_admit_fn(void *ctx, const struct sockaddr *sa, unsigned from_source,
    unsigned total);

/* Guards http (owned by the caller, who frees it before http_guard_free).  who names the
 * service in log lines ("wg0: gossip"; borrowed, must outlive the guard); deadline is in
 * seconds from accept.  0 or a negative errno. */
int http_guard_new(struct http_guard **out, struct event_base *base, struct evhttp *http,
    const char *who, int deadline, http_guard_admit_fn *admit, void *ctx);
/* Switches eviction on (off by default: gossip keeps it off, so that one node cannot cut
 * another's slow POST).  Then a newcomer the limits refuse first makes room: the oldest
 * admitted connection that has not completed a request (http_guard_request_seen) and is at
 * least min_age_ms milliseconds old, from the newcomer's own address if that makes the
 * newcomer fit, else from any address, is closed, and the newcomer is admitted with a
 * rate-limited warning instead of a refusal.  fits answers like the admit function, for the
 * counts as they would be, and must not log.  Silent clients holding every slot (any local
 * user on loopback) then cannot keep a well-behaved client out; min_age_ms keeps a flood of
 * newcomers from cutting a client between its connect and its request. */
void http_guard_set_evict(struct http_guard *g, unsigned min_age_ms, http_guard_admit_fn *fits);
/* Tells the guard that req's connection has completed a request (call from the request
 * callback): it is never evicted after that. */
void http_guard_request_seen(struct http_guard *g, struct evhttp_request *req);
/* Serves the listening socket fd (taken over, closed on failure too) through the guard.
 * NULL on failure or when HTTP_GUARD_MAX_LISTENERS are bound already. */
struct evhttp_bound_socket *http_guard_listen(struct http_guard *g, int fd);
/* Stops serving a socket http_guard_listen returned. */
void http_guard_unlisten(struct http_guard *g, struct evhttp_bound_socket *bound);
/* Admitted connections open now. */
unsigned http_guard_open(const struct http_guard *g);
/* Call after evhttp_free (which closes every connection through the guard). */
void http_guard_free(struct http_guard *g);

#endif
