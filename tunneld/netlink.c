/* rtnetlink through libmnl.  Each call sends one request with NLM_F_ACK and reads until the
 * kernel's ACK or error; libmnl's mnl_cb_run checks that every reply carries our sequence
 * number and port id, so a stale or foreign message is an error rather than a false ACK. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tunneld/netlink.h"

/* Requests here are small and never dumps; an ACK echoes at most the request. */
enum { NETLINK_BUF_LEN = 8192 };

struct netlink {
	struct mnl_socket *sock;
	unsigned portid;
	uint32_t seq;
	char buf[NETLINK_BUF_LEN];
};

int
netlink_open(struct netlink **out)
{
	struct netlink *nl;
	int ret;

	*out = NULL;
	if (!(nl = calloc(1, sizeof(*nl))))
		return -ENOMEM;
	if (!(nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC))) {
		ret = -errno;
		goto out;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Start somewhere unpredictable so replies to an earlier process never line up. */
	nl->seq = (uint32_t)time(NULL);
	*out = nl;
	nl = NULL;
	ret = 0;
out:
	if (nl) {
		if (nl->sock)
			mnl_socket_close(nl->sock);
		free(nl);
	}
	return ret;
}

void
netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

/* Starts a request in nl->buf; the caller appends the family header and attributes. */
static struct nlmsghdr *
request(struct netlink *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/* Sends nlh and reads replies until the ACK.  Returns 0 or the kernel's -errno. */
static int
transact(struct netlink *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EPROTO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static bool
family_len(int family, size_t *len)
{
	if (family == AF_INET)
		*len = 4;
	else if (family == AF_INET6)
		*len = 16;
	else
		return false;
	return true;
}

static int
link_index_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWLINK &&
	    mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi))
		*(int *)data = ifi->ifi_index;
	return MNL_CB_OK;
}

int
netlink_link_index(struct netlink *nl, const char *ifname)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int index = 0, ret;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	/* A non-dump GETLINK answers with the link and then an ACK (we asked for one). */
	nlh = request(nl, RTM_GETLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	if ((ret = transact(nl, nlh, link_index_cb, &index)) < 0)
		return ret;
	return index > 0 ? index : -ENODEV;
}

static struct nlmsghdr *
link_request(struct netlink *nl, int ifindex)
{
	struct nlmsghdr *nlh = request(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

int
netlink_link_set_up(struct netlink *nl, int ifindex, bool up)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (ifindex <= 0)
		return -EINVAL;
	nlh = link_request(nl, ifindex);
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_change = IFF_UP;	/* touch only this flag */
	ifi->ifi_flags = up ? IFF_UP : 0;
	return transact(nl, nlh, NULL, NULL);
}

int
netlink_link_set_ipv6_addr_gen_none(struct netlink *nl, int ifindex)
{
	struct nlmsghdr *nlh;
	struct nlattr *spec, *inet6;

	if (ifindex <= 0)
		return -EINVAL;
	nlh = link_request(nl, ifindex);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, inet6);
	mnl_attr_nest_end(nlh, spec);
	return transact(nl, nlh, NULL, NULL);
}

int
netlink_link_set_mtu(struct netlink *nl, int ifindex, unsigned mtu)
{
	struct nlmsghdr *nlh;

	if (ifindex <= 0)
		return -EINVAL;
	nlh = link_request(nl, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return transact(nl, nlh, NULL, NULL);
}

static int
addr_change(struct netlink *nl, uint16_t type, int ifindex, int family, const void *addr,
    uint8_t prefixlen)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t len;
	int ret;

	if (ifindex <= 0 || !addr || !family_len(family, &len) || prefixlen > len * 8)
		return -EINVAL;
	/* EXCL so that "already there" is reported (and then treated as success) rather
	 * than silently replacing flags or lifetimes. */
	nlh = request(nl, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	if (family == AF_INET) {
		/* IFA_LOCAL is our address, IFA_ADDRESS the peer's on a point-to-point link
		 * (a TUN is one); equal values, as iproute2 sends, mean "no peer". */
		mnl_attr_put(nlh, IFA_LOCAL, len, addr);
		mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	} else {
		/* No duplicate address detection: a TUN has no neighbours to collide with, and
		 * DAD would hold the address "tentative" (unusable) for a second or more. */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	}
	/* No prefix route in the main table: the device routes the prefix in its own table
	 * (device_config.c), where the policy rule keeps tunneld's own packets out of it. */
	if (type == RTM_NEWADDR)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NOPREFIXROUTE |
		    (family == AF_INET6 ? IFA_F_NODAD : 0));
	ret = transact(nl, nlh, NULL, NULL);
	/* Idempotent: adding what exists or deleting what is gone is success. */
	if (type == RTM_NEWADDR && ret == -EEXIST)
		ret = 0;
	if (type == RTM_DELADDR && (ret == -EADDRNOTAVAIL || ret == -ENOENT || ret == -ESRCH))
		ret = 0;
	return ret;
}

int
netlink_addr_add(struct netlink *nl, int ifindex, int family, const void *addr,
    uint8_t prefixlen)
{
	return addr_change(nl, RTM_NEWADDR, ifindex, family, addr, prefixlen);
}

int
netlink_addr_del(struct netlink *nl, int ifindex, int family, const void *addr,
    uint8_t prefixlen)
{
	return addr_change(nl, RTM_DELADDR, ifindex, family, addr, prefixlen);
}

struct route_match {
	uint8_t dst_len;
	int oif;		/* 0: none (a blackhole, a multipath route) */
	bool found;
};

static int
route_match_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_match *m = data;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	m->found = true;
	m->dst_len = rtm->rtm_dst_len;
	m->oif = 0;
	if (rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(attr) == RTA_OIF &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			m->oif = (int)mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

/* Whether the route to net/prefixlen is a unicast route via ifindex: the kernel's own entry
 * for that prefix (RTM_F_FIB_MATCH), not the result of a lookup.  The kernel finds it through
 * the policy rules (RTA_TABLE only labels the answer), so for our own table it is found once
 * our `not fwmark` rule is in place (device_config.c adds it before any route). */
static bool
route_is_ours(struct netlink *nl, int ifindex, uint32_t table, int family, const uint8_t *net,
    size_t len, uint8_t prefixlen)
{
	struct route_match m = { 0 };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = request(nl, RTM_GETROUTE, 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)(len * 8);
	rtm->rtm_flags = RTM_F_FIB_MATCH;
	mnl_attr_put(nlh, RTA_DST, len, net);
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (transact(nl, nlh, route_match_cb, &m) < 0 || !m.found)
		return false;
	return m.dst_len == prefixlen && m.oif == ifindex;
}

static int
route_change(struct netlink *nl, uint16_t type, int ifindex, uint32_t table, int family,
    const void *dst, uint8_t prefixlen)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	uint8_t net[16];
	size_t len, i;
	int ret;

	if (ifindex <= 0 || !dst || !family_len(family, &len) || prefixlen > len * 8 ||
	    table == RT_TABLE_UNSPEC)
		return -EINVAL;
	/* The kernel refuses a destination with host bits set; mask them as allowedips does. */
	memcpy(net, dst, len);
	for (i = 0; i < len; i++) {
		if (prefixlen >= 8 * (i + 1))
			continue;
		net[i] &= prefixlen <= 8 * i ? 0 : (uint8_t)(0xff << (8 - (prefixlen - 8 * i)));
	}

	nlh = request(nl, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefixlen;
	/* Table ids past 255 travel in RTA_TABLE only. */
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;	/* directly on the tunnel, no gateway */
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, len, net);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	ret = transact(nl, nlh, NULL, NULL);
	/* An existing route is success only if it is ours; one via another interface or a
	 * blackhole would keep the traffic out of the tunnel, so EEXIST is reported and the
	 * apply known to be incomplete (and retried). */
	if (type == RTM_NEWROUTE && ret == -EEXIST && route_is_ours(nl, ifindex, table, family,
	    net, len, prefixlen))
		ret = 0;
	if (type == RTM_DELROUTE && (ret == -ESRCH || ret == -ENOENT))
		ret = 0;
	return ret;
}

struct route_walk {
	uint32_t table;
	int ifindex;
	netlink_route_fn *fn;
	void *ctx;
};

static int
route_walk_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_walk *w = data;
	const struct nlattr *attr, *dst = NULL;
	uint32_t table = 0, oif = 0;
	size_t len;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    rtm->rtm_type != RTN_UNICAST || !family_len(rtm->rtm_family, &len))
		return MNL_CB_OK;
	table = rtm->rtm_table;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(attr)) {
		case RTA_TABLE:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				table = mnl_attr_get_u32(attr);
			break;
		case RTA_OIF:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				oif = mnl_attr_get_u32(attr);
			break;
		case RTA_DST:
			if (mnl_attr_get_payload_len(attr) == len)
				dst = attr;
			break;
		}
	}
	/* Filtered here too: without strict checking the kernel dumps every table. */
	if (table == w->table && oif == (uint32_t)w->ifindex && dst)
		w->fn(w->ctx, rtm->rtm_family, mnl_attr_get_payload(dst), rtm->rtm_dst_len);
	return MNL_CB_OK;
}

int
netlink_route_walk(struct netlink *nl, uint32_t table, int ifindex, netlink_route_fn *fn,
    void *ctx)
{
	struct route_walk w = { table, ifindex, fn, ctx };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int fd = mnl_socket_get_fd(nl->sock), on = 1, off = 0, ret;

	if (ifindex <= 0 || table == RT_TABLE_UNSPEC || !fn)
		return -EINVAL;
	/* Strict checking makes the kernel dump only our table, not (say) a full BGP table in
	 * main; where it is missing (before 4.20) the callback filters.  Only for this request:
	 * it also makes the kernel stricter about the others' headers. */
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof(on));
	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nl->seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_UNSPEC;
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	ret = transact(nl, nlh, route_walk_cb, &w);
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &off, sizeof(off));
	return ret;
}

int
netlink_route_add(struct netlink *nl, int ifindex, uint32_t table, int family, const void *dst,
    uint8_t prefixlen)
{
	return route_change(nl, RTM_NEWROUTE, ifindex, table, family, dst, prefixlen);
}

int
netlink_route_del(struct netlink *nl, int ifindex, uint32_t table, int family, const void *dst,
    uint8_t prefixlen)
{
	return route_change(nl, RTM_DELROUTE, ifindex, table, family, dst, prefixlen);
}

/* mark 0 (delete only): any mark, as `ip rule del table T pref P` */
static int
rule_change(struct netlink *nl, uint16_t type, int family, uint32_t mark, uint32_t table)
{
	struct nlmsghdr *nlh;
	struct fib_rule_hdr *frh;
	int ret;

	if ((family != AF_INET && family != AF_INET6) || table == RT_TABLE_UNSPEC ||
	    (type == RTM_NEWRULE && !mark))
		return -EINVAL;
	nlh = request(nl, type, type == RTM_NEWRULE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, NETLINK_RULE_PRIORITY);
	if (mark) {
		frh->flags = FIB_RULE_INVERT;
		mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, UINT32_MAX);
	}
	ret = transact(nl, nlh, NULL, NULL);
	if (type == RTM_NEWRULE && ret == -EEXIST)
		ret = 0;
	return ret;
}

int
netlink_rule_add(struct netlink *nl, int family, uint32_t mark, uint32_t table)
{
	return rule_change(nl, RTM_NEWRULE, family, mark, table);
}

int
netlink_rule_del(struct netlink *nl, int family, uint32_t mark, uint32_t table)
{
	int ret = rule_change(nl, RTM_DELRULE, family, mark, table);

	return ret == -ENOENT || ret == -ESRCH ? 0 : ret;
}

int
netlink_rule_flush(struct netlink *nl, int family, uint32_t table)
{
	int ret = 0;

	/* One rule per request; a namespace does not hold this many of ours. */
	for (int i = 0; i < NETLINK_RULE_FLUSH_MAX; i++) {
		ret = rule_change(nl, RTM_DELRULE, family, 0, table);
		if (ret == -ENOENT || ret == -ESRCH)
			return 0;
		if (ret < 0)
			return ret;
	}
	return -ELOOP;
}
