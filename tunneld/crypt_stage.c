/* The device's crypto stage: batches of jobs on sets of packet buffers, handed to the crypto
 * workers and finished in order on the loop thread (crypt_stage.h). */
#include "crypt_stage.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypt_worker.h"
#include "wg/aead.h"
#include "log.h"
#include "peer.h"
#include "receive.h"
#include "send.h"

/* Batches per buffer set: a round of DEVICE_BATCH reads usually gives one batch, but UDP GRO
 * trains can give many more datagrams; then the batch is handed over when full and the next
 * one fills on the same buffers. */
enum { BATCHES_PER_SET = 2 };

_Static_assert(BATCHES_PER_SET * (2 + 2 * (int)CRYPT_WORKERS_MAX) <= (int)CRYPT_INFLIGHT_MAX,
    "every batch can be in flight");

/* What the loop remembers of a job; the worker sees only the job. */
struct tx_meta {
	struct peer *peer;	/* NULL: removed while in flight (crypt_stage_forget_peer) */
	uint8_t *msg;		/* the datagram: header written, the rest sealed by the job */
	size_t msg_len;
};

struct rx_meta {
	struct udp_endpoint from;
	uint8_t *msg;		/* the datagram as received; plaintext in place once opened */
	size_t msg_len;
	struct wg_rx_pending pending;
};

/* DEVICE_BATCH packet buffers, read into by one path at a time. */
struct buf_set {
	uint8_t *mem;		/* DEVICE_BATCH x dev->buf_size */
	unsigned batches;	/* busy batches whose jobs point into mem; 0: free */
};

/* A batch and what the loop remembers of its jobs. */
struct slot {
	struct crypt_batch batch;
	bool busy;		/* filling or in flight */
	bool tx;		/* a send batch (meta.tx), else a receive batch (meta.rx) */
	struct buf_set *set;
	union {
		struct tx_meta tx[CRYPT_BATCH_MAX];
		struct rx_meta rx[CRYPT_BATCH_MAX];
	} meta;
};

struct crypt_stage {
	struct crypt_pool *pool;
	struct event *ev_done;
	/* 2 + 2 x workers buffer sets: each direction fills one while its others are in
	 * flight; BATCHES_PER_SET times as many batches. */
	struct buf_set *sets;
	unsigned n_sets;
	struct slot *slots;
	unsigned n_slots;
	struct slot *tx_filling;
	struct slot *rx_filling;
	/* The device's own buffers (the first two sets), given back at stop; the other sets'
	 * are in mem. */
	uint8_t *dev_tx_bufs;
	uint8_t *dev_rx_bufs;
	uint8_t *mem;
	size_t mem_len;
};

static size_t slot_bytes(const struct device *dev)
{
	return dev->buf_size * DEVICE_BATCH;
}

static struct slot *slot_of(struct crypt_batch *b)
{
	return (struct slot *)((uint8_t *)b - offsetof(struct slot, batch));
}

static void slot_release(struct slot *s)
{
	s->batch.n = 0;
	s->busy = false;
	s->set->batches--;
	s->set = NULL;
}

/* Datagrams of a sealed batch leave in order (per peer: in counter order). */
static void finish_tx(struct device *dev, struct slot *s)
{
	for (unsigned i = 0; i < s->batch.n; i++) {
		const struct wg_data_job *j = &s->batch.jobs[i];
		struct tx_meta *m = &s->meta.tx[i];
		struct peer *p = m->peer;

		if (!p || !j->ok || p->endpoint.addr.sa.sa_family == AF_UNSPEC) {
			/* Removed while in flight, or the seal failed: whatever the buffer holds
			 * is not sent, and any plaintext left in it is wiped. */
			sodium_memzero(m->msg, m->msg_len);
			dev->stats.tx_dropped++;
			continue;
		}
		p->tx_bytes += m->msg_len;
		p->tx_packets++;
		udp_send_batch_add(family_batch(dev, &p->endpoint), &dev->udp, &p->endpoint, m->msg,
		    m->msg_len);
	}
	/* Before the slot is reused: the send batches point into it. */
	dev->stats.tx_dropped += udp_send_batch_flush(&dev->send4, &dev->udp);
	dev->stats.tx_dropped += udp_send_batch_flush(&dev->send6, &dev->udp);
}

/* Opened data messages, finished in the order they arrived: authentication result, replay
 * window and session on this thread, then delivery. */
static void finish_rx(struct device *dev, struct slot *s)
{
	uint64_t now = clock_now_ns(), wall = clock_wall_ns();
	struct wg_rx rx;
	enum wg_rx_kind kind;

	for (unsigned i = 0; i < s->batch.n; i++) {
		const struct wg_data_job *j = &s->batch.jobs[i];
		struct rx_meta *m = &s->meta.rx[i];

		kind = wg_engine_receive_finish(dev->engine, m->msg, m->msg_len, &m->pending, j->ok,
		    now, wall, &rx);
		receive_result(dev, &m->from, m->msg, m->msg_len, kind, &rx, NULL, now);
		/* Nothing of a dropped packet's plaintext stays (authentic but replayed, for
		 * a removed peer, malformed inside); a forged one was wiped by the open. */
		if (kind != WG_RX_DATA && j->ok)
			sodium_memzero(j->data, j->len - AEAD_TAG_LEN);
	}
	receive_batch_end(dev);
}

static void finish(struct device *dev, struct slot *s)
{
	if (s->tx)
		finish_tx(dev, s);
	else
		finish_rx(dev, s);
	slot_release(s);
}

/* Takes back and finishes every batch that is done, oldest first. */
static void finish_done(struct device *dev)
{
	struct crypt_stage *cs = dev->crypt;
	struct crypt_batch *b;

	while ((b = crypt_pool_next_done(cs->pool)))
		finish(dev, slot_of(b));
}

/* Asks for a wake-up when batches are in flight; finishes what is done meanwhile. */
static void arm(struct device *dev)
{
	struct crypt_stage *cs = dev->crypt;

	while (!crypt_pool_arm(cs->pool))
		finish_done(dev);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;

	(void)fd;
	(void)what;
	crypt_pool_ack(dev->crypt->pool);
	finish_done(dev);
	arm(dev);
	device_rearm_touched(dev);
}

/* Waits for the oldest batch in flight and finishes it (backpressure: the loop reads nothing
 * meanwhile).  Something is in flight whenever no slot or set is free: only the two filling
 * batches are busy without being in flight, and there are more of each. */
static void wait_oldest(struct device *dev)
{
	struct crypt_batch *b = crypt_pool_wait_done(dev->crypt->pool);

	if (b)
		finish(dev, slot_of(b));
}

/* A free batch on set, for direction tx. */
static struct slot *slot_take(struct device *dev, struct buf_set *set, bool tx)
{
	struct crypt_stage *cs = dev->crypt;

	for (;;) {
		for (unsigned i = 0; i < cs->n_slots; i++) {
			struct slot *s = &cs->slots[i];

			if (!s->busy) {
				s->busy = true;
				s->tx = tx;
				s->batch.n = 0;
				s->set = set;
				set->batches++;
				return s;
			}
		}
		wait_oldest(dev);
	}
}

/* A set of buffers no batch points into. */
static struct buf_set *set_take(struct device *dev)
{
	struct crypt_stage *cs = dev->crypt;

	for (;;) {
		for (unsigned i = 0; i < cs->n_sets; i++) {
			if (cs->sets[i].batches == 0)
				return &cs->sets[i];
		}
		wait_oldest(dev);
	}
}

/* Hands the filled batch over, or runs it here when it is small and nothing is in flight
 * (then the order is kept without the round trip), or finishes it empty. */
static void submit(struct device *dev, struct slot *s)
{
	struct crypt_stage *cs = dev->crypt;

	if (s->batch.n <= CRYPT_INLINE_MAX && crypt_pool_in_flight(cs->pool) == 0) {
		crypt_batch_run(&s->batch);
		finish(dev, s);
		return;
	}
	if (!crypt_pool_submit(cs->pool, &s->batch)) {
		/* Not reached: there are fewer batches than CRYPT_INFLIGHT_MAX.  Keep the order
		 * anyway: wait for everything in flight, then run it here. */
		struct crypt_batch *b;

		while ((b = crypt_pool_wait_done(cs->pool)))
			finish(dev, slot_of(b));
		crypt_batch_run(&s->batch);
		finish(dev, s);
	}
}

/* The batch filling in one direction (*filling) has room for one more job: when it is full,
 * it goes, and the next fills on the same buffers (a round gave more than a batch). */
static struct slot *room(struct device *dev, struct slot **filling)
{
	struct slot *full = *filling;

	if (full->batch.n < CRYPT_BATCH_MAX)
		return full;
	/* The new batch holds the set first, so that it stays the path's. */
	*filling = slot_take(dev, full->set, full->tx);
	full->batch.op = full->tx ? CRYPT_SEAL : CRYPT_OPEN;
	submit(dev, full);
	return *filling;
}

void crypt_stage_tx_add(struct device *dev, struct peer *p, uint8_t *buf, size_t len,
    uint64_t now)
{
	struct slot *s = room(dev, &dev->crypt->tx_filling);
	struct wg_data_job *j = &s->batch.jobs[s->batch.n];
	struct tx_meta *m = &s->meta.tx[s->batch.n];
	size_t msg_len;

	if (wg_peer_encrypt_prepare(p->wg, buf + WG_DATA_HEADROOM, len, now, &msg_len, j) !=
	    WG_SEND_OK) {
		peer_stage(p, buf + WG_DATA_HEADROOM, len);
		return;
	}
	m->peer = p;
	m->msg = buf;
	m->msg_len = msg_len;
	s->batch.n++;
}

/* The end of a round in one direction: the batch being filled (*filling) goes (or is run
 * here), and the path reads into a free set of buffers (*bufs) from now on, filling a new
 * batch; what is done is finished.  A round that gave no job keeps its set, unless earlier
 * batches of the round (room) still point into it. */
static void round_end(struct device *dev, struct slot **filling, uint8_t **bufs, bool tx)
{
	struct slot *s = *filling;
	struct buf_set *set;

	if (s->batch.n || s->set->batches > 1) {
		if (s->batch.n) {
			s->batch.op = tx ? CRYPT_SEAL : CRYPT_OPEN;
			submit(dev, s);
		} else {
			slot_release(s);
		}
		/* Run here and finished: its set may be free again at once, and is reused. */
		set = set_take(dev);
		*filling = slot_take(dev, set, tx);
		*bufs = set->mem;
	}
	finish_done(dev);
	arm(dev);
}

void crypt_stage_tx_end(struct device *dev)
{
	round_end(dev, &dev->crypt->tx_filling, &dev->tx_bufs, true);
}

enum wg_rx_kind crypt_stage_rx_prepare(struct device *dev, const struct udp_endpoint *from,
    uint8_t *buf, size_t len, uint64_t now, uint64_t wall, uint8_t *out, size_t out_cap,
    struct wg_rx *rx)
{
	struct slot *s = room(dev, &dev->crypt->rx_filling);
	struct wg_data_job *j = &s->batch.jobs[s->batch.n];
	struct rx_meta *m = &s->meta.rx[s->batch.n];
	enum wg_rx_kind kind;

	kind = wg_engine_receive_prepare(dev->engine, &from->addr, buf, len, now, wall, out,
	    out_cap, rx, j, &m->pending);
	if (kind != WG_RX_PENDING)
		return kind;
	m->from = *from;
	m->msg = buf;
	m->msg_len = len;
	s->batch.n++;
	return kind;
}

void crypt_stage_rx_end(struct device *dev)
{
	round_end(dev, &dev->crypt->rx_filling, &dev->rx_bufs, false);
}

void crypt_stage_forget_peer(struct device *dev, const struct peer *p)
{
	struct crypt_stage *cs = dev->crypt;

	if (!cs)
		return;
	/* At most a few slots of DEVICE_BATCH entries.  Receive jobs name no peer: their finish
	 * looks the keypair up again by index, and a removed peer's is gone. */
	for (unsigned i = 0; i < cs->n_slots; i++) {
		struct slot *s = &cs->slots[i];

		if (!s->busy || !s->tx)
			continue;
		for (unsigned k = 0; k < s->batch.n; k++) {
			if (s->meta.tx[k].peer == p)
				s->meta.tx[k].peer = NULL;
		}
	}
}

int crypt_stage_start(struct device *dev, unsigned workers)
{
	struct crypt_stage *cs;
	int ret;

	if (workers == 0)
		return 0;
	if (workers > CRYPT_WORKERS_MAX) {
		log_error("crypto workers: %u is more than %d", workers, CRYPT_WORKERS_MAX);
		return -EINVAL;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs) {
		log_error("crypto workers: out of memory");
		return -ENOMEM;
	}
	/* Two sets are the device's own buffers; the others get theirs here. */
	cs->n_sets = 2 + 2 * workers;
	cs->n_slots = BATCHES_PER_SET * cs->n_sets;
	cs->sets = calloc(cs->n_sets, sizeof(*cs->sets));
	cs->slots = calloc(cs->n_slots, sizeof(*cs->slots));
	cs->mem_len = slot_bytes(dev) * (cs->n_sets - 2);
	cs->mem = device_buffers_map(cs->mem_len);
	cs->pool = crypt_pool_new(workers);
	if (!cs->pool) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, errno, "crypto workers: cannot start %u", workers);
		goto fail;
	}
	if (!cs->mem || !cs->slots || !cs->sets) {
		ret = -ENOMEM;
		log_error("crypto workers: out of memory");
		goto fail;
	}
	cs->ev_done = event_new(dev->base, crypt_pool_event_fd(cs->pool), EV_READ | EV_PERSIST,
	    on_done, dev);
	if (!cs->ev_done || event_add(cs->ev_done, NULL) < 0) {
		ret = -ENOMEM;
		log_error("crypto workers: cannot watch the completions");
		goto fail;
	}
	cs->dev_tx_bufs = dev->tx_bufs;
	cs->dev_rx_bufs = dev->rx_bufs;
	cs->sets[0].mem = dev->tx_bufs;
	cs->sets[1].mem = dev->rx_bufs;
	for (unsigned i = 2; i < cs->n_sets; i++)
		cs->sets[i].mem = cs->mem + (i - 2) * slot_bytes(dev);
	dev->crypt = cs;	/* slot_take: no waiting, everything is free */
	cs->tx_filling = slot_take(dev, &cs->sets[0], true);
	cs->rx_filling = slot_take(dev, &cs->sets[1], false);
	log_info("%s: crypto on %u worker thread%s", dev->ifname, workers, workers == 1 ? "" : "s");
	return 0;

fail:
	if (cs->ev_done)
		event_free(cs->ev_done);
	crypt_pool_free(cs->pool);
	if (cs->mem)
		device_buffers_unmap(cs->mem, cs->mem_len);
	free(cs->slots);
	free(cs->sets);
	free(cs);
	return ret;
}

void crypt_stage_stop(struct device *dev)
{
	struct crypt_stage *cs = dev->crypt;
	struct crypt_batch *b;

	if (!cs)
		return;
	crypt_pool_stop(cs->pool);
	/* Every batch is back and done: none is sent or delivered (the device is going),
	 * and the buffers are wiped below. */
	while ((b = crypt_pool_next_done(cs->pool)))
		slot_release(slot_of(b));
	event_free(cs->ev_done);
	crypt_pool_free(cs->pool);
	dev->tx_bufs = cs->dev_tx_bufs;
	dev->rx_bufs = cs->dev_rx_bufs;
	device_buffers_unmap(cs->mem, cs->mem_len);
	sodium_memzero(cs->slots, cs->n_slots * sizeof(*cs->slots));
	free(cs->slots);
	free(cs->sets);
	sodium_memzero(cs, sizeof(*cs));
	free(cs);
	dev->crypt = NULL;
}
