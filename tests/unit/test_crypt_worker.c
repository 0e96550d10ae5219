/* The crypto workers (tunneld/crypt_worker.c, crypt_ring.h): the SPSC ring at its edges, batches
 * coming back in submission order with the right bytes under 1..3 worker threads (many peers,
 * random batch sizes, seal and open mixed, forged packets among them), the bound on batches in
 * flight, the wake-ups, and a stop with batches in flight.  Every result is checked against
 * libsodium's ChaCha20-Poly1305 run here (the workers use the transport backend, OpenSSL).
 * crypt_pool_new starts its workers with pthread_create, so this runs under TSan too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <sodium.h>
#include <unistd.h>

#include "tunneld/wg/aead.h"
#include "tunneld/crypt_ring.h"
#include "tunneld/crypt_worker.h"
#include "tests/support/det_rng.h"

enum {
	PEERS = 37,
	MAX_PLAIN = 200,
	JOB_BUF = MAX_PLAIN + AEAD_TAG_LEN,
};

static struct rng draw = { .seed = 12 };

struct test_peer {
	uint8_t key[AEAD_KEY_LEN];
	uint64_t next_sent;	/* counter the next prepared job gets */
	uint64_t next_back;	/* counter the next finished job must have */
};

/* What the loop remembers about a job it submitted (the pool only sees the job). */
struct job_meta {
	unsigned peer;
	uint64_t counter;
	size_t plain_len;
	bool forged;
};

/* A batch with the buffers its jobs point into, as the device keeps them. */
struct slot {
	struct crypt_batch batch;
	struct job_meta meta[CRYPT_BATCH_MAX];
	uint8_t bufs[CRYPT_BATCH_MAX][JOB_BUF];
	bool busy;
};

static void plaintext(uint8_t *p, size_t len, unsigned peer, uint64_t counter)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(peer * 31 + counter * 7 + i);
}

static void reference_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
    const uint8_t key[AEAD_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_nonce_from_counter(nonce, counter);
	assert_true(aead_chacha20poly1305_encrypt_with(AEAD_BACKEND_SODIUM, dst, src, len, NULL, 0,
	    nonce, key));
}

/* Fills a free slot with n random jobs of op (for OPEN: sealed here, one in eight forged). */
static void slot_fill(struct slot *s, struct test_peer *peers, enum crypt_op op, unsigned n)
{
	s->batch.op = op;
	s->batch.n = n;
	for (unsigned i = 0; i < n; i++) {
		struct wg_data_job *j = &s->batch.jobs[i];
		struct job_meta *m = &s->meta[i];
		struct test_peer *p;

		m->peer = rng_below(&draw, PEERS);
		p = &peers[m->peer];
		m->counter = p->next_sent++;
		m->plain_len = rng_below(&draw, MAX_PLAIN + 1);
		m->forged = false;
		plaintext(s->bufs[i], m->plain_len, m->peer, m->counter);
		memcpy(j->key, p->key, sizeof(j->key));
		j->counter = m->counter;
		j->data = s->bufs[i];
		j->ok = false;
		if (op == CRYPT_SEAL) {
			j->len = m->plain_len;
		} else {
			reference_seal(s->bufs[i], s->bufs[i], m->plain_len, m->counter, p->key);
			j->len = m->plain_len + AEAD_TAG_LEN;
			if (rng_below(&draw, 8) == 0) {
				m->forged = true;
				s->bufs[i][rng_below(&draw, (uint32_t)j->len)] ^= (uint8_t)(1 + rng_below(&draw, 255));
			}
		}
	}
	s->busy = true;
}

/* Checks a batch that came back: in per-peer order, keys wiped, bytes right. */
static void slot_check(struct slot *s, struct test_peer *peers)
{
	static const uint8_t zero_key[AEAD_KEY_LEN];
	uint8_t want[JOB_BUF];

	for (unsigned i = 0; i < s->batch.n; i++) {
		const struct wg_data_job *j = &s->batch.jobs[i];
		const struct job_meta *m = &s->meta[i];
		struct test_peer *p = &peers[m->peer];

		assert_int_equal(m->counter, p->next_back);
		p->next_back++;
		assert_memory_equal(j->key, zero_key, sizeof(zero_key));
		plaintext(want, m->plain_len, m->peer, m->counter);
		if (s->batch.op == CRYPT_SEAL) {
			assert_true(j->ok);
			reference_seal(want, want, m->plain_len, m->counter, p->key);
			assert_memory_equal(j->data, want, m->plain_len + AEAD_TAG_LEN);
		} else if (m->forged) {
			assert_false(j->ok);
			memset(want, 0, m->plain_len);	/* wiped */
			assert_memory_equal(j->data, want, m->plain_len);
		} else {
			assert_true(j->ok);
			assert_memory_equal(j->data, want, m->plain_len);
		}
	}
	s->busy = false;
}

static struct slot *slot_of(struct slot *slots, struct crypt_batch *b)
{
	assert_non_null(b);
	for (unsigned i = 0; i < CRYPT_INFLIGHT_MAX; i++) {
		if (&slots[i].batch == b) {
			assert_true(slots[i].busy);
			return &slots[i];
		}
	}
	fail_msg("a batch that was not submitted came back");
	return NULL;
}

static void peers_init(struct test_peer *peers)
{
	for (unsigned i = 0; i < PEERS; i++) {
		randombytes_buf(peers[i].key, sizeof(peers[i].key));
		peers[i].next_sent = peers[i].next_back = 0;
	}
}

static void test_ring_edges(void **state)
{
	struct crypt_ring *r = malloc(sizeof(*r));
	uintptr_t next_in = 1, next_out = 1;

	(void)state;
	assert_non_null(r);
	crypt_ring_init(r);
	assert_null(crypt_ring_pop(r));
	for (unsigned i = 0; i < CRYPT_RING_SLOTS; i++)
		assert_true(crypt_ring_push(r, (void *)next_in++));
	assert_int_equal(crypt_ring_count(r), CRYPT_RING_SLOTS);
	assert_false(crypt_ring_push(r, (void *)next_in));	/* full: nothing written */
	assert_ptr_equal(crypt_ring_pop(r), (void *)next_out++);
	assert_true(crypt_ring_push(r, (void *)next_in++));	/* one freed, one fits */
	assert_false(crypt_ring_push(r, (void *)next_in));
	while (next_out < next_in)
		assert_ptr_equal(crypt_ring_pop(r), (void *)next_out++);
	assert_null(crypt_ring_pop(r));
	assert_int_equal(crypt_ring_count(r), 0);

	/* The free-running counters wrap around SIZE_MAX: order and bounds still hold. */
	atomic_store(&r->head, SIZE_MAX - 5);
	atomic_store(&r->tail, SIZE_MAX - 5);
	for (unsigned round = 0; round < 500; round++) {
		unsigned k = 1 + rng_below(&draw, CRYPT_RING_SLOTS);

		for (unsigned i = 0; i < k; i++)
			assert_true(crypt_ring_push(r, (void *)next_in++));
		if (k == CRYPT_RING_SLOTS)
			assert_false(crypt_ring_push(r, (void *)next_in));
		for (unsigned i = 0; i < k; i++)
			assert_ptr_equal(crypt_ring_pop(r), (void *)next_out++);
		assert_null(crypt_ring_pop(r));
	}
	assert_true(atomic_load(&r->head) < SIZE_MAX - 5);	/* it did wrap */
	free(r);
}

static void test_inline_run(void **state)
{
	struct test_peer peers[PEERS];
	struct slot *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	peers_init(peers);
	for (unsigned round = 0; round < 20; round++) {
		slot_fill(s, peers, round % 2 ? CRYPT_OPEN : CRYPT_SEAL, 1 + rng_below(&draw, CRYPT_BATCH_MAX));
		crypt_batch_run(&s->batch);
		slot_check(s, peers);
	}
	free(s);
}

/* The loop of a device: fill free slots and submit until the pool is full, take back what is
 * done in order, check it; batches random in size, operation and peers. */
static void order_under(unsigned workers, unsigned total_batches)
{
	struct test_peer peers[PEERS];
	struct slot *slots = calloc(CRYPT_INFLIGHT_MAX, sizeof(*slots));
	struct crypt_pool *pool = crypt_pool_new(workers);
	unsigned submitted = 0, back = 0, max_in_flight = 0;
	struct crypt_batch *b;

	assert_non_null(slots);
	assert_non_null(pool);
	peers_init(peers);
	while (back < total_batches) {
		while (submitted < total_batches && !crypt_pool_full(pool) && rng_below(&draw, 4) != 0) {
			struct slot *s = NULL;

			for (unsigned i = 0; i < CRYPT_INFLIGHT_MAX && !s; i++)
				s = slots[i].busy ? NULL : &slots[i];
			assert_non_null(s);
			slot_fill(s, peers, rng_below(&draw, 2) ? CRYPT_OPEN : CRYPT_SEAL,
			    1 + rng_below(&draw, CRYPT_BATCH_MAX));
			assert_true(crypt_pool_submit(pool, &s->batch));
			submitted++;
		}
		if (crypt_pool_in_flight(pool) > max_in_flight)
			max_in_flight = crypt_pool_in_flight(pool);
		/* Sometimes poll, sometimes wait for the oldest. */
		b = rng_below(&draw, 3) ? crypt_pool_next_done(pool) : crypt_pool_wait_done(pool);
		if (!b && submitted == total_batches)
			b = crypt_pool_wait_done(pool);
		if (b) {
			slot_check(slot_of(slots, b), peers);
			back++;
		}
	}
	assert_int_equal(crypt_pool_in_flight(pool), 0);
	assert_null(crypt_pool_wait_done(pool));
	assert_true(max_in_flight > 1);	/* the pipeline did run ahead of the loop */
	for (unsigned i = 0; i < PEERS; i++)
		assert_int_equal(peers[i].next_back, peers[i].next_sent);
	crypt_pool_free(pool);
	free(slots);
}

static void test_order_one_worker(void **state)
{
	(void)state;
	order_under(1, 400);
}

static void test_order_two_workers(void **state)
{
	(void)state;
	order_under(2, 400);
}

static void test_order_three_workers(void **state)
{
	(void)state;
	order_under(3, 300);
}

/* CRYPT_INFLIGHT_MAX batches and no more, whether or not the workers have run them: the bound
 * is on what the loop has not taken back. */
static void test_full(void **state)
{
	struct test_peer peers[PEERS];
	struct slot *slots = calloc(CRYPT_INFLIGHT_MAX + 1, sizeof(*slots));
	struct crypt_pool *pool = crypt_pool_new(1);
	struct crypt_batch *b;

	(void)state;
	assert_non_null(slots);
	assert_non_null(pool);
	peers_init(peers);
	assert_false(crypt_pool_full(pool));
	for (unsigned i = 0; i < CRYPT_INFLIGHT_MAX; i++) {
		slot_fill(&slots[i], peers, CRYPT_SEAL, 1);
		assert_true(crypt_pool_submit(pool, &slots[i].batch));
	}
	assert_true(crypt_pool_full(pool));
	slot_fill(&slots[CRYPT_INFLIGHT_MAX], peers, CRYPT_SEAL, 1);
	assert_false(crypt_pool_submit(pool, &slots[CRYPT_INFLIGHT_MAX].batch));
	assert_int_equal(crypt_pool_in_flight(pool), CRYPT_INFLIGHT_MAX);
	/* Refused, so still ours: nobody touched it. */
	assert_false(slots[CRYPT_INFLIGHT_MAX].batch.jobs[0].ok);
	/* Taking the oldest back makes room for exactly one. */
	b = crypt_pool_wait_done(pool);
	assert_ptr_equal(b, &slots[0].batch);
	slot_check(&slots[0], peers);
	assert_false(crypt_pool_full(pool));
	assert_true(crypt_pool_submit(pool, &slots[CRYPT_INFLIGHT_MAX].batch));
	assert_true(crypt_pool_full(pool));
	for (unsigned i = 1; i <= CRYPT_INFLIGHT_MAX; i++) {
		b = crypt_pool_wait_done(pool);
		assert_ptr_equal(b, &slots[i].batch);
		slot_check(&slots[i], peers);
	}
	assert_null(crypt_pool_next_done(pool));
	crypt_pool_free(pool);
	free(slots);
}

/* The loop's wait: armed, it is woken by the completion through the fd; the worker sleeps in
 * between (each batch comes after the worker went idle), so both wake-ups are exercised. */
static void test_wakeups(void **state)
{
	struct test_peer peers[PEERS];
	struct slot *s = calloc(1, sizeof(*s));
	struct crypt_pool *pool = crypt_pool_new(1);
	struct pollfd pfd;
	unsigned woken = 0;

	(void)state;
	assert_non_null(s);
	assert_non_null(pool);
	peers_init(peers);
	pfd.fd = crypt_pool_event_fd(pool);
	pfd.events = POLLIN;
	assert_true(crypt_pool_arm(pool));	/* nothing in flight */
	assert_null(crypt_pool_wait_done(pool));
	for (unsigned round = 0; round < 200; round++) {
		struct crypt_batch *b = NULL;

		slot_fill(s, peers, CRYPT_SEAL, 1 + rng_below(&draw, 4));
		assert_true(crypt_pool_submit(pool, &s->batch));
		while (!b) {
			if (crypt_pool_arm(pool)) {
				/* Armed with the batch not done: the fd must come. */
				assert_int_equal(poll(&pfd, 1, 10000), 1);
				crypt_pool_ack(pool);
				woken++;
			}
			b = crypt_pool_next_done(pool);
		}
		assert_ptr_equal(b, &s->batch);
		slot_check(s, peers);
		if (round % 16 == 0)
			usleep(2000);	/* let the worker fall asleep */
	}
	assert_true(woken > 0);
	crypt_pool_free(pool);
	free(s);
}

/* Stopping with batches in flight: every batch submitted is run and comes back, in order,
 * without waiting; nothing more is accepted.  Freeing a pool with batches not taken back
 * leaves them alone (sanitizers: no use after free, no leak). */
static void test_stop_in_flight(void **state)
{
	struct test_peer peers[PEERS];
	struct slot *slots = calloc(CRYPT_INFLIGHT_MAX, sizeof(*slots));
	struct crypt_pool *pool = crypt_pool_new(2);

	(void)state;
	assert_non_null(slots);
	assert_non_null(pool);
	peers_init(peers);
	for (unsigned i = 0; i < CRYPT_INFLIGHT_MAX; i++) {
		slot_fill(&slots[i], peers, i % 2 ? CRYPT_OPEN : CRYPT_SEAL, CRYPT_BATCH_MAX);
		assert_true(crypt_pool_submit(pool, &slots[i].batch));
	}
	crypt_pool_stop(pool);
	crypt_pool_stop(pool);	/* idempotent */
	assert_false(crypt_pool_submit(pool, &slots[0].batch));
	for (unsigned i = 0; i < CRYPT_INFLIGHT_MAX; i++) {
		struct crypt_batch *b = crypt_pool_next_done(pool);

		assert_ptr_equal(b, &slots[i].batch);
		slot_check(&slots[i], peers);
	}
	assert_null(crypt_pool_next_done(pool));
	crypt_pool_free(pool);

	pool = crypt_pool_new(3);
	assert_non_null(pool);
	for (unsigned i = 0; i < 8; i++) {
		slot_fill(&slots[i], peers, CRYPT_SEAL, CRYPT_BATCH_MAX);
		assert_true(crypt_pool_submit(pool, &slots[i].batch));
	}
	crypt_pool_free(pool);
	free(slots);
}

static void test_bad_counts(void **state)
{
	(void)state;
	assert_null(crypt_pool_new(0));
	assert_null(crypt_pool_new(CRYPT_WORKERS_MAX + 1));
	crypt_pool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_edges),
		cmocka_unit_test(test_inline_run),
		cmocka_unit_test(test_order_one_worker),
		cmocka_unit_test(test_order_two_workers),
		cmocka_unit_test(test_order_three_workers),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_wakeups),
		cmocka_unit_test(test_stop_in_flight),
		cmocka_unit_test(test_bad_counts),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
