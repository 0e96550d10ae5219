/* The UDP underlay: one IPv4 and one IPv6 socket bound to the same port, batched receive/send
 * with recvmmsg/sendmmsg, and the sticky source address of each endpoint (IP_PKTINFO /
 * IPV6_PKTINFO), so that a multi-homed host answers from the address it was reached at. */
#ifndef TUNNELD_UDP_H
#define TUNNELD_UDP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wg/engine.h"

/* Datagrams moved per system call. */
enum { UDP_BATCH = 64 };
/* Bytes of kernel buffer per socket and direction (wireguard-go uses the same 7 MiB). */
enum { UDP_SOCKET_BUFFER = 7 << 20 };

struct udp {
	int fd4;	/* -1 when IPv4 is unavailable */
	int fd6;	/* -1 when IPv6 is unavailable */
	uint16_t port;	/* the bound port (chosen by the kernel when 0 was asked) */
	uint32_t fwmark;
};

/* A peer's address and the local address we last heard it at, as the kernel's struct endpoint:
 * datagrams to the peer leave from that address, so that a stateful firewall or NAT in front
 * of the peer, which saw the peer's datagram go to that address, lets the answer through.
 * The Linux kernel routes each datagram by destination with this source fixed (IP_PKTINFO's
 * ipi_spec_dst, no interface forced, so a route change still picks the right device); if the
 * address has gone, the send fails, the source is cleared and the datagram goes again without. */
struct udp_endpoint {
	union wg_sockaddr addr;		/* the peer; sa_family AF_UNSPEC: none */
	union {
		struct in_addr src4;	/* INADDR_ANY: none, the kernel chooses */
		struct in6_addr src6;	/* in6addr_any: none */
	};
	/* The interface src6 is on when it is link-local (the address alone does not name it);
	 * 0 otherwise. */
	unsigned src_ifindex;
};

/* One control message: IP_PKTINFO or IPV6_PKTINFO, the larger. */
union udp_cmsg {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/* A batch of outgoing datagrams for one socket.  iov bases point into the caller's buffers;
 * owner[i] is the endpoint datagram i was queued for, cleared of its source address if that
 * address has gone: it must stay valid until the batch is flushed. */
struct udp_send_batch {
	unsigned count;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union wg_sockaddr addrs[UDP_BATCH];
	union udp_cmsg ctrl[UDP_BATCH];
	struct udp_endpoint *owner[UDP_BATCH];
};

/* Received datagrams and where each came from and went to.  Preallocated by the caller (one
 * per device); udp_recv_batch fills it. */
struct udp_recv_batch {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union wg_sockaddr names[UDP_BATCH];
	union udp_cmsg ctrl[UDP_BATCH];
	/* Datagram i's sender and the local address it arrived at (none when the kernel did not
	 * say). */
	struct udp_endpoint from[UDP_BATCH];
};

/* Opens and binds both sockets (port 0: a random port common to both), asking the kernel for
 * each datagram's local address.  At least one family must work.  Returns 0 or a negative
 * errno. */
int udp_open(struct udp *u, uint16_t port, uint32_t fwmark);
void udp_close(struct udp *u);
int udp_set_fwmark(struct udp *u, uint32_t fwmark);
/* The socket for a destination's family, or -1. */
int udp_fd_for(const struct udp *u, const union wg_sockaddr *to);
socklen_t udp_sockaddr_len(const union wg_sockaddr *a);

/* Sets ep to addr with no source address (a configured or resolved endpoint: the kernel
 * chooses the source until the peer is heard from). */
void udp_endpoint_set(struct udp_endpoint *ep, const union wg_sockaddr *addr);
/* Forgets ep's source address. */
void udp_endpoint_clear_src(struct udp_endpoint *ep);
/* Forgets ep's source address if it is addr (family AF_INET: 4 bytes, AF_INET6: 16, network
 * order), the local address that has just gone away; family AF_UNSPEC: whatever it is. */
void udp_endpoint_forget_src(struct udp_endpoint *ep, int family, const void *addr);

/* Receives up to UDP_BATCH datagrams from fd into bufs (datagram i at bufs + i * stride, at
 * most stride bytes).  Datagram i is b->msgs[i].msg_len bytes long (truncated if
 * b->msgs[i].msg_hdr.msg_flags has MSG_TRUNC), from b->from[i].  Returns the number received,
 * 0 if none was waiting, or a negative errno. */
int udp_recv_batch(struct udp_recv_batch *b, int fd, uint8_t *bufs, size_t stride);

/* Queues one datagram to to->addr from to's source address; the batch is flushed first if
 * full.  to is borrowed until the flush (see owner above). */
void udp_send_batch_add(struct udp_send_batch *b, int fd, struct udp_endpoint *to,
    void *data, size_t len);
/* Sends everything queued; datagrams the kernel refuses (EAGAIN, unreachable) are dropped and
 * counted.  A datagram refused because its source address is no longer ours is sent again
 * without it, and its endpoint forgets that source.  Returns the number dropped. */
unsigned udp_send_batch_flush(struct udp_send_batch *b, int fd);
/* Sends one datagram to to now, with the same source handling.  Returns 0 or a negative
 * errno. */
int udp_send_one(const struct udp *u, struct udp_endpoint *to, const void *data, size_t len);

#endif
