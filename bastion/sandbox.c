/* The network process's sandbox: see sandbox.h.  The allow-list follows OpenSSH's
 * sandbox-seccomp-filter.c: name what the post-authentication loop needs, kill on the rest. */
#include "bastion/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <seccomp.h>

#include "bastion/privdrop.h"

/* Sanitizer runtimes (gcc defines __SANITIZE_ADDRESS__ under -fsanitize=address). */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#else
#define SANDBOX_SANITIZER 0
#endif

/* Allowed with any arguments. */
static const int allowed[] = {
	/* memory (malloc, libssh's buffers, OpenSSL) */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	/* time and randomness (libsodium, OpenSSL: getrandom) */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom),
	/* identity of ourselves */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	/* the event loop: accepted connections, jump targets, the roster watch, the signal fd */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write),
	SCMP_SYS(writev), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
	SCMP_SYS(sendmsg), SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(connect),
	SCMP_SYS(shutdown), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getpeername),
	SCMP_SYS(getsockname), SCMP_SYS(close), SCMP_SYS(fcntl), SCMP_SYS(restart_syscall),
	/* re-reading the roster (fopen, fstat, read).  No fsync or ftruncate: the audit log
	 * belongs to the audit process, reached over its socket. */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek),
	/* reaping our own children only (a process of ours that exits: the audit writer) */
	SCMP_SYS(wait4),
	/* signals (the blocked mask, SIGPIPE ignored), exit */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(futex),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* Only in the sanitizer build: LeakSanitizer stops the world at exit with a tracer task
 * (clone, ptrace, wait4, prctl, /proc/self/task), ASan maps shadow memory, reads
 * /proc/self/maps, writes its report to log_path (an open for writing) and may start a
 * symbolizer (the child dies at execve: the report is then printed unsymbolized). */
static const int sanitizer_allowed[] = {
	SCMP_SYS(clone), SCMP_SYS(ptrace), SCMP_SYS(waitid), SCMP_SYS(prctl),
	SCMP_SYS(sched_yield), SCMP_SYS(getdents), SCMP_SYS(getdents64), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(sigaltstack), SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(getppid),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(pipe2),
	SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(pread64),
	SCMP_SYS(getcwd), SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(sysinfo),
	SCMP_SYS(access), SCMP_SYS(faccessat),
};

static int add(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *cmp,
    char *err, size_t errlen)
{
	int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);

	if (ret < 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		snprintf(err, errlen, "seccomp: cannot allow %s: %s", name ? name : "?",
		    strerror(-ret));
		free(name);
	}
	return ret;
}

int sandbox_filter_install(char *err, size_t errlen)
{
	/* open and openat: reading only.  O_TRUNC truncates even with O_RDONLY on Linux. */
	const struct scmp_arg_cmp ro_openat =
	    SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0);
	const struct scmp_arg_cmp ro_open =
	    SCMP_A1_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0);
	const struct scmp_arg_cmp families[] = {
		SCMP_A0_32(SCMP_CMP_EQ, AF_INET), SCMP_A0_32(SCMP_CMP_EQ, AF_INET6),
		SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX),
	};
	const struct scmp_arg_cmp ioctls[] = {
		SCMP_A1_64(SCMP_CMP_EQ, FIONBIO), SCMP_A1_64(SCMP_CMP_EQ, FIONREAD),
		SCMP_A1_64(SCMP_CMP_EQ, TCGETS),
	};
	/* abort() (a failed assertion, _FORTIFY_SOURCE, the stack protector) signals itself: a
	 * SIGABRT with its core, not a SIGSYS, tells what happened. */
	const struct scmp_arg_cmp self = SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid());
	scmp_filter_ctx ctx;
	size_t i;
	int ret;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp: cannot create a filter");
		return -ENOMEM;
	}
	/* Ask the kernel to log what the filter refuses (its audit log, or the kernel log). */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	ret = 0;
	for (i = 0; ret == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ret = add(ctx, allowed[i], 0, NULL, err, errlen);
	for (i = 0; ret == 0 && i < sizeof(families) / sizeof(families[0]); i++)
		ret = add(ctx, SCMP_SYS(socket), 1, &families[i], err, errlen);
	for (i = 0; ret == 0 && i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		ret = add(ctx, SCMP_SYS(ioctl), 1, &ioctls[i], err, errlen);
	if (ret == 0)
		ret = add(ctx, SCMP_SYS(tgkill), 1, &self, err, errlen);
	if (ret == 0 && SANDBOX_SANITIZER)
		for (i = 0; ret == 0 && i < sizeof(sanitizer_allowed) / sizeof(sanitizer_allowed[0]);
		    i++)
			ret = add(ctx, sanitizer_allowed[i], 0, NULL, err, errlen);
	if (ret == 0 && !SANDBOX_SANITIZER)
		ret = add(ctx, SCMP_SYS(openat), 1, &ro_openat, err, errlen);
	if (ret == 0 && !SANDBOX_SANITIZER)
		ret = add(ctx, SCMP_SYS(open), 1, &ro_open, err, errlen);
	if (ret < 0)
		goto out;
	ret = seccomp_load(ctx);
	if (ret < 0)
		snprintf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-ret));
out:
	seccomp_release(ctx);
	return ret;
}

int sandbox_enter(const char *user, char *err, size_t errlen)
{
	struct privdrop_user u;
	int ret;

	if (!privdrop_user_lookup(user, &u, err, errlen))
		return -ENOENT;
	ret = privdrop_apply(&u, err, errlen);
	if (ret < 0)
		return ret;
	return sandbox_filter_install(err, errlen);
}
