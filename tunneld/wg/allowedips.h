/* Cryptokey routing table: longest-prefix match from IPv4/IPv6 prefixes to an owner (a peer).
 * A binary trie per family.  Lookups never allocate; inserts allocate trie nodes. */
#ifndef TUNNELD_WG_ALLOWEDIPS_H
#define TUNNELD_WG_ALLOWEDIPS_H

#include <stdint.h>

struct allowedips_node;

struct allowedips {
	struct allowedips_node *root4;
	struct allowedips_node *root6;
	uint64_t seq;	/* bumped on every change */
};

void allowedips_init(struct allowedips *t);
void allowedips_free(struct allowedips *t);
/* family AF_INET (addr: 4 bytes, network order) or AF_INET6 (16 bytes).  Host bits beyond cidr
 * are ignored.  An existing identical prefix is moved to owner (WireGuard semantics).
 * Returns 0, -EINVAL (bad family/cidr, NULL owner) or -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr,
    void *owner);
/* Removes the exact prefix if owner holds it.  Returns 0 or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr,
    void *owner);
/* Removes every prefix held by owner. */
void allowedips_remove_by_owner(struct allowedips *t, void *owner);
/* Owner of exactly this prefix (host bits ignored), or NULL. */
void *allowedips_owner_of(const struct allowedips *t, int family, const void *addr,
    uint8_t cidr);
/* Longest matching prefix's owner, or NULL.  Borrowed pointer. */
void *allowedips_lookup(const struct allowedips *t, int family, const void *addr);
/* Calls fn for every prefix held by owner (IPv4 first, then IPv6, each in address order).
 * fn must not modify the table. */
typedef void allowedips_walk_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
void allowedips_walk_owner(const struct allowedips *t, void *owner, allowedips_walk_fn *fn,
    void *ctx);

#endif
