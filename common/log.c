/* The operational logger (see log.h). */
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/vis.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_dest dest = LOG_DEST_STDERR;
static const char *log_ident = "warren";
/* Guards every struct log_ratelimit: tunneld's resolver threads log too. */
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

void log_init(const char *ident, enum log_level level, enum log_dest to)
{
	log_ident = ident;
	current_level = level;
	dest = to;
	if (to == LOG_DEST_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

enum log_level log_level(void)
{
	return current_level;
}

/* The one place a line is written: msg (len bytes, formatted, untrusted) escaped whole. */
static void emit(enum log_level level, const char *msg, size_t len)
{
	char line[64 + VIS_ESCAPE_MAX * LOG_MSG_MAX];
	const char *tag = "";
	int n;

	if (dest == LOG_DEST_SYSLOG) {
		vis_escape(line, sizeof(line), msg, len);
		syslog(syslog_priorities[level], "%s", line);
		return;
	}
	if (dest == LOG_DEST_STDERR || level == LOG_LEVEL_WARN)
		tag = level_names[level];
	/* The prefix is trusted (a literal ident); one fwrite per line so that lines of two
	 * threads never interleave on the unbuffered stderr. */
	n = snprintf(line, 64, "%.40s: %s%s", log_ident, tag, *tag ? ": " : "");
	vis_escape(line + n, sizeof(line) - (size_t)n - 1, msg, len);
	n += (int)strlen(line + n);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

/* Formats, appends ": strerror(err)" if with_err, and writes (if the level is enabled). */
static void vlog(enum log_level level, bool with_err, int err, const char *fmt, va_list ap)
{
	char buf[LOG_MSG_MAX];
	int n;

	if (level > current_level)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	n = n < 0 ? 0 : n < LOG_MSG_MAX ? n : LOG_MSG_MAX - 1;
	buf[n] = '\0';
	if (with_err) {
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(err < 0 ? -err : err));
		n += (int)strlen(buf + n);
	}
	emit(level, buf, (size_t)n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, false, 0, fmt, ap);
	va_end(ap);
}

void log_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, true, err, fmt, ap);
	va_end(ap);
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
