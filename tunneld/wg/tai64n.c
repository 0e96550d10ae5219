/* TAI64N encoding with wireguard-go's label base and nanosecond whitening. */
#include "tai64n.h"

#include <string.h>

enum { WHITENER_MASK = 0xffffff };	/* low 24 bits of the nanoseconds are dropped */

#define TAI64_BASE	((1ULL << 62) + 10)

void
tai64n_from_wall_ns(uint8_t out[TAI64N_LEN], uint64_t wall_ns)
{
	uint64_t secs = TAI64_BASE + wall_ns / 1000000000ULL;
	uint32_t nano = (uint32_t)(wall_ns % 1000000000ULL) & ~(uint32_t)WHITENER_MASK;
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nano >> (24 - 8 * i));
}

int
tai64n_compare(const uint8_t a[TAI64N_LEN], const uint8_t b[TAI64N_LEN])
{
	/* Timestamps are not secret: an ordinary compare is fine. */
	return memcmp(a, b, TAI64N_LEN);
}

bool
tai64n_is_after(const uint8_t a[TAI64N_LEN], const uint8_t b[TAI64N_LEN])
{
	return tai64n_compare(a, b) > 0;
}
