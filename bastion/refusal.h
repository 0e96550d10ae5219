/* Refused requests of authenticated sessions: denied channel opens (jumps and other channel
 * types), refused global requests (remote forwarding and the like), refused session-channel
 * requests (exec, subsystem, env, ...).  Each is audited while it is under two limits: per
 * session (REFUSAL_SESSION_MAX) and per engineer (a token bucket shared by all their sessions,
 * REFUSAL_ENGINEER_BURST, one back every REFUSAL_ENGINEER_REFILL_S).  Past either the session
 * is closed and audited once, so a session can add at most REFUSAL_SESSION_MAX + 1 lines and
 * an engineer, over time T, REFUSAL_ENGINEER_BURST + T / REFUSAL_ENGINEER_REFILL_S plus one
 * line per session.
 *
 * The engineer table is fixed (no allocation), keyed with a random SipHash key; a collision
 * gives the slot to the newer engineer, which only forgives. */
#ifndef BASTION_REFUSAL_H
#define BASTION_REFUSAL_H

#include <stdbool.h>
#include <stdint.h>

#include "keys/lib/roster.h"

enum {
	REFUSAL_SESSION_MAX = 32,
	REFUSAL_ENGINEER_BURST = 128,
	REFUSAL_ENGINEER_REFILL_S = 1,
	REFUSAL_SLOTS = 1024,
};

struct refusal_slot {
	char engineer[ROSTER_NAME_MAX + 1];	/* "" : free */
	uint64_t last_ns;			/* last refill */
	uint32_t tokens;
};

struct refusals {
	uint8_t key[16];
	struct refusal_slot slots[REFUSAL_SLOTS];
};

void refusals_init(struct refusals *r);

/* Counts one refused request of engineer's session, whose count so far is *session_count
 * (incremented).  Returns NULL if it may be audited and the session go on, else why the
 * session must now be closed ("refused requests: session limit" / "...: engineer limit",
 * static strings). */
const char *refusals_take(struct refusals *r, const char *engineer, unsigned *session_count,
    uint64_t now_ns);

#endif
