/* Limits on refused requests, per session and per engineer. */
#include "bastion/refusal.h"

#include <string.h>

#include <sodium.h>

#define NS_PER_S 1000000000ull

void refusals_init(struct refusals *r)
{
	memset(r, 0, sizeof(*r));
	randombytes_buf(r->key, sizeof(r->key));
}

static struct refusal_slot *slot(struct refusals *r, const char *engineer, uint64_t now_ns)
{
	uint8_t h[crypto_shorthash_BYTES];
	struct refusal_slot *s;
	uint64_t refill;
	size_t len = strnlen(engineer, ROSTER_NAME_MAX);

	crypto_shorthash(h, (const uint8_t *)engineer, len, r->key);
	s = &r->slots[(h[0] | (unsigned)h[1] << 8) % REFUSAL_SLOTS];
	if (strncmp(s->engineer, engineer, sizeof(s->engineer)) != 0) {
		memcpy(s->engineer, engineer, len);
		s->engineer[len] = '\0';
		s->tokens = REFUSAL_ENGINEER_BURST;
		s->last_ns = now_ns;
		return s;
	}
	if (now_ns > s->last_ns) {
		refill = (now_ns - s->last_ns) / (REFUSAL_ENGINEER_REFILL_S * NS_PER_S);
		if (refill >= REFUSAL_ENGINEER_BURST - s->tokens)
			s->tokens = REFUSAL_ENGINEER_BURST;
		else
			s->tokens += (uint32_t)refill;
		s->last_ns += refill * REFUSAL_ENGINEER_REFILL_S * NS_PER_S;
	}
	return s;
}

const char *refusals_take(struct refusals *r, const char *engineer, unsigned *session_count,
    uint64_t now_ns)
{
	struct refusal_slot *s = slot(r, engineer, now_ns);

	if (++*session_count > REFUSAL_SESSION_MAX)
		return "refused requests: session limit";
	if (s->tokens == 0)
		return "refused requests: engineer limit";
	s->tokens--;
	return NULL;
}
