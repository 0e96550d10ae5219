/* The policy chain of the overlay firewall's table (firewall.h): the roster's node-to-node
 * rules as this node enforces them, as nft rules and sets; and the drop counters read back. */
#include <errno.h>
/* Before the linux/ headers, whose libc-compat then leaves glibc's definitions alone. */
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall_int.h"

enum {
	POLICY_CHAIN_FIXED = 3,		/* the rules before the policy's own (firewall.h) */
	NFT_TYPE_IPADDR = 7,		/* nft's datatypes, so that nft(8) lists the sets */
	NFT_TYPE_IP6ADDR = 8,
	POLICY_DUMP_BUF = 32768,	/* libmnl's MNL_SOCKET_DUMP_SIZE */
};

/* Not "policy": an nft keyword, so `nft list chain inet warren-wg0 policy` would not parse. */
static const char policy_chain[] = "node_policy";
static const char outbound_chain[] = "outbound";
static const int families[2] = { AF_INET, AF_INET6 };

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool prefix_equal(const struct config_prefix *a, const struct config_prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	    !memcmp(a->addr, b->addr, addr_len(a->family));
}

static bool prefixes_equal(const struct config_prefix *a, size_t na,
    const struct config_prefix *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!prefix_equal(&a[i], &b[i]))
			return false;
	return true;
}

static bool rule_equal(const struct firewall_rule *a, const struct firewall_rule *b)
{
	return !strcmp(a->text, b->text) && a->drop == b->drop && a->proto == b->proto &&
	    a->port_lo == b->port_lo && a->port_hi == b->port_hi && a->from_any == b->from_any &&
	    prefixes_equal(a->from, a->n_from, b->from, b->n_from) && a->to_self == b->to_self &&
	    a->to_any == b->to_any && a->to_prefix == b->to_prefix &&
	    (!a->to_prefix || prefix_equal(&a->to, &b->to));
}

bool firewall_policy_equal(const struct firewall_policy *a, const struct firewall_policy *b)
{
	if (a->default_drop != b->default_drop || a->gossip_port != b->gossip_port ||
	    a->n_rules != b->n_rules ||
	    !prefixes_equal(a->self, a->n_self, b->self, b->n_self))
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (!rule_equal(&a->rules[i], &b->rules[i]))
			return false;
	return true;
}

bool firewall_policy_active(const struct firewall_policy *p)
{
	return p->n_rules > 0 || p->default_drop;
}

void firewall_policy_free(struct firewall_policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++)
		free(p->rules[i].from);
	free(p->rules);
	free(p->self);
	memset(p, 0, sizeof(*p));
}

static struct config_prefix *prefixes_dup(const struct config_prefix *v, size_t n)
{
	struct config_prefix *c = calloc(n ? n : 1, sizeof(*c));

	if (c && n)
		memcpy(c, v, n * sizeof(*c));
	return c;
}

int firewall_policy_copy(struct firewall_policy *dst, const struct firewall_policy *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->default_drop = src->default_drop;
	dst->gossip_port = src->gossip_port;
	if (!(dst->self = prefixes_dup(src->self, src->n_self)))
		return -ENOMEM;
	dst->n_self = src->n_self;
	if (!(dst->rules = calloc(src->n_rules ? src->n_rules : 1, sizeof(*dst->rules))))
		goto fail;
	for (size_t i = 0; i < src->n_rules; i++) {
		dst->rules[i] = src->rules[i];
		dst->rules[i].from = NULL;
		dst->n_rules++;
		if (!(dst->rules[i].from = prefixes_dup(src->rules[i].from, src->rules[i].n_from)))
			goto fail;
	}
	return 0;
fail:
	firewall_policy_free(dst);
	return -ENOMEM;
}

static size_t count_family(const struct config_prefix *v, size_t n, int family)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += v[i].family == family;
	return c;
}

/* How many nft rules rule r has for family f on this node: none when no source is of that
 * family; one for "to anything"; one for this node (any local address) and one for a prefix. */
static unsigned rules_in_family(const struct firewall_rule *r, int f)
{
	if (!r->from_any && !count_family(r->from, r->n_from, f))
		return 0;
	if (r->to_any)
		return 1;
	return (unsigned)r->to_self + (unsigned)(r->to_prefix && r->to.family == f);
}

/* A source match of more than one address needs a set; one address or one prefix does not. */
static bool from_needs_set(const struct firewall_rule *r, int f)
{
	return !r->from_any && count_family(r->from, r->n_from, f) > 1;
}

static bool from_same(const struct firewall_rule *a, const struct firewall_rule *b, int f)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a->n_from && a->from[i].family != f)
			i++;
		while (j < b->n_from && b->from[j].family != f)
			j++;
		if (i == a->n_from || j == b->n_from)
			return i == a->n_from && j == b->n_from;
		if (!prefix_equal(&a->from[i++], &b->from[j++]))
			return false;
	}
}

/* The rule whose source set rule k of family f uses: the first with the same addresses. */
static size_t from_set_of(const struct firewall_policy *p, size_t k, int f)
{
	for (size_t j = 0; j < k; j++)
		if (from_needs_set(&p->rules[j], f) && rules_in_family(&p->rules[j], f) &&
		    from_same(&p->rules[j], &p->rules[k], f))
			return j;
	return k;
}

/* Whether the chain has a gossip accept for family f (then with a set of our addresses: the
 * gossip server's, not every local address). */
static bool gossip_rule(const struct firewall_policy *p, int f)
{
	return p->gossip_port && count_family(p->self, p->n_self, f) > 0;
}

void firewall_policy_size(const struct firewall_policy *p, size_t *rules, size_t *sets,
    size_t *elems)
{
	*rules = POLICY_CHAIN_FIXED + 1;	/* and the default */
	*sets = *elems = 0;
	for (int fi = 0; fi < 2; fi++) {
		int f = families[fi];

		if (gossip_rule(p, f)) {
			(*rules)++;
			(*sets)++;
			*elems += count_family(p->self, p->n_self, f);
		}
		for (size_t k = 0; k < p->n_rules; k++) {
			unsigned n = rules_in_family(&p->rules[k], f);

			if (!n)
				continue;
			*rules += n;
			if (from_needs_set(&p->rules[k], f) && from_set_of(p, k, f) == k) {
				(*sets)++;
				*elems += count_family(p->rules[k].from, p->rules[k].n_from, f);
			}
		}
	}
}

static void set_name(char *out, size_t len, const char *what, size_t k, int f)
{
	if (k == (size_t)-1)
		snprintf(out, len, "%s%s", what, f == AF_INET ? "4" : "6");
	else
		snprintf(out, len, "%s%zu_%s", what, k, f == AF_INET ? "4" : "6");
}

/* A named set of the host addresses of family f among v[0..n), with its elements, in two
 * messages.  Its id (bt->set_id) lets rules of the same batch refer to it. */
static void batch_put_set(struct batch *bt, const char *name, const struct config_prefix *v,
    size_t n, int f)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!s) {
		bt->failed = true;
		return;
	}
	bt->set_id++;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, bt->fw->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)addr_len(f));
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, f == AF_INET ? NFT_TYPE_IPADDR :
	    NFT_TYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_ID, bt->set_id);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWSET,
	    NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, bt->fw->seq++);
	nftnl_set_nlmsg_build_payload(nlh, s);
	bt->acks++;
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->failed = true;
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *e;

		if (v[i].family != f)
			continue;
		if (!(e = nftnl_set_elem_alloc())) {
			bt->failed = true;
			break;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, v[i].addr, (uint32_t)addr_len(f));
		nftnl_set_elem_add(s, e);
	}
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWSETELEM,
	    NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, bt->fw->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	bt->acks++;
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->failed = true;
}

/* reg1 = the source (saddr) or destination address of family f */
static void put_addr(struct nftnl_rule *r, int f, bool source, bool *failed)
{
	uint32_t off = f == AF_INET ? (source ? 12 : 16) : (source ? 8 : 24);

	fw_put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, (uint32_t)addr_len(f), failed);
}

/* The address (source or destination) inside prefix a */
static void put_prefix_match(struct nftnl_rule *r, const struct config_prefix *a, bool source,
    bool *failed)
{
	uint8_t mask[16] = { 0 }, zero[16] = { 0 }, net[16];
	uint32_t len = (uint32_t)addr_len(a->family);

	for (unsigned bit = 0; bit < a->cidr && bit < 8 * len; bit++)
		mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	for (uint32_t i = 0; i < len; i++)
		net[i] = a->addr[i] & mask[i];
	put_addr(r, a->family, source, failed);
	if (a->cidr < 8 * len)
		fw_put_bitwise(r, mask, zero, len, failed);
	fw_put_cmp(r, NFT_CMP_EQ, net, len, failed);
}

static void put_lookup(struct nftnl_rule *r, const char *set, int f, bool source, bool *failed)
{
	put_addr(r, f, source, failed);
	fw_put_lookup(r, set, failed);
}

/* ct mark = (ct mark & ~MASK) | gen << SHIFT: the low bits are left to others */
static void put_mark_set(struct nftnl_rule *r, uint16_t gen, bool *failed)
{
	uint32_t keep = ~(uint32_t)FIREWALL_CT_MARK_MASK;
	uint32_t val = (uint32_t)gen << FIREWALL_CT_MARK_SHIFT;

	fw_put_ct(r, NFT_CT_MARK, false, failed);
	fw_put_bitwise(r, &keep, &val, sizeof(keep), failed);
	fw_put_ct(r, NFT_CT_MARK, true, failed);
}

/* The verdict of a rule of the policy, counted, with its comment for nft(8). */
static void put_outcome(struct batch *bt, struct nftnl_rule *r, bool drop, uint16_t gen,
    const char *text)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char comment[NFTNL_UDATA_COMMENT_MAXLEN];

	fw_put_counter(r, &bt->failed);
	if (drop) {
		fw_put_verdict(r, NF_DROP, &bt->failed);
	} else {
		put_mark_set(r, gen, &bt->failed);
		fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	if (!u) {
		bt->failed = true;
		return;
	}
	snprintf(comment, sizeof(comment), "%s", text);
	if (!nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment))
		bt->failed = true;
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
	    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
}

/* ct KEY & mask OP value accept, for the 32-bit keys (state, mark) */
static void batch_put_ct_accept(struct batch *bt, uint32_t key, uint32_t mask, uint32_t op,
    uint32_t value)
{
	struct nftnl_rule *r = fw_rule_new(bt, policy_chain);
	uint32_t zero = 0;

	if (r) {
		fw_put_ct(r, key, false, &bt->failed);
		fw_put_bitwise(r, &mask, &zero, sizeof(mask), &bt->failed);
		fw_put_cmp(r, op, &value, sizeof(value), &bt->failed);
		fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	fw_batch_put_rule(bt, r);
}

/* iif != IFACE accept; ct direction reply ct mark & ORIGIN != 0 accept;
 * ct mark & MASK == GEN accept */
static void batch_put_fixed(struct batch *bt, uint16_t gen)
{
	struct nftnl_rule *r;
	uint32_t ifindex = (uint32_t)bt->fw->ifindex, origin = FIREWALL_CT_ORIGIN, zero = 0;
	uint32_t want = (uint32_t)gen << FIREWALL_CT_MARK_SHIFT;
	uint8_t reply = IP_CT_DIR_REPLY;

	if ((r = fw_rule_new(bt, policy_chain))) {
		fw_put_meta(r, NFT_META_IIF, &bt->failed);
		fw_put_cmp(r, NFT_CMP_NEQ, &ifindex, sizeof(ifindex), &bt->failed);
		fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	fw_batch_put_rule(bt, r);
	/* Answers to what this node opened (and ICMP errors about it: their conntrack entry is
	 * the connection's).  The reply direction alone is not enough: conntrack picks up a
	 * TCP connection it never saw open from any packet, so a peer's connection first seen
	 * by our answer would look like ours. */
	if ((r = fw_rule_new(bt, policy_chain))) {
		fw_put_ct(r, NFT_CT_DIRECTION, false, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, &reply, sizeof(reply), &bt->failed);
		fw_put_ct(r, NFT_CT_MARK, false, &bt->failed);
		fw_put_bitwise(r, &origin, &zero, sizeof(origin), &bt->failed);
		fw_put_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero), &bt->failed);
		fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	fw_batch_put_rule(bt, r);
	batch_put_ct_accept(bt, NFT_CT_MARK, FIREWALL_CT_MARK_MASK, NFT_CMP_EQ, want);
}

/* ct mark = ct mark | ORIGIN, on the first packet of a connection that leaves through the
 * tunnel (ours, or routed from our subnets), for TCP only a real opening (SYN without ACK):
 *   chain outbound { type filter hook postrouting priority filter; policy accept;
 *       oif IFACE ct state new tcp flags & (fin|syn|rst|ack) == syn ct mark set ... | ORIGIN
 *       oif IFACE ct state new meta l4proto != tcp ct mark set ... | ORIGIN } */
static void batch_put_outbound(struct batch *bt)
{
	uint32_t ifindex = (uint32_t)bt->fw->ifindex, new_bit = NF_CT_STATE_BIT(IP_CT_NEW);
	uint32_t zero = 0, keep = ~(uint32_t)FIREWALL_CT_ORIGIN, origin = FIREWALL_CT_ORIGIN;
	uint8_t tcp = IPPROTO_TCP, flags_mask = 0x17, syn = 0x02;	/* FIN SYN RST ACK; SYN */

	fw_batch_put_chain(bt, outbound_chain, NF_INET_POST_ROUTING);
	for (int tcp_rule = 1; tcp_rule >= 0; tcp_rule--) {
		struct nftnl_rule *r = fw_rule_new(bt, outbound_chain);

		if (!r)
			return;
		fw_put_meta(r, NFT_META_OIF, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, &ifindex, sizeof(ifindex), &bt->failed);
		fw_put_ct(r, NFT_CT_STATE, false, &bt->failed);
		fw_put_bitwise(r, &new_bit, &zero, sizeof(new_bit), &bt->failed);
		fw_put_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero), &bt->failed);
		fw_put_meta(r, NFT_META_L4PROTO, &bt->failed);
		fw_put_cmp(r, tcp_rule ? NFT_CMP_EQ : NFT_CMP_NEQ, &tcp, sizeof(tcp), &bt->failed);
		if (tcp_rule) {
			fw_put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, &bt->failed);
			fw_put_bitwise(r, &flags_mask, &zero, 1, &bt->failed);
			fw_put_cmp(r, NFT_CMP_EQ, &syn, sizeof(syn), &bt->failed);
		}
		fw_put_ct(r, NFT_CT_MARK, false, &bt->failed);
		fw_put_bitwise(r, &keep, &origin, sizeof(keep), &bt->failed);
		fw_put_ct(r, NFT_CT_MARK, true, &bt->failed);
		fw_batch_put_rule(bt, r);
	}
}

/* tcp dport GOSSIP ip daddr @selfF accept: the roster's own way in. */
static void batch_put_gossip(struct batch *bt, const struct firewall_policy *p, int f)
{
	struct nftnl_rule *r = fw_rule_new(bt, policy_chain);
	uint8_t nfproto = f == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6, tcp = IPPROTO_TCP;
	uint16_t port = htons(p->gossip_port);
	char name[32];

	if (!r)
		return;
	fw_put_meta(r, NFT_META_NFPROTO, &bt->failed);
	fw_put_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto), &bt->failed);
	fw_put_meta(r, NFT_META_L4PROTO, &bt->failed);
	fw_put_cmp(r, NFT_CMP_EQ, &tcp, sizeof(tcp), &bt->failed);
	fw_put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, &bt->failed);
	fw_put_cmp(r, NFT_CMP_EQ, &port, sizeof(port), &bt->failed);
	set_name(name, sizeof(name), "self", (size_t)-1, f);
	put_lookup(r, name, f, false, &bt->failed);
	fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	fw_batch_put_rule(bt, r);
}

/* One nft rule: policy rule k for family f, to this node (to_local: any local destination,
 * `fib daddr type != unicast`) or else to its prefix or anything. */
static void batch_put_policy_rule(struct batch *bt, const struct firewall_policy *p, size_t k,
    int f, bool to_local, uint16_t gen)
{
	const struct firewall_rule *pr = &p->rules[k];
	struct nftnl_rule *r = fw_rule_new(bt, policy_chain);
	uint8_t nfproto = f == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6, l4 = pr->proto;
	uint16_t lo = htons(pr->port_lo), hi = htons(pr->port_hi);
	char name[32];

	if (!r)
		return;
	fw_put_meta(r, NFT_META_NFPROTO, &bt->failed);
	fw_put_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto), &bt->failed);
	if (pr->proto) {
		if (pr->proto == 1)
			l4 = f == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		fw_put_meta(r, NFT_META_L4PROTO, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, &l4, sizeof(l4), &bt->failed);
	}
	if (pr->port_lo) {
		/* th dport; network order compares as numbers (the kernel's cmp is memcmp) */
		fw_put_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, &bt->failed);
		if (pr->port_lo == pr->port_hi) {
			fw_put_cmp(r, NFT_CMP_EQ, &lo, sizeof(lo), &bt->failed);
		} else {
			fw_put_cmp(r, NFT_CMP_GTE, &lo, sizeof(lo), &bt->failed);
			fw_put_cmp(r, NFT_CMP_LTE, &hi, sizeof(hi), &bt->failed);
		}
	}
	if (from_needs_set(pr, f)) {
		set_name(name, sizeof(name), "from", from_set_of(p, k, f), f);
		put_lookup(r, name, f, true, &bt->failed);
	} else if (!pr->from_any) {
		for (size_t i = 0; i < pr->n_from; i++)
			if (pr->from[i].family == f)
				put_prefix_match(r, &pr->from[i], true, &bt->failed);
	}
	if (to_local)
		fw_put_fib_local(r, &bt->failed);
	else if (!pr->to_any)
		put_prefix_match(r, &pr->to, false, &bt->failed);
	put_outcome(bt, r, pr->drop, gen, pr->text);
	fw_batch_put_rule(bt, r);
}

void fw_batch_put_policy(struct batch *bt, const struct firewall_policy *p, uint16_t gen,
    int32_t *owner)
{
	size_t at = 0;
	struct nftnl_rule *r;
	char name[32];

	batch_put_outbound(bt);
	fw_batch_put_chain(bt, policy_chain, NF_INET_PRE_ROUTING);
	for (int fi = 0; fi < 2; fi++) {
		int f = families[fi];

		if (gossip_rule(p, f)) {
			set_name(name, sizeof(name), "self", (size_t)-1, f);
			batch_put_set(bt, name, p->self, p->n_self, f);
		}
		for (size_t k = 0; k < p->n_rules; k++) {
			if (rules_in_family(&p->rules[k], f) && from_needs_set(&p->rules[k], f) &&
			    from_set_of(p, k, f) == k) {
				set_name(name, sizeof(name), "from", k, f);
				batch_put_set(bt, name, p->rules[k].from, p->rules[k].n_from, f);
			}
		}
	}
	batch_put_fixed(bt, gen);
	for (; at < POLICY_CHAIN_FIXED; at++)
		owner[at] = -1;
	for (int fi = 0; fi < 2; fi++) {
		if (gossip_rule(p, families[fi])) {
			batch_put_gossip(bt, p, families[fi]);
			owner[at++] = -1;
		}
	}
	/* The roster's order (deny rules first), each rule's families together. */
	for (size_t k = 0; k < p->n_rules; k++) {
		const struct firewall_rule *pr = &p->rules[k];

		for (int fi = 0; fi < 2; fi++) {
			int f = families[fi];

			if (!rules_in_family(pr, f))
				continue;
			if (pr->to_any || pr->to_self) {
				batch_put_policy_rule(bt, p, k, f, pr->to_self, gen);
				owner[at++] = (int32_t)k;
			}
			if (pr->to_prefix && pr->to.family == f) {
				batch_put_policy_rule(bt, p, k, f, false, gen);
				owner[at++] = (int32_t)k;
			}
		}
	}
	if ((r = fw_rule_new(bt, policy_chain)))
		put_outcome(bt, r, p->default_drop, gen, p->default_drop ? "default deny" :
		    "default allow");
	fw_batch_put_rule(bt, r);
	owner[at++] = (int32_t)p->n_rules;
}

struct dump_ctx {
	uint64_t *packets;
	size_t n, at;
	bool failed;
};

static int dump_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	uint64_t packets = 0;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0 || !(it = nftnl_expr_iter_create(r))) {
		if (r)
			nftnl_rule_free(r);
		ctx->failed = true;
		return MNL_CB_ERROR;
	}
	while ((e = nftnl_expr_iter_next(it)))
		if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter"))
			packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
	if (ctx->at < ctx->n)
		ctx->packets[ctx->at] = packets;
	ctx->at++;
	return MNL_CB_OK;
}

int fw_policy_read_counters(struct firewall *fw, uint64_t *packets)
{
	struct dump_ctx ctx = { packets, fw->n_owner, 0, false };
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	char *buf = malloc(POLICY_DUMP_BUF);
	uint32_t seq = fw->seq++;
	ssize_t len;
	int ret = -ENOMEM;

	if (!r || !buf)
		goto out;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, fw->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, policy_chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	if (mnl_socket_sendto(fw->sock, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		if ((len = mnl_socket_recvfrom(fw->sock, buf, POLICY_DUMP_BUF)) < 0) {
			ret = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)len, seq, fw->portid, dump_rule_cb, &ctx);
		if (ret == MNL_CB_STOP)
			break;
		/* An answer to an earlier batch that timed out: not ours, read on. */
		if (ret < 0 && errno != ESRCH) {
			ret = ctx.failed ? -EPROTO : -errno;
			goto out;
		}
	}
	/* The table is ours alone (owned), so its rules are the ones written, in order. */
	ret = ctx.at == ctx.n ? 0 : -EPROTO;
out:
	if (r)
		nftnl_rule_free(r);
	free(buf);
	return ret;
}
