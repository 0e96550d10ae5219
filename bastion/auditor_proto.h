/* The wire between the network process and the auditor (bastion/auditor.c): typed,
 * length-prefixed messages on a SOCK_STREAM socketpair.  The auditor treats every byte from
 * the network process as hostile (that process faces the internet and may be compromised):
 * it may only ask for one of the events below to be appended, with fields the auditor
 * checks; it cannot name a checkpoint, a genesis, a seq, a time or a prev, and cannot ask
 * for anything to be signed, rewritten or cut.
 *
 * Every message: a header of 8 bytes, big-endian:
 *   be32 len     the whole message, header included (AUDITOR_HDR_LEN..AUDITOR_MSG_MAX)
 *   u8   type    enum auditor_msg_type
 *   u8   event   EVENT: enum auditor_event; else 0
 *   u8   flags   EVENT: AUDITOR_F_*; STATUS: 1 = log writable, 0 = not; else 0
 *   u8   zero
 * then the body of the type:
 *   EVENT  (network -> auditor): be64 id; 7 strings session engineer fingerprint src target
 *          target_addr reason, each be16 length (0xffff: null) and that many bytes (at most
 *          AUDIT_FIELD_MAX, no NUL); be32 src_port, be32 target_port (-1..65535);
 *          be64 bytes_in, bytes_out, duration_ms, serial (>= -1).
 *   ACK    (auditor -> network): be64 id; be32 status (0, or -errno: not written).  Sent once
 *          the line of an EVENT with AUDITOR_F_ACK is durable, or failed.
 *   STATUS (auditor -> network): the log became unwritable (flags 0) or writable again (1).
 *   READY  (auditor -> network, once): be32 status (0 or -errno); then an error text. */
#ifndef BASTION_AUDITOR_PROTO_H
#define BASTION_AUDITOR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/audit.h"

enum {
	AUDITOR_HDR_LEN = 8,
	AUDITOR_STRINGS = 7,
	AUDITOR_MSG_MAX = AUDITOR_HDR_LEN + 8 + AUDITOR_STRINGS * (2 + AUDIT_FIELD_MAX) + 2 * 4 +
	    4 * 8,
	AUDITOR_ACK_LEN = AUDITOR_HDR_LEN + 8 + 4,
	AUDITOR_STATUS_LEN = AUDITOR_HDR_LEN,
	AUDITOR_READY_MAX = AUDITOR_HDR_LEN + 4 + 256,
	AUDITOR_STR_NULL = 0xffff,
};

enum auditor_msg_type {
	AUDITOR_MSG_EVENT = 1,
	AUDITOR_MSG_ACK = 2,
	AUDITOR_MSG_STATUS = 3,
	AUDITOR_MSG_READY = 4,
};

/* The events the network process may ask for (docs/audit.md); nothing else. */
enum auditor_event {
	AUDITOR_EV_START, AUDITOR_EV_STOP, AUDITOR_EV_CONFIG_RELOAD, AUDITOR_EV_AUTH_ACCEPT,
	AUDITOR_EV_AUTH_REJECT, AUDITOR_EV_SESSION_DENY, AUDITOR_EV_JUMP_OPEN,
	AUDITOR_EV_JUMP_DENY, AUDITOR_EV_JUMP_CLOSE, AUDITOR_EV_CERT_ACCEPT, AUDITOR_EV_COUNT,
};

enum {
	AUDITOR_F_DURABLE = 1 << 0,	/* fsync'd before the batch that holds it ends */
	AUDITOR_F_ACK = 1 << 1,		/* an ACK follows (implies DURABLE) */
};

/* One decoded EVENT: the strings point into storage. */
struct auditor_event_msg {
	uint64_t id;
	enum auditor_event event;
	unsigned flags;
	struct audit_event ev;
	char storage[AUDITOR_STRINGS * (AUDIT_FIELD_MAX + 1)];
};

/* The audit log's name for e ("jump_open"), or NULL. */
const char *auditor_event_name(enum auditor_event e);
/* The length a message declares in its header (first AUDITOR_HDR_LEN bytes), unchecked. */
size_t auditor_msg_len(const uint8_t hdr[AUDITOR_HDR_LEN]);
/* Encodes an EVENT into out (AUDITOR_MSG_MAX bytes); strings longer than AUDIT_FIELD_MAX are
 * cut (the log cuts them there anyway).  Returns its length. */
size_t auditor_event_encode(uint8_t out[AUDITOR_MSG_MAX], uint64_t id, enum auditor_event e,
    unsigned flags, const struct audit_event *ev);
/* Decodes one whole EVENT message of exactly len bytes, checking every field: the declared
 * length, type, event, flags, the zero byte, each string's length and bytes, each number's
 * range, the fields the event does not carry being null, and no bytes left over.  false with
 * why (whylen bytes) on the first fault. */
bool auditor_event_decode(const uint8_t *msg, size_t len, struct auditor_event_msg *out,
    char *why, size_t whylen);
/* ACK, STATUS, READY: encode (returns the length) and decode (the network side trusts the
 * auditor, but still checks lengths). */
size_t auditor_ack_encode(uint8_t out[AUDITOR_ACK_LEN], uint64_t id, int status);
size_t auditor_status_encode(uint8_t out[AUDITOR_STATUS_LEN], bool writable);
size_t auditor_ready_encode(uint8_t out[AUDITOR_READY_MAX], int status, const char *err);
bool auditor_reply_decode(const uint8_t *msg, size_t len, enum auditor_msg_type *type,
    uint64_t *id, int *status, bool *writable, char *err, size_t errlen);

#endif
