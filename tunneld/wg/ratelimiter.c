/* Token bucket per source IP in a fixed open-addressing table. */
#include "ratelimiter.h"

#include <string.h>

#include "timers.h"

enum { EXPIRY_SECONDS = 1 };

#define PACKET_COST	(NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND)
#define TOKEN_MAX	(PACKET_COST * RATELIMITER_BURST)

void ratelimiter_init(struct ratelimiter *r, const uint8_t key[crypto_shorthash_KEYBYTES])
{
	memset(r->slots, 0, sizeof(r->slots));
	memcpy(r->key, key, sizeof(r->key));
}

static bool stale(const struct ratelimiter_entry *s, uint64_t now)
{
	return s->family == 0 || s->last_ns + EXPIRY_SECONDS * NSEC_PER_SEC <= now;
}

bool ratelimiter_allow(struct ratelimiter *r, const uint8_t *ip, size_t ip_len,
    uint64_t now_ns)
{
	uint8_t key[16] = { 0 }, h[crypto_shorthash_BYTES];
	uint8_t family = ip_len == 4 ? 4 : 6;
	struct ratelimiter_entry *s, *reuse = NULL;
	uint64_t start;

	if (ip_len != 4 && ip_len != 16)
		return false;
	memcpy(key, ip, family == 4 ? 4 : 8);	/* IPv6: the /64 */
	crypto_shorthash(h, key, sizeof(key), r->key);
	memcpy(&start, h, sizeof(start));

	/* The whole window is scanned: slots are reused, never emptied, so a gap ends nothing. */
	for (size_t i = 0; i < RATELIMITER_PROBE; i++) {
		s = &r->slots[(start + i) & (RATELIMITER_SLOTS - 1)];
		if (s->family == family && !memcmp(s->ip, key, sizeof(key)))
			goto found;
		if (!reuse && stale(s, now_ns))
			reuse = s;
	}
	if (!reuse)
		return false;
	s = reuse;
	memcpy(s->ip, key, sizeof(key));
	s->family = family;
	s->last_ns = now_ns;
	s->tokens = TOKEN_MAX - PACKET_COST;
	return true;

found:
	if (now_ns > s->last_ns) {
		uint64_t credit = now_ns - s->last_ns;

		s->tokens = credit >= TOKEN_MAX - s->tokens ? TOKEN_MAX : s->tokens + credit;
		s->last_ns = now_ns;
	}
	if (s->tokens < PACKET_COST)
		return false;
	s->tokens -= PACKET_COST;
	return true;
}
