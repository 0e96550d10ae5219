/* Per-peer protocol timers (WireGuard whitepaper section 6, the kernel's timers.c).
 *
 * Pure bookkeeping: each timer is a deadline in CLOCK_MONOTONIC nanoseconds, armed and disarmed
 * by the event hooks below (one or two stores each, cheap enough for every packet), and read by
 * timers_next_deadline() / timers_pop().  The engine carries out what an expired timer means.
 * Jitter comes from the caller, drawn off the packet path. */
#ifndef TUNNELD_WG_TIMERS_H
#define TUNNELD_WG_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_OFF	UINT64_MAX
#define NSEC_PER_SEC	1000000000ULL

enum timer_event {
	TIMER_NONE,
	TIMER_SEND_INITIATION,		/* a handshake was requested (not a retry) */
	TIMER_RETRANSMIT_HANDSHAKE,	/* no response REKEY_TIMEOUT + jitter after an initiation */
	TIMER_SEND_KEEPALIVE,		/* data received, nothing sent for KEEPALIVE_TIMEOUT */
	TIMER_NEW_HANDSHAKE,		/* data sent, nothing received for 15 s + jitter */
	TIMER_ZERO_KEY_MATERIAL,	/* 3 * REJECT_AFTER_TIME after the latest session */
	TIMER_PERSISTENT_KEEPALIVE,	/* nothing sent for the configured interval */
	TIMER_EVENTS,
};

struct timers {
	uint64_t at[TIMER_EVENTS];	/* deadline per event; TIMER_OFF when not pending */
	uint64_t last_sent_handshake;	/* when the latest initiation or response went out */
	bool has_sent_handshake;
	bool need_another_keepalive;
	bool sent_lastminute_handshake;
	uint16_t persistent_keepalive_interval;	/* seconds, 0 = off */
	unsigned handshake_attempts;	/* retransmissions of the current handshake */
	uint64_t jitter_ns;		/* drawn ahead for the next new_handshake arming */
};

void timers_init(struct timers *t);

/* Requests an initiation (the kernel's wg_packet_send_queued_handshake_initiation): a fresh
 * request (is_retry false) restarts the attempt count.  Dropped when one was sent less than
 * REKEY_TIMEOUT ago.  true if an initiation is now due. */
bool timers_handshake_request(struct timers *t, bool is_retry, uint64_t now_ns);
/* true if an initiation may go out now (rate limit of one per REKEY_TIMEOUT). */
bool timers_handshake_may_send(const struct timers *t, uint64_t now_ns);

/* Event hooks, named after the kernel's. */
void timers_data_sent(struct timers *t, uint64_t now_ns);
void timers_data_received(struct timers *t, uint64_t now_ns);
void timers_any_authenticated_packet_sent(struct timers *t);
void timers_any_authenticated_packet_received(struct timers *t);
void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now_ns);
/* An initiation went out: arm the retransmission at REKEY_TIMEOUT + jitter_ns. */
void timers_handshake_initiated(struct timers *t, uint64_t now_ns, uint64_t jitter_ns);
/* A response went out. */
void timers_handshake_response_sent(struct timers *t, uint64_t now_ns);
void timers_handshake_complete(struct timers *t);
void timers_session_derived(struct timers *t, uint64_t now_ns);
/* 0 turns it off; turning it on makes a keepalive due at once. */
void timers_set_persistent_keepalive(struct timers *t, uint16_t seconds, uint64_t now_ns);
/* The retransmissions are exhausted: stop the keepalive, schedule the wipe unless pending. */
void timers_gave_up(struct timers *t, uint64_t now_ns);
/* Re-arms the keepalive once if data arrived while it was pending. */
void timers_keepalive_sent_by_timer(struct timers *t, uint64_t now_ns);

/* Earliest deadline, TIMER_OFF if none. */
uint64_t timers_next_deadline(const struct timers *t);
/* Disarms and returns the earliest timer expired at now_ns, TIMER_NONE if none. */
enum timer_event timers_pop(struct timers *t, uint64_t now_ns);

#endif
