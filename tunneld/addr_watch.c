/* rtnetlink address notifications through libmnl.  Only the kernel can send to these groups
 * (sending to an rtnetlink group or to another socket needs CAP_NET_ADMIN), and the worst a
 * bogus notification could do is make the kernel choose a source address for a while. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "tunneld/addr_watch.h"

/* Reads per wake-up, so that a host that churns addresses cannot hold the loop. */
enum { ADDR_WATCH_READS = 16 };
/* One read: address notifications are a few hundred bytes each. */
enum { ADDR_WATCH_BUF_LEN = 8192 };

struct addr_watch {
	struct mnl_socket *sock;
	struct event *ev;
	addr_watch_fn *fn;
	void *ctx;
	char buf[ADDR_WATCH_BUF_LEN];
};

static int on_msg(const struct nlmsghdr *nlh, void *arg)
{
	struct addr_watch *w = arg;
	const struct ifaddrmsg *ifa;
	const struct nlattr *a;
	const void *local = NULL, *address = NULL;
	size_t alen;

	if (nlh->nlmsg_type != RTM_DELADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	alen = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
	if (!alen)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_payload_len(a) != alen)
			continue;
		if (mnl_attr_get_type(a) == IFA_LOCAL)
			local = mnl_attr_get_payload(a);
		else if (mnl_attr_get_type(a) == IFA_ADDRESS)
			address = mnl_attr_get_payload(a);
	}
	/* IFA_LOCAL is ours; IFA_ADDRESS is the far end on a point-to-point link, and ours
	 * only when there is no IFA_LOCAL (IPv6 without a peer). */
	if (local || address)
		w->fn(w->ctx, ifa->ifa_family, local ? local : address);
	return MNL_CB_OK;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct addr_watch *w = arg;
	ssize_t n;
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < ADDR_WATCH_READS; i++) {
		n = mnl_socket_recvfrom(w->sock, w->buf, sizeof(w->buf));
		if (n < 0) {
			/* ENOBUFS: the socket overflowed; ENOSPC: a notification was truncated
			 * (libmnl).  Either way one was lost: assume the worst. */
			if (errno == ENOBUFS || errno == ENOSPC) {
				w->fn(w->ctx, AF_UNSPEC, NULL);
				continue;
			}
			return;		/* EAGAIN: all read */
		}
		/* seq 0, portid 0: notifications, not answers to a request of ours. */
		mnl_cb_run(w->buf, (size_t)n, 0, 0, on_msg, w);
	}
}

int addr_watch_new(struct addr_watch **out, struct event_base *base, addr_watch_fn *fn,
    void *ctx)
{
	struct addr_watch *w;
	int ret;

	*out = NULL;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->fn = fn;
	w->ctx = ctx;
	if (!(w->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK)) ||
	    mnl_socket_bind(w->sock, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	    MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto fail;
	}
	w->ev = event_new(base, mnl_socket_get_fd(w->sock), EV_READ | EV_PERSIST, on_readable, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	addr_watch_free(w);
	return ret;
}

void addr_watch_free(struct addr_watch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->sock)
		mnl_socket_close(w->sock);
	free(w);
}
