/* The overlay firewall (see firewall.h): one nftables table per interface, always written
 * whole in one nfnetlink batch (a transaction: the kernel applies all of it or none). */
#include <errno.h>
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "firewall.h"

enum {
	/* Generous per message: a table, the chain or one rule of at most four expressions
	 * takes about 300 bytes; the batch buffer is sized from the message count. */
	FIREWALL_MSG_ROOM = 1024,
	/* A kernel that does not answer a batch within this is treated as a failure rather
	 * than stalling the loop for good (nfnetlink answers at once in practice). */
	FIREWALL_ACK_TIMEOUT_S = 5,
	/* Addresses per interface: a batch of this many rules (about 64 KiB) stays well under
	 * the socket's send buffer.  A node has a handful. */
	FIREWALL_MAX_ADDRESSES = 256,
	/* libmnl's MNL_SOCKET_BUFFER_SIZE for 4 KiB pages, as a constant. */
	FIREWALL_RECV_BUF = 8192,
};

struct firewall {
	struct mnl_socket *sock;
	unsigned portid;
	uint32_t seq;
	int ifindex;
	char table[FIREWALL_TABLE_NAME_MAX];
};

/* The parts of one batch: a failed allocation anywhere sets failed, checked once at the end
 * (libnftnl setters cannot fail once the object exists). */
struct batch {
	struct mnl_nlmsg_batch *b;
	struct firewall *fw;
	uint32_t first_seq;
	unsigned acks;		/* messages that the kernel answers */
	bool failed;
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

static void batch_put_chain(struct batch *bt)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c) {
		bt->failed = true;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, bt->fw->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "input");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
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

/* reg1 = meta KEY */
static void put_meta(struct nftnl_rule *r, uint32_t key, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	rule_add_expr(r, e, failed);
}

/* reg1 = len bytes of the network header at offset */
static void put_payload(struct nftnl_rule *r, uint32_t offset, uint32_t len, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	rule_add_expr(r, e, failed);
}

/* reg1 == data, or the rule ends here */
static void put_cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	rule_add_expr(r, e, failed);
}

static void put_verdict(struct nftnl_rule *r, int verdict, bool *failed)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	rule_add_expr(r, e, failed);
}

static struct nftnl_rule *rule_new(struct batch *bt)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r) {
		bt->failed = true;
		return NULL;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, bt->fw->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "input");
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return r;
}

static void batch_put_rule(struct batch *bt, struct nftnl_rule *r)
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

	if ((r = rule_new(bt))) {
		put_meta(r, NFT_META_IIF, &bt->failed);
		put_cmp_eq(r, &ifindex, sizeof(ifindex), &bt->failed);
		put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	batch_put_rule(bt, r);
	/* Whatever the host sends to its own overlay address comes back over lo. */
	if ((r = rule_new(bt))) {
		put_meta(r, NFT_META_IIFTYPE, &bt->failed);
		put_cmp_eq(r, &loopback, sizeof(loopback), &bt->failed);
		put_verdict(r, NF_ACCEPT, &bt->failed);
	}
	batch_put_rule(bt, r);
}

/* ip daddr A drop, or ip6 daddr A drop.  In an inet table the family must be matched before
 * the network header is read (what nft adds for "ip daddr"). */
static void batch_put_drop(struct batch *bt, const struct config_prefix *a)
{
	struct nftnl_rule *r = rule_new(bt);
	uint8_t proto = a->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	if (r) {
		put_meta(r, NFT_META_NFPROTO, &bt->failed);
		put_cmp_eq(r, &proto, sizeof(proto), &bt->failed);
		if (a->family == AF_INET)
			put_payload(r, 16, 4, &bt->failed);	/* iphdr.daddr */
		else
			put_payload(r, 24, 16, &bt->failed);	/* ipv6hdr.daddr */
		put_cmp_eq(r, a->addr, a->family == AF_INET ? 4 : 16, &bt->failed);
		put_verdict(r, NF_DROP, &bt->failed);
	}
	batch_put_rule(bt, r);
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

/* Writes the whole table: (create, if first) delete, create owned, chain, rules.  Creating
 * before deleting makes the delete valid whether or not a table exists; the kernel sees the
 * end state only. */
static int write_table(struct firewall *fw, bool first, const struct config_prefix *addrs,
    size_t n)
{
	struct batch bt = { .fw = fw };
	size_t limit = (n + 8) * FIREWALL_MSG_ROOM;
	char *buf;
	int ret;

	if (n > FIREWALL_MAX_ADDRESSES)
		return -E2BIG;
	/* libmnl's batch needs room past its limit for the message that crosses it. */
	if (!(buf = malloc(2 * limit)))
		return -ENOMEM;
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
	batch_put_chain(&bt);
	batch_put_accepts(&bt);
	for (size_t i = 0; i < n && !bt.failed; i++) {
		if (addrs[i].family == AF_INET || addrs[i].family == AF_INET6)
			batch_put_drop(&bt, &addrs[i]);
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), fw->seq++);
	if (!mnl_nlmsg_batch_next(bt.b))
		bt.failed = true;
	if (bt.failed) {
		ret = -ENOMEM;
		goto out;
	}
	if (mnl_socket_sendto(fw->sock, mnl_nlmsg_batch_head(bt.b),
	    mnl_nlmsg_batch_size(bt.b)) < 0) {
		ret = -errno;
		goto out;
	}
	ret = read_acks(fw, bt.first_seq, fw->seq - 2, bt.acks);
out:
	if (bt.b)
		mnl_nlmsg_batch_stop(bt.b);
	free(buf);
	return ret;
}

int firewall_open(struct firewall **out, const char *ifname, int ifindex)
{
	struct timeval tv = { FIREWALL_ACK_TIMEOUT_S, 0 };
	struct firewall *fw;
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
	if ((ret = write_table(fw, true, NULL, 0)) < 0)
		goto out;
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
	return write_table(fw, false, addrs, n);
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
	free(fw);
}
