#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "resolver.h"

struct job {
	struct resolver *r;
	struct job *next;
	uint8_t key[WG_KEY_LEN];
	char host[256];
	char port[8];
};

struct resolver {
	struct event *ev;
	int rfd;
	int wfd;
	atomic_uint inflight;
	struct job *queue_head;		/* waiting for a free thread slot, oldest first */
	struct job *queue_tail;
	size_t queued;
	resolver_done_fn *done;
	void *ctx;
};

/* One answer, written to the pipe in a single write(): smaller than PIPE_BUF, so atomic. */
struct answer {
	uint8_t key[WG_KEY_LEN];
	int err;
	union wg_sockaddr ep;
	char msg[160];
};
_Static_assert(sizeof(struct answer) <= 4096, "answer fits PIPE_BUF");

static void *lookup(void *arg)
{
	struct job *job = arg;
	struct answer a;
	ssize_t ignored;

	memset(&a, 0, sizeof(a));
	memcpy(a.key, job->key, WG_KEY_LEN);
	a.err = config_resolve_endpoint(job->host, job->port, &a.ep, a.msg, sizeof(a.msg));
	ignored = write(job->r->wfd, &a, sizeof(a));
	(void)ignored;
	atomic_fetch_sub(&job->r->inflight, 1);
	free(job);
	return NULL;
}

/* Starts queued lookups while thread slots are free. */
static void pump(struct resolver *r)
{
	pthread_attr_t attr;
	pthread_t tid;
	struct job *job;

	while (r->queue_head && atomic_load(&r->inflight) < RESOLVER_MAX_INFLIGHT) {
		job = r->queue_head;
		atomic_fetch_add(&r->inflight, 1);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&tid, &attr, lookup, job) != 0) {
			atomic_fetch_sub(&r->inflight, 1);
			pthread_attr_destroy(&attr);
			return;		/* try again when an answer frees a slot */
		}
		pthread_attr_destroy(&attr);
		r->queue_head = job->next;
		if (!r->queue_head)
			r->queue_tail = NULL;
		r->queued--;
	}
}

static void on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	struct answer a;

	(void)what;
	while (read(fd, &a, sizeof(a)) == (ssize_t)sizeof(a))
		r->done(r->ctx, a.key, a.err, &a.ep, a.msg);
	pump(r);
}

int resolver_new(struct resolver **out, struct event_base *base, resolver_done_fn *done,
    void *ctx)
{
	struct resolver *r;
	int fds[2];

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(r);
		return -errno;
	}
	r->rfd = fds[0];
	r->wfd = fds[1];
	r->done = done;
	r->ctx = ctx;
	r->ev = event_new(base, r->rfd, EV_READ | EV_PERSIST, on_answer, r);
	if (!r->ev || event_add(r->ev, NULL) < 0) {
		resolver_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

bool resolver_submit(struct resolver *r, const uint8_t key[WG_KEY_LEN], const char *host,
    const char *port)
{
	struct job *job;

	if (r->queued >= RESOLVER_MAX_QUEUED)
		return false;
	job = calloc(1, sizeof(*job));
	if (!job)
		return false;
	job->r = r;
	memcpy(job->key, key, WG_KEY_LEN);
	snprintf(job->host, sizeof(job->host), "%s", host);
	snprintf(job->port, sizeof(job->port), "%s", port);
	if (r->queue_tail)
		r->queue_tail->next = job;
	else
		r->queue_head = job;
	r->queue_tail = job;
	r->queued++;
	pump(r);
	return true;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	while (r->queue_head) {
		struct job *job = r->queue_head;

		r->queue_head = job->next;
		free(job);
	}
	if (r->ev)
		event_free(r->ev);
	close(r->rfd);
	/* A lookup still running writes to wfd when it ends: keep the pipe's write end (and the
	 * struct it reaches through job->r) alive until the last one has, rather than let a
	 * reused descriptor receive its answer.  Only at exit can lookups be left over. */
	if (atomic_load(&r->inflight) == 0) {
		close(r->wfd);
		free(r);
	}
}
