#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp.h"

/* Large socket buffers absorb bursts between two turns of the event loop; without them a
 * fast sender overruns the receive queue and TCP inside the tunnel sees loss.  The FORCE
 * variants pass the sysctl caps when we are privileged; otherwise the kernel clamps. */
static void set_buffers(int fd)
{
	int size = UDP_SOCKET_BUFFER;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int open_bound(int family, uint16_t port, uint32_t fwmark, uint16_t *bound)
{
	union wg_sockaddr a;
	socklen_t alen;
	int fd, one = 1, ret;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	if (family == AF_INET6) {
		/* Two sockets, one per family, so IPv4 peers never appear as v4-mapped. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
			goto fail;
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		alen = sizeof(a.in6);
	} else {
		a.in4.sin_family = AF_INET;
		a.in4.sin_port = htons(port);
		alen = sizeof(a.in4);
	}
	/* Each datagram's local address, to answer from it (udp_endpoint). */
	if (family == AF_INET6 ?
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 :
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		goto fail;
	set_buffers(fd);
	if (bind(fd, &a.sa, alen) < 0)
		goto fail;
	alen = sizeof(a);
	if (getsockname(fd, &a.sa, &alen) < 0)
		goto fail;
	*bound = ntohs(family == AF_INET6 ? a.in6.sin6_port : a.in4.sin_port);
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int udp_open(struct udp *u, uint16_t port, uint32_t fwmark)
{
	uint16_t bound = 0;
	int attempt, ret = 0;

	/* With port 0 the IPv4 socket picks a port and IPv6 must take the same one; if that port
	 * is busy for IPv6, try again with another. */
	for (attempt = 0; attempt < 100; attempt++) {
		u->fd4 = open_bound(AF_INET, port, fwmark, &bound);
		u->fd6 = open_bound(AF_INET6, u->fd4 >= 0 ? bound : port, fwmark, &bound);
		if (u->fd6 == -EADDRINUSE && port == 0 && u->fd4 >= 0) {
			close(u->fd4);
			continue;
		}
		break;
	}
	if (u->fd4 < 0 && u->fd6 < 0) {
		ret = u->fd4 == -EAFNOSUPPORT ? u->fd6 : u->fd4;
		return ret;
	}
	if (u->fd6 < 0 && u->fd6 != -EAFNOSUPPORT && u->fd6 != -EADDRNOTAVAIL) {
		/* IPv6 present but the port is taken: refuse rather than run half-bound. */
		ret = u->fd6;
		close(u->fd4);
		u->fd4 = u->fd6 = -1;
		return ret;
	}
	if (u->fd4 < 0)
		u->fd4 = -1;
	if (u->fd6 < 0)
		u->fd6 = -1;
	u->port = bound;
	u->fwmark = fwmark;
	return 0;
}

void udp_close(struct udp *u)
{
	if (u->fd4 >= 0)
		close(u->fd4);
	if (u->fd6 >= 0)
		close(u->fd6);
	u->fd4 = u->fd6 = -1;
}

int udp_set_fwmark(struct udp *u, uint32_t fwmark)
{
	int fds[2] = { u->fd4, u->fd6 };

	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0 && setsockopt(fds[i], SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
			return -errno;
	}
	u->fwmark = fwmark;
	return 0;
}

int udp_fd_for(const struct udp *u, const union wg_sockaddr *to)
{
	if (to->sa.sa_family == AF_INET)
		return u->fd4;
	if (to->sa.sa_family == AF_INET6)
		return u->fd6;
	return -1;
}

socklen_t udp_sockaddr_len(const union wg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

void udp_endpoint_set(struct udp_endpoint *ep, const union wg_sockaddr *addr)
{
	union wg_sockaddr a = *addr;	/* addr may be ep's own */

	memset(ep, 0, sizeof(*ep));
	ep->addr = a;
}

void udp_endpoint_clear_src(struct udp_endpoint *ep)
{
	memset(&ep->src6, 0, sizeof(ep->src6));
	ep->src_ifindex = 0;
}

void udp_endpoint_forget_src(struct udp_endpoint *ep, int family, const void *addr)
{
	if (family == AF_UNSPEC ||
	    (family == AF_INET && ep->addr.sa.sa_family == AF_INET &&
	    memcmp(&ep->src4, addr, sizeof(ep->src4)) == 0) ||
	    (family == AF_INET6 && ep->addr.sa.sa_family == AF_INET6 &&
	    memcmp(&ep->src6, addr, sizeof(ep->src6)) == 0))
		udp_endpoint_clear_src(ep);
}

static bool endpoint_has_src(const struct udp_endpoint *ep)
{
	if (ep->addr.sa.sa_family == AF_INET)
		return ep->src4.s_addr != htonl(INADDR_ANY);
	if (ep->addr.sa.sa_family == AF_INET6)
		return !IN6_IS_ADDR_UNSPECIFIED(&ep->src6);
	return false;
}

/* The local address a datagram arrived at, from its IP_PKTINFO / IPV6_PKTINFO message; none
 * if the kernel gave none (truncated control data) or it cannot be a source (multicast). */
static void endpoint_from_msg(struct udp_endpoint *ep, const union wg_sockaddr *name,
    struct msghdr *mh)
{
	struct cmsghdr *cm;

	udp_endpoint_set(ep, name);
	if (mh->msg_flags & MSG_CTRUNC)
		return;
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (name->sa.sa_family == AF_INET && cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			/* spec_dst: the local address to answer from, also for a datagram that
			 * was sent to a broadcast address. */
			ep->src4 = pi.ipi_spec_dst;
			return;
		}
		if (name->sa.sa_family == AF_INET6 && cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			if (IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr))
				return;
			ep->src6 = pi.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				ep->src_ifindex = pi.ipi6_ifindex;
			return;
		}
	}
}

int udp_recv_batch(struct udp_recv_batch *b, int fd, uint8_t *bufs, size_t stride)
{
	int n;

	for (unsigned i = 0; i < UDP_BATCH; i++) {
		b->iov[i].iov_base = bufs + (size_t)i * stride;
		b->iov[i].iov_len = stride;
		memset(&b->msgs[i].msg_hdr, 0, sizeof(b->msgs[i].msg_hdr));
		b->msgs[i].msg_hdr.msg_name = &b->names[i];
		b->msgs[i].msg_hdr.msg_namelen = sizeof(b->names[i]);
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
		b->msgs[i].msg_hdr.msg_control = b->ctrl[i].buf;
		b->msgs[i].msg_hdr.msg_controllen = sizeof(b->ctrl[i].buf);
	}
	n = recvmmsg(fd, b->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		endpoint_from_msg(&b->from[i], &b->names[i], &b->msgs[i].msg_hdr);
	return n;
}

/* Points mh's control data at ctrl holding to's source address, or at nothing if it has
 * none. */
static void set_src(struct msghdr *mh, union udp_cmsg *ctrl, const struct udp_endpoint *to)
{
	struct cmsghdr *cm;

	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (!endpoint_has_src(to))
		return;
	memset(ctrl, 0, sizeof(*ctrl));
	mh->msg_control = ctrl->buf;
	cm = (struct cmsghdr *)ctrl->buf;
	if (to->addr.sa.sa_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = to->src4 };

		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { .ipi6_addr = to->src6, .ipi6_ifindex = to->src_ifindex };

		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

/* Errors of a send with a source address that is not (or no longer) ours, or whose
 * interface went away: the kernel's WireGuard then forgets the source and routes afresh, and
 * so do we.  IPv4 routing answers ENETUNREACH for a source that is not local (EINVAL on older
 * kernels), IPv6 EINVAL; if the destination itself is unreachable, the retry fails as well and
 * the source is learned again from the peer's next packet. */
static bool src_gone(int err)
{
	return err == EINVAL || err == EADDRNOTAVAIL || err == ENODEV || err == ENETUNREACH;
}

void udp_send_batch_add(struct udp_send_batch *b, int fd, struct udp_endpoint *to,
    void *data, size_t len)
{
	unsigned i;

	if (b->count == UDP_BATCH)
		udp_send_batch_flush(b, fd);
	i = b->count++;
	b->addrs[i] = to->addr;
	b->owner[i] = to;
	b->iov[i].iov_base = data;
	b->iov[i].iov_len = len;
	memset(&b->msgs[i], 0, sizeof(b->msgs[i]));
	b->msgs[i].msg_hdr.msg_name = &b->addrs[i];
	b->msgs[i].msg_hdr.msg_namelen = udp_sockaddr_len(&to->addr);
	b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
	b->msgs[i].msg_hdr.msg_iovlen = 1;
	set_src(&b->msgs[i].msg_hdr, &b->ctrl[i], to);
}

unsigned udp_send_batch_flush(struct udp_send_batch *b, int fd)
{
	unsigned done = 0, dropped = 0;
	struct udp_endpoint *gone;
	int n;

	if (fd < 0) {
		dropped = b->count;
		b->count = 0;
		return dropped;
	}
	while (done < b->count) {
		n = sendmmsg(fd, b->msgs + done, b->count - done, MSG_DONTWAIT);
		if (n >= 0) {
			done += (unsigned)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (b->msgs[done].msg_hdr.msg_control && src_gone(errno)) {
			/* The source address went away: forget it, and send this datagram and
			 * the endpoint's others in the batch without it. */
			gone = b->owner[done];
			udp_endpoint_clear_src(gone);
			for (unsigned i = done; i < b->count; i++) {
				if (b->owner[i] == gone) {
					b->msgs[i].msg_hdr.msg_control = NULL;
					b->msgs[i].msg_hdr.msg_controllen = 0;
				}
			}
			continue;
		}
		/* The first datagram failed (full buffer, unreachable): drop it, go on. */
		done++;
		dropped++;
	}
	b->count = 0;
	return dropped;
}

int udp_send_one(const struct udp *u, struct udp_endpoint *to, const void *data, size_t len)
{
	int fd = udp_fd_for(u, &to->addr);
	union udp_cmsg ctrl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &to->addr,
		.msg_namelen = udp_sockaddr_len(&to->addr),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	if (fd < 0)
		return -EAFNOSUPPORT;
	set_src(&mh, &ctrl, to);
	for (;;) {
		if (sendmsg(fd, &mh, MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (!mh.msg_control || !src_gone(errno))
			return -errno;
		udp_endpoint_clear_src(to);
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
}
