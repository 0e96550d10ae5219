/* Overlay address allocation: the lowest free host address inside the network's CIDR. */
#include "keys/lib/roster_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/mem.h"

struct used {
	uint8_t a[16];
};

static int used_cmp(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

/* a += 1 as a 128-bit big-endian number; false on wrap. */
static bool inc(uint8_t a[16])
{
	int i;

	for (i = 15; i >= 0; i--)
		if (++a[i] != 0)
			return true;
	return false;
}

bool roster_allocate_address(const struct roster *r, int family, uint8_t out[16])
{
	return roster_allocate_address_avoiding(r, family, NULL, 0, out);
}

bool roster_allocate_address_avoiding(const struct roster *r, int family,
    const uint8_t (*avoid)[16], size_t n_avoid, uint8_t out[16])
{
	const struct roster_prefix *net;
	struct used *used = NULL, cand;
	size_t n = 0, i;
	unsigned bits, off;
	bool ok = false, ones;

	if (family == AF_INET) {
		net = &r->cidr4;
		bits = 32;
	} else if (family == AF_INET6 && r->has_cidr6) {
		net = &r->cidr6;
		bits = 128;
	} else {
		return false;
	}
	if (net->family != family)
		return false;
	/* Work in 16 bytes, IPv4 right-aligned, so one increment serves both families. */
	off = 16 - bits / 8;
	if (r->n_nodes + n_avoid) {
		used = calloc(r->n_nodes + n_avoid, sizeof(*used));
		if (!used)
			return false;
	}
	for (i = 0; i < r->n_nodes; i++) {
		const struct roster_node *nd = &r->nodes[i];

		if (family == AF_INET && nd->has_addr4)
			memcpy(used[n++].a + off, nd->addr4, 4);
		else if (family == AF_INET6 && nd->has_addr6)
			memcpy(used[n++].a, nd->addr6, 16);
	}
	/* Held addresses count as used (first bytes of avoid[i], as roster_address_parse). */
	for (i = 0; i < n_avoid; i++)
		memcpy(used[n++].a + off, avoid[i], bits / 8);
	array_sort(used, n, sizeof(*used), used_cmp);
	memset(&cand, 0, sizeof(cand));
	memcpy(cand.a + off, net->addr, bits / 8);
	/* Skip the network address unless the prefix is a point-to-point /31 or a /32. */
	if (net->cidr < bits - 1)
		inc(cand.a);
	for (i = 0; i < n; i++) {
		int c = memcmp(used[i].a, cand.a, 16);

		if (c < 0)
			continue;
		if (c > 0)
			break;
		if (!inc(cand.a))
			goto out;
	}
	if (!roster_prefix_contains(net, family, cand.a + off))
		goto out;
	if (family == AF_INET && net->cidr < 31) {
		/* The broadcast address: every host bit set. */
		ones = true;
		for (i = net->cidr; i < 32; i++)
			ones &= (cand.a[12 + i / 8] >> (7 - i % 8)) & 1;
		if (ones)
			goto out;
	}
	memset(out, 0, 16);
	memcpy(out, cand.a + off, bits / 8);
	ok = true;
out:
	free(used);
	return ok;
}
