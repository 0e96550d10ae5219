#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static bool to_syslog;
static const char *log_ident = "tunneld";

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

void log_init(const char *ident, enum log_level level, bool use_syslog)
{
	log_ident = ident;
	current_level = level;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

enum log_level log_level(void)
{
	return current_level;
}

static void emit(enum log_level level, const char *msg)
{
	if (to_syslog) {
		syslog(syslog_priorities[level], "%s", msg);
		return;
	}
	fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level], msg);
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
