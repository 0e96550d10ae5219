/* tunneld/resolver.c: the off-loop name lookups.  Hammers submit / answer / free from the loop
 * thread while the workers run (thousands of lookups of localhost names, resolvers freed with
 * lookups queued and in getaddrinfo), and checks the ownership rules of resolver.h: every
 * lookup answered exactly once with its tag, nothing delivered after resolver_free, no thread
 * before the first dispatch, every worker gone after resolver_free.  Meant to run under ASan
 * (make SANITIZE=1) and ThreadSanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <cmocka.h>
#include <event2/event.h>

#include "tunneld/resolver.h"

enum { HAMMER = 4000, CYCLES = 40 };

struct tally {
	size_t answers;
	size_t errors;
	size_t bad;			/* answers that do not match what was asked */
	uint8_t *seen;			/* per tag: how many answers */
	size_t n_tags;
	bool freed;			/* resolver_free ran: no answer may come any more */
	size_t after_free;
};

static void on_done(void *ctx, const uint8_t key[WG_KEY_LEN], uint64_t tag, int err,
    const union wg_sockaddr *ep, const char *msg)
{
	struct tally *t = ctx;
	uint16_t port;

	if (t->freed)
		t->after_free++;
	t->answers++;
	if (tag == 0 || tag > t->n_tags || key[0] != (uint8_t)tag || key[1] != (uint8_t)(tag >> 8)) {
		t->bad++;
		return;
	}
	t->seen[tag - 1]++;
	if (err < 0) {
		t->errors++;
		if (!msg[0])
			t->bad++;
		return;
	}
	/* Port 40000 + tag % 1000, on 127.0.0.1 or ::1. */
	port = ep->sa.sa_family == AF_INET ? ntohs(ep->in4.sin_port) :
	    ep->sa.sa_family == AF_INET6 ? ntohs(ep->in6.sin6_port) : 0;
	if (port != 40000 + tag % 1000)
		t->bad++;
	if (ep->sa.sa_family == AF_INET && ep->in4.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		t->bad++;
	if (ep->sa.sa_family == AF_INET6 && !IN6_IS_ADDR_LOOPBACK(&ep->in6.sin6_addr))
		t->bad++;
}

static void tally_init(struct tally *t, size_t n_tags)
{
	memset(t, 0, sizeof(*t));
	t->n_tags = n_tags;
	t->seen = calloc(n_tags ? n_tags : 1, 1);
	assert_non_null(t->seen);
}

static bool submit_tag(struct resolver *r, uint64_t tag, const char *host)
{
	uint8_t key[WG_KEY_LEN] = { 0 };
	char port[8];

	key[0] = (uint8_t)tag;
	key[1] = (uint8_t)(tag >> 8);
	snprintf(port, sizeof(port), "%u", (unsigned)(40000 + tag % 1000));
	return resolver_submit(r, key, host, port, tag);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The resolver's worker threads alive now (named "resolver", see resolver.c). */
static int worker_count(void)
{
	char path[300], comm[32];
	struct dirent *d;
	int n = 0;
	DIR *dir = opendir("/proc/self/task");

	assert_non_null(dir);
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;	/* exited meanwhile */
		if (fgets(comm, sizeof(comm), f) && strcmp(comm, "resolver\n") == 0)
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Waits (bounded) until n workers run (they name themselves as they start). */
static bool workers_are(int n)
{
	double deadline = now_s() + 30;

	while (now_s() < deadline) {
		if (worker_count() == n)
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return false;
}

/* Waits (bounded) until every worker exited. */
static bool workers_gone(void)
{
	return workers_are(0);
}

/* Runs the loop until want answers arrived or 60 s passed. */
static void run_until(struct event_base *base, struct tally *t, size_t want)
{
	double deadline = now_s() + 60;

	/* ONCE with a 100 ms cap, so a lost answer fails the test instead of hanging it. */
	while (t->answers < want && now_s() < deadline) {
		event_base_loopexit(base, &(struct timeval){ .tv_usec = 100 * 1000 });
		event_base_loop(base, EVLOOP_ONCE);
	}
}

/* 1. Names and literals answer with the port asked for; an unusable port answers an error
 * with a message; each answer carries its tag. */
static void test_answers(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r;
	struct tally t;

	(void)state;
	assert_non_null(base);
	tally_init(&t, 4);
	assert_int_equal(resolver_new(&r, base, on_done, &t), 0);
	assert_true(submit_tag(r, 1, "localhost"));
	assert_true(submit_tag(r, 2, "127.0.0.1"));
	assert_true(submit_tag(r, 3, "::1"));
	assert_true(resolver_submit(r, (uint8_t[WG_KEY_LEN]){ 4 }, "localhost", "nope", 4));
	run_until(base, &t, 4);
	assert_int_equal(t.answers, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(t.seen[i], 1);
	assert_int_equal(t.errors, 1);	/* "nope" is no numeric port */
	assert_int_equal(t.bad, 0);
	assert_int_equal(resolver_pending(r), 0);
	resolver_free(r);
	assert_true(workers_gone());
	event_base_free(base);
	free(t.seen);
}

/* 2. A host or port too long for a job is refused, not truncated into another name. */
static void test_too_long(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r;
	struct tally t;
	char host[300];

	(void)state;
	tally_init(&t, 1);
	assert_int_equal(resolver_new(&r, base, on_done, &t), 0);
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	assert_false(resolver_submit(r, (uint8_t[WG_KEY_LEN]){ 1 }, host, "1", 1));
	assert_false(resolver_submit(r, (uint8_t[WG_KEY_LEN]){ 1 }, "localhost", "123456789", 1));
	assert_int_equal(resolver_pending(r), 0);
	resolver_free(r);
	event_base_free(base);
	free(t.seen);
}

/* 3. No thread exists before the loop first runs (privilege_drop lowers only the calling
 * thread's capabilities, so it must run while the process has one thread); the pool is
 * RESOLVER_THREADS, and it is gone after resolver_free. */
static void test_threads_start_in_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r;
	struct tally t;

	(void)state;
	tally_init(&t, 8);
	assert_true(workers_gone());
	assert_int_equal(resolver_new(&r, base, on_done, &t), 0);
	for (uint64_t tag = 1; tag <= 8; tag++)
		assert_true(submit_tag(r, tag, "localhost"));
	assert_int_equal(worker_count(), 0);
	run_until(base, &t, 8);
	assert_int_equal(t.answers, 8);
	assert_true(workers_are(RESOLVER_THREADS));
	resolver_free(r);
	assert_true(workers_gone());
	event_base_free(base);
	free(t.seen);
}

/* 4. Thousands of lookups, submitted in bursts while answers come back: each answered once. */
static void test_hammer(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r;
	struct tally t;
	uint64_t tag = 0;

	(void)state;
	tally_init(&t, HAMMER);
	assert_int_equal(resolver_new(&r, base, on_done, &t), 0);
	while (tag < HAMMER) {
		for (int i = 0; i < 97 && tag < HAMMER; i++) {
			tag++;
			assert_true(submit_tag(r, tag, tag % 3 ? "localhost" : "127.0.0.1"));
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	run_until(base, &t, HAMMER);
	assert_int_equal(t.answers, HAMMER);
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.bad, 0);
	for (size_t i = 0; i < HAMMER; i++)
		assert_int_equal(t.seen[i], 1);
	assert_int_equal(resolver_pending(r), 0);
	resolver_free(r);
	assert_true(workers_gone());
	event_base_free(base);
	free(t.seen);
}

/* 5. Resolvers freed with lookups queued, in getaddrinfo and answered but not yet delivered:
 * nothing is delivered after resolver_free, nothing leaks, no worker outlives it for long. */
static void test_free_in_flight(void **state)
{
	struct tally t;

	(void)state;
	tally_init(&t, 500);
	for (int cycle = 0; cycle < CYCLES; cycle++) {
		struct event_base *base = event_base_new();
		struct resolver *r;

		t.freed = false;
		assert_int_equal(resolver_new(&r, base, on_done, &t), 0);
		for (uint64_t tag = 1; tag <= 500; tag++)
			assert_true(submit_tag(r, tag, "localhost"));
		/* Start the workers, take a few answers (more every cycle), then free. */
		for (int i = 0; i < cycle % 8; i++) {
			nanosleep(&(struct timespec){ .tv_nsec = 200 * 1000 }, NULL);
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
		if (cycle % 3 == 0)
			nanosleep(&(struct timespec){ .tv_nsec = 2 * 1000 * 1000 }, NULL);
		resolver_free(r);
		t.freed = true;
		/* Anything a worker answers now must not reach the callback. */
		for (int i = 0; i < 5; i++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}
	assert_int_equal(t.after_free, 0);
	assert_int_equal(t.bad, 0);
	assert_true(workers_gone());
	free(t.seen);
}

/* 6. The queue is bounded: RESOLVER_MAX_QUEUED waiting lookups, then submit says no; freeing
 * a full queue frees every job. */
static void test_queue_bound(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r;
	struct tally t;
	uint64_t tag;

	(void)state;
	tally_init(&t, RESOLVER_MAX_QUEUED + 1);
	assert_int_equal(resolver_new(&r, base, on_done, &t), 0);
	/* No dispatch: the workers never start, so nothing leaves the queue. */
	for (tag = 1; tag <= RESOLVER_MAX_QUEUED; tag++)
		assert_true(submit_tag(r, tag, "localhost"));
	assert_false(submit_tag(r, tag, "localhost"));
	assert_int_equal(resolver_pending(r), RESOLVER_MAX_QUEUED);
	resolver_free(r);
	event_base_free(base);
	assert_int_equal(t.answers, 0);
	free(t.seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_threads_start_in_loop),
		cmocka_unit_test(test_hammer),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_queue_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
