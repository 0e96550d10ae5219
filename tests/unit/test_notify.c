/* common/notify: what reaches the service manager.  A datagram socket of the test plays
 * systemd's notify socket ($NOTIFY_SOCKET): READY=1 / RELOADING=1 (with MONOTONIC_USEC) /
 * STOPPING=1 each with its STATUS=; a status with a newline cannot add a field of its own; a
 * long status is cut, never overflowing; without $NOTIFY_SOCKET every call is a no-op that
 * succeeds; a socket nobody listens on is an error returned, not a crash; an abstract socket
 * ('@') is reached; an address systemd would not hand a service is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/notify.h"

static char sock_path[108];
static int sock_fd = -1;

static int setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/test_notify.%d.sock", (int)getpid());
	unlink(sock_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock_fd < 0 || bind(sock_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", sock_path, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	close(sock_fd);
	unlink(sock_path);
	return 0;
}

/* The next datagram, NUL-terminated; "" if none is waiting. */
static const char *next_msg(void)
{
	static char buf[2048];
	ssize_t n = recv(sock_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_states(void **state)
{
	const char *m;

	(void)state;
	assert_int_equal(notify_ready("wg0 up: roster serial 7, 2 peers"), 0);
	assert_string_equal(next_msg(), "READY=1\nSTATUS=wg0 up: roster serial 7, 2 peers");
	assert_int_equal(notify_ready(NULL), 0);
	assert_string_equal(next_msg(), "READY=1");
	assert_int_equal(notify_stopping("shutting down"), 0);
	assert_string_equal(next_msg(), "STOPPING=1\nSTATUS=shutting down");
	assert_int_equal(notify_status("serial %d", 9), 0);
	assert_string_equal(next_msg(), "STATUS=serial 9");
	assert_int_equal(notify_reloading("reloading"), 0);
	m = next_msg();
	assert_true(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	assert_true(m[27] >= '1' && m[27] <= '9');
	assert_non_null(strstr(m, "\nSTATUS=reloading"));
	assert_string_equal(next_msg(), "");
}

/* A peer's or a roster's text in a status must not become READY=1 or MAINPID=. */
static void test_hostile_status(void **state)
{
	char big[1000];

	(void)state;
	assert_int_equal(notify_status("x\nREADY=1\nMAINPID=%d", 1), 0);
	assert_string_equal(next_msg(), "STATUS=x?READY=1?MAINPID=1");
	assert_int_equal(notify_ready("a\rb\x7f" "c"), 0);
	assert_string_equal(next_msg(), "READY=1\nSTATUS=a?b?c");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(notify_status("%s", big), 0);
	assert_int_equal(strlen(next_msg()), strlen("STATUS=") + 255);
}

static void test_outside_systemd(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_ready("up"), 0);
	assert_int_equal(notify_stopping("down"), 0);
	assert_string_equal(next_msg(), "");
	/* A socket that is gone: the error comes back (and is logged), nothing else happens. */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_true(notify_ready("up") < 0);
	setenv("NOTIFY_SOCKET", sock_path, 1);
}

/* systemd may name an abstract socket ('@' for the leading NUL); the name is exactly its
 * bytes, so a sender that counted a trailing NUL would reach no one. */
static void test_abstract_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], buf[256];
	socklen_t salen;
	ssize_t n;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@test_notify.%d", (int)getpid());
	memcpy(sa.sun_path, name, strlen(name));
	sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, salen), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_ready("abstract"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=abstract");
	close(fd);

	/* An abstract name may fill sun_path: it has no NUL to make room for. */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	{
		char full[sizeof(sa.sun_path) + 1];

		snprintf(full, sizeof(full), "@test_notify.%d.", (int)getpid());
		memset(full + strlen(full), 'x', sizeof(full) - 1 - strlen(full));
		full[sizeof(full) - 1] = '\0';
		memcpy(sa.sun_path, full, sizeof(sa.sun_path));
		sa.sun_path[0] = '\0';
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		setenv("NOTIFY_SOCKET", full, 1);
		assert_int_equal(notify_ready(NULL), 0);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		assert_int_equal(n, (ssize_t)strlen("READY=1"));
		close(fd);
	}
	setenv("NOTIFY_SOCKET", sock_path, 1);
}

/* What systemd would never hand a service is refused, not sent somewhere else. */
static void test_bad_address(void **state)
{
	char long_path[200];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	assert_true(notify_ready("up") < 0);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	assert_true(notify_ready("up") < 0);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	setenv("NOTIFY_SOCKET", long_path, 1);
	assert_true(notify_ready("up") < 0);
	setenv("NOTIFY_SOCKET", sock_path, 1);
	assert_string_equal(next_msg(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_hostile_status),
		cmocka_unit_test(test_outside_systemd),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_bad_address),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
