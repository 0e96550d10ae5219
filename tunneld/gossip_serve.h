/* The gossip server's decisions, apart from HTTP and sockets (gossip.c carries them out): who
 * may connect, and what a request is answered.  Pure but for the offer callback, so that a
 * fuzzer drives it (tests/fuzz/fuzz_gossip_request.c). */
#ifndef TUNNELD_GOSSIP_SERVE_H
#define TUNNELD_GOSSIP_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/http.h>

#include "roster_sync.h"

enum {
	GOSSIP_MAX_CONNS = 32,		/* inbound connections at once, all sources */
	GOSSIP_MAX_CONNS_PER_SOURCE = 4,	/* inbound connections at once from one address */
};

enum gossip_admit {
	GOSSIP_ADMIT,
	GOSSIP_REFUSE_SOURCE,		/* not a roster node's overlay address (or us) */
	GOSSIP_REFUSE_SOURCE_BUSY,	/* that node holds GOSSIP_MAX_CONNS_PER_SOURCE already */
	GOSSIP_REFUSE_BUSY,		/* GOSSIP_MAX_CONNS are open */
};

/* What a request comes to.  body is borrowed (the running roster's text, valid until the next
 * roster apply, or text[]); len bytes. */
struct gossip_answer {
	int code;			/* HTTP status */
	const char *reason;		/* HTTP reason phrase (static) */
	const char *body;
	size_t len;
	bool status;			/* 200 whose body is the node's view (status_view.h): the
					 * caller writes it, this module never sees the device */
	char text[512];
};

/* Offers a POSTed roster (roster_sync_offer in the daemon). */
typedef enum roster_offer_result gossip_offer_fn(void *ctx, const char *text, size_t len,
    const char *source, char *why, size_t whylen);

/* The roster node, other than us, whose overlay address is sa (IPv4, IPv6 or IPv4-mapped),
 * or NULL.  Borrowed from rs->running. */
const struct roster_node *gossip_source_node(const struct roster_sync *rs,
    const struct sockaddr *sa);

/* Whether a new connection from sa may stay, given from_source connections already open from
 * that address and total in all.  Decided at accept, before any byte is read. */
enum gossip_admit gossip_admit_check(const struct roster_sync *rs, const struct sockaddr *sa,
    unsigned from_source, unsigned total);

/* Answers one request: cmd on uri (the raw request target), from sa, with a body of len bytes
 * (NULL when it was not read because len > ROSTER_MAX_BYTES).  Routes GET /v1/serial, GET
 * /v1/roster and POST /v1/roster (the serial and text of the last fully applied roster) and
 * GET /v1/status (ans->status: read-only, never changes anything);
 * refuses sources that are not roster nodes (403), serves nothing while revoked or before a
 * roster is fully applied (503).  A body identical to the running roster is
 * answered 204 without an offer (a peer replaying it costs a compare, not a parse). */
void gossip_request_handle(const struct roster_sync *rs, gossip_offer_fn *offer,
    void *offer_ctx, const struct sockaddr *sa, enum evhttp_cmd_type cmd, const char *uri,
    const char *body, size_t len, struct gossip_answer *ans);

/* "a.b.c.d" or the IPv6 form of sa, "?" if it is neither; for logs. */
void gossip_addr_format(const struct sockaddr *sa, char out[static 48]);

#endif
