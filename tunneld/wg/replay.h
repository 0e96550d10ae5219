/* Sliding replay window for transport counters (RFC 6479 style, as the kernel and
 * wireguard-go): 8128 counters behind the greatest one seen are remembered. */
#ifndef TUNNELD_WG_REPLAY_H
#define TUNNELD_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_BITS_TOTAL = 8192,
	REPLAY_REDUNDANT_BITS = 64,
	REPLAY_WINDOW_SIZE = REPLAY_BITS_TOTAL - REPLAY_REDUNDANT_BITS,	/* 8128 */
};

struct replay_counter {
	uint64_t greatest;	/* greatest counter accepted + 1; 0 = nothing yet */
	uint64_t bitmap[REPLAY_BITS_TOTAL / 64];
};

void replay_counter_init(struct replay_counter *r);
/* Call only after the packet authenticated.  Returns true and marks the counter seen if it is
 * new and inside the window; false for duplicates, counters older than the window, and
 * counters >= REJECT_AFTER_MESSAGES. */
bool replay_counter_validate(struct replay_counter *r, uint64_t counter);

#endif
