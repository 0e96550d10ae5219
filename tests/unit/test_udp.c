/* The UDP layer on loopback.  Sticky source address (all of 127.0.0.0/8 is local): a datagram
 * sent to 127.0.0.3 is answered from 127.0.0.3, not from the 127.0.0.1 the kernel would pick,
 * both by udp_send_one and by a sendmmsg batch; a source that is not (or no longer) ours is
 * forgotten and the datagram still goes, from the kernel's choice, without disturbing the other
 * endpoints of the batch.  IPv6 (::1) is checked when the host has it.
 *
 * Segmentation offload: a send batch's datagrams leave as GSO trains (consecutive, one
 * endpoint, one size but a shorter last, at most 64 datagrams and 64 KiB), as counted, and a
 * plain receiver gets each datagram exactly (boundaries and bytes); a GRO socket receives a
 * train as one message and the batch splits it into the same datagrams; a train cut short by
 * the buffer keeps its whole datagrams.  The kernel's refusals are real: SO_NO_CHECK (IPv4) and
 * UDP_NO_CHECK6_TX make it refuse UDP_SEGMENT (EINVAL), and the batch falls back to datagram by
 * datagram for good; an IPV6_MTU below the segment size makes it refuse one train (EMSGSIZE),
 * which goes datagram by datagram (fragmented) with GSO kept; a gone source is forgotten and
 * its train goes without it.  Offloads not wanted: datagram by datagram both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunneld/udp.h"

/* Receive slots as tunneld has them: a GRO train of 64 KiB fits. */
enum { BUF = UDP_RECV_SLOT_MIN };

static uint8_t bufs[UDP_BATCH * BUF];
static struct udp_recv_batch rb;
static struct udp_send_batch sb;
/* Payloads for batches, which borrow writable buffers. */
static char payload[] = "payload";

static int client4(struct sockaddr_in *self)
{
	socklen_t len = sizeof(*self);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(self, 0, sizeof(*self));
	self->sin_family = AF_INET;
	self->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)self, sizeof(*self)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)self, &len), 0);
	return fd;
}

static void to4(struct sockaddr_in *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
}

/* Receives one datagram on the client (2 s at most); returns its sender's IPv4 address. */
static const char *recv_from4(int fd, char *ip, size_t cap)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	struct timeval tv = { .tv_sec = 2 };
	char b[64];

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_true(recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &len) > 0);
	return inet_ntop(AF_INET, &from.sin_addr, ip, (socklen_t)cap);
}

/* The server's view of a datagram the client sent to dst: its endpoint, with the source. */
static void server_hears4(struct udp *u, int cfd, const char *dst, struct udp_endpoint *ep)
{
	struct sockaddr_in to;
	struct udp_datagram d;
	int n = 0;

	to4(&to, dst, u->port);
	assert_int_equal(sendto(cfd, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	for (int i = 0; i < 200 && n == 0; i++) {
		n = udp_recv_batch(&rb, u, u->fd4, bufs, BUF);
		if (n == 0)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	assert_true(udp_recv_batch_next(&rb, &d));
	assert_int_equal(d.len, 2);
	*ep = *d.from;
	assert_false(udp_recv_batch_next(&rb, &d));
}

static void test_udp_answer_from_local_address(void **state)
{
	struct udp u;
	struct udp_endpoint ep;
	struct sockaddr_in self;
	char ip[INET_ADDRSTRLEN], want[INET_ADDRSTRLEN];
	int cfd;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	cfd = client4(&self);
	server_hears4(&u, cfd, "127.0.0.3", &ep);
	assert_int_equal(ep.addr.sa.sa_family, AF_INET);
	assert_int_equal(ep.addr.in4.sin_port, self.sin_port);
	assert_string_equal(inet_ntop(AF_INET, &ep.src4, ip, sizeof(ip)), "127.0.0.3");

	/* One datagram now, and one through a batch: both from 127.0.0.3. */
	assert_int_equal(udp_send_one(&u, &ep, "a", 1), 0);
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.3");
	udp_send_batch_add(&sb, &u, &ep, payload, 1);
	assert_int_equal(udp_send_batch_flush(&sb, &u), 0);
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.3");

	/* A configured endpoint has no source: the kernel picks 127.0.0.1. */
	udp_endpoint_set(&ep, &ep.addr);
	assert_int_equal(udp_send_one(&u, &ep, "c", 1), 0);
	inet_ntop(AF_INET, &self.sin_addr, want, sizeof(want));
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), want);
	close(cfd);
	udp_close(&u);
}

static void test_udp_source_gone(void **state)
{
	struct udp u;
	struct udp_endpoint gone, kept;
	struct sockaddr_in self;
	char ip[INET_ADDRSTRLEN];
	int cfd;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	cfd = client4(&self);
	server_hears4(&u, cfd, "127.0.0.3", &kept);
	gone = kept;
	/* An address this host does not have, as after `ip addr del`. */
	assert_int_equal(inet_pton(AF_INET, "192.0.2.99", &gone.src4), 1);

	assert_int_equal(udp_send_one(&u, &gone, "a", 1), 0);
	assert_int_equal(gone.src4.s_addr, htonl(INADDR_ANY));
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.1");

	/* In a batch: gone's two datagrams go without a source, kept's keeps its own. */
	assert_int_equal(inet_pton(AF_INET, "192.0.2.99", &gone.src4), 1);
	udp_send_batch_add(&sb, &u, &kept, payload, 1);
	udp_send_batch_add(&sb, &u, &gone, payload, 1);
	udp_send_batch_add(&sb, &u, &gone, payload, 1);
	udp_send_batch_add(&sb, &u, &kept, payload, 1);
	assert_int_equal(udp_send_batch_flush(&sb, &u), 0);
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.3");
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.1");
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.1");
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.3");
	assert_int_equal(gone.src4.s_addr, htonl(INADDR_ANY));
	assert_string_equal(inet_ntop(AF_INET, &kept.src4, ip, sizeof(ip)), "127.0.0.3");
	close(cfd);
	udp_close(&u);
}

static void test_udp_ipv6_source(void **state)
{
	struct udp u;
	struct sockaddr_in6 self, to;
	socklen_t len = sizeof(self);
	struct udp_endpoint ep;
	char ip[INET6_ADDRSTRLEN];
	int cfd, n = 0;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	cfd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&self, 0, sizeof(self));
	self.sin6_family = AF_INET6;
	self.sin6_addr = in6addr_loopback;
	if (u.fd6 < 0 || cfd < 0 || bind(cfd, (struct sockaddr *)&self, sizeof(self)) < 0) {
		if (cfd >= 0)
			close(cfd);
		udp_close(&u);
		skip();
	}
	assert_int_equal(getsockname(cfd, (struct sockaddr *)&self, &len), 0);
	to = self;
	to.sin6_port = htons(u.port);
	assert_int_equal(sendto(cfd, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	for (int i = 0; i < 200 && n == 0; i++) {
		n = udp_recv_batch(&rb, &u, u.fd6, bufs, BUF);
		if (n == 0)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	ep = rb.from[0];
	assert_int_equal(ep.addr.sa.sa_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &ep.src6, ip, sizeof(ip)), "::1");
	assert_int_equal(ep.src_ifindex, 0);

	/* A source that is not ours: forgotten, and the datagram still arrives. */
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::99", &ep.src6), 1);
	assert_int_equal(udp_send_one(&u, &ep, "a", 1), 0);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&ep.src6));
	{
		struct timeval tv = { .tv_sec = 2 };
		char b[8];

		setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(recv(cfd, b, sizeof(b), 0), 1);
	}
	close(cfd);
	udp_close(&u);
}

/* A deleted local address (the rtnetlink watch) clears only the sources equal to it, in its own
 * family: an IPv6 address whose first bytes spell an endpoint's IPv4 source is another address;
 * lost notifications (AF_UNSPEC) clear every source. */
static void test_udp_forget_deleted_source(void **state)
{
	static const uint8_t v6_spelling_v4[16] = { 192, 0, 2, 22 };
	struct udp_endpoint e4 = { 0 }, e6 = { 0 };
	struct in_addr a4, other4;
	struct in6_addr a6;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.22", &a4), 1);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.2", &other4), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::23", &a6), 1);
	e4.addr.sa.sa_family = AF_INET;
	e4.src4 = a4;
	e6.addr.sa.sa_family = AF_INET6;
	e6.src6 = a6;

	udp_endpoint_forget_src(&e4, AF_INET6, v6_spelling_v4);
	udp_endpoint_forget_src(&e4, AF_INET, &other4);
	assert_int_equal(e4.src4.s_addr, a4.s_addr);
	udp_endpoint_forget_src(&e6, AF_INET, &a6);
	assert_memory_equal(&e6.src6, &a6, sizeof(a6));

	udp_endpoint_forget_src(&e4, AF_INET, &a4);
	assert_int_equal(e4.src4.s_addr, htonl(INADDR_ANY));
	udp_endpoint_forget_src(&e6, AF_INET6, &a6);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&e6.src6));

	e4.src4 = a4;
	e6.src6 = a6;
	e6.src_ifindex = 7;
	udp_endpoint_forget_src(&e4, AF_UNSPEC, NULL);
	udp_endpoint_forget_src(&e6, AF_UNSPEC, NULL);
	assert_int_equal(e4.src4.s_addr, htonl(INADDR_ANY));
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&e6.src6));
	assert_int_equal(e6.src_ifindex, 0);
}

/* ---------------------------------------------------------------- offloads */

/* The family a test taking it runs with (its initial state, named NAME4 or NAME6 in main). */
static int inet = AF_INET, inet6 = AF_INET6;

/* Datagram k of a test has bytes that name k and the offset, so that a datagram cut, merged
 * with another or reordered is seen. */
enum { DGRAM_MAX = 1400 };
static uint8_t tx[UDP_SEND_BATCH][DGRAM_MAX];

static void *dgram(unsigned k, size_t len)
{
	assert_true(k < UDP_SEND_BATCH && len <= DGRAM_MAX);
	for (size_t i = 0; i < len; i++)
		tx[k][i] = (uint8_t)(k * 37 + i * 11 + (i >> 8));
	return tx[k];
}

/* A plain receiver (no GRO) on a loopback address of family, with a big buffer so that a
 * batch is never lost to it; *ep: an endpoint to it without source. */
static int receiver(int family, struct udp_endpoint *ep)
{
	union wg_sockaddr a;
	socklen_t len = sizeof(a);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), size = 4 << 20;
	struct timeval tv = { .tv_sec = 2 };

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		a.in6.sin6_addr = in6addr_loopback;
	assert_int_equal(bind(fd, &a.sa, udp_sockaddr_len(&a)), 0);
	assert_int_equal(getsockname(fd, &a.sa, &len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	udp_endpoint_set(ep, &a);
	return fd;
}

/* The next datagram on fd is datagram k of len bytes, exactly; from: its source address
 * (printed), if not NULL. */
static void expect(int fd, unsigned k, size_t len, char *from, size_t cap)
{
	static uint8_t b[70000];
	union wg_sockaddr a;
	socklen_t alen = sizeof(a);
	ssize_t n = recvfrom(fd, b, sizeof(b), MSG_TRUNC, &a.sa, &alen);

	if (n != (ssize_t)len)
		fail_msg("datagram %u: %zd bytes, want %zu", k, n, len);
	dgram(k, len);
	if (memcmp(b, tx[k], len) != 0)
		fail_msg("datagram %u: bytes differ", k);
	if (from)
		inet_ntop(a.sa.sa_family, a.sa.sa_family == AF_INET ? (void *)&a.in4.sin_addr :
		    (void *)&a.in6.sin6_addr, from, (socklen_t)cap);
}

/* Nothing more is waiting on fd. */
static void expect_none(int fd)
{
	char b[8];

	assert_int_equal(recv(fd, b, sizeof(b), MSG_DONTWAIT), -1);
}

/* Sends datagrams 0..n-1 of len bytes to ep in one batch: nothing is dropped, the batch has
 * sent gso_messages trains in all, and fd (ep's receiver) gets each datagram exactly. */
static void send_expect(struct udp *u, struct udp_endpoint *ep, int fd, unsigned n, size_t len,
    uint64_t gso_messages)
{
	unsigned k;

	for (k = 0; k < n; k++)
		udp_send_batch_add(&sb, u, ep, dgram(k, len), len);
	assert_int_equal(udp_send_batch_flush(&sb, u), 0);
	assert_int_equal(sb.gso_messages, gso_messages);
	for (k = 0; k < n; k++)
		expect(fd, k, len, NULL, 0);
}

/* A receiver on ::1 and a udp with an IPv6 socket, or a skip where the host has no IPv6. */
static int receiver6_or_skip(struct udp *u, struct udp_endpoint *ep)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	if (u->fd6 < 0 || fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		udp_close(u);
		skip();
	}
	close(fd);
	return receiver(AF_INET6, ep);
}

/* The grouping, one family: a train with a shorter last datagram, a train, a longer datagram
 * alone, another endpoint's train between, a train of the longer size; then more datagrams
 * than a train may carry (64), and more bytes (64 KiB).  Checked by the batch's counters
 * (what went as trains) and by plain receivers (what arrived). */
static void test_udp_gso_grouping(void **state)
{
	int family = *(int *)*state;
	static const struct { char to; uint16_t len; } seq[] = {
		{ 'A', 100 }, { 'A', 100 }, { 'A', 100 }, { 'A', 100 }, { 'A', 100 }, { 'A', 60 },
		{ 'A', 100 }, { 'A', 100 }, { 'A', 100 }, { 'A', 120 }, { 'B', 100 }, { 'B', 100 },
		{ 'A', 120 }, { 'A', 120 },
	};
	struct udp u;
	struct udp_endpoint a, b;
	int fa, fb;
	unsigned k;

	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	if (family == AF_INET6) {
		fa = receiver6_or_skip(&u, &a);
		fb = receiver(AF_INET6, &b);
	} else {
		fa = receiver(AF_INET, &a);
		fb = receiver(AF_INET, &b);
	}
	assert_true((family == AF_INET ? u.offload4 : u.offload6) & UDP_OFFLOAD_GSO);
	memset(&sb, 0, sizeof(sb));
	for (k = 0; k < sizeof(seq) / sizeof(seq[0]); k++)
		udp_send_batch_add(&sb, &u, seq[k].to == 'A' ? &a : &b, dgram(k, seq[k].len),
		    seq[k].len);
	assert_int_equal(udp_send_batch_flush(&sb, &u), 0);
	/* [0..5] gso 100, [6..8] gso 100, [9] alone, [10..11] gso 100, [12..13] gso 120. */
	assert_int_equal(sb.gso_messages, 4);
	assert_int_equal(sb.gso_datagrams, 13);
	for (k = 0; k < sizeof(seq) / sizeof(seq[0]); k++)
		expect(seq[k].to == 'A' ? fa : fb, k, seq[k].len, NULL, 0);
	expect_none(fa);
	expect_none(fb);

	/* 128 datagrams of 64 bytes: two trains of 64, the kernel's limit. */
	send_expect(&u, &a, fa, 128, 64, 4 + 2);
	assert_int_equal(sb.gso_datagrams, 13 + 128);
	/* 64 of 1200 bytes: 54 fill a train's 65507 bytes, 10 more in a second. */
	send_expect(&u, &a, fa, 64, 1200, 6 + 2);
	assert_int_equal(sb.gso_datagrams, 141 + 64);
	expect_none(fa);
	close(fa);
	close(fb);
	udp_close(&u);
}

/* One batch, both families: the batch flushes itself when the family changes, every datagram
 * arrives, and the trains are the runs of each family. */
static void test_udp_gso_two_families(void **state)
{
	struct udp u;
	struct udp_endpoint e4, e6;
	int f4, f6;
	unsigned dropped;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	f6 = receiver6_or_skip(&u, &e6);
	f4 = receiver(AF_INET, &e4);
	memset(&sb, 0, sizeof(sb));
	for (unsigned k = 0; k < 9; k++)
		udp_send_batch_add(&sb, &u, k < 3 || k >= 6 ? &e4 : &e6, dgram(k, 200), 200);
	dropped = udp_send_batch_flush(&sb, &u);
	assert_int_equal(dropped, 0);
	assert_int_equal(sb.gso_messages, 3);
	assert_int_equal(sb.gso_datagrams, 9);
	for (unsigned k = 0; k < 9; k++)
		expect(k < 3 || k >= 6 ? f4 : f6, k, 200, NULL, 0);
	expect_none(f4);
	expect_none(f6);
	close(f4);
	close(f6);
	udp_close(&u);
}

/* Waits (2 s at most) for a udp_recv_batch on fd to bring something; returns its messages. */
static int recv_wait(struct udp *u, int fd, size_t stride)
{
	int n = 0;

	for (int i = 0; i < 200 && n == 0; i++) {
		n = udp_recv_batch(&rb, u, fd, bufs, stride);
		if (n == 0)
			usleep(10000);
	}
	return n;
}

/* A train from one udp to another with GRO: one message, split into the datagrams exactly,
 * each with the sender; a datagram sent alone is one datagram. */
static void test_udp_gro_receive(void **state)
{
	struct udp tx_u, rx_u;
	struct udp_endpoint to, plain;
	struct udp_datagram d;
	struct sockaddr_in self;
	unsigned k;
	int cfd;

	(void)state;
	assert_int_equal(udp_open(&tx_u, 0, 0, true), 0);
	assert_int_equal(udp_open(&rx_u, 0, 0, true), 0);
	assert_true(rx_u.offload4 & UDP_OFFLOAD_GRO);
	cfd = receiver(AF_INET, &plain);	/* the receiver's loopback address, for to */
	to = plain;
	to.addr.in4.sin_port = htons(rx_u.port);
	memset(&sb, 0, sizeof(sb));
	memset(&rb, 0, sizeof(rb));
	for (k = 0; k < 40; k++)
		udp_send_batch_add(&sb, &tx_u, &to, dgram(k, 1000), 1000);
	udp_send_batch_add(&sb, &tx_u, &to, dgram(40, 500), 500);
	assert_int_equal(udp_send_batch_flush(&sb, &tx_u), 0);
	assert_int_equal(sb.gso_messages, 1);

	assert_int_equal(recv_wait(&rx_u, rx_u.fd4, BUF), 1);
	assert_int_equal(rb.gro_messages, 1);
	assert_int_equal(rb.gro_datagrams, 41);
	for (k = 0; k <= 40; k++) {
		size_t len = k < 40 ? 1000 : 500;

		assert_true(udp_recv_batch_next(&rb, &d));
		assert_int_equal(d.len, len);
		assert_memory_equal(d.data, dgram(k, len), len);
		assert_int_equal(ntohs(d.from->addr.in4.sin_port), tx_u.port);
		assert_string_equal(inet_ntoa(d.from->src4), "127.0.0.1");
	}
	assert_false(udp_recv_batch_next(&rb, &d));

	/* Without the UDP_GRO message: one datagram, whatever its size. */
	memset(&self, 0, sizeof(self));
	self = to.addr.in4;
	assert_int_equal(sendto(cfd, dgram(1, 700), 700, 0, (struct sockaddr *)&self,
	    sizeof(self)), 700);
	assert_int_equal(recv_wait(&rx_u, rx_u.fd4, BUF), 1);
	assert_true(udp_recv_batch_next(&rb, &d));
	assert_int_equal(d.len, 700);
	assert_memory_equal(d.data, dgram(1, 700), 700);
	assert_false(udp_recv_batch_next(&rb, &d));
	assert_int_equal(rb.gro_messages, 1);
	close(cfd);
	udp_close(&tx_u);
	udp_close(&rx_u);
}

/* Receive slots smaller than a train (MSG_TRUNC): its whole datagrams are given, the cut one
 * and the rest are dropped and counted; a lone datagram cut short is dropped. */
static void test_udp_gro_truncated(void **state)
{
	struct udp tx_u, rx_u;
	struct udp_endpoint to;
	struct udp_datagram d;
	unsigned k;
	int cfd;

	(void)state;
	assert_int_equal(udp_open(&tx_u, 0, 0, true), 0);
	assert_int_equal(udp_open(&rx_u, 0, 0, true), 0);
	cfd = receiver(AF_INET, &to);
	to.addr.in4.sin_port = htons(rx_u.port);
	memset(&sb, 0, sizeof(sb));
	memset(&rb, 0, sizeof(rb));
	for (k = 0; k < 10; k++)
		udp_send_batch_add(&sb, &tx_u, &to, dgram(k, 300), 300);
	assert_int_equal(udp_send_batch_flush(&sb, &tx_u), 0);
	assert_int_equal(recv_wait(&rx_u, rx_u.fd4, 1000), 1);
	for (k = 0; k < 3; k++) {
		assert_true(udp_recv_batch_next(&rb, &d));
		assert_int_equal(d.len, 300);
		assert_memory_equal(d.data, dgram(k, 300), 300);
	}
	assert_false(udp_recv_batch_next(&rb, &d));
	assert_int_equal(rb.truncated, 1);

	udp_send_batch_add(&sb, &tx_u, &to, dgram(0, 1300), 1300);
	assert_int_equal(udp_send_batch_flush(&sb, &tx_u), 0);
	assert_int_equal(recv_wait(&rx_u, rx_u.fd4, 1000), 1);
	assert_false(udp_recv_batch_next(&rb, &d));
	assert_int_equal(rb.truncated, 2);
	close(cfd);
	udp_close(&tx_u);
	udp_close(&rx_u);
}

/* The kernel refuses UDP_SEGMENT on a socket without UDP checksums (udp(7): EINVAL), as it
 * does on a device or path that cannot segment (EIO): the train goes datagram by datagram,
 * from the same source, nothing is dropped, and GSO stays off for that socket. */
static void test_udp_gso_refused(void **state)
{
	int family = *(int *)*state;
	struct udp u;
	struct udp_endpoint ep;
	char ip[INET6_ADDRSTRLEN];
	int fd, one = 1;
	uint8_t *offload;
	unsigned k;

	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	if (family == AF_INET6) {
		fd = receiver6_or_skip(&u, &ep);
		offload = &u.offload6;
		assert_int_equal(setsockopt(u.fd6, SOL_UDP, UDP_NO_CHECK6_TX, &one, sizeof(one)), 0);
		/* IPv6 drops datagrams without a checksum unless the receiver allows them. */
		assert_int_equal(setsockopt(fd, SOL_UDP, UDP_NO_CHECK6_RX, &one, sizeof(one)), 0);
		/* A source, as learned from the peer: it must survive the fallback. */
		ep.src6 = in6addr_loopback;
	} else {
		fd = receiver(AF_INET, &ep);
		offload = &u.offload4;
		assert_int_equal(setsockopt(u.fd4, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
		assert_int_equal(inet_pton(AF_INET, "127.0.0.3", &ep.src4), 1);
	}
	assert_true(*offload & UDP_OFFLOAD_GSO);
	memset(&sb, 0, sizeof(sb));
	for (k = 0; k < 10; k++)
		udp_send_batch_add(&sb, &u, &ep, dgram(k, 100), 100);
	assert_int_equal(udp_send_batch_flush(&sb, &u), 0);
	assert_false(*offload & UDP_OFFLOAD_GSO);
	assert_int_equal(sb.gso_messages, 0);
	for (k = 0; k < 10; k++) {
		expect(fd, k, 100, ip, sizeof(ip));
		assert_string_equal(ip, family == AF_INET6 ? "::1" : "127.0.0.3");
	}
	/* From now on, datagram by datagram at once. */
	send_expect(&u, &ep, fd, 5, 100, 0);
	expect_none(fd);
	close(fd);
	udp_close(&u);
}

/* Segments larger than the path MTU (IPV6_MTU 1280 < 1300 + headers): the kernel refuses the
 * train (EMSGSIZE), its datagrams go alone and fragmented as without GSO, and GSO stays on. */
static void test_udp_gso_path_mtu(void **state)
{
	struct udp u;
	struct udp_endpoint ep;
	int fd, mtu = 1280;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	fd = receiver6_or_skip(&u, &ep);
	assert_int_equal(setsockopt(u.fd6, IPPROTO_IPV6, IPV6_MTU, &mtu, sizeof(mtu)), 0);
	memset(&sb, 0, sizeof(sb));
	send_expect(&u, &ep, fd, 4, 1300, 0);
	assert_true(u.offload6 & UDP_OFFLOAD_GSO);
	send_expect(&u, &ep, fd, 4, 1000, 1);
	expect_none(fd);
	close(fd);
	udp_close(&u);
}

/* A train whose source has gone: the source is forgotten and the train goes again without it,
 * still a train; the other endpoint's trains around it keep their source. */
static void test_udp_gso_src_gone(void **state)
{
	int family = *(int *)*state;
	struct udp u;
	struct udp_endpoint kept, gone;
	char ip[INET6_ADDRSTRLEN];
	const char *kept_ip = family == AF_INET ? "127.0.0.3" : "::1";
	int fd;
	unsigned k;

	assert_int_equal(udp_open(&u, 0, 0, true), 0);
	if (family == AF_INET6) {
		fd = receiver6_or_skip(&u, &kept);
		kept.src6 = in6addr_loopback;
		gone = kept;
		assert_int_equal(inet_pton(AF_INET6, "2001:db8::99", &gone.src6), 1);
	} else {
		fd = receiver(AF_INET, &kept);
		assert_int_equal(inet_pton(AF_INET, kept_ip, &kept.src4), 1);
		gone = kept;
		assert_int_equal(inet_pton(AF_INET, "192.0.2.99", &gone.src4), 1);
	}
	memset(&sb, 0, sizeof(sb));
	for (k = 0; k < 9; k++)
		udp_send_batch_add(&sb, &u, k >= 3 && k < 7 ? &gone : &kept, dgram(k, 150), 150);
	assert_int_equal(udp_send_batch_flush(&sb, &u), 0);
	for (k = 0; k < 9; k++) {
		expect(fd, k, 150, ip, sizeof(ip));
		if (k < 3 || k >= 7)
			assert_string_equal(ip, kept_ip);
	}
	expect_none(fd);
	if (family == AF_INET) {
		assert_int_equal(gone.src4.s_addr, htonl(INADDR_ANY));
		assert_string_equal(inet_ntop(AF_INET, &kept.src4, ip, sizeof(ip)), kept_ip);
		/* IPv4 says ENETUNREACH: the train went again as a train. */
		assert_int_equal(sb.gso_messages, 3);
	} else {
		assert_true(IN6_IS_ADDR_UNSPECIFIED(&gone.src6));
		assert_true(IN6_IS_ADDR_LOOPBACK(&kept.src6));
		/* IPv6 says EINVAL, as for a refused train: tried alone, the datagram failed
		 * too, so the source it was, and GSO stays on. */
		assert_true(u.offload6 & UDP_OFFLOAD_GSO);
		assert_true(sb.gso_messages >= 2);
	}
	close(fd);
	udp_close(&u);
}

/* Offloads not wanted (Offload = off): no GRO asked for, no trains sent; a train from a GSO
 * sender still arrives, cut into its datagrams by the kernel. */
static void test_udp_no_offload(void **state)
{
	struct udp u, gso_u;
	struct udp_endpoint ep, to;
	struct udp_datagram d;
	int fd, gro = -1;
	socklen_t len = sizeof(gro);
	unsigned k = 0;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0, false), 0);
	assert_int_equal(udp_open(&gso_u, 0, 0, true), 0);
	assert_int_equal(u.offload4, 0);
	assert_int_equal(u.offload6, 0);
	assert_int_equal(getsockopt(u.fd4, SOL_UDP, UDP_GRO, &gro, &len), 0);
	assert_int_equal(gro, 0);
	fd = receiver(AF_INET, &ep);
	memset(&sb, 0, sizeof(sb));
	send_expect(&u, &ep, fd, 10, 100, 0);

	to = ep;
	to.addr.in4.sin_port = htons(u.port);
	for (k = 0; k < 10; k++)
		udp_send_batch_add(&sb, &gso_u, &to, dgram(k, 100), 100);
	assert_int_equal(udp_send_batch_flush(&sb, &gso_u), 0);
	assert_int_equal(sb.gso_messages, 1);
	memset(&rb, 0, sizeof(rb));
	for (k = 0; k < 10; ) {
		assert_true(recv_wait(&u, u.fd4, BUF) > 0);
		while (udp_recv_batch_next(&rb, &d)) {
			assert_int_equal(d.len, 100);
			assert_memory_equal(d.data, dgram(k, 100), 100);
			k++;
		}
	}
	assert_int_equal(rb.gro_messages, 0);
	close(fd);
	udp_close(&u);
	udp_close(&gso_u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_answer_from_local_address),
		cmocka_unit_test(test_udp_source_gone),
		cmocka_unit_test(test_udp_ipv6_source),
		cmocka_unit_test(test_udp_forget_deleted_source),
		{ "test_udp_gso_grouping4", test_udp_gso_grouping, NULL, NULL, &inet },
		{ "test_udp_gso_grouping6", test_udp_gso_grouping, NULL, NULL, &inet6 },
		cmocka_unit_test(test_udp_gso_two_families),
		cmocka_unit_test(test_udp_gro_receive),
		cmocka_unit_test(test_udp_gro_truncated),
		{ "test_udp_gso_refused4", test_udp_gso_refused, NULL, NULL, &inet },
		{ "test_udp_gso_refused6", test_udp_gso_refused, NULL, NULL, &inet6 },
		cmocka_unit_test(test_udp_gso_path_mtu),
		{ "test_udp_gso_src_gone4", test_udp_gso_src_gone, NULL, NULL, &inet },
		{ "test_udp_gso_src_gone6", test_udp_gso_src_gone, NULL, NULL, &inet6 },
		cmocka_unit_test(test_udp_no_offload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
