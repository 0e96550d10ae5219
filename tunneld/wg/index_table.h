/* Receiver indices: the random 32-bit local index each handshake and keypair announces, mapped
 * back to it when a response, cookie reply or data message names it (whitepaper 5.4.2).
 *
 * Open addressing with linear probing and backward-shift deletion: lookup, insert and remove
 * never allocate.  Capacity is reserved up front (index_table_reserve, called when a peer is
 * added) and the table stays at most half full, so probes stay short.  Indices are random, so
 * their low bits hash well; a remote party cannot choose them. */
#ifndef TUNNELD_WG_INDEX_TABLE_H
#define TUNNELD_WG_INDEX_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum index_kind {
	INDEX_FREE,
	INDEX_HANDSHAKE,
	INDEX_KEYPAIR,
};

struct index_entry {
	uint32_t index;
	enum index_kind kind;
	void *peer;		/* owner; borrowed */
	void *obj;		/* the handshake or keypair; borrowed */
};

struct index_table {
	struct index_entry *slots;
	size_t mask;		/* slot count - 1 (a power of two) */
	size_t count;
	size_t limit;		/* entries reserved; count never exceeds it */
};

/* Draws random bytes; the engine's rng. */
typedef void index_rng_fn(void *ctx, void *buf, size_t len);

void index_table_init(struct index_table *t);
void index_table_free(struct index_table *t);
/* Makes room for `entries` live entries in all (rehashing if the table must grow).
 * 0 or -ENOMEM. */
int index_table_reserve(struct index_table *t, size_t entries);
/* Adds obj under a fresh random index not in use (never 0).  false if the reservation is
 * exhausted. */
bool index_table_insert(struct index_table *t, enum index_kind kind, void *peer, void *obj,
    index_rng_fn *rng, void *rng_ctx, uint32_t *index);
/* Returns a borrowed pointer valid until the next insert/remove/reserve, or NULL. */
const struct index_entry *index_table_lookup(const struct index_table *t, uint32_t index);
/* Points an existing index at another object (a handshake becoming a keypair keeps its index,
 * as the kernel's index_hashtable_replace).  false if the index is unknown. */
bool index_table_replace(struct index_table *t, uint32_t index, enum index_kind kind, void *obj);
void index_table_remove(struct index_table *t, uint32_t index);

#endif
