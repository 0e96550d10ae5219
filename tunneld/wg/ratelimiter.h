/* Per-source-IP token bucket for handshake messages under load (the kernel's ratelimiter.c):
 * RATELIMITER_PACKETS_PER_SECOND sustained, RATELIMITER_BURST at once.  IPv4 sources are keyed
 * by address, IPv6 by their /64, since one host owns a whole /64.
 *
 * Fixed-size open-addressing table, allocated by the caller once: a packet costs one SipHash
 * and a scan of RATELIMITER_PROBE slots, and never allocates.  Entries idle for a second are
 * expired (their bucket is full again by then) and their slots reused.  When every slot in a
 * probe window is fresh the packet is refused, as the kernel refuses when its table is full. */
#ifndef TUNNELD_WG_RATELIMITER_H
#define TUNNELD_WG_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

enum {
	RATELIMITER_PACKETS_PER_SECOND = 20,
	RATELIMITER_BURST = 5,
	RATELIMITER_SLOTS = 8192,	/* power of two; ~8k sources active within a second */
	RATELIMITER_PROBE = 16,
};

struct ratelimiter_entry {
	uint8_t ip[16];		/* IPv4 address or IPv6 /64, zero padded */
	uint8_t family;		/* 0 = free */
	uint64_t last_ns;
	uint64_t tokens;	/* in nanoseconds of credit; a packet costs 1 s / PACKETS_PER_SECOND */
};

struct ratelimiter {
	uint8_t key[crypto_shorthash_KEYBYTES];
	struct ratelimiter_entry slots[RATELIMITER_SLOTS];
};

/* key: crypto_shorthash_KEYBYTES random bytes, so that sources cannot aim at one bucket. */
void ratelimiter_init(struct ratelimiter *r, const uint8_t key[crypto_shorthash_KEYBYTES]);
/* ip is 4 (IPv4) or 16 (IPv6) bytes in network order.  true if the packet may proceed. */
bool ratelimiter_allow(struct ratelimiter *r, const uint8_t *ip, size_t ip_len,
    uint64_t now_ns);

#endif
