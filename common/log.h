/* The one operational logger of tunneld, the bastion and keys: levels, an errno variant,
 * stderr or syslog, per-call-site rate limits.
 *
 * Escaping: every message is formatted first and the whole of it is then escaped (common/vis.h:
 * controls, ESC, DEL, invalid UTF-8, C1 and bidi characters as \ooo, newline as \n, backslash
 * doubled) before it is written, so no argument -- a peer's name, an engineer's jump target, a
 * roster comment -- can start a line of its own or reach a terminal as an escape sequence, and
 * no call site can forget it.  Format strings are trusted and hold no newline; untrusted
 * strings should still be bounded by the caller ("%.100s") so that one field cannot push the
 * rest of the line out.  A message is cut at LOG_MSG_MAX - 1 bytes before it is escaped.
 *
 * Rate limiting: every line an outsider can trigger repeatedly (packet drops, handshakes,
 * gossip, control requests, refused jumps) goes through the _rl variants.  Each call site has
 * its own budget of LOG_RATELIMIT_BURST lines per LOG_RATELIMIT_INTERVAL seconds (as the
 * kernel's net_ratelimit); what is dropped beyond it is counted and reported as one "N similar
 * messages suppressed" line, naming the call site, the next time that site logs after its
 * interval.  The limiter is consulted only when the level is enabled, so a debug line costs
 * nothing at info level.  Thread-safe.
 *
 * Style (log_style_set): text, "IDENT: LEVEL: message", preceded by the UTC time
 * ("2026-12-01T06:41:00.123Z ") when timestamps are on: daemons turn them on unless stderr is
 * the journal (log_stderr_is_journal), which stamps lines itself; or JSON, one object per line:
 *   {"time": "2026-12-01T06:41:00.123Z", "level": "info", "program": "tunneld",
 *    "message": "...", "peer": "...", "name": "...", "endpoint": "..."}
 * the last three only when the call site has them (log_fields_msg).  In JSON every string is
 * escaped by common/json.c instead (control bytes as \u00XX: a line still cannot be forged),
 * cut at the same bounds; the rate limits are the same. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Where lines go and how they look. */
enum log_dest {
	LOG_DEST_STDERR,	/* "IDENT: LEVEL: message" (daemons in the foreground, systemd) */
	LOG_DEST_SYSLOG,	/* syslog(3), facility daemon, the message alone */
	LOG_DEST_TOOL,		/* "IDENT: message", "IDENT: warning: message" (a CLI tool) */
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/* What a line is about, for JSON's structured fields (text lines carry them in the message).
 * Borrowed for the call; NULL: not known.  Each is cut at LOG_FIELD_MAX - 1 bytes. */
struct log_fields {
	const char *peer;		/* a WireGuard public key, base64 */
	const char *name;		/* the roster's name of that node */
	const char *endpoint;		/* "host:port" */
};

enum {
	LOG_FIELD_MAX = 128,		/* bytes of one field, NUL included */
	LOG_MSG_MAX = 1024,		/* bytes of a formatted message, NUL included */
	LOG_RATELIMIT_BURST = 10,	/* lines per call site per interval */
	LOG_RATELIMIT_INTERVAL = 5,	/* seconds */
};

/* One call site's budget: a zero-initialised static (the _rl macros declare it). */
struct log_ratelimit {
	bool started;
	uint64_t window_ns;		/* start of the current interval (monotonic) */
	unsigned printed;		/* in the current interval */
	unsigned long suppressed;	/* since the last summary */
};

/* ident is borrowed (a string literal).  Before any call the logger writes "warren" lines at
 * info level to stderr. */
void log_init(const char *ident, enum log_level level, enum log_dest dest);
enum log_level log_level(void);
/* Errors and warnings go to syslog(3) too, with facility (LOG_AUTHPRIV, ...), besides the
 * destination log_init chose: for a program whose stderr its caller throws away (sshd
 * discards an AuthorizedKeysCommand's), so that the reason it failed is still on record. */
void log_mirror_syslog(int facility);
/* The line style (see above); log_init leaves text without timestamps. */
void log_style_set(enum log_format format, bool timestamps);
/* "text" or "json" (the --log-format option's values); false for anything else. */
bool log_format_parse(const char *s, enum log_format *out);
/* Whether stderr is the journal's stream: JOURNAL_STREAM ("DEVICE:INODE", systemd.exec(5))
 * names the device and inode of fd 2. */
bool log_stderr_is_journal(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": strerror(err)" (err is a positive or negative errno). */
void log_errno(enum log_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* log_msg with fields (JSON's structured fields; ignored in text). */
void log_fields_msg(enum log_level level, const struct log_fields *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* true if the call site rl (file:line, for the summary) may log one more line now; logs the
 * summary of what it suppressed first when a new interval begins. */
bool log_ratelimit_allow(struct log_ratelimit *rl, enum log_level level, const char *file,
    int line);
/* The decision alone, at monotonic time now_ns (nanoseconds): true to log.  *suppressed is
 * what the site dropped in the intervals before, when this call starts a new one, else 0. */
bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ns, unsigned long *suppressed);

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	do {						\
	if (log_level() >= LOG_LEVEL_DEBUG)					\
		log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);				\
} while (0)

/* Rate-limited per call site (see above). */
#define log_rl(level, ...) do {							\
	static struct log_ratelimit log_rl_site_;				\
	if (log_level() >= (level) &&						\
	    log_ratelimit_allow(&log_rl_site_, (level), __FILE__, __LINE__))	\
		log_msg((level), __VA_ARGS__);					\
} while (0)
#define log_rl_errno(level, err, ...) do {					\
	static struct log_ratelimit log_rl_site_;				\
	if (log_level() >= (level) &&						\
	    log_ratelimit_allow(&log_rl_site_, (level), __FILE__, __LINE__))	\
		log_errno((level), (err), __VA_ARGS__);				\
} while (0)
#define log_fields_rl(level, fields, ...) do {				\
	static struct log_ratelimit log_rl_site_;				\
	if (log_level() >= (level) &&						\
	    log_ratelimit_allow(&log_rl_site_, (level), __FILE__, __LINE__))	\
		log_fields_msg((level), (fields), __VA_ARGS__);			\
} while (0)
#define log_error_rl(...)	log_rl(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn_rl(...)	log_rl(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info_rl(...)	log_rl(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug_rl(...)	log_rl(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
