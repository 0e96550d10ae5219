#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "resolver.h"

struct job {
	struct job *next;
	uint8_t key[WG_KEY_LEN];
	uint64_t tag;
	char host[256];
	char port[8];
	/* The answer, filled in by the worker. */
	int err;
	union wg_sockaddr ep;
	char msg[160];
};

/* Shared by the loop and the workers; every field under mu (see resolver.h). */
struct core {
	pthread_mutex_t mu;
	pthread_cond_t work;		/* pending became non-empty, or closed */
	struct job *pending_head;	/* oldest first */
	struct job *pending_tail;
	size_t n_pending;
	struct job *done_head;		/* answers for the loop, any order */
	size_t outstanding;		/* pending + running + done */
	unsigned refs;			/* the loop's + one per running worker */
	bool closed;			/* resolver_free ran: deliver nothing more */
	int wake_fd;			/* eventfd the loop watches; the loop closes it */
};

struct resolver {
	struct core *core;
	struct event *ev;		/* wake_fd readable: answers are waiting */
	struct event *start_ev;		/* first dispatch after a submit: start the workers */
	bool started;
	resolver_done_fn *done;
	void *ctx;
};

static void core_unref_locked(struct core *c, bool *last)
{
	*last = --c->refs == 0;
}

static void core_destroy(struct core *c)
{
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->work);
	free(c);
}

static void *worker(void *arg)
{
	struct core *c = arg;
	struct job *job;
	bool last;
	uint64_t one = 1;
	ssize_t ignored;

	pthread_setname_np(pthread_self(), "resolver");	/* for ps -L, top -H and the tests */
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->closed && !c->pending_head)
			pthread_cond_wait(&c->work, &c->mu);
		if (c->closed)
			break;
		job = c->pending_head;
		c->pending_head = job->next;
		if (!c->pending_head)
			c->pending_tail = NULL;
		c->n_pending--;
		pthread_mutex_unlock(&c->mu);

		/* The job is ours alone now. */
		job->err = config_lookup_endpoint(job->host, job->port, &job->ep, job->msg,
		    sizeof(job->msg));

		pthread_mutex_lock(&c->mu);
		if (c->closed) {
			free(job);
			break;
		}
		job->next = c->done_head;
		c->done_head = job;
		/* Written under mu, so the loop cannot have closed it: see resolver_free. */
		ignored = write(c->wake_fd, &one, sizeof(one));
		(void)ignored;	/* an eventfd write fails only at a counter of 2^64 - 2 */
	}
	core_unref_locked(c, &last);
	pthread_mutex_unlock(&c->mu);
	if (last)
		core_destroy(c);
	return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	struct core *c = r->core;
	struct job *list, *job;
	uint64_t count;
	ssize_t ignored;
	size_t n = 0;

	(void)what;
	ignored = read(fd, &count, sizeof(count));
	(void)ignored;	/* EAGAIN: a previous call took these answers already */
	pthread_mutex_lock(&c->mu);
	list = c->done_head;
	c->done_head = NULL;
	for (job = list; job; job = job->next)
		n++;
	c->outstanding -= n;
	pthread_mutex_unlock(&c->mu);
	/* The answers are the loop's alone now. */
	while ((job = list)) {
		list = job->next;
		r->done(r->ctx, job->key, job->tag, job->err, &job->ep, job->msg);
		free(job);
	}
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	struct core *c = r->core;
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t tid;
	unsigned started = 0;
	int ret = 0;

	(void)fd;
	(void)what;
	if (r->started)
		return;
	r->started = true;
	/* Workers take no signals: they go to the loop thread, where libevent handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (unsigned i = 0; i < RESOLVER_THREADS; i++) {
		pthread_mutex_lock(&c->mu);
		c->refs++;	/* the worker's, taken before it can run */
		pthread_mutex_unlock(&c->mu);
		ret = pthread_create(&tid, &attr, worker, c);
		if (ret != 0) {
			pthread_mutex_lock(&c->mu);
			c->refs--;
			pthread_mutex_unlock(&c->mu);
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started < RESOLVER_THREADS)
		log_errno(LOG_LEVEL_ERROR, -ret, "resolver: started %u of %d lookup threads",
		    started, RESOLVER_THREADS);
	if (!started)
		r->started = false;	/* try again at the next submit */
}

int resolver_new(struct resolver **out, struct event_base *base, resolver_done_fn *done,
    void *ctx)
{
	struct resolver *r;
	struct core *c;
	int ret;

	r = calloc(1, sizeof(*r));
	c = calloc(1, sizeof(*c));
	if (!r || !c) {
		free(r);
		free(c);
		return -ENOMEM;
	}
	r->core = c;
	r->done = done;
	r->ctx = ctx;
	c->refs = 1;
	c->wake_fd = -1;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		free(r);
		return -ENOMEM;
	}
	if (pthread_cond_init(&c->work, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		free(r);
		return -ENOMEM;
	}
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		ret = -errno;
		goto fail;
	}
	r->ev = event_new(base, c->wake_fd, EV_READ | EV_PERSIST, on_wake, r);
	r->start_ev = event_new(base, -1, 0, on_start, r);
	if (!r->ev || !r->start_ev || event_add(r->ev, NULL) < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	*out = r;
	return 0;
fail:
	resolver_free(r);
	return ret;
}

bool resolver_submit(struct resolver *r, const uint8_t key[WG_KEY_LEN], const char *host,
    const char *port, uint64_t tag)
{
	struct core *c = r->core;
	struct job *job;
	bool ok = false;

	if (strlen(host) >= sizeof(job->host) || strlen(port) >= sizeof(job->port))
		return false;
	job = calloc(1, sizeof(*job));
	if (!job)
		return false;
	memcpy(job->key, key, WG_KEY_LEN);
	job->tag = tag;
	memcpy(job->host, host, strlen(host) + 1);
	memcpy(job->port, port, strlen(port) + 1);
	pthread_mutex_lock(&c->mu);
	if (!c->closed && c->n_pending < RESOLVER_MAX_QUEUED) {
		if (c->pending_tail)
			c->pending_tail->next = job;
		else
			c->pending_head = job;
		c->pending_tail = job;
		c->n_pending++;
		c->outstanding++;
		pthread_cond_signal(&c->work);
		ok = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (!ok) {
		free(job);
		return false;
	}
	if (!r->started)
		event_active(r->start_ev, EV_TIMEOUT, 1);
	return true;
}

size_t resolver_pending(struct resolver *r)
{
	size_t n;

	pthread_mutex_lock(&r->core->mu);
	n = r->core->outstanding;
	pthread_mutex_unlock(&r->core->mu);
	return n;
}

static void jobs_free(struct job *list)
{
	struct job *job;

	while ((job = list)) {
		list = job->next;
		free(job);
	}
}

void resolver_free(struct resolver *r)
{
	struct core *c;
	struct job *pending, *done;
	bool last;

	if (!r)
		return;
	c = r->core;
	if (r->ev)
		event_free(r->ev);
	if (r->start_ev)
		event_free(r->start_ev);
	pthread_mutex_lock(&c->mu);
	c->closed = true;
	pending = c->pending_head;
	done = c->done_head;
	c->pending_head = c->pending_tail = c->done_head = NULL;
	c->n_pending = c->outstanding = 0;
	/* Under mu: a worker writes wake_fd only under mu and only while !closed. */
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->wake_fd = -1;
	pthread_cond_broadcast(&c->work);
	core_unref_locked(c, &last);
	pthread_mutex_unlock(&c->mu);
	jobs_free(pending);
	jobs_free(done);
	if (last)
		core_destroy(c);
	free(r);
}
