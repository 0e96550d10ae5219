/* Inside the overlay firewall (firewall.h): the table's state and the pieces a batch is built
 * from, shared by firewall.c (the table, the address guard, the batch itself) and
 * firewall_policy.c (the policy chain). */
#ifndef TUNNELD_FIREWALL_INT_H
#define TUNNELD_FIREWALL_INT_H

#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <stdbool.h>
#include <stdint.h>

#include "firewall.h"

enum {
	/* Generous per message: a table, a chain, a set or one rule of at most a dozen
	 * expressions takes under 700 bytes; set elements are counted apart. */
	FIREWALL_MSG_ROOM = 1024,
	FIREWALL_ELEM_ROOM = 64,
	/* The ct mark bits that hold the policy's generation (1..FIREWALL_GEN_MAX), and the one
	 * that says this node opened the connection (firewall.h). */
	FIREWALL_CT_MARK_MASK = 0x7fff0000u,
	FIREWALL_CT_MARK_SHIFT = 16,
	FIREWALL_GEN_MAX = 0x7fff,
};

struct firewall {
	struct mnl_socket *sock;
	unsigned portid;
	uint32_t seq;
	int ifindex;
	char table[FIREWALL_TABLE_NAME_MAX];
	/* What the table in force was written from, so that either part can change alone. */
	struct config_prefix *addrs;		/* the guarded addresses */
	size_t n_addrs;
	struct firewall_policy policy;		/* empty: none */
	uint16_t generation;			/* of the policy in force; never 0 */
	/* Per policy rule, then the default: drops counted by tables replaced since. */
	uint64_t *carried;
	/* Per nft rule of the policy chain in order: the policy rule it comes from, or -1 for
	 * the fixed rules at the top; n_rules for the default. */
	int32_t *owner;
	size_t n_owner;
};

/* The parts of one batch: a failed allocation anywhere sets failed, checked once at the end
 * (libnftnl setters cannot fail once the object exists). */
struct batch {
	struct mnl_nlmsg_batch *b;
	struct firewall *fw;
	uint32_t first_seq;
	unsigned acks;		/* messages that the kernel answers */
	uint32_t set_id;	/* the last set's id within the batch */
	bool failed;
};

/* Expressions, appended to r; on allocation failure *failed is set. */
void fw_put_meta(struct nftnl_rule *r, uint32_t key, bool *failed);	/* reg1 = meta KEY */
/* reg1 = len bytes of the header (NFT_PAYLOAD_*_HEADER) at offset */
void fw_put_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
    bool *failed);
/* reg1 OP data, or the rule ends here (NFT_CMP_*) */
void fw_put_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len,
    bool *failed);
/* reg1 = (reg1 & mask) ^ xor, len bytes */
void fw_put_bitwise(struct nftnl_rule *r, const void *mask, const void *xor, uint32_t len,
    bool *failed);
#define FIREWALL_CT_ORIGIN 0x80000000u
/* reg1 = ct KEY, or with store ct KEY = reg1 */
void fw_put_ct(struct nftnl_rule *r, uint32_t key, bool store, bool *failed);
/* reg1 in the set called name (one written earlier in the batch: the kernel finds it by
 * name), or the rule ends here */
void fw_put_lookup(struct nftnl_rule *r, const char *set, bool *failed);
void fw_put_counter(struct nftnl_rule *r, bool *failed);
/* fib daddr type != unicast: the destination is this host (any local address, broadcast,
 * multicast), not one it routes on; or the rule ends here */
void fw_put_fib_local(struct nftnl_rule *r, bool *failed);
void fw_put_verdict(struct nftnl_rule *r, int verdict, bool *failed);
/* A base chain of the table, type filter, priority filter, policy accept. */
void fw_batch_put_chain(struct batch *bt, const char *name, uint32_t hooknum);
/* A rule of chain (to be given to batch_put_rule), or NULL with bt->failed set. */
struct nftnl_rule *fw_rule_new(struct batch *bt, const char *chain);
/* Appends r (NULL: nothing) to the batch and frees it. */
void fw_batch_put_rule(struct batch *bt, struct nftnl_rule *r);

/* The policy chain and its sets into bt, for p and generation gen; owner[] (room for
 * firewall_policy_nft_rules(p) entries) receives each nft rule's source.  Nothing when p is
 * not active. */
void fw_batch_put_policy(struct batch *bt, const struct firewall_policy *p, uint16_t gen,
    int32_t *owner);
/* What fw_batch_put_policy writes for p: nft rules, sets and set elements. */
void firewall_policy_size(const struct firewall_policy *p, size_t *rules, size_t *sets,
    size_t *elems);
/* The policy chain's counters now, per nft rule in order (count: fw->n_owner), by a dump. */
int fw_policy_read_counters(struct firewall *fw, uint64_t *packets);

#endif
