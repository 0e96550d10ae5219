/* The engine (engine.h): keypairs and handshake state of one peer, as the kernel's noise.c
 * rotates them (current, previous, next). */
#include "engine_internal.h"

#include <stdlib.h>

#include <sodium.h>

static void keypair_drop(struct wg_peer *p, struct noise_keypair **slot)
{
	struct noise_keypair *kp = *slot;

	if (!kp)
		return;
	index_table_remove(&p->engine->indices, kp->local_index);
	noise_keypair_wipe(kp);
	*slot = NULL;
}

static struct noise_keypair *keypair_spare(struct wg_peer *p)
{
	if (!p->storage)
		p->storage = calloc(KEYPAIR_STORAGE, sizeof(*p->storage));
	if (!p->storage)
		return NULL;
	for (int i = 0; i < KEYPAIR_STORAGE; i++) {
		struct noise_keypair *kp = &p->storage[i];

		if (kp != p->current && kp != p->previous && kp != p->next)
			return kp;
	}
	return NULL;	/* unreachable: three pointers, four slots */
}

void wg_peer_clear_sessions(struct wg_peer *p)
{
	hs_index_release(p);
	noise_handshake_clear(&p->handshake);
	keypair_drop(p, &p->next);
	keypair_drop(p, &p->current);
	keypair_drop(p, &p->previous);
	if (p->storage) {
		sodium_memzero(p->storage, KEYPAIR_STORAGE * sizeof(*p->storage));
		free(p->storage);
		p->storage = NULL;
	}
}

/* The kernel's wg_noise_handshake_begin_session + add_new_keypair: derive into the spare slot,
 * hand the handshake's receiver index to the keypair, then rotate.  The initiator may use the
 * new keypair at once; the responder keeps it as next until the first packet under it. */
bool engine_session_begin(struct wg_peer *p, uint64_t now)
{
	struct noise_keypair *kp = keypair_spare(p);

	if (!kp || !p->hs_index || !noise_handshake_derive_keypair(&p->handshake, kp, now))
		return false;
	index_table_replace(&p->engine->indices, p->hs_index, INDEX_KEYPAIR, kp);
	p->hs_index = 0;
	if (kp->i_am_the_initiator) {
		keypair_drop(p, &p->previous);
		if (p->next) {
			/* The peer initiated the pending next and may be sending under it already:
			 * keep it decryptable as previous, as the kernel and wireguard-go do. */
			p->previous = p->next;
			p->next = NULL;
			keypair_drop(p, &p->current);
		} else {
			p->previous = p->current;
		}
		p->current = kp;
	} else {
		keypair_drop(p, &p->next);
		keypair_drop(p, &p->previous);
		p->next = kp;
	}
	return true;
}

/* The responder's key confirmation: the first packet under next makes it current. */
bool engine_session_confirm(struct wg_peer *p, struct noise_keypair *kp)
{
	if (kp != p->next)
		return false;
	keypair_drop(p, &p->previous);
	p->previous = p->current;
	p->current = kp;
	p->next = NULL;
	return true;
}
