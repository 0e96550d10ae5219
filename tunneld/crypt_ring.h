/* A bounded single-producer/single-consumer ring of pointers: the lock-free hand-off of
 * crypto batches from the event-loop thread (the one producer) to one crypto worker (the one
 * consumer).  C11 atomics only: the producer owns head, the consumer owns tail, each reads the
 * other's so that what was written into a slot (and into the batch it points to) before the
 * store is visible to the other side.  The head is stored and loaded sequentially consistent
 * (not merely release/acquire): the sleep/wake-up handshake of crypt_worker.c is a
 * store-then-load on each side (Dekker) and needs the one total order; it costs one locked
 * instruction per batch, not per packet.  Header-only: two tiny functions on
 * the hot path, inlined. */
#ifndef TUNNELD_CRYPT_RING_H
#define TUNNELD_CRYPT_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Slots per ring, a power of two.  A ring holds batches, not packets: 64 batches of up to 64
 * packets each is more than a device ever has in flight (crypt_worker.h). */
enum { CRYPT_RING_SLOTS = 64 };

struct crypt_ring {
	/* Free-running counters (slot = counter % CRYPT_RING_SLOTS), on their own cache lines
	 * so that the two threads do not bounce one line on every hand-off. */
	_Alignas(64) atomic_size_t head;	/* next slot to fill: written by the producer only */
	_Alignas(64) atomic_size_t tail;	/* next slot to take: written by the consumer only */
	_Alignas(64) void *slots[CRYPT_RING_SLOTS];
};

static inline void crypt_ring_init(struct crypt_ring *r)
{
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	for (size_t i = 0; i < CRYPT_RING_SLOTS; i++)
		r->slots[i] = NULL;
}

/* Producer only.  false when the ring is full (nothing is written). */
static inline bool crypt_ring_push(struct crypt_ring *r, void *item)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (head - tail >= CRYPT_RING_SLOTS)
		return false;
	r->slots[head % CRYPT_RING_SLOTS] = item;
	atomic_store_explicit(&r->head, head + 1, memory_order_seq_cst);
	return true;
}

/* Consumer only.  The oldest item, or NULL when the ring is empty. */
static inline void *crypt_ring_pop(struct crypt_ring *r)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
	void *item;

	if (tail == head)
		return NULL;
	item = r->slots[tail % CRYPT_RING_SLOTS];
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return item;
}

/* Either side; a snapshot (exact when called by the consumer about emptiness, or by the
 * producer about fullness). */
static inline size_t crypt_ring_count(struct crypt_ring *r)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	return head - tail;
}

#endif
