/* The bastion's tamper-evident audit log: JSON Lines, each line carrying the SHA-256 of the line
 * before it (a hash chain from a genesis line naming the audit key), and every
 * AUDIT_CHECKPOINT_LINES lines or AUDIT_CHECKPOINT_SECONDS a checkpoint line whose Ed25519
 * signature covers the chain head.  The format is specified in docs/audit.md.
 *
 * Writer: audit_log_open/append/checkpoint/close (the bastion; one writer per file).
 * Reader: audit_verify_file (keys audit verify) and audit_line_parse (one line). */
#ifndef KEYS_AUDIT_H
#define KEYS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	AUDIT_VERSION = 1,		/* signed in every checkpoint */
	AUDIT_CHECKPOINT_LINES = 100,	/* lines (genesis included) between two checkpoints */
	AUDIT_CHECKPOINT_SECONDS = 60,	/* oldest unsigned line at most this old */
	AUDIT_LINE_MAX = 16384,		/* longest line, newline included; longer is refused */
	AUDIT_FIELD_MAX = 256,		/* string fields are cut to this many bytes before escaping */
	AUDIT_TIME_LEN = 27,		/* "2026-11-21T23:00:00.123456Z" */
	AUDIT_EVENT_MAX = 15,		/* longest event name */
	AUDIT_HASH_LEN = 32,		/* SHA-256 of a line */
	AUDIT_SIG_LEN = 64,		/* Ed25519 */
	AUDIT_PUB_LEN = 32,
	AUDIT_SECRET_LEN = 64,		/* Ed25519 secret key: seed || public */
};

/* Signature domain: sig = Ed25519(magic || be32(AUDIT_VERSION) || be64(seq) || prev). */
#define AUDIT_CHECKPOINT_MAGIC "warren audit checkpoint\n"

/* The fields of one event.  NULL strings and -1 numbers are written as JSON null.  Which
 * fields an event carries is fixed per event name (all of them always present, in this
 * order after "event"):
 *   start         serial
 *   stop          reason
 *   config_reload serial
 *   auth_accept   session engineer fingerprint src src_port
 *   cert_accept  session engineer fingerprint src src_port serial (the certificate's)
 *   auth_reject   session engineer fingerprint src src_port reason
 *   session_deny  session engineer fingerprint src src_port reason
 *   jump_open     session engineer fingerprint src src_port target target_addr target_port
 *   jump_deny     session engineer fingerprint src src_port target target_addr target_port reason
 *   jump_close    session engineer fingerprint src src_port target target_addr target_port reason
 *                 bytes_in bytes_out duration_ms
 * (genesis, checkpoint, recovered and lost lines are written by the library itself.)  Strings
 * may hold any bytes: they are cut to AUDIT_FIELD_MAX bytes and escaped (docs/audit.md,
 * "Strings"). */
struct audit_event {
	const char *session, *engineer, *fingerprint, *src;
	int src_port;
	const char *target, *target_addr;
	int target_port;
	const char *reason;
	int64_t bytes_in, bytes_out, duration_ms;
	int64_t serial;
};

/* An event with every field null: start from this, then set what is known. */
void audit_event_init(struct audit_event *ev);

struct audit_log;

/* Opens (creating 0600) or continues the log at path: reads the genesis line (its audit key
 * must be the public half of secret), verifies the tail (the last two lines link up), truncates
 * only a torn final line (no newline; audit_log_torn_bytes says how much), and writes the
 * genesis line for a new or empty file.  secret: the Ed25519 audit key (64 bytes), copied.
 * syslog_copy: every line is also sent to syslog(LOG_AUTHPRIV | LOG_INFO).
 * 0 or -errno; err (errlen bytes) says why, naming the file. */
int audit_log_open(struct audit_log **out, const char *path, const uint8_t secret[AUDIT_SECRET_LEN],
    bool syslog_copy, char *err, size_t errlen);
/* Appends one event line (event: one of the names above, else -EINVAL) with one write().
 * durable: fsync before returning (before a jump is reported open to the client).  Writes a
 * checkpoint (fsync'd) once AUDIT_CHECKPOINT_LINES lines are unsigned.  0: the line is in the
 * file (and on disk if durable, or if a checkpoint followed).  -errno: nothing of the line
 * stays in the file and the chain is unchanged, whichever step failed (the write, the
 * checkpoint after it, the fsync): the line is cut back (if even the cut fails, the next
 * write cuts first).  ENOSPC/EFBIG: the disk is full.  No allocation. */
int audit_log_append(struct audit_log *a, const char *event, const struct audit_event *ev,
    bool durable);

/* Group commit: audit_log_mark, any number of audit_log_append(durable = false), then one
 * audit_log_sync; if it (or an append) fails, audit_log_rollback cuts every line since the
 * mark and returns the chain to it, so no caller is told "failed" about a line that stays.
 * The mark is plain data, owned by the caller; a checkpoint written in between is cut too. */
struct audit_mark {
	int64_t size;
	uint64_t seq;
	uint8_t head[AUDIT_HASH_LEN];
	unsigned unsigned_lines;
	uint64_t oldest_unsigned_ns;
};
void audit_log_mark(const struct audit_log *a, struct audit_mark *m);
/* 0 or -errno (the cut failed: the next write retries it). */
int audit_log_rollback(struct audit_log *a, const struct audit_mark *m);
/* fsync: 0 or -errno. */
int audit_log_sync(struct audit_log *a);
/* A "lost" line: count events could not be written (the disk was full), then a checkpoint.
 * Written by the bastion's auditor when the log is writable again.  0 or -errno (nothing
 * written). */
int audit_log_lost(struct audit_log *a, uint64_t count);
/* Writes a checkpoint if a line was appended since the last one and the oldest such line is
 * AUDIT_CHECKPOINT_SECONDS old at now_mono_ns (CLOCK_MONOTONIC; the caller's timer calls this
 * every few seconds), or whenever anything is unsigned if force.  0 or -errno. */
int audit_log_checkpoint(struct audit_log *a, uint64_t now_mono_ns, bool force);
/* Final checkpoint, fsync, close; wipes the key.  NULL is fine. */
void audit_log_close(struct audit_log *a);

/* What the writer state is: the next line's seq, and the bytes cut from a torn final line by
 * audit_log_open (0 if none; the caller logs it). */
uint64_t audit_log_next_seq(const struct audit_log *a);
size_t audit_log_torn_bytes(const struct audit_log *a);
/* Lines audit_log_open found after the last checkpoint signed with this key (or after the
 * genesis line): not written by this process, so marked with a "recovered" line rather than
 * signed as its own (0 if none; the caller logs it). */
uint64_t audit_log_recovered_lines(const struct audit_log *a);

/* Verification.  Lines are numbered from 1 (line 1 is the genesis, seq 0).  lines: complete
 * lines read; checkpoints: valid checkpoint lines; unsigned_tail: lines after the last
 * checkpoint (not covered by any signature).  recovered_lines: lines that a "recovered" line
 * marks as found unsigned by a restart (chained, but nobody vouches for them);
 * first_recovered_line: the first of them (0 if none); lost: events a "lost" line says
 * could not be written.  bad_line: the first line found wrong, 0 if the file itself could
 * not be read. */
struct audit_verify_result {
	uint64_t lines, checkpoints, unsigned_tail;
	uint64_t recovered_lines, first_recovered_line, lost;
	unsigned bad_line;
};
/* true if the whole file verifies against pub (the genesis key must equal it); else false with
 * bad_line and why ("prev does not match line 41 (edited, removed or reordered)", ...). */
bool audit_verify_file(const char *path, const uint8_t pub[AUDIT_PUB_LEN],
    struct audit_verify_result *res, char *why, size_t whylen);

/* One parsed line.  Strings in ev point into storage (decoded: the exact bytes written, cut to
 * AUDIT_FIELD_MAX); they stay valid while rec does. */
struct audit_record {
	uint64_t seq;
	char time[AUDIT_TIME_LEN + 1];
	char event[AUDIT_EVENT_MAX + 1];
	struct audit_event ev;
	uint8_t audit_key[AUDIT_PUB_LEN];	/* genesis */
	uint64_t count;				/* checkpoint: lines since the previous one */
	uint8_t sig[AUDIT_SIG_LEN];		/* checkpoint */
	uint8_t prev[AUDIT_HASH_LEN];
	char storage[AUDIT_LINE_MAX];
};
/* Parses one line (without its newline) in the exact form the writer produces: fixed key order,
 * no spaces, known event with exactly its fields.  Does not check the chain or signatures. */
bool audit_line_parse(const char *line, size_t len, struct audit_record *rec, char *why,
    size_t whylen);

#endif
