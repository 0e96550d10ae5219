/* Crypto workers: threads that run batches of AEAD jobs handed over through SPSC rings, and
 * give them back in submission order (crypt_worker.h). */
#include "crypt_worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "crypt_ring.h"
#include "wg/aead.h"

_Static_assert((int)CRYPT_INFLIGHT_MAX <= (int)CRYPT_RING_SLOTS,
    "a worker's ring must hold every batch in flight, so that submit fails only on the cap");

/* Polls of an empty ring before a worker sleeps: a batch that follows within a microsecond
 * or so costs no system call on either side. */
enum { WORKER_SPINS = 200 };

struct worker {
	struct crypt_pool *pool;
	struct crypt_ring ring;
	pthread_t thread;
	bool started;
	unsigned id;
	int wake_fd;		/* blocking eventfd the worker sleeps on */
	/* The worker is asleep or about to be: the next submit writes wake_fd. */
	_Alignas(64) atomic_bool idle;
};

struct crypt_pool {
	struct worker workers[CRYPT_WORKERS_MAX];
	unsigned n_workers;
	unsigned next_worker;	/* round robin */
	/* Batches in flight in submission order: the loop's alone. */
	struct crypt_batch *fifo[CRYPT_INFLIGHT_MAX];
	unsigned fifo_head;	/* oldest */
	unsigned fifo_count;
	bool stopped;
	int done_fd;		/* nonblocking eventfd the loop waits on */
	atomic_bool stop;
	/* The loop is waiting (crypt_pool_arm): the next completion writes done_fd. */
	_Alignas(64) atomic_bool loop_waiting;
};

static void eventfd_kick(int fd)
{
	uint64_t one = 1;
	ssize_t ignored = write(fd, &one, sizeof(one));

	(void)ignored;	/* fails only at a counter of 2^64 - 2, when a wake-up is pending anyway */
}

void crypt_batch_run(struct crypt_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		if (b->op == CRYPT_SEAL)
			wg_data_job_seal(&b->jobs[i]);
		else
			wg_data_job_open(&b->jobs[i]);
	}
}

/* Sleeps until the ring has something or the pool stops; the oldest batch or NULL (stop). */
static struct crypt_batch *worker_next(struct worker *w)
{
	struct crypt_pool *pool = w->pool;
	struct crypt_batch *b;
	uint64_t count;

	for (;;) {
		for (unsigned spin = 0; spin < WORKER_SPINS; spin++) {
			if ((b = crypt_ring_pop(&w->ring)))
				return b;
		}
		if (atomic_load(&pool->stop))
			return NULL;
		/* Nothing for a while: forget the last key the cipher contexts hold, then say
		 * "asleep" and look once more, so that a submit racing with us either sees idle
		 * (and wakes us) or is seen by this second look: both sides store then load,
		 * all sequentially consistent (crypt_ring.h). */
		aead_transport_forget();
		atomic_store(&w->idle, true);
		if ((b = crypt_ring_pop(&w->ring)) || atomic_load(&pool->stop)) {
			atomic_store(&w->idle, false);
			if (b)
				return b;
			return NULL;
		}
		while (read(w->wake_fd, &count, sizeof(count)) < 0 && errno == EINTR)
			;
		atomic_store(&w->idle, false);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct crypt_pool *pool = w->pool;
	struct crypt_batch *b;
	char name[16];

	snprintf(name, sizeof(name), "crypt%u", w->id);
	pthread_setname_np(pthread_self(), name);	/* ps -L, top -H */
	for (;;) {
		b = worker_next(w);
		if (!b) {
			/* Stopping: whatever is still queued is run, so every batch comes back. */
			while ((b = crypt_ring_pop(&w->ring))) {
				crypt_batch_run(b);
				atomic_store_explicit(&b->done, true, memory_order_release);
			}
			break;
		}
		crypt_batch_run(b);
		/* Pairs with crypt_pool_arm (store then load on both sides, sequentially
		 * consistent): either the loop sees done, or we see it waiting. */
		atomic_store(&b->done, true);
		if (atomic_load(&pool->loop_waiting) && atomic_exchange(&pool->loop_waiting, false))
			eventfd_kick(pool->done_fd);
	}
	aead_transport_forget();
	aead_cleanup();		/* this thread's cipher contexts */
	return NULL;
}

struct crypt_pool *crypt_pool_new(unsigned workers)
{
	struct crypt_pool *pool;
	sigset_t all, old;
	int ret = 0;

	if (workers == 0 || workers > CRYPT_WORKERS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&pool->stop, false);
	atomic_init(&pool->loop_waiting, false);
	pool->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->done_fd < 0) {
		ret = errno;
		free(pool);
		errno = ret;
		return NULL;
	}
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &pool->workers[i];

		w->pool = pool;
		w->id = i;
		crypt_ring_init(&w->ring);
		atomic_init(&w->idle, false);
		w->wake_fd = -1;
	}
	pool->n_workers = workers;
	/* Signals stay with the loop thread (libevent's handlers). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < workers && !ret; i++) {
		struct worker *w = &pool->workers[i];

		w->wake_fd = eventfd(0, EFD_CLOEXEC);
		if (w->wake_fd < 0) {
			ret = errno;
			break;
		}
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		w->started = ret == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		crypt_pool_free(pool);
		errno = ret;
		return NULL;
	}
	return pool;
}

void crypt_pool_stop(struct crypt_pool *pool)
{
	if (pool->stopped)
		return;
	pool->stopped = true;
	atomic_store(&pool->stop, true);
	for (unsigned i = 0; i < pool->n_workers; i++) {
		struct worker *w = &pool->workers[i];

		if (!w->started)
			continue;
		eventfd_kick(w->wake_fd);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void crypt_pool_free(struct crypt_pool *pool)
{
	if (!pool)
		return;
	crypt_pool_stop(pool);
	for (unsigned i = 0; i < pool->n_workers; i++) {
		if (pool->workers[i].wake_fd >= 0)
			close(pool->workers[i].wake_fd);
	}
	close(pool->done_fd);
	free(pool);
}

bool crypt_pool_submit(struct crypt_pool *pool, struct crypt_batch *b)
{
	struct worker *w;

	if (pool->stopped || pool->fifo_count >= CRYPT_INFLIGHT_MAX)
		return false;
	w = &pool->workers[pool->next_worker];
	atomic_store_explicit(&b->done, false, memory_order_relaxed);
	/* The ring's release store publishes the jobs and done = false with it. */
	if (!crypt_ring_push(&w->ring, b))
		return false;	/* not reached: the ring holds CRYPT_INFLIGHT_MAX */
	pool->fifo[(pool->fifo_head + pool->fifo_count) % CRYPT_INFLIGHT_MAX] = b;
	pool->fifo_count++;
	pool->next_worker = (pool->next_worker + 1) % pool->n_workers;
	/* Pairs with worker_next (the push stored head sequentially consistent): either the
	 * worker sees the batch, or we see it idle. */
	if (atomic_load(&w->idle) && atomic_exchange(&w->idle, false))
		eventfd_kick(w->wake_fd);
	return true;
}

struct crypt_batch *crypt_pool_next_done(struct crypt_pool *pool)
{
	struct crypt_batch *b;

	if (pool->fifo_count == 0)
		return NULL;
	b = pool->fifo[pool->fifo_head];
	if (!atomic_load_explicit(&b->done, memory_order_acquire))
		return NULL;
	pool->fifo_head = (pool->fifo_head + 1) % CRYPT_INFLIGHT_MAX;
	pool->fifo_count--;
	return b;
}

struct crypt_batch *crypt_pool_wait_done(struct crypt_pool *pool)
{
	struct pollfd pfd = { .fd = pool->done_fd, .events = POLLIN };
	struct crypt_batch *b;

	while (pool->fifo_count > 0) {
		if ((b = crypt_pool_next_done(pool)))
			return b;
		if (crypt_pool_arm(pool) && poll(&pfd, 1, -1) > 0)
			crypt_pool_ack(pool);
	}
	return NULL;
}

unsigned crypt_pool_in_flight(const struct crypt_pool *pool)
{
	return pool->fifo_count;
}

bool crypt_pool_full(const struct crypt_pool *pool)
{
	return pool->stopped || pool->fifo_count >= CRYPT_INFLIGHT_MAX;
}

int crypt_pool_event_fd(const struct crypt_pool *pool)
{
	return pool->done_fd;
}

void crypt_pool_ack(struct crypt_pool *pool)
{
	uint64_t count;
	ssize_t ignored = read(pool->done_fd, &count, sizeof(count));

	(void)ignored;	/* EAGAIN: nothing was pending */
}

bool crypt_pool_arm(struct crypt_pool *pool)
{
	struct crypt_batch *oldest;

	if (pool->fifo_count == 0)
		return true;
	oldest = pool->fifo[pool->fifo_head];
	atomic_store(&pool->loop_waiting, true);
	if (atomic_load(&oldest->done)) {
		atomic_store(&pool->loop_waiting, false);
		return false;
	}
	return true;
}
