/* Roster gossip over the overlay: a small HTTP service (libevent evhttp) on this node's own
 * overlay address(es), port GossipPort, its listening sockets bound to the tunnel interface
 * (SO_BINDTODEVICE) so that only traffic that came through the tunnel, that is from
 * authenticated peers, reaches it.
 *
 *   GET  /v1/serial   "N\n", the running serial
 *   GET  /v1/roster   the running signed roster
 *   POST /v1/roster   body = a signed roster: 204 accepted or not newer, 400 + reason if invalid
 *   GET  /v1/status   this node's own view as JSON (status_view.h): `keys status` merges them
 *
 * Only sources that are a roster node's overlay address are served: any other connection is
 * closed at accept, before a byte of it is read (gossip_serve.h decides).  On accepting a
 * roster the node POSTs it to up to GOSSIP_FANOUT random peers; every GOSSIP_INTERVAL seconds
 * it asks one random peer for its serial and pulls if higher (anti-entropy, so that a node that
 * was down catches up).
 *
 * Bounded both ways: inbound, GOSSIP_MAX_CONNS connections (GOSSIP_MAX_CONNS_PER_SOURCE per
 * address), bodies at most ROSTER_MAX_BYTES, headers GOSSIP_MAX_HEADERS, GOSSIP_TIMEOUT seconds
 * without progress and GOSSIP_DEADLINE seconds in all per connection (one request each); when
 * accept() fails (out of descriptors) listening pauses HTTP_GUARD_ACCEPT_PAUSE seconds instead of
 * spinning (http_guard.h carries out admission, deadlines and the pause).  Outbound, GOSSIP_MAX_INFLIGHT requests, the same timeout and deadline, answers at
 * most a serial's, a reason's or a roster's size.  Never blocks the event loop; every log line
 * a peer can trigger is rate-limited. */
#ifndef TUNNELD_GOSSIP_H
#define TUNNELD_GOSSIP_H

#include <stdint.h>

#include "roster_sync.h"

enum {
	GOSSIP_FANOUT = 8,		/* peers told of a newly accepted roster */
	GOSSIP_INTERVAL = 5,		/* seconds between anti-entropy checks */
	GOSSIP_TIMEOUT = 5,		/* seconds without progress, per connection (both ways) */
	GOSSIP_DEADLINE = 20,		/* seconds from accept (or connect) to the last byte */
	GOSSIP_MAX_INFLIGHT = 16,	/* outgoing requests at once */
	GOSSIP_MAX_HEADERS = 8192,	/* bytes of request headers */
	GOSSIP_MAX_SERIAL_ANSWER = 64,	/* bytes: the body of a GET /v1/serial answer */
	GOSSIP_MAX_POST_ANSWER = 4096,	/* bytes: the body of a POST answer (a reason) */
};

struct gossip;

/* Starts the service for rs (binding as soon as the roster gives us an address) and hooks
 * itself to rs->on_accepted.  0 or a negative errno. */
int gossip_start(struct gossip **out, struct roster_sync *rs, uint16_t port);
/* Stops serving; outgoing requests still in flight are abandoned. */
void gossip_stop(struct gossip *g);

#endif
