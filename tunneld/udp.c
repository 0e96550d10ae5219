#include <errno.h>
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

void udp_send_batch_add(struct udp_send_batch *b, int fd, const union wg_sockaddr *to,
    void *data, size_t len)
{
	unsigned i;

	if (b->count == UDP_BATCH)
		udp_send_batch_flush(b, fd);
	i = b->count++;
	b->addrs[i] = *to;
	b->iov[i].iov_base = data;
	b->iov[i].iov_len = len;
	memset(&b->msgs[i], 0, sizeof(b->msgs[i]));
	b->msgs[i].msg_hdr.msg_name = &b->addrs[i];
	b->msgs[i].msg_hdr.msg_namelen = udp_sockaddr_len(to);
	b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
	b->msgs[i].msg_hdr.msg_iovlen = 1;
}

unsigned udp_send_batch_flush(struct udp_send_batch *b, int fd)
{
	unsigned done = 0, dropped = 0;
	int n;

	if (fd < 0) {
		dropped = b->count;
		b->count = 0;
		return dropped;
	}
	while (done < b->count) {
		n = sendmmsg(fd, b->msgs + done, b->count - done, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The first datagram failed (full buffer, unreachable): drop it, go on. */
			done++;
			dropped++;
			continue;
		}
		done += (unsigned)n;
	}
	b->count = 0;
	return dropped;
}

int udp_send_one(const struct udp *u, const union wg_sockaddr *to, const void *data, size_t len)
{
	int fd = udp_fd_for(u, to);

	if (fd < 0)
		return -EAFNOSUPPORT;
	if (sendto(fd, data, len, MSG_DONTWAIT, &to->sa, udp_sockaddr_len(to)) < 0)
		return -errno;
	return 0;
}
