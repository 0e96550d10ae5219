/* Per-peer protocol timers, as deadlines: the kernel's timers.c semantics without timer objects. */
#include "timers.h"

#include "messages.h"

void timers_init(struct timers *t)
{
	*t = (struct timers){ 0 };
	for (int ev = 0; ev < TIMER_EVENTS; ev++)
		t->at[ev] = TIMER_OFF;
}

static bool expired(uint64_t birth, uint64_t seconds, uint64_t now)
{
	return birth + seconds * NSEC_PER_SEC <= now;
}

bool timers_handshake_may_send(const struct timers *t, uint64_t now_ns)
{
	return !t->has_sent_handshake || expired(t->last_sent_handshake, REKEY_TIMEOUT, now_ns);
}

bool timers_handshake_request(struct timers *t, bool is_retry, uint64_t now_ns)
{
	if (!is_retry)
		t->handshake_attempts = 0;
	if (!timers_handshake_may_send(t, now_ns))
		return false;
	if (t->at[TIMER_SEND_INITIATION] == TIMER_OFF)
		t->at[TIMER_SEND_INITIATION] = now_ns;
	return true;
}

void timers_data_sent(struct timers *t, uint64_t now_ns)
{
	if (t->at[TIMER_NEW_HANDSHAKE] == TIMER_OFF)
		t->at[TIMER_NEW_HANDSHAKE] = now_ns + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * NSEC_PER_SEC +
		    t->jitter_ns;
}

void timers_data_received(struct timers *t, uint64_t now_ns)
{
	if (t->at[TIMER_SEND_KEEPALIVE] == TIMER_OFF)
		t->at[TIMER_SEND_KEEPALIVE] = now_ns + KEEPALIVE_TIMEOUT * NSEC_PER_SEC;
	else
		t->need_another_keepalive = true;
}

void timers_any_authenticated_packet_sent(struct timers *t)
{
	t->at[TIMER_SEND_KEEPALIVE] = TIMER_OFF;
}

void timers_any_authenticated_packet_received(struct timers *t)
{
	t->at[TIMER_NEW_HANDSHAKE] = TIMER_OFF;
}

void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now_ns)
{
	if (t->persistent_keepalive_interval)
		t->at[TIMER_PERSISTENT_KEEPALIVE] = now_ns + t->persistent_keepalive_interval * NSEC_PER_SEC;
}

void timers_handshake_initiated(struct timers *t, uint64_t now_ns, uint64_t jitter_ns)
{
	t->last_sent_handshake = now_ns;
	t->has_sent_handshake = true;
	t->at[TIMER_RETRANSMIT_HANDSHAKE] = now_ns + REKEY_TIMEOUT * NSEC_PER_SEC + jitter_ns;
}

void timers_handshake_response_sent(struct timers *t, uint64_t now_ns)
{
	t->last_sent_handshake = now_ns;
	t->has_sent_handshake = true;
}

void timers_handshake_complete(struct timers *t)
{
	t->at[TIMER_RETRANSMIT_HANDSHAKE] = TIMER_OFF;
	t->handshake_attempts = 0;
	t->sent_lastminute_handshake = false;
}

void timers_session_derived(struct timers *t, uint64_t now_ns)
{
	t->at[TIMER_ZERO_KEY_MATERIAL] = now_ns + 3ULL * REJECT_AFTER_TIME * NSEC_PER_SEC;
}

void timers_set_persistent_keepalive(struct timers *t, uint16_t seconds, uint64_t now_ns)
{
	bool turned_on = !t->persistent_keepalive_interval && seconds;

	t->persistent_keepalive_interval = seconds;
	/* As the kernel: a keepalive at once only when it goes from off to on; a new interval
	 * applies from the next packet. */
	if (!seconds)
		t->at[TIMER_PERSISTENT_KEEPALIVE] = TIMER_OFF;
	else if (turned_on)
		t->at[TIMER_PERSISTENT_KEEPALIVE] = now_ns;
}

void timers_gave_up(struct timers *t, uint64_t now_ns)
{
	t->at[TIMER_SEND_KEEPALIVE] = TIMER_OFF;
	if (t->at[TIMER_ZERO_KEY_MATERIAL] == TIMER_OFF)
		t->at[TIMER_ZERO_KEY_MATERIAL] = now_ns + 3ULL * REJECT_AFTER_TIME * NSEC_PER_SEC;
}

void timers_keepalive_sent_by_timer(struct timers *t, uint64_t now_ns)
{
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		t->at[TIMER_SEND_KEEPALIVE] = now_ns + KEEPALIVE_TIMEOUT * NSEC_PER_SEC;
	}
}

static enum timer_event earliest(const struct timers *t, uint64_t *when)
{
	enum timer_event best = TIMER_NONE;

	*when = TIMER_OFF;
	for (int ev = TIMER_SEND_INITIATION; ev < TIMER_EVENTS; ev++) {
		if (t->at[ev] < *when) {	/* strict: ties go to the lower event */
			*when = t->at[ev];
			best = (enum timer_event)ev;
		}
	}
	return best;
}

uint64_t timers_next_deadline(const struct timers *t)
{
	uint64_t when;

	earliest(t, &when);
	return when;
}

enum timer_event timers_pop(struct timers *t, uint64_t now_ns)
{
	uint64_t when;
	enum timer_event ev = earliest(t, &when);

	if (ev == TIMER_NONE || when > now_ns)
		return TIMER_NONE;
	t->at[ev] = TIMER_OFF;
	return ev;
}
