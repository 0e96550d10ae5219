/* The network process's seccomp filter, tried for real: each case forks a child that installs
 * the bastion's filter (sandbox_filter_install) and then makes one system call; what the event
 * loop needs must work (the child exits 0), anything else must kill the child with SIGSYS.
 * And the user lookup refuses unknown users and root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bastion/privdrop.h"
#include "bastion/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER 1
#else
#define SANITIZER 0
#endif

static char tmpfile_path[] = "/tmp/test_bastion_sandbox.XXXXXX";

/* Exit codes of the child when an allowed call did not do what it should. */
enum { CHILD_OK = 0, CHILD_NO_FILTER = 10, CHILD_CALL_FAILED = 11 };

static int do_getrandom(void)
{
	unsigned char b[16];

	return getrandom(b, sizeof(b), 0) == sizeof(b) ? 0 : -1;
}

static int do_clock(void)
{
	struct timespec ts;

	return clock_gettime(CLOCK_REALTIME, &ts);
}

static int do_socket_inet(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -1 : close(fd);
}

static int do_socket_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -1 : close(fd);
}

/* The roster is re-read after the drop: fopen "re", fstat, read. */
static int do_read_file(void)
{
	char buf[64];
	FILE *f = fopen(tmpfile_path, "re");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) && strcmp(buf, "serial 1\n") == 0;
	fclose(f);
	return ok ? 0 : -1;
}

static int do_poll_sleep(void)
{
	struct timespec ts = { 0, 1000000 };

	return nanosleep(&ts, NULL);
}

static int do_malloc(void)
{
	void *p = malloc(1 << 22);	/* mmap'd */
	int ret = p ? 0 : -1;

	free(p);
	return ret;
}

/* wait4 reaps only our own children: none here, so ECHILD. */
static int do_wait_child(void)
{
	int st;

	return waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD ? 0 : -1;
}

/* Forbidden.  Each would return (and the child exit non-zero) if the filter let it through:
 * execve aims at a file that does not exist, so an allowed execve cannot run anything that the
 * filter then kills for its own reasons. */
static int do_execve(void)
{
	char *const argv[] = { (char *)"/nonexistent/warren-sandbox-test", NULL };

	return execve(argv[0], argv, NULL);
}

static int do_ptrace(void)
{
	return (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

static int do_fork(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	return p < 0 ? -1 : 0;
}

static int do_open_write(void)
{
	int fd = open(tmpfile_path, O_WRONLY | O_APPEND | O_CLOEXEC);

	return fd < 0 ? -1 : close(fd);
}

static int do_open_create(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s.new", tmpfile_path);
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	return fd < 0 ? -1 : close(fd);
}

static int do_open_trunc(void)
{
	int fd = open(tmpfile_path, O_RDONLY | O_TRUNC | O_CLOEXEC);

	return fd < 0 ? -1 : close(fd);
}

static int do_unlink(void)
{
	return unlink(tmpfile_path);
}

/* The audit log is the audit process's: the network process has nothing to make durable. */
static int do_fsync(void)
{
	return fsync(STDERR_FILENO);
}

static int do_ftruncate(void)
{
	return ftruncate(STDERR_FILENO, 0);
}

static int do_rename(void)
{
	return rename(tmpfile_path, "/tmp/test_bastion_sandbox.renamed");
}

static int do_chmod(void)
{
	return chmod(tmpfile_path, 0666);
}

static int do_socket_netlink(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);

	return fd < 0 ? -1 : close(fd);
}

static int do_socket_packet(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	return fd < 0 ? -1 : close(fd);
}

static int do_bind_listen(void)
{
	/* socket is allowed; listen on it is not (no new listeners after start). */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -1 : listen(fd, 1);
}

static int do_setuid(void)
{
	return setuid(0);
}

static int do_kill_other(void)
{
	return kill(1, 0);
}

static int do_ioctl_other(void)
{
	int v = 0;

	return ioctl(0, FIOASYNC, &v);
}

static const struct {
	const char *name;
	int (*fn)(void);
	bool allowed;
	bool sanitizer_allowed;	/* the sanitizer build's filter allows it (sandbox.c) */
} cases[] = {
	/*  0 */ { "getrandom", do_getrandom, true, true },
	/*  1 */ { "clock_gettime", do_clock, true, true },
	/*  2 */ { "socket(AF_INET6)", do_socket_inet, true, true },
	/*  3 */ { "socket(AF_UNIX)", do_socket_unix, true, true },
	/*  4 */ { "fopen(re)+read", do_read_file, true, true },
	/*  5 */ { "nanosleep", do_poll_sleep, true, true },
	/*  6 */ { "malloc 4 MiB", do_malloc, true, true },
	/*  7 */ { "execve", do_execve, false, false },
	/*  8 */ { "ptrace(TRACEME)", do_ptrace, false, true },
	/*  9 */ { "fork", do_fork, false, true },
	/* 10 */ { "open(O_WRONLY)", do_open_write, false, true },
	/* 11 */ { "open(O_CREAT)", do_open_create, false, true },
	/* 12 */ { "open(O_RDONLY|O_TRUNC)", do_open_trunc, false, true },
	/* 13 */ { "unlink", do_unlink, false, false },
	/* 14 */ { "rename", do_rename, false, false },
	/* 15 */ { "chmod", do_chmod, false, false },
	/* 16 */ { "socket(AF_NETLINK)", do_socket_netlink, false, false },
	/* 17 */ { "socket(AF_PACKET)", do_socket_packet, false, false },
	/* 18 */ { "listen", do_bind_listen, false, false },
	/* 19 */ { "setuid", do_setuid, false, false },
	/* 20 */ { "kill(1)", do_kill_other, false, true },
	/* 21 */ { "ioctl(FIOASYNC)", do_ioctl_other, false, false },
	/* 22 */ { "waitpid (no child)", do_wait_child, true, true },
	/* 23 */ { "fsync", do_fsync, false, false },
	/* 24 */ { "ftruncate", do_ftruncate, false, false },
};

/* Runs case i in a child under the filter; returns its wait status. */
static int run_case(size_t i)
{
	char err[256] = "";
	int st = 0;
	pid_t p;

	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		if (sandbox_filter_install(err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			_exit(CHILD_NO_FILTER);
		}
		_exit(cases[i].fn() == 0 ? CHILD_OK : CHILD_CALL_FAILED);
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	return st;
}

static void test_cases(void **state)
{
	size_t i;
	int st;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool allowed = SANITIZER ? cases[i].sanitizer_allowed : cases[i].allowed;

		st = run_case(i);
		if (allowed && cases[i].allowed) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != CHILD_OK)
				fail_msg("case %zu (%s) must work under the filter: status %#x", i,
				    cases[i].name, st);
		} else if (!allowed) {
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
				fail_msg("case %zu (%s) must be killed by SIGSYS: status %#x", i,
				    cases[i].name, st);
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
			/* Allowed only for the sanitizer runtimes: not killed (it may still fail). */
			fail_msg("case %zu (%s): the sanitizer build allows it, killed", i,
			    cases[i].name);
		}
	}
	/* The file the forbidden calls aimed at is untouched (the sanitizer build lets the
	 * O_TRUNC open through). */
	{
		struct stat sb;

		assert_int_equal(stat(tmpfile_path, &sb), 0);
		assert_int_equal(sb.st_mode & 07777, 0644);
		if (!SANITIZER)
			assert_int_equal(sb.st_size, 9);
	}
}

/* A filter installed in a child is not in the parent: the parent is not sandboxed. */
static void test_parent_untouched(void **state)
{
	char line[128];
	FILE *f;
	bool seen = false;

	(void)state;
	run_case(0);
	f = fopen("/proc/self/status", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp:", 8) == 0)
			seen = strtol(line + 8, NULL, 10) == 0;
	fclose(f);
	assert_true(seen);
}

static void test_user_lookup(void **state)
{
	struct privdrop_user u;
	char err[256];

	(void)state;
	assert_false(privdrop_user_lookup("root", &u, err, sizeof(err)));
	assert_string_equal(err, "User: 'root' has uid or gid 0: pick an unprivileged user");
	assert_false(privdrop_user_lookup("no-such-user-warren", &u, err, sizeof(err)));
	assert_non_null(strstr(err, "User: no user 'no-such-user-warren'"));
	assert_false(privdrop_user_lookup("a-user-name-longer-than-thirty-two-bytes", &u, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "is too long"));
	/* nobody exists on Debian (uid 65534). */
	assert_true(privdrop_user_lookup("nobody", &u, err, sizeof(err)));
	assert_int_not_equal(u.uid, 0);
	assert_string_equal(u.name, "nobody");
}

/* The drop itself, in a child (it is irreversible): as root, to nobody. */
static void test_drop(void **state)
{
	struct privdrop_user u;
	char err[256];
	pid_t p;
	int st = 0;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_true(privdrop_user_lookup("nobody", &u, err, sizeof(err)));
	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		char line[128];
		unsigned n = 0;
		FILE *f;

#ifdef __SANITIZE_THREAD__
		/* TSan's runtime runs a thread of its own, and capabilities are per thread: the
		 * drop must refuse rather than leave that thread privileged. */
		_exit(privdrop_apply(&u, err, sizeof(err)) == -EBUSY ? 0 : 20);
#endif
		if (privdrop_apply(&u, err, sizeof(err)) != 0)
			_exit(20);
		if (getuid() != u.uid || setuid(0) == 0 || getgroups(0, NULL) != 0)
			_exit(21);
		f = fopen("/proc/self/status", "re");
		if (!f)
			_exit(22);
		while (fgets(line, sizeof(line), f))
			if ((strncmp(line, "Cap", 3) == 0 && strstr(line, "0000000000000000")) ||
			    strcmp(line, "NoNewPrivs:\t1\n") == 0)
				n++;
		fclose(f);
		_exit(n == 6 ? 0 : 23);	/* CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs */
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int setup(void **state)
{
	int fd;

	(void)state;
	fd = mkstemp(tmpfile_path);
	if (fd < 0)
		return -1;
	if (write(fd, "serial 1\n", 9) != 9 || fchmod(fd, 0644) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(tmpfile_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_parent_untouched),
		cmocka_unit_test(test_user_lookup),
		cmocka_unit_test(test_drop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
