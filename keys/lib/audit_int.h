/* Private to libkeys' audit files: the event table, the line format and the checkpoint message
 * that the writer and the verifier share.  Not an API: only keys/lib/audit*.c include it. */
#ifndef KEYS_AUDIT_INT_H
#define KEYS_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/audit.h"

/* Field bits, in the order fields appear on a line (after "event", before "prev"). */
enum {
	AF_SESSION = 1 << 0, AF_ENGINEER = 1 << 1, AF_FINGERPRINT = 1 << 2, AF_SRC = 1 << 3,
	AF_SRC_PORT = 1 << 4, AF_TARGET = 1 << 5, AF_TARGET_ADDR = 1 << 6,
	AF_TARGET_PORT = 1 << 7, AF_REASON = 1 << 8, AF_BYTES_IN = 1 << 9,
	AF_BYTES_OUT = 1 << 10, AF_DURATION_MS = 1 << 11, AF_SERIAL = 1 << 12,
	AF_AUDIT_KEY = 1 << 13, AF_COUNT = 1 << 14, AF_SIG = 1 << 15,
	AF_COUNT_ALL = 16,
};

enum {
	AUDIT_CKPT_MSG_LEN = sizeof(AUDIT_CHECKPOINT_MAGIC) - 1 + 4 + 8 + AUDIT_HASH_LEN,
};

#define AUDIT_EVENT_GENESIS "genesis"
#define AUDIT_EVENT_CHECKPOINT "checkpoint"
#define AUDIT_EVENT_RECOVERED "recovered"
#define AUDIT_EVENT_LOST "lost"

/* The fields event carries (AF_ bits), or 0 for an unknown event. */
unsigned audit_event_fields(const char *event);
/* The line for rec (seq, time, event, ev, audit_key/count/sig as the event needs, prev) and its
 * newline into out; returns the length with the newline, or 0 if the event is unknown or the
 * line would not fit. */
size_t audit_line_format(char out[AUDIT_LINE_MAX], const struct audit_record *rec);
/* magic || be32(AUDIT_VERSION) || be64(seq) || prev. */
void audit_checkpoint_message(uint8_t msg[AUDIT_CKPT_MSG_LEN], uint64_t seq,
    const uint8_t prev[AUDIT_HASH_LEN]);
/* UTC now with microseconds: "2026-11-21T23:00:00.123456Z". */
void audit_time_now(char out[AUDIT_TIME_LEN + 1]);

#endif
