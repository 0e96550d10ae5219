/* Sliding replay window for transport counters, RFC 6479 style: a ring of 64-bit blocks of
 * which one block is always "redundant", so moving the window forward clears whole blocks
 * and never shifts bits.  Counters are stored shifted by one so that greatest == 0 can mean
 * "nothing seen yet" (the kernel does the same). */
#include <string.h>

#include "tunneld/wg/messages.h"
#include "tunneld/wg/replay.h"

enum {
	BLOCK_BITS = 64,
	BLOCKS = REPLAY_BITS_TOTAL / BLOCK_BITS,	/* 128, a power of two */
};

_Static_assert((BLOCKS & (BLOCKS - 1)) == 0, "ring size must be a power of two");
_Static_assert(REJECT_AFTER_MESSAGES + REPLAY_WINDOW_SIZE > REJECT_AFTER_MESSAGES,
    "window arithmetic must not overflow");

void
replay_counter_init(struct replay_counter *r)
{
	memset(r, 0, sizeof(*r));
}

bool
replay_counter_validate(struct replay_counter *r, uint64_t counter)
{
	uint64_t n, block, cur, steps, i, bit;

	/* Counters this high mean the key must be dropped; also keeps n below from wrapping. */
	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	n = counter + 1;
	/* Older than the window: we no longer know whether it was seen. */
	if (n + REPLAY_WINDOW_SIZE < r->greatest)
		return false;

	block = n / BLOCK_BITS;
	if (n > r->greatest) {
		/* Slide forward: zero every block the window enters, at most the whole ring. */
		cur = r->greatest / BLOCK_BITS;
		steps = block - cur;
		if (steps > BLOCKS)
			steps = BLOCKS;
		for (i = 1; i <= steps; i++)
			r->bitmap[(cur + i) & (BLOCKS - 1)] = 0;
		r->greatest = n;
	}

	bit = UINT64_C(1) << (n & (BLOCK_BITS - 1));
	block &= BLOCKS - 1;
	if (r->bitmap[block] & bit)
		return false;
	r->bitmap[block] |= bit;
	return true;
}
