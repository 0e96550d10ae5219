/* Crypto workers: the AEAD of transport data (ChaCha20-Poly1305 seal and open) on threads of
 * their own, so that a second core works while the event loop does the system calls.
 *
 * Division of labour.  The event-loop thread keeps every piece of protocol state (engine,
 * keypairs, counters, replay windows, timers) and is the only thread that touches it.  It
 * "prepares" each packet (chooses the keypair, assigns the counter), copies what the seal or
 * open needs into a crypt_job (the key by value, the counter, the buffer), and hands a whole
 * batch of jobs to a worker.  A worker sees nothing but the jobs: no peer, no keypair, so the
 * lifetime of those is never shared between threads.  When the batch comes back the loop
 * "finishes" each job in order (sends the datagrams; checks the replay window and delivers).
 *
 * Hand-off: one bounded single-producer/single-consumer ring per worker (crypt_ring.h), no
 * lock.  A worker that finds its ring empty sleeps on an eventfd, which the loop writes only
 * when the worker said it was going to sleep; a worker writes the pool's eventfd only when the
 * loop said it was going to wait (crypt_pool_arm).  A busy pipeline makes no system call.
 *
 * Order: batches come back in the order they were submitted, whatever worker ran them
 * (crypt_pool_next_done returns only the oldest), so per-peer order needs nothing more.
 *
 * Threads: every function here is for the loop thread (the one producer), except that the
 * workers run crypt_batch_run.  No allocation after crypt_pool_new. */
#ifndef TUNNELD_CRYPT_WORKER_H
#define TUNNELD_CRYPT_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/engine.h"

enum {
	/* Jobs per batch: one batch is what one receive or TUN read round gathers. */
	CRYPT_BATCH_MAX = 64,
	/* Batches submitted and not yet taken back, over all workers (bounds the memory and the
	 * latency in flight; the ring of each worker holds at least this many). */
	CRYPT_INFLIGHT_MAX = 64,
	/* Workers a pool may have (tunneld --crypto-workers). */
	CRYPT_WORKERS_MAX = 8,
};

enum crypt_op {
	CRYPT_SEAL,	/* wg_data_job_seal each job */
	CRYPT_OPEN,	/* wg_data_job_open each job */
};

struct crypt_batch {
	enum crypt_op op;
	unsigned n;		/* jobs[0..n) */
	/* One packet's AEAD each (wg/engine.h: the key is a copy, wiped once used; data points
	 * into the caller's buffer, untouched by the pool otherwise). */
	struct wg_data_job jobs[CRYPT_BATCH_MAX];
	/* Set by the worker (release) when every job is done; the pool's, between submit and
	 * crypt_pool_next_done. */
	atomic_bool done;
};

struct crypt_pool;

/* Runs every job of b on the calling thread (the inline path, and the workers' loop).  Wipes
 * each job's key. */
void crypt_batch_run(struct crypt_batch *b);

/* Starts workers threads (1..CRYPT_WORKERS_MAX), named "crypt0", "crypt1"..., with every
 * signal blocked.  Returns NULL with errno set (EINVAL, ENOMEM, or pthread_create's). */
struct crypt_pool *crypt_pool_new(unsigned workers);
/* Stops the workers (crypt_pool_stop) and frees the pool.  Batches not taken back are the
 * caller's (they are never touched again).  NULL is a no-op. */
void crypt_pool_free(struct crypt_pool *pool);
/* Lets the workers finish every batch submitted so far, then joins them.  Afterwards
 * crypt_pool_next_done returns the remaining batches, all done, without blocking; nothing
 * more may be submitted.  Idempotent. */
void crypt_pool_stop(struct crypt_pool *pool);

/* Hands b (b->op, b->n and the jobs filled in) to the next worker, round robin.  From now
 * until crypt_pool_next_done returns it, b and the buffers of its jobs belong to the pool.
 * false, with b still the caller's, when CRYPT_INFLIGHT_MAX batches are in flight or the pool
 * is stopped: the caller stops reading (backpressure) until one comes back. */
bool crypt_pool_submit(struct crypt_pool *pool, struct crypt_batch *b);
/* The oldest batch in flight if it is done (it is the caller's again), else NULL.  Batches
 * come back in submission order only. */
struct crypt_batch *crypt_pool_next_done(struct crypt_pool *pool);
/* Like crypt_pool_next_done, but waits for the oldest batch; NULL only when none is in
 * flight.  For draining (a peer's order across a change of path, shutdown). */
struct crypt_batch *crypt_pool_wait_done(struct crypt_pool *pool);
/* Batches submitted and not yet taken back. */
unsigned crypt_pool_in_flight(const struct crypt_pool *pool);
bool crypt_pool_full(const struct crypt_pool *pool);

/* Completion wake-ups for the event loop.  The fd (nonblocking eventfd) becomes readable
 * after crypt_pool_arm answered true and a batch completed since.  The loop reads it with
 * crypt_pool_ack, takes back what is done, and arms again while batches are in flight. */
int crypt_pool_event_fd(const struct crypt_pool *pool);
void crypt_pool_ack(struct crypt_pool *pool);
/* "The loop is about to wait."  true: it may wait (nothing in flight, or the fd will be
 * written when a batch completes); false: the oldest batch is done already, take it back
 * now (no wake-up will come for it). */
bool crypt_pool_arm(struct crypt_pool *pool);

#endif
