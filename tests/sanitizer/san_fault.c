/* A program with one deliberate fault per argument, built like the daemons (SANITIZE=1 or
 * SANITIZE=thread), for tests/sanitizer/selftest.sh: it proves that a sanitizer report from
 * any process of an integration test fails that test.  Never part of a daemon.
 *
 *   san_fault ok      exits 0, no fault
 *   san_fault uaf     heap use after free (ASan)
 *   san_fault ub      NULL passed to bsearch with no elements (UBSan: the device_config.c fault)
 *   san_fault leak    an unreachable allocation at exit (LeakSanitizer)
 *   san_fault race    two threads write one variable without a lock (TSan)
 *   san_fault daemon  waits for SIGTERM, then leaks at exit (as a daemon stopped by a test)
 * Exit status 0 after the fault unless the sanitizer stops the program. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int shared;
static volatile sig_atomic_t stop;
static void *volatile sink;

static void *writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		shared = shared + 1;
	return NULL;
}

static int race(void)
{
	pthread_t a, b;

	if (pthread_create(&a, NULL, writer, NULL) || pthread_create(&b, NULL, writer, NULL))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}

static int int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int daemon_leak(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t term, old;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	if (sigaction(SIGTERM, &sa, NULL))
		return 1;
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	sink = malloc(64);
	sink = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (strcmp(what, "ok") == 0)
		return 0;
	if (strcmp(what, "uaf") == 0) {
		char *p = malloc(16);

		if (!p)
			return 1;
		sink = p;
		free(p);
		return ((volatile char *)sink)[3];
	}
	if (strcmp(what, "ub") == 0) {
		int *volatile base = NULL;

		return bsearch(&argc, base, (size_t)(argc - 2), sizeof(int), int_cmp) != NULL;
	}
	if (strcmp(what, "leak") == 0) {
		sink = malloc(64);
		sink = NULL;
		return 0;
	}
	if (strcmp(what, "race") == 0)
		return race();
	if (strcmp(what, "daemon") == 0)
		return daemon_leak();
	fprintf(stderr, "usage: san_fault ok|uaf|ub|leak|race|daemon\n");
	return 2;
}
