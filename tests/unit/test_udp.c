/* The UDP layer's sticky source address, on loopback (all of 127.0.0.0/8 is local): a datagram
 * sent to 127.0.0.3 is answered from 127.0.0.3, not from the 127.0.0.1 the kernel would pick,
 * both by udp_send_one and by a sendmmsg batch; a source that is not (or no longer) ours is
 * forgotten and the datagram still goes, from the kernel's choice, without disturbing the other
 * endpoints of the batch.  IPv6 (::1) is checked when the host has it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunneld/udp.h"

enum { BUF = 2048 };

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
	int n = 0;

	to4(&to, dst, u->port);
	assert_int_equal(sendto(cfd, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	for (int i = 0; i < 200 && n == 0; i++) {
		n = udp_recv_batch(&rb, u->fd4, bufs, BUF);
		if (n == 0)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(rb.msgs[0].msg_len, 2);
	*ep = rb.from[0];
}

static void test_udp_answer_from_local_address(void **state)
{
	struct udp u;
	struct udp_endpoint ep;
	struct sockaddr_in self;
	char ip[INET_ADDRSTRLEN], want[INET_ADDRSTRLEN];
	int cfd;

	(void)state;
	assert_int_equal(udp_open(&u, 0, 0), 0);
	cfd = client4(&self);
	server_hears4(&u, cfd, "127.0.0.3", &ep);
	assert_int_equal(ep.addr.sa.sa_family, AF_INET);
	assert_int_equal(ep.addr.in4.sin_port, self.sin_port);
	assert_string_equal(inet_ntop(AF_INET, &ep.src4, ip, sizeof(ip)), "127.0.0.3");

	/* One datagram now, and one through a batch: both from 127.0.0.3. */
	assert_int_equal(udp_send_one(&u, &ep, "a", 1), 0);
	assert_string_equal(recv_from4(cfd, ip, sizeof(ip)), "127.0.0.3");
	udp_send_batch_add(&sb, u.fd4, &ep, payload, 1);
	assert_int_equal(udp_send_batch_flush(&sb, u.fd4), 0);
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
	assert_int_equal(udp_open(&u, 0, 0), 0);
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
	udp_send_batch_add(&sb, u.fd4, &kept, payload, 1);
	udp_send_batch_add(&sb, u.fd4, &gone, payload, 1);
	udp_send_batch_add(&sb, u.fd4, &gone, payload, 1);
	udp_send_batch_add(&sb, u.fd4, &kept, payload, 1);
	assert_int_equal(udp_send_batch_flush(&sb, u.fd4), 0);
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
	assert_int_equal(udp_open(&u, 0, 0), 0);
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
		n = udp_recv_batch(&rb, u.fd6, bufs, BUF);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_answer_from_local_address),
		cmocka_unit_test(test_udp_source_gone),
		cmocka_unit_test(test_udp_ipv6_source),
		cmocka_unit_test(test_udp_forget_deleted_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
