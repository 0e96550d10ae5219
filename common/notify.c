/* sd_notify through libsystemd: see notify.h. */
#include "common/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"

enum { NOTIFY_STATUS_MAX = 256 };

/* One field's value: control bytes (a newline would start a field) become '?'. */
static void status_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int send_state(const char *head, const char *status)
{
	char msg[NOTIFY_STATUS_MAX + 96], st[NOTIFY_STATUS_MAX];
	int ret;

	if (status) {
		snprintf(st, sizeof(st), "%s", status);
		status_clean(st);
		snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", head, head[0] ? "\n" : "", st);
	} else {
		snprintf(msg, sizeof(msg), "%s", head);
	}
	/* > 0 sent, 0 not under a service manager, < 0 a negative errno. */
	ret = sd_notify(0, msg);
	if (ret < 0) {
		log_errno(LOG_LEVEL_WARN, -ret, "cannot notify the service manager (%.40s)",
		    head[0] ? head : "STATUS");
		return ret;
	}
	return 0;
}

int notify_ready(const char *status)
{
	return send_state("READY=1", status);
}

int notify_reloading(const char *status)
{
	struct timespec ts;
	char head[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	return send_state(head, status);
}

int notify_stopping(const char *status)
{
	return send_state("STOPPING=1", status);
}

int notify_status(const char *fmt, ...)
{
	char st[NOTIFY_STATUS_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st, sizeof(st), fmt, ap);
	va_end(ap);
	return send_state("", st);
}
