/* Endpoint names re-resolved off the event loop: getaddrinfo runs in a short-lived thread per
 * lookup and hands its answer back through a pipe, so a slow resolver never stalls traffic. */
#ifndef TUNNELD_RESOLVER_H
#define TUNNELD_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

/* Lookups in flight at once, over all peers, and waiting for a slot. */
enum { RESOLVER_MAX_INFLIGHT = 8, RESOLVER_MAX_QUEUED = 65536 };

struct event_base;
struct resolver;

/* Called on the loop thread with the answer for the peer whose public key is key: err 0 and
 * ep, or a negative errno and the resolver's message. */
typedef void resolver_done_fn(void *ctx, const uint8_t key[WG_KEY_LEN], int err,
    const union wg_sockaddr *ep, const char *msg);

int resolver_new(struct resolver **out, struct event_base *base, resolver_done_fn *done,
    void *ctx);
/* Queues a lookup of host:port for the peer key; it starts when one of the
 * RESOLVER_MAX_INFLIGHT slots is free.  false if the queue is full (try again later). */
bool resolver_submit(struct resolver *r, const uint8_t key[WG_KEY_LEN], const char *host,
    const char *port);
/* Stops delivering answers.  Lookups still running finish on their own. */
void resolver_free(struct resolver *r);

#endif
