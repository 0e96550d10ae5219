/* Logging (see log.h). */
#include "log.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static bool to_syslog;
static const char *log_ident = "tunneld";
/* Guards every struct log_ratelimit: the resolver threads log too. */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int syslog_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

/* libevent reports accept() failures, allocation failures and the like through this; under an
 * fd exhaustion it would say the same thing millions of times. */
static void libevent_log(int severity, const char *msg)
{
	enum log_level level = severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERROR :
	    severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN :
	    severity == EVENT_LOG_MSG ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

	log_rl(level, "libevent: %.300s", msg);
}

void log_init(const char *ident, enum log_level level, bool use_syslog)
{
	log_ident = ident;
	current_level = level;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	event_set_log_callback(libevent_log);
}

enum log_level log_level(void)
{
	return current_level;
}

/* Copies msg with every control byte (and DEL) written as \xHH, so that a peer-supplied string
 * can neither start a new line nor send terminal escapes; truncates to out's size. */
static void escape(char *out, size_t size, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)msg; *p && o + 1 < size; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			out[o++] = (char)*p;
			continue;
		}
		if (o + 5 >= size)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 15];
	}
	out[o] = '\0';
}

static void emit(enum log_level level, const char *msg)
{
	char safe[1024 * 4 + 1];

	escape(safe, sizeof(safe), msg);
	if (to_syslog) {
		syslog(syslog_priorities[level], "%s", safe);
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level], safe);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(level, buf);
}

void log_errno(enum log_level level, int err, const char *fmt, ...)
{
	char buf[1024];
	size_t n;
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err < 0 ? -err : err));
	emit(level, buf);
}

bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ns, unsigned long *suppressed)
{
	*suppressed = 0;
	if (!rl->started ||
	    now_ns - rl->window_ns >= (uint64_t)LOG_RATELIMIT_INTERVAL * 1000000000u) {
		/* A new interval: report what the last ones dropped, then start over. */
		*suppressed = rl->suppressed;
		rl->started = true;
		rl->window_ns = now_ns;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < LOG_RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, enum log_level level, const char *file,
    int line)
{
	struct timespec ts;
	unsigned long suppressed;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	pthread_mutex_lock(&ratelimit_lock);
	ok = log_ratelimit_check(rl, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
	    &suppressed);
	pthread_mutex_unlock(&ratelimit_lock);
	if (suppressed)
		log_msg(level, "%lu similar messages suppressed (%s:%d)", suppressed, file, line);
	return ok;
}
