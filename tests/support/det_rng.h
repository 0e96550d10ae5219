/* A deterministic randomness source for the engine (wg_engine_set_rng) in tests and fuzz
 * harnesses: ChaCha20 keyed by (seed, call number), so a run is reproducible from its seed. */
#ifndef TESTS_DET_RNG_H
#define TESTS_DET_RNG_H

#include <stdint.h>
#include <string.h>

#include <sodium.h>

struct rng {
	uint64_t seed;
	uint64_t calls;
};

static inline void rng_fn(void *ctx, void *buf, size_t len)
{
	struct rng *r = ctx;
	uint8_t s[randombytes_SEEDBYTES] = { 0 };

	memcpy(s, &r->seed, sizeof(r->seed));
	memcpy(s + 8, &r->calls, sizeof(r->calls));
	r->calls++;
	randombytes_buf_deterministic(buf, len, s);
}

/* A number below bound (> 0) from the same stream: for tests that draw their cases. */
static inline uint32_t rng_below(struct rng *r, uint32_t bound)
{
	uint32_t v;

	rng_fn(r, &v, sizeof(v));
	return v % bound;
}

#endif
