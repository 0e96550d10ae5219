/* Operational log lines on stderr: "bastion: LEVEL: message". */
#include "bastion/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum blog_level current = BLOG_INFO;

static const char *const names[] = {
	[BLOG_ERROR] = "error",
	[BLOG_WARN] = "warning",
	[BLOG_INFO] = "info",
	[BLOG_DEBUG] = "debug",
};

void blog_init(enum blog_level level)
{
	current = level;
}

enum blog_level blog_level(void)
{
	return current;
}

void blog_msg(enum blog_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > current)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "bastion: %s: %s\n", names[level], buf);
}

void blog_errno(enum blog_level level, int err, const char *fmt, ...)
{
	char buf[1024];
	size_t n;
	va_list ap;

	if (level > current)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err < 0 ? -err : err));
	fprintf(stderr, "bastion: %s: %s\n", names[level], buf);
}
