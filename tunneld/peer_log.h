/* How a log line names a peer: "peer web-1 (AbCdEfGh)" in roster mode (the roster's node name
 * and the first PEER_LOG_KEY_CHARS characters of its base64 public key), "peer AbCdEfGh" in
 * config mode (a wg-quick file has no names); for JSON lines the structured fields peer (the
 * whole key), name and endpoint (common/log.h). */
#ifndef TUNNELD_PEER_LOG_H
#define TUNNELD_PEER_LOG_H

#include <stdint.h>

#include "common/log.h"
#include "keys/lib/key.h"

struct peer;

enum { PEER_LOG_KEY_CHARS = 8, PEER_NAME_SIZE = 64 };

struct peer_log {
	char text[16 + PEER_NAME_SIZE + PEER_LOG_KEY_CHARS];	/* "peer NAME (KEY)" */
	char key[KEY_B64_LEN + 1];
	char endpoint[64];
	struct log_fields fields;	/* points into the above: no copy of it may outlive it */
};

/* Fills l for the peer with key and name ("" or NULL: none); p, when not NULL, gives the
 * endpoint. */
void peer_log_init(struct peer_log *l, const uint8_t key[KEY_LEN], const char *name,
    const struct peer *p);
/* The same for a live peer (its key, name and endpoint). */
void peer_log_of(struct peer_log *l, const struct peer *p);

#endif
