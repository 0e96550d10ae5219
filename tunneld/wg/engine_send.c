/* The engine (engine.h): sending, as the kernel's send.c: transport encryption under the
 * current keypair and the rekey it triggers. */
#include "engine_internal.h"

enum wg_send_result wg_peer_encrypt(struct wg_peer *p, uint8_t *pkt, size_t len,
    uint64_t now_ns, size_t *msg_len)
{
	struct noise_keypair *kp = p->current;
	size_t n;

	touch(p->engine, now_ns);
	if (!kp || !kp->sending.is_valid)
		goto no_key;
	if (expired(kp->sending.birthdate_ns, REJECT_AFTER_TIME, now_ns))
		goto invalid;
	n = noise_keypair_encrypt_mtu(kp, pkt - WG_DATA_HEADROOM, len, p->engine->mtu);
	if (!n)
		goto invalid;	/* counter exhausted */
	*msg_len = n;
	timers_any_authenticated_packet_traversal(&p->timers, now_ns);
	timers_any_authenticated_packet_sent(&p->timers);
	if (len)
		timers_data_sent(&p->timers, now_ns);
	/* Keep the key fresh: rekey before the limits, still sending under this one. */
	if (kp->sending_counter > REKEY_AFTER_MESSAGES ||
	    (kp->i_am_the_initiator && expired(kp->sending.birthdate_ns, REKEY_AFTER_TIME, now_ns)))
		timers_handshake_request(&p->timers, false, now_ns);
	return WG_SEND_OK;

invalid:
	kp->sending.is_valid = false;
no_key:
	timers_handshake_request(&p->timers, false, now_ns);
	return WG_SEND_NO_SESSION;
}
