/* Endpoint names looked up off the event loop: a fixed pool of worker threads runs getaddrinfo
 * and hands each answer back to the loop, so a slow or silent DNS server never stalls traffic.
 * Every name lookup tunneld makes after start goes through here (config and roster endpoints,
 * SIGHUP reloads, re-resolution of silent peers).
 *
 * Ownership (who may touch what, and who frees it):
 *  - struct resolver is the loop's handle: only the loop thread touches it, and it is freed by
 *    resolver_free() on the loop thread.  The workers never see it.
 *  - The workers share one core with the loop (queues, mutex, condition variable, a reference
 *    count).  Every field of the core is read and written under its mutex.  The loop holds one
 *    reference and each running worker one; whoever drops the last frees the core, so
 *    resolver_free() never waits for a lookup stuck in DNS, and a worker finishing after it
 *    never touches freed memory.
 *  - A lookup ("job") belongs to exactly one party at a time: the pending queue (under the
 *    mutex), then the worker that dequeued it, alone, while getaddrinfo runs, then the done
 *    queue (under the mutex), then the loop, which delivers and frees it.  After resolver_free
 *    the queues are emptied and a worker that finishes frees its own job: no answer is
 *    delivered after resolver_free returns.
 *  - The worker threads are started from the event loop, at the first dispatch after a
 *    submit, never before: privilege_drop() runs before the loop and lowers the privileges of
 *    the calling thread only (capset is per thread), so no thread may exist before it. */
#ifndef TUNNELD_RESOLVER_H
#define TUNNELD_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "wg/engine.h"

enum {
	/* Worker threads, so one name stuck on a silent DNS server does not hold up the rest. */
	RESOLVER_THREADS = 4,
	/* Lookups waiting for a worker, over all peers: one per peer of the largest roster. */
	RESOLVER_MAX_QUEUED = 65536,
};

struct event_base;
struct resolver;

/* Called on the loop thread with the answer to the lookup submitted with (key, tag): err 0
 * and ep, or a negative errno and the resolver's message (msg, NUL-terminated).  ep and msg
 * are borrowed for the call.  The callback must not call resolver_free(). */
typedef void resolver_done_fn(void *ctx, const uint8_t key[WG_KEY_LEN], uint64_t tag, int err,
    const union wg_sockaddr *ep, const char *msg);

/* 0 or a negative errno.  *out belongs to the caller, freed with resolver_free(). */
int resolver_new(struct resolver **out, struct event_base *base, resolver_done_fn *done,
    void *ctx);
/* Queues a lookup of host:port (a name or a literal; port numeric) for the peer key; tag comes
 * back with the answer, so the caller can tell an answer it still wants from a stale one.
 * host and port are copied.  false if host or port is too long, the queue holds
 * RESOLVER_MAX_QUEUED lookups or memory ran out (try again later). */
bool resolver_submit(struct resolver *r, const uint8_t key[WG_KEY_LEN], const char *host,
    const char *port, uint64_t tag);
/* Lookups queued or running, for tests and the debug log. */
size_t resolver_pending(struct resolver *r);
/* Stops delivering answers and drops every queued lookup; lookups already in getaddrinfo
 * finish in their threads, which then exit.  Returns at once.  NULL is a no-op. */
void resolver_free(struct resolver *r);

#endif
