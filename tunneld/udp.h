/* The UDP underlay: one IPv4 and one IPv6 socket bound to the same port, batched receive/send
 * with recvmmsg/sendmmsg, and the sticky source address of each endpoint (IP_PKTINFO /
 * IPV6_PKTINFO), so that a multi-homed host answers from the address it was reached at.
 *
 * Segmentation offload, where the kernel has it (udp(7)): a send batch goes out as few messages
 * as it can, consecutive datagrams to one endpoint handed to the kernel as one train with
 * UDP_SEGMENT (UDP GSO: the kernel, or the NIC, cuts it into the datagrams); the sockets ask
 * for UDP_GRO, so a train of datagrams from one sender arrives as one message and its size of
 * segment, which the receive batch splits again.  Callers see datagrams only. */
#ifndef TUNNELD_UDP_H
#define TUNNELD_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wg/engine.h"

enum {
	/* Messages per recvmmsg without GRO. */
	UDP_BATCH = 64,
	/* Datagrams a send batch holds: two full GSO trains. */
	UDP_SEND_BATCH = 128,
	/* Messages per recvmmsg on a socket with GRO: each may be a train of up to
	 * UDP_PAYLOAD_MAX bytes, so fewer slots bound the receive memory ever touched
	 * (UDP_GRO_BATCH x 64 KiB) while one call still brings hundreds of datagrams. */
	UDP_GRO_BATCH = 8,
	/* Bytes of kernel buffer per socket and direction (wireguard-go uses the same 7 MiB). */
	UDP_SOCKET_BUFFER = 7 << 20,
	/* The largest UDP payload (IPv4's: 65535 - IP header - UDP header), so the most one
	 * GSO message carries, and what a receive slot must hold for a GRO train never to be
	 * cut (IPv6's trains reach 65527: a slot of 64 KiB holds both). */
	UDP_PAYLOAD_MAX = 65535 - 20 - 8,
	UDP_RECV_SLOT_MIN = 65536,
	/* Datagrams per UDP_SEGMENT message: the kernel's UDP_MAX_SEGMENTS, 64 on older
	 * kernels (128 on 6.18); the lower works everywhere. */
	UDP_GSO_MAX_SEGMENTS = 64,
};

/* Offloads a socket has (struct udp's offload4/offload6). */
enum {
	UDP_OFFLOAD_GSO = 1,	/* UDP_SEGMENT sends; cleared if the kernel refuses them */
	UDP_OFFLOAD_GRO = 2,	/* UDP_GRO receives */
};

struct udp {
	int fd4;	/* -1 when IPv4 is unavailable */
	int fd6;	/* -1 when IPv6 is unavailable */
	uint8_t offload4;	/* UDP_OFFLOAD_* of fd4, probed at udp_open */
	uint8_t offload6;
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

/* Control data of one message: IP_PKTINFO or IPV6_PKTINFO, the larger, and UDP_SEGMENT
 * (u16) on the way out or UDP_GRO (int) on the way in. */
union udp_cmsg {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
};

/* A batch of outgoing datagrams for one socket (one family).  iov bases point into the
 * caller's buffers; owner[i] is the endpoint datagram i was queued for, cleared of its source
 * address if that address has gone: both must stay valid until the batch is flushed.  The
 * flush groups the datagrams into messages (msgs, ctrl) by itself. */
struct udp_send_batch {
	unsigned count;			/* datagrams queued */
	int family;			/* theirs */
	unsigned dropped;		/* by a flush udp_send_batch_add made room with */
	struct iovec iov[UDP_SEND_BATCH];
	union wg_sockaddr addrs[UDP_SEND_BATCH];
	struct udp_endpoint *owner[UDP_SEND_BATCH];
	struct mmsghdr msgs[UDP_SEND_BATCH];
	union udp_cmsg ctrl[UDP_SEND_BATCH];
	/* Messages sent as GSO trains (UDP_SEGMENT) and the datagrams in them: totals. */
	uint64_t gso_messages;
	uint64_t gso_datagrams;
};

/* One received datagram: data is borrowed from the caller's buffers, from from the batch;
 * both stay valid until the next udp_recv_batch on that batch. */
struct udp_datagram {
	uint8_t *data;
	size_t len;
	struct udp_endpoint *from;	/* the sender and the local address it reached */
};

/* Received messages, where each came from and went to, and the cursor that hands out their
 * datagrams.  Preallocated by the caller (one per device); udp_recv_batch fills it. */
struct udp_recv_batch {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union wg_sockaddr names[UDP_BATCH];
	union udp_cmsg ctrl[UDP_BATCH];
	/* Message i's sender and the local address it arrived at (none when the kernel did not
	 * say), its datagrams' size (all but the last of a GRO train; a single datagram's
	 * length) and how many of them are whole. */
	struct udp_endpoint from[UDP_BATCH];
	uint32_t seg_size[UDP_BATCH];
	uint32_t seg_count[UDP_BATCH];
	unsigned n_msgs;
	unsigned slots;			/* messages the last call could take */
	unsigned next_msg;		/* the cursor: message, datagram within it */
	unsigned next_seg;
	/* Totals: GRO trains received and the datagrams in them; messages cut short by the
	 * buffer (MSG_TRUNC: the datagram, or a train's tail, is dropped). */
	uint64_t gro_messages;
	uint64_t gro_datagrams;
	uint64_t truncated;
};

/* Opens and binds both sockets (port 0: a random port common to both), asking the kernel for
 * each datagram's local address.  offload: also ask for GRO trains and probe UDP_SEGMENT
 * (u->offload4, offload6); false: datagram by datagram.  At least one family must work.
 * Returns 0 or a negative errno. */
int udp_open(struct udp *u, uint16_t port, uint32_t fwmark, bool offload);
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

/* Receives what is waiting on fd (one of u's sockets) into bufs: up to UDP_BATCH messages,
 * UDP_GRO_BATCH if the socket takes GRO trains, message i at bufs + i * stride, at most stride
 * bytes (at least UDP_RECV_SLOT_MIN, or trains may be cut).  bufs must hold UDP_BATCH * stride
 * bytes; only the slots used are touched.  Returns the number of messages, 0 if none was
 * waiting, or a negative errno; udp_recv_batch_next then gives their datagrams.  The previous
 * call's datagrams are gone (their buffers are reused). */
int udp_recv_batch(struct udp_recv_batch *b, const struct udp *u, int fd, uint8_t *bufs,
    size_t stride);
/* The batch's next datagram, in arrival order (a train's datagrams in their order, all with
 * the train's sender and local address); false when there is none left.  A datagram cut
 * short by the buffer is never given (counted in b->truncated). */
bool udp_recv_batch_next(struct udp_recv_batch *b, struct udp_datagram *d);
/* True if the last udp_recv_batch took as many messages as it could: more may be waiting. */
bool udp_recv_batch_full(const struct udp_recv_batch *b);

/* Queues one datagram to to->addr from to's source address, on u's socket of that family;
 * the batch is flushed first if full or of the other family.  to and data are borrowed
 * until the flush (see struct udp_send_batch). */
void udp_send_batch_add(struct udp_send_batch *b, struct udp *u, struct udp_endpoint *to,
    void *data, size_t len);
/* Sends everything queued, in order, in as few messages as UDP_SEGMENT allows, with one
 * sendmmsg when nothing fails.  Datagrams the kernel refuses (EAGAIN, unreachable) are
 * dropped and counted, each datagram of a refused train.  A datagram refused because its
 * source address is no longer ours is sent again without it, and its endpoint forgets that
 * source.  A train the kernel will not segment (EIO, EINVAL) is sent again datagram by
 * datagram, and if those go, GSO is turned off for that socket (logged once); a train larger
 * than the path's MTU (EMSGSIZE) is sent again datagram by datagram, as without GSO.  Returns
 * the number of datagrams dropped (including those of flushes made by add). */
unsigned udp_send_batch_flush(struct udp_send_batch *b, struct udp *u);
/* Sends one datagram to to now, with the same source handling.  Returns 0 or a negative
 * errno. */
int udp_send_one(const struct udp *u, struct udp_endpoint *to, const void *data, size_t len);

#endif
