/* The UDP underlay: one IPv4 and one IPv6 socket bound to the same port, and batched
 * receive/send with recvmmsg/sendmmsg. */
#ifndef TUNNELD_UDP_H
#define TUNNELD_UDP_H

#include <stdint.h>
#include <sys/socket.h>

#include "engine.h"

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

/* A batch of outgoing datagrams for one socket.  iov bases point into the caller's buffers. */
struct udp_send_batch {
	unsigned count;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union wg_sockaddr addrs[UDP_BATCH];
};

/* Opens and binds both sockets (port 0: a random port common to both).  At least one family
 * must work.  Returns 0 or a negative errno. */
int udp_open(struct udp *u, uint16_t port, uint32_t fwmark);
void udp_close(struct udp *u);
int udp_set_fwmark(struct udp *u, uint32_t fwmark);
/* The socket for a destination's family, or -1. */
int udp_fd_for(const struct udp *u, const union wg_sockaddr *to);
socklen_t udp_sockaddr_len(const union wg_sockaddr *a);

/* Queues one datagram; the batch is flushed first if full. */
void udp_send_batch_add(struct udp_send_batch *b, int fd, const union wg_sockaddr *to,
    void *data, size_t len);
/* Sends everything queued; datagrams the kernel refuses (EAGAIN, unreachable) are dropped and
 * counted.  Returns the number dropped. */
unsigned udp_send_batch_flush(struct udp_send_batch *b, int fd);
/* Sends one datagram now.  Returns 0 or a negative errno. */
int udp_send_one(const struct udp *u, const union wg_sockaddr *to, const void *data, size_t len);

#endif
