/* Receiver index table: linear probing, backward-shift deletion, no tombstones. */
#include "index_table.h"

#include <errno.h>
#include <stdlib.h>

void index_table_init(struct index_table *t)
{
	*t = (struct index_table){ 0 };
}

void index_table_free(struct index_table *t)
{
	free(t->slots);
	index_table_init(t);
}

static size_t home(const struct index_table *t, uint32_t index)
{
	return (size_t)index & t->mask;
}

static struct index_entry *find(const struct index_table *t, uint32_t index)
{
	if (!t->slots)
		return NULL;
	for (size_t i = home(t, index);; i = (i + 1) & t->mask) {
		struct index_entry *s = &t->slots[i];

		if (s->kind == INDEX_FREE)
			return NULL;
		if (s->index == index)
			return s;
	}
}

static void place(struct index_table *t, const struct index_entry *e)
{
	size_t i = home(t, e->index);

	while (t->slots[i].kind != INDEX_FREE)
		i = (i + 1) & t->mask;
	t->slots[i] = *e;
}

int index_table_reserve(struct index_table *t, size_t entries)
{
	size_t want = 16;
	struct index_entry *old = t->slots, *fresh;
	size_t old_n = t->slots ? t->mask + 1 : 0;

	if (entries > SIZE_MAX / 4)
		return -ENOMEM;
	while (want < entries * 2)	/* load factor <= 1/2 */
		want *= 2;
	if (want <= old_n) {
		if (entries > t->limit)
			t->limit = entries;
		return 0;
	}
	fresh = calloc(want, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	t->slots = fresh;
	t->mask = want - 1;
	for (size_t i = 0; i < old_n; i++)
		if (old[i].kind != INDEX_FREE)
			place(t, &old[i]);
	free(old);
	t->limit = entries;
	return 0;
}

bool index_table_insert(struct index_table *t, enum index_kind kind, void *peer, void *obj,
    index_rng_fn *rng, void *rng_ctx, uint32_t *index)
{
	struct index_entry e = { .kind = kind, .peer = peer, .obj = obj };

	if (!t->slots || t->count >= t->limit || kind == INDEX_FREE)
		return false;
	/* At most half full, so a random draw collides with probability < 1/2 each time. */
	do
		rng(rng_ctx, &e.index, sizeof(e.index));
	while (e.index == 0 || find(t, e.index));
	place(t, &e);
	t->count++;
	*index = e.index;
	return true;
}

const struct index_entry *index_table_lookup(const struct index_table *t, uint32_t index)
{
	return find(t, index);
}

bool index_table_replace(struct index_table *t, uint32_t index, enum index_kind kind, void *obj)
{
	struct index_entry *s = find(t, index);

	if (!s || kind == INDEX_FREE)
		return false;
	s->kind = kind;
	s->obj = obj;
	return true;
}

void index_table_remove(struct index_table *t, uint32_t index)
{
	struct index_entry *s = find(t, index);
	size_t hole, i;

	if (!s)
		return;
	hole = (size_t)(s - t->slots);
	t->slots[hole] = (struct index_entry){ 0 };
	t->count--;
	/* Backward shift: pull later entries of the cluster into the hole when their home
	 * position does not lie cyclically in (hole, i]. */
	for (i = (hole + 1) & t->mask; t->slots[i].kind != INDEX_FREE; i = (i + 1) & t->mask) {
		size_t h = home(t, t->slots[i].index);
		bool stays = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);

		if (stays)
			continue;
		t->slots[hole] = t->slots[i];
		t->slots[i] = (struct index_entry){ 0 };
		hole = i;
	}
}
