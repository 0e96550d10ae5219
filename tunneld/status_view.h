/* A node's own view of the fleet, as its gossip server answers GET /v1/status (gossip.h) and
 * `keys status` reads it (docs/tunneld.md, "Fleet status"): one JSON object,
 *
 *   {"name": "web-1", "network": "prod", "serial": 42, "time": 1796000000,
 *    "peers": [{"name": "db-1", "key": "BASE64", "endpoint": "192.0.2.7:51820",
 *               "last_handshake": 1795999950, "rx_bytes": 1234, "tx_bytes": 5678}, ...]}
 *
 * serial: the last fully applied roster's (what the node runs); time and last_handshake: Unix
 * seconds of the node's own clock (0: never), so that a reader computes ages without trusting
 * clocks to agree; name: the roster's name of the peer (null if the roster has none for its
 * key); endpoint: where the node last heard from or sends to the peer (null: not known).
 * Public facts only: no key material but public keys.  Strings through common/json.c. */
#ifndef TUNNELD_STATUS_VIEW_H
#define TUNNELD_STATUS_VIEW_H

#include <stdint.h>
#include <stdio.h>

struct roster_sync;

/* Writes rs's view (rs->dev's peers, rs->running's names) to f as one JSON object and a
 * newline; now_s is the node's wall clock (Unix seconds).  Errors are f's (ferror). */
void status_view_write(FILE *f, const struct roster_sync *rs, uint64_t now_s);

#endif
