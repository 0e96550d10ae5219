/* Token buckets for failed authentications, one per source address. */
#include "bastion/ratelimit.h"

#include <string.h>

#include <sodium.h>

enum { FULL = RATELIMIT_BURST * 1000 };

void ratelimit_init(struct ratelimit *rl)
{
	memset(rl, 0, sizeof(*rl));
	randombytes_buf(rl->key, sizeof(rl->key));
}

static struct ratelimit_slot *slot(struct ratelimit *rl, const struct ratelimit_addr *a,
    uint64_t now_ns)
{
	uint8_t h[crypto_shorthash_BYTES];
	struct ratelimit_slot *s;
	uint64_t refill;

	crypto_shorthash(h, a->bytes, sizeof(a->bytes), rl->key);
	s = &rl->slots[(h[0] | (unsigned)h[1] << 8) % RATELIMIT_SLOTS];
	if (!s->used || memcmp(&s->addr, a, sizeof(*a)) != 0) {
		s->addr = *a;
		s->used = true;
		s->tokens_milli = FULL;
		s->last_ns = now_ns;
		return s;
	}
	if (now_ns > s->last_ns) {
		refill = (now_ns - s->last_ns) / (RATELIMIT_REFILL_S * 1000000000ull);
		if (refill > 0) {
			s->tokens_milli = refill >= RATELIMIT_BURST ? FULL :
			    (uint32_t)(s->tokens_milli + refill * 1000 > FULL ? FULL :
			    s->tokens_milli + refill * 1000);
			s->last_ns += refill * RATELIMIT_REFILL_S * 1000000000ull;
		}
	}
	return s;
}

bool ratelimit_allowed(struct ratelimit *rl, const struct ratelimit_addr *addr, uint64_t now_ns)
{
	return slot(rl, addr, now_ns)->tokens_milli >= 1000;
}

bool ratelimit_fail(struct ratelimit *rl, const struct ratelimit_addr *addr, uint64_t now_ns)
{
	struct ratelimit_slot *s = slot(rl, addr, now_ns);

	if (s->tokens_milli >= 1000)
		s->tokens_milli -= 1000;
	return s->tokens_milli >= 1000;
}
