/* The engine (engine.h): sending, as the kernel's send.c: transport encryption under the
 * current keypair and the rekey it triggers. */
#include "engine_internal.h"

#include <string.h>

#include "aead.h"

/* The keypair to send under now; NULL (a handshake is requested) if there is none. */
static struct noise_keypair *sending_keypair(struct wg_peer *p, uint64_t now_ns)
{
	struct noise_keypair *kp = p->current;

	touch(p->engine, now_ns);
	if (!kp || !kp->sending.is_valid)
		goto no_key;
	if (expired(kp->sending.birthdate_ns, REJECT_AFTER_TIME, now_ns)) {
		kp->sending.is_valid = false;
		goto no_key;
	}
	return kp;
no_key:
	timers_handshake_request(&p->timers, false, now_ns);
	return NULL;
}

/* The keypair cannot send any more (counter exhausted, or the seal failed). */
static enum wg_send_result send_failed(struct wg_peer *p, struct noise_keypair *kp,
    uint64_t now_ns)
{
	kp->sending.is_valid = false;
	timers_handshake_request(&p->timers, false, now_ns);
	return WG_SEND_NO_SESSION;
}

/* A data message (len bytes inside) is on its way under kp. */
static void data_sent(struct wg_peer *p, const struct noise_keypair *kp, size_t len,
    uint64_t now_ns)
{
	timers_any_authenticated_packet_traversal(&p->timers, now_ns);
	timers_any_authenticated_packet_sent(&p->timers);
	if (len)
		timers_data_sent(&p->timers, now_ns);
	/* Keep the key fresh: rekey before the limits, still sending under this one. */
	if (kp->sending_counter > REKEY_AFTER_MESSAGES ||
	    (kp->i_am_the_initiator && expired(kp->sending.birthdate_ns, REKEY_AFTER_TIME, now_ns)))
		timers_handshake_request(&p->timers, false, now_ns);
}

enum wg_send_result wg_peer_encrypt(struct wg_peer *p, uint8_t *pkt, size_t len,
    uint64_t now_ns, size_t *msg_len)
{
	struct noise_keypair *kp = sending_keypair(p, now_ns);
	size_t n;

	if (!kp)
		return WG_SEND_NO_SESSION;
	n = noise_keypair_encrypt_mtu(kp, pkt - WG_DATA_HEADROOM, len, p->engine->mtu);
	if (!n)
		return send_failed(p, kp, now_ns);	/* counter exhausted */
	*msg_len = n;
	data_sent(p, kp, len, now_ns);
	return WG_SEND_OK;
}

enum wg_send_result wg_peer_encrypt_prepare(struct wg_peer *p, uint8_t *pkt, size_t len,
    uint64_t now_ns, size_t *msg_len, struct wg_data_job *job)
{
	struct noise_keypair *kp = sending_keypair(p, now_ns);
	uint8_t *msg = pkt - WG_DATA_HEADROOM;
	size_t n;

	if (!kp)
		return WG_SEND_NO_SESSION;
	n = noise_keypair_seal_prepare(kp, msg, len, p->engine->mtu, &job->counter, &job->len);
	if (!n)
		return send_failed(p, kp, now_ns);	/* counter exhausted */
	memcpy(job->key, kp->sending.key, sizeof(job->key));
	job->data = msg + sizeof(struct msg_data);
	job->ok = false;
	*msg_len = n;
	data_sent(p, kp, len, now_ns);
	return WG_SEND_OK;
}

void wg_data_job_seal(struct wg_data_job *j)
{
	j->ok = aead_transport_encrypt(j->data, j->data, j->len, j->counter, j->key);
	sodium_memzero(j->key, sizeof(j->key));
}
