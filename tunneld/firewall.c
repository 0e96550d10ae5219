/* The overlay firewall (see firewall.h): one nftables table per interface, always written
 * whole in one nfnetlink batch (a transaction: the kernel applies all of it or none). */
#include <errno.h>
#include <limits.h>
/* Before the linux/ headers, whose libc-compat then leaves glibc's definitions alone. */
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "firewall_int.h"

enum {
	/* A kernel that does not answer a batch within this is treated as a failure rather
	 * than stalling the loop for good (nfnetlink answers at once in practice). */
	FIREWALL_ACK_TIMEOUT_S = 5,
	/* What one answer of the kernel's costs in the receive buffer (its skb's truesize). */
	FIREWALL_ACK_ROOM = 1024,
	/* Addresses per interface: a node has a handful. */
	FIREWALL_MAX_ADDRESSES = 256,
	/* libmnl's MNL_SOCKET_BUFFER_SIZE for 4 KiB pages, as a constant. */
	FIREWALL_RECV_BUF = 8192,
};

static void batch_put_table(struct batch *bt, uint16_t type, uint32_t flags, uint16_t nlflags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t) {
		bt->failed = true;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, bt->fw->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
	    nlflags | NLM_F_ACK, bt->fw->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	bt->acks++;
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->failed = true;
}

void fw_batch_put_chain(struct batch *bt, const char *name, uint32_t hooknum)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c) {
		bt->failed = true;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, bt->fw->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hooknum);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);	/* "priority filter" */
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWCHAIN,
	    NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, bt->fw->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	bt->acks++;
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->failed = true;
}

static void rule_add_expr(struct nftnl_rule *r, struct nftnl_expr *e, bool *failed)
{
	if (!e) {
		*failed = true;
		return;
	}
	nftnl_rule_add_expr(r, e);	/* the rule owns e from here */
}

void fw_put_meta(struct nftnl_rule *r, uint32_t key, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	rule_add_expr(r, e, failed);
}

void fw_put_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
    bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	rule_add_expr(r, e, failed);
}

void fw_put_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	rule_add_expr(r, e, failed);
}

void fw_put_bitwise(struct nftnl_rule *r, const void *mask, const void *xor, uint32_t len,
    bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	}
	rule_add_expr(r, e, failed);
}

void fw_put_ct(struct nftnl_rule *r, uint32_t key, bool store, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, store ? NFTNL_EXPR_CT_SREG : NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	rule_add_expr(r, e, failed);
}

void fw_put_lookup(struct nftnl_rule *r, const char *set, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	}
	rule_add_expr(r, e, failed);
}

void fw_put_counter(struct nftnl_rule *r, bool *failed)
{
	rule_add_expr(r, nftnl_expr_alloc("counter"), failed);
}

void fw_put_fib_local(struct nftnl_rule *r, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");
	uint32_t unicast = RTN_UNICAST;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	rule_add_expr(r, e, failed);
	fw_put_cmp(r, NFT_CMP_NEQ, &unicast, sizeof(unicast), failed);
}

void fw_put_verdict(struct nftnl_rule *r, int verdict, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	rule_add_expr(r, e, failed);
}

struct nftnl_rule *fw_rule_new(struct batch *bt, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r) {
		bt->failed = true;
		return NULL;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, bt->fw->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return r;
}

void fw_batch_put_rule(struct batch *bt, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh;

	if (!r)
		return;
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWRULE,
	    NFPROTO_INET, NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, bt->fw->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	bt->acks++;
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->failed = true;
}

/* iif IFACE accept; iiftype loopback accept */
static void batch_put_accepts(struct batch *bt)
{
	struct nftnl_rule *r;
	uint32_t ifindex = (uint32_t)bt->fw->ifindex;
	uint16_t loopback = ARPHRD_LOOPBACK;

	if ((r = fw_rule_new(bt, "input"))) {
		fw_put_meta(r, NFT_META_IIF, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, &ifindex, sizeof(ifindex), &bt->failed);
		fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	fw_batch_put_rule(bt, r);
	/* Whatever the host sends to its own overlay address comes back over lo. */
	if ((r = fw_rule_new(bt, "input"))) {
		fw_put_meta(r, NFT_META_IIFTYPE, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, &loopback, sizeof(loopback), &bt->failed);
		fw_put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	fw_batch_put_rule(bt, r);
}

/* ip daddr A drop, or ip6 daddr A drop.  In an inet table the family must be matched before
 * the network header is read (what nft adds for "ip daddr"). */
static void batch_put_drop(struct batch *bt, const struct config_prefix *a)
{
	struct nftnl_rule *r = fw_rule_new(bt, "input");
	uint8_t proto = a->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	if (r) {
		fw_put_meta(r, NFT_META_NFPROTO, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto), &bt->failed);
		if (a->family == AF_INET)	/* iphdr.daddr, ipv6hdr.daddr */
			fw_put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, &bt->failed);
		else
			fw_put_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, &bt->failed);
		fw_put_cmp(r, NFT_CMP_EQ, a->addr, a->family == AF_INET ? 4 : 16, &bt->failed);
		fw_put_verdict(r, NF_DROP, &bt->failed);
	}
	fw_batch_put_rule(bt, r);
}

static bool seq_in(uint32_t seq, uint32_t first, uint32_t last)
{
	return seq - first <= last - first;	/* modulo 2^32: sequence numbers wrap */
}

/* Reads the kernel's answer to every message of the batch (each carries NLM_F_ACK).  The
 * kernel queues all answers once the batch is processed, so after the first error the rest
 * is only drained.  Answers to an earlier batch (a timeout) are recognised by their sequence
 * number and skipped.  Returns 0 or the first message's -errno. */
static int read_acks(struct firewall *fw, uint32_t first, uint32_t last, unsigned expected)
{
	char buf[FIREWALL_RECV_BUF];
	int fd = mnl_socket_get_fd(fw->sock), err = 0;
	unsigned got = 0;

	while (got < expected) {
		ssize_t len = recv(fd, buf, sizeof(buf), err ? MSG_DONTWAIT : 0);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left;

		if (len < 0) {
			if (err)
				break;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		for (left = (int)len; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != fw->portid ||
			    !seq_in(nlh->nlmsg_seq, first, last))
				continue;
			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				return -EPROTO;
			got++;
			if (e->error < 0 && !err)
				err = e->error;
		}
	}
	return err;
}

/* Room in one of the socket's buffers (SO_SNDBUF, SO_RCVBUF) for len bytes.  A batch larger
 * than the send buffer is refused whole (EMSGSIZE); the kernel's answers, one per message and
 * each charged about a kilobyte, overflow the receive buffer past some 200 messages, and a
 * batch's outcome is then unknown (ENOBUFS).  A policy of a hundred rules is more than that.
 * Best effort: the FORCE options need CAP_NET_ADMIN, which we have. */
static void buf_fit(struct firewall *fw, int opt, int force_opt, size_t len)
{
	int fd = mnl_socket_get_fd(fw->sock), have = 0, want;
	socklen_t sl = sizeof(have);

	if (len > INT_MAX / 2 || getsockopt(fd, SOL_SOCKET, opt, &have, &sl) < 0 ||
	    (size_t)have >= 2 * len)	/* the kernel reports twice what was set */
		return;
	want = (int)len;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &want, sizeof(want)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want));
}

/* Writes the whole table: (create, if first) delete, create owned, the input chain and its
 * rules, the policy chain.  Creating before deleting makes the delete valid whether or not a
 * table exists; the kernel sees the end state only.  owner receives the policy chain's map
 * (firewall_int.h), *n_owner its length. */
static int write_table(struct firewall *fw, bool first, const struct config_prefix *addrs,
    size_t n, const struct firewall_policy *p, uint16_t gen, int32_t **owner, size_t *n_owner)
{
	struct batch bt = { .fw = fw };
	size_t rules = 0, sets = 0, elems = 0, limit;
	char *buf;
	int ret;

	*owner = NULL;
	*n_owner = 0;
	if (n > FIREWALL_MAX_ADDRESSES)
		return -E2BIG;
	if (p && firewall_policy_active(p))
		firewall_policy_size(p, &rules, &sets, &elems);
	if (rules > FIREWALL_MAX_POLICY_RULES)
		return -E2BIG;
	if (!(*owner = calloc(rules ? rules : 1, sizeof(**owner))))
		return -ENOMEM;
	limit = (n + rules + 2 * sets + 16) * FIREWALL_MSG_ROOM + elems * FIREWALL_ELEM_ROOM;
	/* libmnl's batch needs room past its limit for the message that crosses it. */
	if (!(buf = malloc(2 * limit))) {
		ret = -ENOMEM;
		goto out;
	}
	bt.b = mnl_nlmsg_batch_start(buf, limit);
	if (!bt.b) {
		ret = -ENOMEM;
		goto out;
	}
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt.b), fw->seq++);
	mnl_nlmsg_batch_next(bt.b);
	bt.first_seq = fw->seq;
	if (first)
		batch_put_table(&bt, NFT_MSG_NEWTABLE, 0, NLM_F_CREATE);
	batch_put_table(&bt, NFT_MSG_DELTABLE, 0, 0);
	batch_put_table(&bt, NFT_MSG_NEWTABLE, NFT_TABLE_F_OWNER, NLM_F_CREATE | NLM_F_EXCL);
	fw_batch_put_chain(&bt, "input", NF_INET_LOCAL_IN);
	batch_put_accepts(&bt);
	for (size_t i = 0; i < n && !bt.failed; i++) {
		if (addrs[i].family == AF_INET || addrs[i].family == AF_INET6)
			batch_put_drop(&bt, &addrs[i]);
	}
	if (rules && !bt.failed)
		fw_batch_put_policy(&bt, p, gen, *owner);
	nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), fw->seq++);
	if (!mnl_nlmsg_batch_next(bt.b))
		bt.failed = true;
	if (bt.failed) {
		ret = -ENOMEM;
		goto out;
	}
	buf_fit(fw, SO_SNDBUF, SO_SNDBUFFORCE, mnl_nlmsg_batch_size(bt.b));
	buf_fit(fw, SO_RCVBUF, SO_RCVBUFFORCE, (size_t)bt.acks * FIREWALL_ACK_ROOM);
	if (mnl_socket_sendto(fw->sock, mnl_nlmsg_batch_head(bt.b),
	    mnl_nlmsg_batch_size(bt.b)) < 0) {
		ret = -errno;
		goto out;
	}
	ret = read_acks(fw, bt.first_seq, fw->seq - 2, bt.acks);
	*n_owner = rules;
out:
	if (bt.b)
		mnl_nlmsg_batch_stop(bt.b);
	free(buf);
	if (ret < 0) {
		free(*owner);
		*owner = NULL;
		*n_owner = 0;
	}
	return ret;
}

/* Drops per rule of the policy in force (total: fw->policy.n_rules + 1 entries, the last the
 * default's), each the carried count plus the live counter.  On failure to read the kernel's
 * counters the carried counts only, and a negative errno. */
static int drops_now(struct firewall *fw, uint64_t *total)
{
	uint64_t *live = calloc(fw->n_owner ? fw->n_owner : 1, sizeof(*live));
	size_t n = fw->policy.n_rules + 1;
	int ret;

	for (size_t k = 0; k < n; k++)
		total[k] = fw->carried ? fw->carried[k] : 0;
	if (!live)
		return -ENOMEM;
	if (fw->n_owner && (ret = fw_policy_read_counters(fw, live)) < 0) {
		free(live);
		return ret;
	}
	for (size_t i = 0; i < fw->n_owner; i++) {
		if (fw->owner[i] >= 0 && (size_t)fw->owner[i] < n)
			total[fw->owner[i]] += live[i];
	}
	free(live);
	return 0;
}

/* Rewrites the table from addrs and p (either may be what is in force) with generation gen,
 * carrying each kept drop rule's count over the new table's fresh counters.  On success the
 * firewall holds copies of both; on failure nothing changes. */
static int rewrite(struct firewall *fw, const struct config_prefix *addrs, size_t n,
    const struct firewall_policy *p, uint16_t gen)
{
	struct config_prefix *addrs_copy = NULL;
	struct firewall_policy p_copy = { 0 };
	uint64_t *old = NULL, *carried = NULL;
	int32_t *owner = NULL;
	size_t n_owner = 0;
	int ret = -ENOMEM;

	if (n && !(addrs_copy = malloc(n * sizeof(*addrs_copy))))
		goto out;
	if (n)
		memcpy(addrs_copy, addrs, n * sizeof(*addrs_copy));
	if (firewall_policy_copy(&p_copy, p) < 0)
		goto out;
	old = calloc(fw->policy.n_rules + 1, sizeof(*old));
	carried = calloc(p_copy.n_rules + 1, sizeof(*carried));
	if (!old || !carried)
		goto out;
	(void)drops_now(fw, old);	/* unreadable: the carried counts only */
	for (size_t k = 0; k < p_copy.n_rules; k++) {
		for (size_t j = 0; j < fw->policy.n_rules; j++) {
			if (p_copy.rules[k].drop && fw->policy.rules[j].drop &&
			    !strcmp(p_copy.rules[k].text, fw->policy.rules[j].text)) {
				carried[k] = old[j];
				break;
			}
		}
	}
	if (p_copy.default_drop && fw->policy.default_drop)
		carried[p_copy.n_rules] = old[fw->policy.n_rules];
	ret = write_table(fw, false, addrs, n, &p_copy, gen, &owner, &n_owner);
	if (ret < 0)
		goto out;
	free(fw->addrs);
	fw->addrs = addrs_copy;
	fw->n_addrs = n;
	addrs_copy = NULL;
	firewall_policy_free(&fw->policy);
	fw->policy = p_copy;
	memset(&p_copy, 0, sizeof(p_copy));
	free(fw->carried);
	fw->carried = carried;
	carried = NULL;
	free(fw->owner);
	fw->owner = owner;
	fw->n_owner = n_owner;
	fw->generation = gen;
out:
	free(addrs_copy);
	firewall_policy_free(&p_copy);
	free(old);
	free(carried);
	return ret;
}

int firewall_open(struct firewall **out, const char *ifname, int ifindex)
{
	struct timeval tv = { FIREWALL_ACK_TIMEOUT_S, 0 };
	struct firewall *fw;
	int32_t *owner = NULL;
	size_t n_owner;
	int ret;

	*out = NULL;
	if (!ifname || !*ifname || strlen(ifname) >= 16 || ifindex <= 0)
		return -EINVAL;
	if (!(fw = calloc(1, sizeof(*fw))))
		return -ENOMEM;
	snprintf(fw->table, sizeof(fw->table), "warren-%s", ifname);
	fw->ifindex = ifindex;
	if (!(fw->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC))) {
		ret = -errno;
		goto out;
	}
	if (mnl_socket_bind(fw->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	if (setsockopt(mnl_socket_get_fd(fw->sock), SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) < 0) {
		ret = -errno;
		goto out;
	}
	fw->portid = mnl_socket_get_portid(fw->sock);
	fw->seq = (uint32_t)time(NULL);
	/* A generation unlike the last run's, whose marks may still be in conntrack. */
	fw->generation = (uint16_t)(randombytes_uniform(FIREWALL_GEN_MAX) + 1);
	if ((ret = write_table(fw, true, NULL, 0, NULL, 0, &owner, &n_owner)) < 0)
		goto out;
	free(owner);
	*out = fw;
	fw = NULL;
out:
	if (fw) {
		if (fw->sock)
			mnl_socket_close(fw->sock);
		free(fw);
	}
	return ret;
}

int firewall_set_addresses(struct firewall *fw, const struct config_prefix *addrs, size_t n)
{
	if (!fw || (n && !addrs))
		return -EINVAL;
	if (n > FIREWALL_MAX_ADDRESSES)
		return -E2BIG;
	return rewrite(fw, addrs, n, &fw->policy, fw->generation);
}

int firewall_set_policy(struct firewall *fw, const struct firewall_policy *p)
{
	static const struct firewall_policy none;
	uint16_t gen;

	if (!fw)
		return -EINVAL;
	if (!p)
		p = &none;
	if (firewall_policy_equal(p, &fw->policy))
		return 0;
	gen = (uint16_t)(fw->generation % FIREWALL_GEN_MAX + 1);	/* never 0 */
	return rewrite(fw, fw->addrs, fw->n_addrs, p, gen);
}

int firewall_policy_drops(struct firewall *fw,
    void (*fn)(const char *text, uint64_t packets, void *arg), void *arg)
{
	uint64_t *total;
	int ret;

	if (!firewall_policy_active(&fw->policy))
		return 0;
	if (!(total = calloc(fw->policy.n_rules + 1, sizeof(*total))))
		return -ENOMEM;
	if ((ret = drops_now(fw, total)) == 0) {
		for (size_t k = 0; k < fw->policy.n_rules; k++) {
			if (fw->policy.rules[k].drop)
				fn(fw->policy.rules[k].text, total[k], arg);
		}
		if (fw->policy.default_drop)
			fn("default deny", total[fw->policy.n_rules], arg);
	}
	free(total);
	return ret;
}

const char *firewall_table_name(const struct firewall *fw)
{
	return fw->table;
}

void firewall_close(struct firewall *fw)
{
	struct batch bt;
	char buf[4 * FIREWALL_MSG_ROOM];

	if (!fw)
		return;
	/* Closing the socket would remove the owned table too; deleting it first makes the
	 * removal synchronous, so the table is gone when tunneld has exited. */
	memset(&bt, 0, sizeof(bt));
	bt.fw = fw;
	bt.b = mnl_nlmsg_batch_start(buf, sizeof(buf) / 2);
	if (bt.b) {
		nftnl_batch_begin(mnl_nlmsg_batch_current(bt.b), fw->seq++);
		mnl_nlmsg_batch_next(bt.b);
		bt.first_seq = fw->seq;
		batch_put_table(&bt, NFT_MSG_DELTABLE, 0, 0);
		nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), fw->seq++);
		if (mnl_nlmsg_batch_next(bt.b) && !bt.failed &&
		    mnl_socket_sendto(fw->sock, mnl_nlmsg_batch_head(bt.b),
		    mnl_nlmsg_batch_size(bt.b)) >= 0)
			read_acks(fw, bt.first_seq, fw->seq - 2, bt.acks);
		mnl_nlmsg_batch_stop(bt.b);
	}
	mnl_socket_close(fw->sock);
	free(fw->addrs);
	firewall_policy_free(&fw->policy);
	free(fw->carried);
	free(fw->owner);
	free(fw);
}
