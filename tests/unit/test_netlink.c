/* TUN + rtnetlink against the real kernel, inside a private network namespace (needs root;
 * CI runs as root).  Every change is verified independently of the code under test: MTU and
 * flags by ioctl, addresses and routes by a netlink dump written here. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunneld/netlink.h"
#include "tunneld/tun.h"

/* ---- independent verification: a minimal dump of addresses or routes ---- */

struct found {
	int family;
	uint8_t addr[16];
	uint8_t plen;
	int ifindex;
	uint32_t flags;		/* IFA flags, or rtm_protocol for routes */
	uint8_t scope;
};

struct dump {
	uint16_t type;		/* RTM_NEWADDR or RTM_NEWROUTE */
	uint32_t table;		/* routes: only this table's */
	int n;
	struct found f[64];
};

enum { TB_MAX = RTA_MAX > IFA_MAX ? RTA_MAX : IFA_MAX };

static int
dump_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= TB_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static void
copy_addr(struct found *f, const struct nlattr *a)
{
	size_t len = mnl_attr_get_payload_len(a);

	memcpy(f->addr, mnl_attr_get_payload(a), len > 16 ? 16 : len);
}

static int
dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[TB_MAX + 1] = { 0 };
	struct dump *d = data;
	struct found *f;

	if (nlh->nlmsg_type != d->type || d->n >= 64)
		return MNL_CB_OK;
	f = &d->f[d->n];
	memset(f, 0, sizeof(*f));
	if (d->type == RTM_NEWADDR) {
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

		mnl_attr_parse(nlh, sizeof(*ifa), dump_attr_cb, tb);
		f->family = ifa->ifa_family;
		f->plen = ifa->ifa_prefixlen;
		f->ifindex = (int)ifa->ifa_index;
		f->scope = ifa->ifa_scope;
		f->flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
		if (tb[IFA_LOCAL])
			copy_addr(f, tb[IFA_LOCAL]);
		else if (tb[IFA_ADDRESS])
			copy_addr(f, tb[IFA_ADDRESS]);
	} else {
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
		uint32_t table;

		mnl_attr_parse(nlh, sizeof(*rtm), dump_attr_cb, tb);
		table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
		if (table != d->table || !tb[RTA_DST] || !tb[RTA_OIF])
			return MNL_CB_OK;
		f->family = rtm->rtm_family;
		f->plen = rtm->rtm_dst_len;
		f->ifindex = (int)mnl_attr_get_u32(tb[RTA_OIF]);
		f->flags = rtm->rtm_protocol;
		f->scope = rtm->rtm_scope;
		copy_addr(f, tb[RTA_DST]);
	}
	d->n++;
	return MNL_CB_OK;
}

static void
dump_table(uint16_t get, uint32_t table, struct dump *d)
{
	char buf[32768];
	struct mnl_socket *s = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	unsigned portid;
	uint32_t seq = 4242;
	ssize_t n;
	int ret;

	assert_non_null(s);
	assert_int_equal(mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID), 0);
	portid = mnl_socket_get_portid(s);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = get;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));	/* rtmsg >= ifaddrmsg */
	g->rtgen_family = AF_UNSPEC;
	d->type = get == RTM_GETADDR ? RTM_NEWADDR : RTM_NEWROUTE;
	d->table = table;
	d->n = 0;
	assert_true(mnl_socket_sendto(s, nlh, nlh->nlmsg_len) >= 0);
	do {
		n = mnl_socket_recvfrom(s, buf, sizeof(buf));
		assert_true(n > 0);
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, dump_cb, d);
	} while (ret > MNL_CB_STOP);
	assert_int_equal(ret, MNL_CB_STOP);
	mnl_socket_close(s);
}

static void
dump(uint16_t get, struct dump *d)
{
	dump_table(get, RT_TABLE_MAIN, d);
}

/* Lines of `ip -FAMILY rule show` (iproute2: a reader independent of the code under test)
 * that contain what. */
static int
rules_matching(int family, const char *what)
{
	char cmd[64], *line = NULL;
	size_t cap = 0;
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip -%d rule show", family == AF_INET ? 4 : 6);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0)
		n += strstr(line, what) != NULL;
	free(line);
	pclose(f);
	return n;
}

/* How many entries match family/addr/plen on ifindex; *out receives the last one. */
static int
count(const struct dump *d, int family, const uint8_t *addr, uint8_t plen, int ifindex,
    struct found *out)
{
	size_t len = family == AF_INET ? 4 : 16;
	int i, n = 0;

	for (i = 0; i < d->n; i++) {
		const struct found *f = &d->f[i];

		if (f->family == family && f->plen == plen && f->ifindex == ifindex &&
		    !memcmp(f->addr, addr, len)) {
			n++;
			if (out)
				*out = *f;
		}
	}
	return n;
}

static int
link_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	assert_true(s >= 0);
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
	ret = ioctl(s, req, ifr);
	close(s);
	return ret;
}

/* ---- the test ---- */

static const struct {
	int family;
	const char *addr;
	uint8_t plen;
} addrs[] = {
	{ AF_INET, "100.64.0.1", 24 },
	{ AF_INET6, "fd00::1", 64 },
}, routes[] = {
	{ AF_INET, "100.65.0.0", 16 },
	{ AF_INET6, "fd01::", 64 },
};

#define NITEMS 2
#define TEST_TABLE 0x77720001u
#define TEST_RULE "not from all fwmark 0x2a lookup 2003959809"
#define TEST_RULE7 "not from all fwmark 0x7 lookup 2003959809"

static void
pton(int family, const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family, s, out), 1);
}

struct walked {
	int n;
	int v4, v6;
};

static void
walked_one(void *ctx, int family, const uint8_t *dst, uint8_t plen)
{
	struct walked *w = ctx;
	uint8_t a[16];

	w->n++;
	pton(AF_INET, "100.65.0.0", a);
	if (family == AF_INET && plen == 16 && !memcmp(dst, a, 4))
		w->v4++;
	pton(AF_INET6, "fd01::", a);
	if (family == AF_INET6 && plen == 64 && !memcmp(dst, a, 16))
		w->v6++;
}

/* Walking a table lists exactly its routes via the interface: not main's, not another
 * table's, not another interface's. */
static void
test_netlink_route_walk(void **state)
{
	struct netlink *nl;
	struct walked w = { 0 };
	char name[IFNAMSIZ], cmd[160];
	uint8_t a[16];
	int fd, idx;

	(void)state;
	fd = tun_open("wtest2", name);
	assert_true(fd >= 0);
	assert_int_equal(netlink_open(&nl), 0);
	idx = netlink_link_index(nl, name);
	assert_true(idx > 0);
	assert_int_equal(netlink_link_set_up(nl, idx, true), 0);
	for (int i = 0; i < NITEMS; i++) {
		pton(routes[i].family, routes[i].addr, a);
		assert_int_equal(netlink_route_add(nl, idx, TEST_TABLE, routes[i].family, a,
		    routes[i].plen), 0);
		assert_int_equal(netlink_route_add(nl, idx, RT_TABLE_MAIN, routes[i].family, a,
		    routes[i].plen), 0);
	}
	snprintf(cmd, sizeof(cmd), "ip route add 100.99.0.0/16 dev %s table 7 && "
	    "ip route add blackhole 100.98.0.0/16 table 2003959809", name);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(netlink_route_walk(nl, TEST_TABLE, idx, walked_one, &w), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.v4, 1);
	assert_int_equal(w.v6, 1);
	assert_int_equal(netlink_route_walk(nl, TEST_TABLE, 0, walked_one, &w), -EINVAL);
	/* The socket answers ordinary requests as before (strict checking was for the walk). */
	assert_int_equal(netlink_link_index(nl, name), idx);
	netlink_close(nl);
	close(fd);
	assert_int_equal(system("ip route flush table 2003959809 && ip route flush table 7"), 0);
}

/* Policy rules: added once however often asked, deleted by mark, and flushed whatever the
 * mark (what a crashed run left). */
static void
test_netlink_rules(void **state)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	struct netlink *nl;

	(void)state;
	assert_int_equal(netlink_open(&nl), 0);
	for (int i = 0; i < 2; i++) {
		int f = fams[i];

		assert_int_equal(netlink_rule_add(nl, f, 42, TEST_TABLE), 0);
		assert_int_equal(netlink_rule_add(nl, f, 42, TEST_TABLE), 0);
		assert_int_equal(rules_matching(f, TEST_RULE), 1);
		assert_int_equal(rules_matching(f, "32765:"), 1);
		assert_int_equal(netlink_rule_del(nl, f, 42, TEST_TABLE), 0);
		assert_int_equal(netlink_rule_del(nl, f, 42, TEST_TABLE), 0);
		assert_int_equal(rules_matching(f, TEST_RULE), 0);

		assert_int_equal(netlink_rule_add(nl, f, 42, TEST_TABLE), 0);
		assert_int_equal(netlink_rule_add(nl, f, 7, TEST_TABLE), 0);
		assert_int_equal(rules_matching(f, "lookup 2003959809"), 2);
		assert_int_equal(netlink_rule_flush(nl, f, TEST_TABLE), 0);
		assert_int_equal(rules_matching(f, "lookup 2003959809"), 0);
		assert_int_equal(rules_matching(f, TEST_RULE7), 0);
		assert_int_equal(rules_matching(f, "lookup main"), 1);
	}
	netlink_close(nl);
}

static void
test_tun_open(void **state)
{
	char name[IFNAMSIZ];
	int fd, fd2, fl;

	(void)state;
	fd = tun_open("wtest0", name);
	assert_true(fd >= 0);
	assert_string_equal(name, "wtest0");
	fl = fcntl(fd, F_GETFL);
	assert_true(fl & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* Empty name: the kernel picks one. */
	fd = tun_open("", name);
	assert_true(fd >= 0);
	assert_int_equal(strncmp(name, "tun", 3), 0);
	/* A second open of an attached, non-multiqueue name is refused: EBUSY. */
	fd2 = tun_open(name, name);
	assert_true(fd2 < 0);
	close(fd);

	assert_int_equal(tun_open("this-name-is-far-too-long", name), -EINVAL);
}

static void
test_netlink_roundtrip(void **state)
{
	struct netlink *nl;
	struct dump d;
	struct found f;
	struct ifreq ifr;
	char name[IFNAMSIZ];
	uint8_t a[16];
	int fd, idx, i, round;

	(void)state;
	fd = tun_open("wtest1", name);
	assert_true(fd >= 0);
	assert_int_equal(netlink_open(&nl), 0);

	/* 1: index by name, checked against the ioctl path. */
	idx = netlink_link_index(nl, name);
	assert_true(idx > 0);
	assert_int_equal(idx, (int)if_nametoindex(name));
	assert_int_equal(netlink_link_index(nl, "nosuchdev0"), -ENODEV);

	/* 2: MTU 1420 and up. */
	assert_int_equal(netlink_link_set_mtu(nl, idx, 1420), 0);
	assert_int_equal(link_ioctl(name, SIOCGIFMTU, &ifr), 0);
	assert_int_equal(ifr.ifr_mtu, 1420);
	assert_int_equal(netlink_link_set_up(nl, idx, true), 0);
	assert_int_equal(link_ioctl(name, SIOCGIFFLAGS, &ifr), 0);
	assert_true(ifr.ifr_flags & IFF_UP);
	assert_int_equal(netlink_link_set_mtu(nl, idx, 1), -EINVAL);	/* kernel error passes */

	/* 3: addresses, twice (the second add is a no-op that returns 0). */
	for (round = 0; round < 2; round++)
		for (i = 0; i < NITEMS; i++) {
			pton(addrs[i].family, addrs[i].addr, a);
			if (netlink_addr_add(nl, idx, addrs[i].family, a, addrs[i].plen) != 0)
				fail_msg("round %d: add address %s", round + 1, addrs[i].addr);
		}
	dump(RTM_GETADDR, &d);
	for (i = 0; i < NITEMS; i++) {
		pton(addrs[i].family, addrs[i].addr, a);
		if (count(&d, addrs[i].family, a, addrs[i].plen, idx, &f) != 1)
			fail_msg("address %s/%u not present exactly once", addrs[i].addr,
			    addrs[i].plen);
		/* Usable at once: not tentative (IPv6 DAD skipped). */
		assert_false(f.flags & IFA_F_TENTATIVE);
		if (addrs[i].family == AF_INET6)
			assert_true(f.flags & IFA_F_NODAD);
	}

	/* 3b: the addresses put no prefix route into main (the device routes them itself). */
	dump(RTM_GETROUTE, &d);
	pton(AF_INET, "100.64.0.0", a);
	assert_int_equal(count(&d, AF_INET, a, 24, idx, NULL), 0);
	pton(AF_INET6, "fd00::", a);
	assert_int_equal(count(&d, AF_INET6, a, 64, idx, NULL), 0);

	/* 4: routes, twice, in a table past 255 (the id travels in RTA_TABLE only).  Adding one
	 * that exists asks the kernel for "the" route, found through the policy rules: ours
	 * sends lookups to the table, as in tunneld, where the rule always precedes the routes. */
	assert_int_equal(netlink_rule_add(nl, AF_INET, 42, TEST_TABLE), 0);
	assert_int_equal(netlink_rule_add(nl, AF_INET6, 42, TEST_TABLE), 0);
	for (round = 0; round < 2; round++)
		for (i = 0; i < NITEMS; i++) {
			pton(routes[i].family, routes[i].addr, a);
			if (netlink_route_add(nl, idx, TEST_TABLE, routes[i].family, a,
			    routes[i].plen) != 0)
				fail_msg("round %d: add route %s", round + 1, routes[i].addr);
		}
	dump(RTM_GETROUTE, &d);
	for (i = 0; i < NITEMS; i++) {
		pton(routes[i].family, routes[i].addr, a);
		assert_int_equal(count(&d, routes[i].family, a, routes[i].plen, idx, NULL), 0);
	}
	dump_table(RTM_GETROUTE, TEST_TABLE, &d);
	for (i = 0; i < NITEMS; i++) {
		pton(routes[i].family, routes[i].addr, a);
		if (count(&d, routes[i].family, a, routes[i].plen, idx, &f) != 1)
			fail_msg("route %s/%u not present exactly once", routes[i].addr,
			    routes[i].plen);
		assert_int_equal(f.flags, RTPROT_STATIC);
		if (routes[i].family == AF_INET)
			assert_int_equal(f.scope, RT_SCOPE_LINK);
	}

	/* 5: delete routes, verify gone, delete again is still 0. */
	for (round = 0; round < 2; round++)
		for (i = 0; i < NITEMS; i++) {
			pton(routes[i].family, routes[i].addr, a);
			if (netlink_route_del(nl, idx, TEST_TABLE, routes[i].family, a,
			    routes[i].plen) != 0)
				fail_msg("round %d: delete route %s", round + 1, routes[i].addr);
		}
	dump_table(RTM_GETROUTE, TEST_TABLE, &d);
	for (i = 0; i < NITEMS; i++) {
		pton(routes[i].family, routes[i].addr, a);
		assert_int_equal(count(&d, routes[i].family, a, routes[i].plen, idx, NULL), 0);
	}

	/* 5b: a route to the prefix that is not ours (a blackhole, as another service may hold)
	 * is a failure, not "exists already": traffic would not reach the tunnel. */
	pton(AF_INET, "100.65.0.0", a);
	assert_int_equal(system("ip route add blackhole 100.65.0.0/16 table 2003959809"), 0);
	assert_int_equal(netlink_route_add(nl, idx, TEST_TABLE, AF_INET, a, 16), -EEXIST);
	assert_int_equal(system("ip route del blackhole 100.65.0.0/16 table 2003959809"), 0);
	assert_int_equal(netlink_route_add(nl, idx, TEST_TABLE, AF_INET, a, 16), 0);
	/* ours: fine, in our table (main has no such route) */
	assert_int_equal(netlink_route_add(nl, idx, TEST_TABLE, AF_INET, a, 16), 0);
	assert_int_equal(netlink_route_del(nl, idx, TEST_TABLE, AF_INET, a, 16), 0);
	assert_int_equal(netlink_rule_del(nl, AF_INET, 42, TEST_TABLE), 0);
	assert_int_equal(netlink_rule_del(nl, AF_INET6, 42, TEST_TABLE), 0);

	/* 6: delete addresses likewise. */
	for (round = 0; round < 2; round++)
		for (i = 0; i < NITEMS; i++) {
			pton(addrs[i].family, addrs[i].addr, a);
			if (netlink_addr_del(nl, idx, addrs[i].family, a, addrs[i].plen) != 0)
				fail_msg("round %d: delete address %s", round + 1, addrs[i].addr);
		}
	dump(RTM_GETADDR, &d);
	for (i = 0; i < NITEMS; i++) {
		pton(addrs[i].family, addrs[i].addr, a);
		assert_int_equal(count(&d, addrs[i].family, a, addrs[i].plen, idx, NULL), 0);
	}

	/* 7: bad arguments are refused before reaching the kernel. */
	assert_int_equal(netlink_addr_add(nl, idx, AF_INET, a, 33), -EINVAL);
	assert_int_equal(netlink_route_add(nl, idx, TEST_TABLE, 12345, a, 8), -EINVAL);
	assert_int_equal(netlink_route_add(nl, 0, TEST_TABLE, AF_INET, a, 8), -EINVAL);
	assert_int_equal(netlink_route_add(nl, idx, RT_TABLE_UNSPEC, AF_INET, a, 8), -EINVAL);
	assert_int_equal(netlink_rule_add(nl, AF_INET, 0, TEST_TABLE), -EINVAL);
	assert_int_equal(netlink_rule_add(nl, AF_PACKET, 42, TEST_TABLE), -EINVAL);
	/* A kernel error comes back as -errno: no such interface. */
	pton(AF_INET, "100.66.0.1", a);
	assert_int_equal(netlink_addr_add(nl, 999999, AF_INET, a, 24), -ENODEV);

	/* 8: down. */
	assert_int_equal(netlink_link_set_up(nl, idx, false), 0);
	assert_int_equal(link_ioctl(name, SIOCGIFFLAGS, &ifr), 0);
	assert_false(ifr.ifr_flags & IFF_UP);

	netlink_close(nl);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tun_open),
		cmocka_unit_test(test_netlink_roundtrip),
		cmocka_unit_test(test_netlink_rules),
		cmocka_unit_test(test_netlink_route_walk),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_netlink: FAIL: must run as root (it creates a network "
		    "namespace and a TUN device); run it under sudo or in CI\n");
		return 1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_netlink: FAIL: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
