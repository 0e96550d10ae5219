/* systemd's notification protocol, spoken directly: see notify.h. */
#include "common/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

enum { NOTIFY_STATUS_MAX = 256 };

/* One field's value: control bytes (a newline would start a field) become '?'. */
static void status_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* One datagram to $NOTIFY_SOCKET: an absolute path, or '@' for the abstract namespace.
 * > 0 sent, 0 not under a service manager, < 0 a negative errno. */
static int notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	size_t len;
	ssize_t n;
	int fd, err;

	if (!path || !path[0])
		return 0;
	/* systemd 252 hands services nothing else; vsock: is for a whole VM's manager. */
	if (path[0] != '/' && path[0] != '@')
		return -EAFNOSUPPORT;
	len = strlen(path);
	/* A path needs room for its NUL; an abstract name may fill sun_path. */
	if (len > sizeof(sa.sun_path) - (path[0] == '/'))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	/* An abstract name is exactly its bytes; a path includes its NUL. */
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '/'));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == iov.iov_len ? 1 : -EMSGSIZE;
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
	ret = notify_send(msg);
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
