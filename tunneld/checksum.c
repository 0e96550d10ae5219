/* The Internet checksum: 32-bit words summed into 64 bits, folded once at the end. */
#include <arpa/inet.h>
#include <string.h>

#include "checksum.h"

uint64_t checksum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t w;
	uint16_t h;

	/* 2^32 words of 2^32 - 1 cannot carry out of 64 bits: no carry handling per word. */
	for (; len >= 16; p += 16, len -= 16) {
		uint32_t a, b, c, d;

		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		memcpy(&c, p + 8, 4);
		memcpy(&d, p + 12, 4);
		sum += (uint64_t)a + b + c + d;
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { *p, 0 };

		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

uint16_t checksum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

uint64_t checksum_pseudo(const uint8_t *src, const uint8_t *dst, size_t addr_len,
    uint8_t protocol, uint32_t l4_len)
{
	uint64_t sum = 0;
	uint16_t proto_be = htons(protocol);
	uint32_t len_be = htonl(l4_len);

	sum = checksum_add(sum, src, addr_len);
	sum = checksum_add(sum, dst, addr_len);
	sum = checksum_add(sum, &proto_be, 2);
	return checksum_add(sum, &len_be, 4);
}
