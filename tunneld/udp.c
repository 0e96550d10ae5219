#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
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

/* What the kernel offers this socket (udp(7)): UDP_SEGMENT is known (Linux 4.18) if it can be
 * read, and GRO trains are asked for; a kernel without either just sends and receives
 * datagram by datagram. */
static uint8_t probe_offloads(int fd)
{
	int one = 1, gso_size = 0;
	socklen_t len = sizeof(gso_size);
	uint8_t offload = 0;

	if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso_size, &len) == 0)
		offload |= UDP_OFFLOAD_GSO;
	if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0)
		offload |= UDP_OFFLOAD_GRO;
	return offload;
}

static int open_bound(int family, uint16_t port, uint32_t fwmark, uint16_t *bound,
    bool offload_wanted, uint8_t *offload)
{
	union wg_sockaddr a;
	socklen_t alen;
	int fd, one = 1, ret;

	*offload = 0;
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
	if (offload_wanted)
		*offload = probe_offloads(fd);
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

int udp_open(struct udp *u, uint16_t port, uint32_t fwmark, bool offload)
{
	uint16_t bound = 0;
	int attempt, ret = 0;

	/* With port 0 the IPv4 socket picks a port and IPv6 must take the same one; if that port
	 * is busy for IPv6, try again with another. */
	for (attempt = 0; attempt < 100; attempt++) {
		u->fd4 = open_bound(AF_INET, port, fwmark, &bound, offload, &u->offload4);
		u->fd6 = open_bound(AF_INET6, u->fd4 >= 0 ? bound : port, fwmark, &bound, offload,
		    &u->offload6);
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
	if (u->fd4 < 0) {
		u->fd4 = -1;
		u->offload4 = 0;
	}
	if (u->fd6 < 0) {
		u->fd6 = -1;
		u->offload6 = 0;
	}
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

/* The local address a message arrived at, from its IP_PKTINFO / IPV6_PKTINFO message (none
 * if the kernel gave none (truncated control data) or it cannot be a source (multicast)), and
 * the size of its datagrams if it is a GRO train (UDP_GRO), else 0. */
static unsigned parse_msg(struct udp_endpoint *ep, const union wg_sockaddr *name,
    struct msghdr *mh)
{
	struct cmsghdr *cm;
	unsigned gso_size = 0;
	int v;

	udp_endpoint_set(ep, name);
	if (mh->msg_flags & MSG_CTRUNC)
		return 0;
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			gso_size = v > 0 ? (unsigned)v : 0;
		} else if (name->sa.sa_family == AF_INET && cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			/* spec_dst: the local address to answer from, also for a datagram that
			 * was sent to a broadcast address. */
			ep->src4 = pi.ipi_spec_dst;
		} else if (name->sa.sa_family == AF_INET6 && cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			if (IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr))
				continue;
			ep->src6 = pi.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				ep->src_ifindex = pi.ipi6_ifindex;
		}
	}
	return gso_size;
}

/* Message i's datagrams: a GRO train holds datagrams of gso_size bytes, the last perhaps
 * shorter; anything else is one datagram.  Cut short by the buffer (MSG_TRUNC), a lone
 * datagram is lost, and of a train only the datagrams of full size are known to be whole. */
static void split_msg(struct udp_recv_batch *b, unsigned i, unsigned gso_size)
{
	size_t len = b->msgs[i].msg_len;
	bool cut = b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC;

	if (gso_size == 0 || gso_size >= len) {
		b->seg_size[i] = (uint32_t)len;
		b->seg_count[i] = !cut;
	} else {
		b->seg_size[i] = gso_size;
		b->seg_count[i] = (uint32_t)(cut ? len / gso_size : (len + gso_size - 1) / gso_size);
		if (b->seg_count[i] > 1) {
			b->gro_messages++;
			b->gro_datagrams += b->seg_count[i];
		}
	}
	if (cut)
		b->truncated++;
}

int udp_recv_batch(struct udp_recv_batch *b, const struct udp *u, int fd, uint8_t *bufs,
    size_t stride)
{
	uint8_t offload = fd == u->fd4 ? u->offload4 : fd == u->fd6 ? u->offload6 : 0;
	int n;

	b->n_msgs = b->next_msg = b->next_seg = 0;
	b->slots = offload & UDP_OFFLOAD_GRO ? UDP_GRO_BATCH : UDP_BATCH;
	for (unsigned i = 0; i < b->slots; i++) {
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
	n = recvmmsg(fd, b->msgs, b->slots, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		split_msg(b, (unsigned)i, parse_msg(&b->from[i], &b->names[i], &b->msgs[i].msg_hdr));
	b->n_msgs = (unsigned)n;
	return n;
}

bool udp_recv_batch_next(struct udp_recv_batch *b, struct udp_datagram *d)
{
	for (; b->next_msg < b->n_msgs; b->next_msg++, b->next_seg = 0) {
		unsigned i = b->next_msg;
		size_t off = (size_t)b->next_seg * b->seg_size[i];

		if (b->next_seg == b->seg_count[i])
			continue;
		d->data = (uint8_t *)b->iov[i].iov_base + off;
		d->len = b->msgs[i].msg_len - off < b->seg_size[i] ?
		    b->msgs[i].msg_len - off : b->seg_size[i];
		d->from = &b->from[i];
		b->next_seg++;
		return true;
	}
	return false;
}

bool udp_recv_batch_full(const struct udp_recv_batch *b)
{
	return b->n_msgs == b->slots;
}

/* Points mh's control data at ctrl holding to's source address, if it has one, and gso_size
 * as UDP_SEGMENT, if not 0; at nothing if neither. */
static void set_ctrl(struct msghdr *mh, union udp_cmsg *ctrl, const struct udp_endpoint *to,
    uint16_t gso_size)
{
	struct cmsghdr *cm = (struct cmsghdr *)ctrl->buf;
	bool src = endpoint_has_src(to);
	size_t len = 0;

	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (!src && !gso_size)
		return;
	memset(ctrl, 0, sizeof(*ctrl));
	if (src && to->addr.sa.sa_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = to->src4 };

		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		len = CMSG_SPACE(sizeof(pi));
	} else if (src) {
		struct in6_pktinfo pi = { .ipi6_addr = to->src6, .ipi6_ifindex = to->src_ifindex };

		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		len = CMSG_SPACE(sizeof(pi));
	}
	if (gso_size) {
		cm = (struct cmsghdr *)(ctrl->buf + len);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(gso_size));
		memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
		len += CMSG_SPACE(sizeof(gso_size));
	}
	mh->msg_control = ctrl->buf;
	mh->msg_controllen = len;
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

/* The socket of a family and its offloads; fd -1 if there is none. */
static int socket_of(struct udp *u, int family, uint8_t **offload)
{
	*offload = family == AF_INET6 ? &u->offload6 : &u->offload4;
	return family == AF_INET6 ? u->fd6 : family == AF_INET ? u->fd4 : -1;
}

void udp_send_batch_add(struct udp_send_batch *b, struct udp *u, struct udp_endpoint *to,
    void *data, size_t len)
{
	unsigned i;

	if (b->count == UDP_SEND_BATCH || (b->count && b->family != to->addr.sa.sa_family))
		b->dropped += udp_send_batch_flush(b, u);
	i = b->count++;
	b->family = to->addr.sa.sa_family;
	b->addrs[i] = to->addr;
	b->owner[i] = to;
	b->iov[i].iov_base = data;
	b->iov[i].iov_len = len;
}

/* Datagram j may join the train of datagram i: same endpoint, same destination. */
static bool same_path(const struct udp_send_batch *b, unsigned i, unsigned j)
{
	return b->owner[i] == b->owner[j] &&
	    memcmp(&b->addrs[i], &b->addrs[j], udp_sockaddr_len(&b->addrs[i])) == 0;
}

/* Builds the messages for datagrams first.. of the batch into msgs[0..]: consecutive
 * datagrams on one path, all of one size but the last, which may be shorter, go as one GSO
 * train of at most UDP_GSO_MAX_SEGMENTS datagrams and UDP_PAYLOAD_MAX bytes; datagrams before
 * singles_until, or all when gso is false, go one a message.  The source address is each
 * endpoint's as it is now.  Returns the number of messages. */
static unsigned build_msgs(struct udp_send_batch *b, unsigned first, unsigned singles_until,
    bool gso)
{
	unsigned m = 0, i, n;
	size_t size, total;

	for (i = first; i < b->count; i += n, m++) {
		struct msghdr *mh = &b->msgs[m].msg_hdr;

		size = total = b->iov[i].iov_len;
		n = 1;
		if (gso && i >= singles_until && size > 0 && size <= UINT16_MAX) {
			while (i + n < b->count && n < UDP_GSO_MAX_SEGMENTS &&
			    b->iov[i + n].iov_len <= size && b->iov[i + n].iov_len > 0 &&
			    total + b->iov[i + n].iov_len <= UDP_PAYLOAD_MAX && same_path(b, i, i + n)) {
				total += b->iov[i + n].iov_len;
				/* A shorter datagram ends the train. */
				if (b->iov[i + n++].iov_len < size)
					break;
			}
		}
		memset(&b->msgs[m], 0, sizeof(b->msgs[m]));
		mh->msg_name = &b->addrs[i];
		mh->msg_namelen = udp_sockaddr_len(&b->addrs[i]);
		mh->msg_iov = &b->iov[i];
		mh->msg_iovlen = n;
		set_ctrl(mh, &b->ctrl[m], b->owner[i], n > 1 ? (uint16_t)size : 0);
	}
	return m;
}

static void gso_refused(struct udp *u, int family, uint8_t *offload, int err)
{
	*offload &= (uint8_t)~UDP_OFFLOAD_GSO;
	log_errno(LOG_LEVEL_WARN, err, "UDP port %u, %s: the kernel refuses segmentation "
	    "offload (UDP_SEGMENT); sending datagram by datagram", u->port,
	    family == AF_INET6 ? "IPv6" : "IPv4");
}

unsigned udp_send_batch_flush(struct udp_send_batch *b, struct udp *u)
{
	/* Datagram d is the next to go, the first of message m of the nm built; probe: the
	 * first datagram of a refused train, sent alone to tell a refusal of GSO from one of
	 * the datagram (UINT_MAX: none). */
	unsigned d = 0, m = 0, nm = 0, singles_until = 0, probe = UINT_MAX;
	unsigned dropped = b->dropped, segs, k;
	int fd, n, err = 0, probe_err = 0;
	bool rebuild = true;
	uint8_t *offload;

	fd = socket_of(u, b->family, &offload);
	if (fd < 0) {
		dropped += b->count;
		goto out;
	}
	while (d < b->count) {
		if (rebuild) {
			nm = build_msgs(b, d, singles_until, *offload & UDP_OFFLOAD_GSO);
			m = 0;
			rebuild = false;
		}
		n = sendmmsg(fd, b->msgs + m, nm - m, MSG_DONTWAIT);
		for (k = 0; n > 0 && k < (unsigned)n; k++, m++) {
			segs = (unsigned)b->msgs[m].msg_hdr.msg_iovlen;
			if (segs > 1) {
				b->gso_messages++;
				b->gso_datagrams += segs;
			}
			if (d == probe) {
				/* The train failed, its first datagram alone went: GSO it was. */
				gso_refused(u, b->family, offload, probe_err);
				probe = UINT_MAX;
				rebuild = true;
			}
			d += segs;
		}
		if (n > 0)
			continue;
		err = n < 0 ? errno : EIO;
		if (err == EINTR)
			continue;
		segs = (unsigned)b->msgs[m].msg_hdr.msg_iovlen;
		if (segs > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
			/* Refused as a train: its datagrams go one by one.  EMSGSIZE: the
			 * datagrams are larger than the path's MTU, which only a datagram sent
			 * alone may be (fragmented); the others may be GSO refused. */
			singles_until = d + segs;
			if (err != EMSGSIZE) {
				probe = d;
				probe_err = err;
			}
			rebuild = true;
			continue;
		}
		if (d == probe)
			probe = UINT_MAX;	/* failed alone too: not GSO's fault */
		if (endpoint_has_src(b->owner[d]) && src_gone(err)) {
			/* The source address went away: forget it, and send this datagram and
			 * the endpoint's others in the batch without it. */
			udp_endpoint_clear_src(b->owner[d]);
			rebuild = true;
			continue;
		}
		/* Refused (full buffer, unreachable): drop the message's datagrams, go on. */
		dropped += segs;
		d += segs;
		m++;
	}
out:
	b->count = 0;
	b->dropped = 0;
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
	set_ctrl(&mh, &ctrl, to, 0);
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
