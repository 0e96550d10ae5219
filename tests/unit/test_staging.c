/* The staging pool (peer.c): packets waiting for a handshake are plaintext, so a slot goes back
 * to the pool wiped, and only the bytes it held are touched.  Drives peer_stage and
 * peer_drop_staged on a device with a pool of its own (no TUN, no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunneld/device.h"
#include "tunneld/peer.h"

enum { POOL = MAX_STAGED_PACKETS + 2 };

struct fixture {
	struct device dev;
	struct peer peer;
	uint8_t *mem;
	size_t buf_size;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t i;

	assert_non_null(f);
	f->buf_size = PACKET_BUF_SIZE;
	f->mem = calloc(POOL, f->buf_size);
	f->dev.staged_pool_base = calloc(POOL, sizeof(*f->dev.staged_pool_base));
	assert_non_null(f->mem);
	assert_non_null(f->dev.staged_pool_base);
	for (i = 0; i < POOL; i++) {
		f->dev.staged_pool_base[i].data = f->mem + i * f->buf_size;
		f->dev.staged_pool_base[i].next = i + 1 < POOL ? &f->dev.staged_pool_base[i + 1] : NULL;
	}
	f->dev.staged_pool = f->dev.staged_pool_base;
	f->peer.dev = &f->dev;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->dev.staged_pool_base);
	free(f->mem);
	free(f);
	return 0;
}

/* true if no byte of the whole pool memory is nonzero. */
static bool pool_clean(const struct fixture *f)
{
	for (size_t i = 0; i < POOL * f->buf_size; i++)
		if (f->mem[i])
			return false;
	return true;
}

/* 1. Dropped packets (a peer removed, its handshake given up) leave no plaintext behind. */
static void test_drop_wipes(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[1400];

	memset(pkt, 0xaa, sizeof(pkt));
	for (int i = 0; i < 5; i++)
		peer_stage(&f->peer, pkt, sizeof(pkt) - (size_t)i * 100);
	assert_int_equal(f->peer.staged_count, 5);
	assert_int_equal(f->dev.staged_in_use, 5);
	assert_false(pool_clean(f));
	peer_drop_staged(&f->peer);
	assert_int_equal(f->dev.staged_in_use, 0);
	assert_true(pool_clean(f));
	for (size_t i = 0; i < POOL; i++)
		assert_int_equal(f->dev.staged_pool_base[i].len, 0);
}

/* 2. A full queue reuses its oldest slot for the newest packet: the old packet's bytes beyond
 * the new one's length are wiped, not left behind it. */
static void test_overwrite_wipes_tail(void **state)
{
	struct fixture *f = *state;
	uint8_t big[1400], small[40];
	const struct staged_packet *first;

	memset(big, 0xaa, sizeof(big));
	memset(small, 0xbb, sizeof(small));
	peer_stage(&f->peer, big, sizeof(big));
	first = f->peer.staged_head;
	for (int i = 1; i < MAX_STAGED_PACKETS; i++)
		peer_stage(&f->peer, small, sizeof(small));
	assert_int_equal(f->peer.staged_count, MAX_STAGED_PACKETS);
	peer_stage(&f->peer, small, sizeof(small));	/* drops `first`, reuses its slot */
	assert_int_equal(f->peer.staged_count, MAX_STAGED_PACKETS);
	assert_ptr_equal(f->peer.staged_tail, first);
	assert_int_equal(first->len, sizeof(small));
	for (size_t i = 0; i < sizeof(big); i++)
		assert_int_equal(first->data[WG_DATA_HEADROOM + i], i < sizeof(small) ? 0xbb : 0);
	peer_drop_staged(&f->peer);
	assert_true(pool_clean(f));
}

/* 3. Only what a slot held is touched: the bytes past a packet are never written (the pool is
 * mostly untouched memory, and wiping it whole cost 256 MiB of RSS at exit). */
static void test_wipe_is_bounded(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[100];
	struct staged_packet *s;

	memset(pkt, 0xaa, sizeof(pkt));
	peer_stage(&f->peer, pkt, sizeof(pkt));
	s = f->peer.staged_head;
	s->data[WG_DATA_HEADROOM + sizeof(pkt)] = 0x55;	/* a canary just past the packet */
	peer_drop_staged(&f->peer);
	assert_int_equal(s->data[WG_DATA_HEADROOM + sizeof(pkt) - 1], 0);
	assert_int_equal(s->data[WG_DATA_HEADROOM + sizeof(pkt)], 0x55);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drop_wipes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_wipes_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe_is_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
