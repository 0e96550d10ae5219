/* keys/proc.c: a SIGTERM that reaches the caller between fork() and proc_run's record of the
 * child's process group still finds that group.  Deterministic: a pthread_atfork parent hook
 * raises SIGTERM in the parent at the first instant after fork (before setpgid and the
 * record), the child hook reports the child's pid (if it lives that long).  The caller is a forked "worker" whose
 * handler is keys push's (proc_kill_running, then _exit); this test is its subreaper, so the
 * orphaned program is reaped here: killed by SIGKILL, or still running (the fault). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys/proc.h"

static int report_w = -1;
static volatile sig_atomic_t hooked;

static void on_term(int sig)
{
	(void)sig;
	proc_kill_running();
	_exit(1);
}

static void hook_parent(void)
{
	if (!hooked) {
		hooked = 1;
		raise(SIGTERM);
	}
}

static void hook_child(void)
{
	pid_t me = getpid();

	if (report_w >= 0 && write(report_w, &me, sizeof(me)) != (ssize_t)sizeof(me))
		_exit(125);
}

static void test_proc_signal_after_fork(void **state)
{
	static char sleep_[] = "sleep", thirty[] = "30";
	char *const argv[] = { sleep_, thirty, NULL };
	struct proc_result *res = calloc(1, sizeof(*res));
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec pause = { 0, 10 * 1000000L };
	int p[2], status = 0;
	pid_t worker, child = 0, w = 0;

	(void)state;
	assert_non_null(res);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(p), 0);
	worker = fork();
	assert_true(worker >= 0);
	if (worker == 0) {
		close(p[0]);
		report_w = p[1];
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		pthread_atfork(NULL, hook_parent, hook_child);
		proc_run(argv, proc_now_ms() + 60000, res);
		_exit(2);	/* the signal was lost: sleep ran to its end */
	}
	close(p[1]);
	/* Nothing if the child was killed before its hook ran (the fix at its quickest). */
	if (read(p[0], &child, sizeof(child)) != (ssize_t)sizeof(child))
		child = 0;
	close(p[0]);
	assert_int_equal(waitpid(worker, &status, 0), worker);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	/* The program orphaned to us (our only child left): SIGKILLed by the handler, within
	 * 10 s on a busy machine. */
	for (int i = 0; i < 1000 && (w = waitpid(-1, &status, WNOHANG)) == 0; i++)
		nanosleep(&pause, NULL);
	if (w == 0) {
		if (child > 0)
			kill(child, SIGKILL);
		waitpid(-1, &status, 0);
		waitpid(child, &status, 0);
		fail_msg("the program (pid %d) outlived its worker's SIGTERM", (int)child);
	}
	assert_true(w > 0 && (!child || w == child));
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	free(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_signal_after_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
