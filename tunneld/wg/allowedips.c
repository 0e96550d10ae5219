/* Cryptokey routing table: a path-compressed binary trie per address family.
 *
 * Keys are held as two host-order 64-bit words (the address read big-endian, IPv4 in the top
 * 32 bits), so a prefix compare or a bit test is a shift and a mask.  Every node carries a
 * prefix (host bits zero); a node with owner == NULL is a pure branch point and exists only
 * while it has two children.  Depth is at most 129, so the recursive helpers are bounded.
 *
 * Complexity: lookup O(depth), insert/remove O(depth), remove_by_owner and walk_owner one
 * walk of the trie, O(n) in the number of prefixes (removing every one of 10,000 peers costs
 * 10,000 walks: fine for roster changes, never on the packet path). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tunneld/wg/allowedips.h"

struct allowedips_node {
	struct allowedips_node *child[2];
	void *owner;
	uint64_t key[2];
	uint8_t cidr;
};

static uint64_t
load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
store_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Mask of the first n bits of a 64-bit word (n in 0..64). */
static uint64_t
mask64(unsigned n)
{
	return n == 0 ? 0 : ~UINT64_C(0) << (64 - n);
}

static bool
family_bits(int family, unsigned *bits)
{
	if (family == AF_INET)
		*bits = 32;
	else if (family == AF_INET6)
		*bits = 128;
	else
		return false;
	return true;
}

static void
key_load(int family, const void *addr, uint64_t key[2])
{
	const uint8_t *p = addr;

	if (family == AF_INET) {
		key[0] = (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
		    (uint64_t)p[3] << 32;
		key[1] = 0;
	} else {
		key[0] = load_be64(p);
		key[1] = load_be64(p + 8);
	}
}

static void
key_mask(uint64_t key[2], unsigned cidr)
{
	key[0] &= mask64(cidr > 64 ? 64 : cidr);
	key[1] &= mask64(cidr > 64 ? cidr - 64 : 0);
}

static unsigned
bit_at(const uint64_t key[2], unsigned i)
{
	return (unsigned)(key[i / 64] >> (63 - i % 64)) & 1;
}

/* Length of the common prefix of a and b, capped at limit. */
static unsigned
common_len(const uint64_t a[2], const uint64_t b[2], unsigned limit)
{
	uint64_t x = a[0] ^ b[0];
	unsigned n;

	if (x)
		n = (unsigned)__builtin_clzll(x);
	else if ((x = a[1] ^ b[1]))
		n = 64 + (unsigned)__builtin_clzll(x);
	else
		n = 128;
	return n < limit ? n : limit;
}

/* Does key lie inside node n's prefix? */
static bool
node_covers(const struct allowedips_node *n, const uint64_t key[2])
{
	unsigned c = n->cidr;

	if (c <= 64)
		return ((key[0] ^ n->key[0]) & mask64(c)) == 0;
	return key[0] == n->key[0] && ((key[1] ^ n->key[1]) & mask64(c - 64)) == 0;
}

static struct allowedips_node *
node_new(const uint64_t key[2], unsigned cidr, void *owner)
{
	struct allowedips_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->key[0] = key[0];
	n->key[1] = key[1];
	key_mask(n->key, cidr);
	n->cidr = (uint8_t)cidr;
	n->owner = owner;
	return n;
}

static void
free_tree(struct allowedips_node *n)
{
	if (!n)
		return;
	free_tree(n->child[0]);
	free_tree(n->child[1]);
	free(n);
}

/* Restores the invariant at *slot after its owner or a child went away: an ownerless node
 * needs two children, else it is replaced by its only child or removed. */
static void
compact(struct allowedips_node **slot)
{
	struct allowedips_node *n = *slot;

	if (n->owner || (n->child[0] && n->child[1]))
		return;
	*slot = n->child[0] ? n->child[0] : n->child[1];
	free(n);
}

void
allowedips_init(struct allowedips *t)
{
	memset(t, 0, sizeof(*t));
}

void
allowedips_free(struct allowedips *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	t->root4 = t->root6 = NULL;
	t->seq++;
}

int
allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr,
    void *owner)
{
	struct allowedips_node **slot, *n, *leaf, *fork;
	uint64_t key[2];
	unsigned bits, common = 0;

	if (!family_bits(family, &bits) || cidr > bits || !owner || !addr)
		return -EINVAL;
	key_load(family, addr, key);
	key_mask(key, cidr);
	slot = family == AF_INET ? &t->root4 : &t->root6;

	for (;;) {
		n = *slot;
		if (!n)
			break;
		common = common_len(n->key, key, n->cidr < cidr ? n->cidr : cidr);
		if (common == n->cidr && n->cidr == cidr) {
			/* Same prefix (or a branch point on it): it moves to owner. */
			n->owner = owner;
			t->seq++;
			return 0;
		}
		if (common < n->cidr)
			break;
		slot = &n->child[bit_at(key, n->cidr)];
	}

	if (!(leaf = node_new(key, cidr, owner)))
		return -ENOMEM;
	if (!n) {
		*slot = leaf;
	} else if (common == cidr) {
		/* The new prefix contains n: it goes above it. */
		leaf->child[bit_at(n->key, cidr)] = n;
		*slot = leaf;
	} else {
		/* They diverge at bit common: a branch point holds both. */
		if (!(fork = node_new(key, common, NULL))) {
			free(leaf);
			return -ENOMEM;
		}
		fork->child[bit_at(key, common)] = leaf;
		fork->child[bit_at(n->key, common)] = n;
		*slot = fork;
	}
	t->seq++;
	return 0;
}

static int
drop(struct allowedips_node **slot, const uint64_t key[2], unsigned cidr, void *owner)
{
	struct allowedips_node *n = *slot;
	int ret;

	if (!n || n->cidr > cidr || !node_covers(n, key))
		return -ENOENT;
	if (n->cidr == cidr) {
		if (n->owner != owner)
			return -ENOENT;
		n->owner = NULL;
	} else if ((ret = drop(&n->child[bit_at(key, n->cidr)], key, cidr, owner)) < 0) {
		return ret;
	}
	compact(slot);
	return 0;
}

int
allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr,
    void *owner)
{
	uint64_t key[2];
	unsigned bits;
	int ret;

	if (!family_bits(family, &bits) || cidr > bits || !addr)
		return -EINVAL;
	if (!owner)	/* branch points have no owner; never match them */
		return -ENOENT;
	key_load(family, addr, key);
	key_mask(key, cidr);
	ret = drop(family == AF_INET ? &t->root4 : &t->root6, key, cidr, owner);
	if (ret == 0)
		t->seq++;
	return ret;
}

/* Post-order, so a node is compacted only after both subtrees are final. */
static bool
prune(struct allowedips_node **slot, void *owner)
{
	struct allowedips_node *n = *slot;
	bool changed;

	if (!n)
		return false;
	changed = prune(&n->child[0], owner);
	changed |= prune(&n->child[1], owner);
	if (n->owner == owner) {
		n->owner = NULL;
		changed = true;
	}
	compact(slot);
	return changed;
}

void
allowedips_remove_by_owner(struct allowedips *t, void *owner)
{
	bool changed;

	if (!owner)
		return;
	changed = prune(&t->root4, owner);
	changed |= prune(&t->root6, owner);
	if (changed)
		t->seq++;
}

void *
allowedips_owner_of(const struct allowedips *t, int family, const void *addr, uint8_t cidr)
{
	const struct allowedips_node *n;
	uint64_t key[2];
	unsigned bits;

	if (!family_bits(family, &bits) || cidr > bits || !addr)
		return NULL;
	key_load(family, addr, key);
	key_mask(key, cidr);
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && n->cidr <= cidr && node_covers(n, key)) {
		if (n->cidr == cidr)
			return n->owner;
		n = n->child[bit_at(key, n->cidr)];
	}
	return NULL;
}

void *
allowedips_lookup(const struct allowedips *t, int family, const void *addr)
{
	const struct allowedips_node *n;
	void *best = NULL;
	uint64_t key[2];
	unsigned bits;

	if (!family_bits(family, &bits))
		return NULL;
	key_load(family, addr, key);
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && node_covers(n, key)) {
		if (n->owner)
			best = n->owner;
		if (n->cidr >= bits)
			break;
		n = n->child[bit_at(key, n->cidr)];
	}
	return best;
}

static void
walk(const struct allowedips_node *n, int family, void *owner, allowedips_walk_fn *fn,
    void *ctx)
{
	uint8_t addr[16];

	if (!n)
		return;
	if (n->owner == owner) {
		store_be64(addr, n->key[0]);
		store_be64(addr + 8, n->key[1]);
		fn(ctx, family, addr, n->cidr);
	}
	walk(n->child[0], family, owner, fn, ctx);
	walk(n->child[1], family, owner, fn, ctx);
}

void
allowedips_walk_owner(const struct allowedips *t, void *owner, allowedips_walk_fn *fn,
    void *ctx)
{
	if (!owner)
		return;
	walk(t->root4, AF_INET, owner, fn, ctx);
	walk(t->root6, AF_INET6, owner, fn, ctx);
}
