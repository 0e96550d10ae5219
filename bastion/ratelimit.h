/* Failed authentications per source address: a token bucket per address in a fixed table
 * (no allocation; a collision evicts the older entry, which only ever forgives).  Keyed with a
 * random SipHash key so that a client cannot aim collisions at someone else's entry. */
#ifndef BASTION_RATELIMIT_H
#define BASTION_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

enum {
	RATELIMIT_SLOTS = 4096,
	RATELIMIT_BURST = 10,		/* failures allowed at once */
	RATELIMIT_REFILL_S = 6,		/* one more failure allowed every this many seconds */
};

struct ratelimit_addr {
	uint8_t bytes[17];		/* family (4 or 6), then the address (v4 in the first 4) */
};

struct ratelimit_slot {
	struct ratelimit_addr addr;
	uint64_t last_ns;
	uint32_t tokens_milli;		/* failures still allowed, x1000 */
	bool used;
};

struct ratelimit {
	uint8_t key[16];
	struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

void ratelimit_init(struct ratelimit *rl);
/* Whether addr may still fail (has at least one token) at now_ns. */
bool ratelimit_allowed(struct ratelimit *rl, const struct ratelimit_addr *addr, uint64_t now_ns);
/* Records a failure; returns whether addr is still allowed after it. */
bool ratelimit_fail(struct ratelimit *rl, const struct ratelimit_addr *addr, uint64_t now_ns);

#endif
