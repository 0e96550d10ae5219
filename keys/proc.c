/* Helper programs with a deadline and bounded, captured output (proc.h). */
#include "keys/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PROC_READ = 1024 };
_Static_assert(PROC_READ < PROC_ERR_MAX - 1, "one read fits the stderr tail");

/* The group proc_run is waiting for (0: none), for proc_kill_running. */
static volatile sig_atomic_t running_pgid;

void proc_kill_running(void)
{
	pid_t pg = (pid_t)running_pgid;

	if (pg > 0)
		kill(-pg, SIGKILL);
}

int64_t proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends to the first-bytes buffer: what does not fit is read and dropped. */
static void keep_head(char *buf, size_t *len, const char *data, size_t n)
{
	size_t room = PROC_OUT_MAX - 1 - *len;

	if (n > room)
		n = room;
	memcpy(buf + *len, data, n);
	*len += n;
}

/* Appends to the last-bytes buffer: the oldest bytes make room.  n < PROC_ERR_MAX - 1 (one
 * read of PROC_READ bytes). */
static void keep_tail(char *buf, size_t *len, const char *data, size_t n)
{
	size_t cap = PROC_ERR_MAX - 1, drop;

	if (*len + n > cap) {
		drop = *len + n - cap;
		memmove(buf, buf + drop, *len - drop);
		*len -= drop;
	}
	memcpy(buf + *len, data, n);
	*len += n;
}

/* The signals a caller stops on (keys push: SIGINT, SIGTERM, SIGHUP; its handler calls
 * proc_kill_running).  Blocked from fork() until running_pgid names the new group: a signal
 * in between would run the handler with no group to kill and leave the program running. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static void child_exec(char *const argv[], int out_w, int err_w, const sigset_t *old)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sigset_t stop;

	/* A group of its own: the deadline kills scp and the ssh it runs together. */
	setpgid(0, 0);
	/* The caller's handlers are not the program's: default, then the caller's mask (a stop
	 * signal sent from now on ends this child; its group is already recorded). */
	stop_signals(&stop);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&stop, sig) == 1)
			signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, old, NULL);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
	    dup2(err_w, STDERR_FILENO) < 0)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int proc_run(char *const argv[], int64_t deadline_ms, struct proc_result *res)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, status = 0, ret = 0, timeout;
	size_t out_len = 0, err_len = 0;
	struct pollfd pfd[2];
	char buf[PROC_READ];
	ssize_t n;
	sigset_t stop, old;
	pid_t pid, w;
	int64_t left;

	memset(res, 0, sizeof(*res));
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	stop_signals(&stop);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto out;
	}
	if (pid == 0)
		child_exec(argv, outp[1], errp[1], &old);
	/* Both sides set the group, so a kill right after fork cannot miss it. */
	setpgid(pid, pid);
	running_pgid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);	/* a stop signal pending since fork runs now */
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	pfd[0].fd = outp[0];
	pfd[1].fd = errp[0];
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (pfd[0].fd < 0 && pfd[1].fd < 0) {
			w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR) {
				ret = -errno;
				running_pgid = 0;
				goto out;
			}
		}
		left = deadline_ms - proc_now_ms();
		if (left <= 0) {
			res->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		/* Both streams closed: the child is exiting (or keeps running without them). */
		timeout = pfd[0].fd < 0 && pfd[1].fd < 0 ? 10 : (int)(left > 1000 ? 1000 : left);
		if (pfd[0].fd < 0 && pfd[1].fd < 0) {
			poll(NULL, 0, timeout);
			continue;
		}
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			running_pgid = 0;
			goto out;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				if (i == 0)
					outp[0] = -1;
				else
					errp[0] = -1;
				pfd[i].fd = -1;
				continue;
			}
			if (i == 0)
				keep_head(res->out, &out_len, buf, (size_t)n);
			else
				keep_tail(res->err, &err_len, buf, (size_t)n);
		}
	}
	res->out[out_len] = '\0';
	res->err[err_len] = '\0';
	running_pgid = 0;
	if (WIFEXITED(status))
		res->status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->status = 128 + WTERMSIG(status);
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return ret;
}
