/* keys status without --node: the fleet as one node sees it (docs/keys.1, "status").
 *
 * The node's own tunneld answers over its UAPI socket (as for `wg show`): per peer the
 * endpoint, the last handshake and the bytes.  Every other roster node is asked for its own
 * view, GET /v1/status on its gossip server over the overlay (tunneld/status_view.h): the
 * serial it runs and how many of its peers it has a live session with.  At most
 * FLEET_PARALLEL requests at once, each with its own deadline, so a fleet with nodes down
 * answers within about (nodes / FLEET_PARALLEL + 1) x the timeout and never hangs. */
#ifndef KEYS_FLEET_H
#define KEYS_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "keys/lib/roster.h"

enum {
	FLEET_PARALLEL = 32,		/* nodes asked at once */
	FLEET_TIMEOUT_MS = 3000,	/* default per-node deadline, connect to last byte */
	FLEET_ANSWER_MAX = 1 << 20,	/* bytes of one node's answer, headers included */
	FLEET_UAPI_MAX = 4 << 20,	/* bytes of the local UAPI dump */
	FLEET_SESSION_LIVE = 180,	/* seconds: a handshake younger than this is a live session
					 * (REJECT_AFTER_TIME: older keys are refused anyway) */
};

struct fleet_node {
	const struct roster_node *rn;	/* borrowed from the caller's roster */
	char addr[64];			/* overlay address asked ("" if the node has none) */
	bool self;			/* the node we run on */
	/* This node's view of it (UAPI). */
	bool has_local;
	char endpoint[64];		/* "" if none known */
	uint64_t last_handshake;	/* Unix seconds, 0 = never */
	uint64_t rx_bytes, tx_bytes;
	/* Its own view (GET /v1/status), or why there is none. */
	bool reachable;
	char error[128];
	uint64_t serial;
	uint64_t time;			/* its clock when it answered */
	unsigned peers, peers_live;
};

/* Reads the local tunneld's view of ifname's peers into the matching nodes[] (by public key)
 * and marks the node whose key is the interface's own as self (the private key read from the
 * socket is wiped at once).  0, or a negative errno with why filled in. */
int fleet_uapi_read(const char *ifname, struct fleet_node *nodes, size_t n, char *why,
    size_t whylen);

/* Asks every node but self that has an address, port, timeout_ms each, FLEET_PARALLEL at a
 * time; fills reachable/error and the view fields. */
void fleet_fetch_all(struct fleet_node *nodes, size_t n, uint16_t port, int timeout_ms);

/* Parses one GET /v1/status body into f (serial, time, peers, peers_live); checks that the
 * node answers under the roster's name.  A member repeated in any object read, or more than
 * peers_max peers (the roster's node count), is an invalid answer.  false with f->error set
 * otherwise. */
bool fleet_view_parse(struct fleet_node *f, const char *body, size_t len, size_t peers_max);

#endif
