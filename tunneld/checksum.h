/* The Internet checksum (RFC 1071) of IP headers and TCP/UDP segments, and the pseudo-header
 * sums that TCP and UDP checksums start from (RFC 793, RFC 768, RFC 8200 8.1). */
#ifndef TUNNELD_CHECKSUM_H
#define TUNNELD_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Running one's-complement sums are kept unfolded in a uint64_t, over 16-bit words taken in
 * memory order, so that the folded result is stored back with memcpy and is correct on any
 * host byte order.  A sum must only be continued over data that starts at an even offset of
 * the checksummed region. */

/* Adds len bytes at data to sum; an odd last byte counts as padded with a zero byte. */
uint64_t checksum_add(uint64_t sum, const void *data, size_t len);

/* Folds sum to 16 bits (not complemented), in memory order: memcpy it into the packet. */
uint16_t checksum_fold(uint64_t sum);

/* The checksum field's value for data whose sum is sum: the complement of the fold. */
static inline uint16_t checksum_finish(uint64_t sum)
{
	return (uint16_t)~checksum_fold(sum);
}

/* The pseudo-header sum of a TCP or UDP segment of l4_len bytes (header and payload) from src
 * to dst; addr_len is 4 (IPv4) or 16 (IPv6), the addresses in network order. */
uint64_t checksum_pseudo(const uint8_t *src, const uint8_t *dst, size_t addr_len,
    uint8_t protocol, uint32_t l4_len);

#endif
